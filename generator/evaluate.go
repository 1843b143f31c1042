package generator

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/token"
)

// evaluate loads envs/<name> (which imports schema/) into a fresh CUE
// context and checks that the whole env is concrete and consistent.
func evaluate(opts Options, name string) (cue.Value, error) {
	dir := "./" + filepath.ToSlash(filepath.Join(opts.EnvsDir, name))
	insts := load.Instances([]string{dir}, &load.Config{Dir: opts.Root})
	if len(insts) != 1 {
		return cue.Value{}, &InputError{Env: name, Msg: "expected one CUE instance in " + dir}
	}
	if err := insts[0].Err; err != nil {
		return cue.Value{}, &InputError{Env: name, Msg: formatCUEError(err, opts)}
	}
	v := cuecontext.New().BuildInstance(insts[0])
	if err := v.Err(); err != nil {
		return cue.Value{}, &InputError{Env: name, Msg: formatCUEError(err, opts)}
	}
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return cue.Value{}, &InputError{Env: name, Msg: formatCUEError(err, opts)}
	}
	return v, nil
}

// formatCUEError writes one line per error: the most specific position
// (an env file before the schema), the field path, the message, then the
// other positions that took part, so a reviewer sees both the value and the
// constraint it broke.
func formatCUEError(err error, opts Options) string {
	envsPrefix := filepath.Join(opts.Root, opts.EnvsDir) + string(filepath.Separator)
	var b strings.Builder
	for i, e := range cueerrors.Errors(err) {
		if i > 0 {
			b.WriteByte('\n')
		}
		positions := cueerrors.Positions(e)
		// Most specific first: a value in an env file is the line a pull
		// request changed; a reference to a schema definition there
		// (platform: schema.#Platform & {...}) says less; schema lines last.
		rank := func(p token.Pos) int {
			switch {
			case !strings.HasPrefix(p.Filename(), envsPrefix):
				return 2
			case refersToDefinition(p):
				return 1
			}
			return 0
		}
		slices.SortStableFunc(positions, func(a, b token.Pos) int { return rank(a) - rank(b) })
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		where := "(no position)"
		if len(positions) > 0 {
			where = formatPos(positions[0], opts.Root)
		}
		b.WriteString(where + ": ")
		if path := strings.Join(e.Path(), "."); path != "" {
			b.WriteString(path + ": ")
		}
		b.WriteString(msg)
		for _, p := range positions[min(1, len(positions)):] {
			b.WriteString("\n    " + formatPos(p, opts.Root))
		}
	}
	return b.String()
}

func formatPos(p token.Pos, root string) string {
	file := p.Filename()
	if rel, err := filepath.Rel(root, file); err == nil && !strings.HasPrefix(rel, "..") {
		file = rel
	}
	return fmt.Sprintf("%s:%d:%d", filepath.ToSlash(file), p.Line(), p.Column())
}

// refersToDefinition reports whether the source at p starts with a reference
// to a definition (#Name or pkg.#Name) rather than a value.
func refersToDefinition(p token.Pos) bool {
	data, err := os.ReadFile(p.Filename())
	if err != nil || p.Offset() >= len(data) {
		return false
	}
	rest := data[p.Offset():]
	if i := bytes.IndexAny(rest, " &|\n"); i >= 0 {
		rest = rest[:i]
	}
	return bytes.Contains(rest, []byte("#"))
}
