package generator

import (
	"fmt"
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
		// Env files first: that is the line a pull request changed.
		slices.SortStableFunc(positions, func(a, b token.Pos) int {
			ae, be := strings.HasPrefix(a.Filename(), envsPrefix), strings.HasPrefix(b.Filename(), envsPrefix)
			switch {
			case ae && !be:
				return -1
			case be && !ae:
				return 1
			}
			return 0
		})
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
