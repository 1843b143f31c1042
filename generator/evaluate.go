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
		return cue.Value{}, &InputError{Env: name, Msg: formatLoadError(err, opts)}
	}
	v := cuecontext.New().BuildInstance(insts[0])
	x := newExplainer(v, opts)
	var lines []string
	if msg := x.unknownTopLevel(); msg != "" {
		lines = append(lines, msg)
	}
	// Build errors and validation errors together: the build error alone is
	// often a cascade in a template, the validation names the env's value.
	var errs []cueerrors.Error
	for _, err := range []error{v.Err(), v.Validate(cue.Concrete(true))} {
		errs = append(errs, cueerrors.Errors(err)...)
	}
	if len(errs) > 0 {
		lines = append(lines, x.explain(errs))
	}
	if len(lines) > 0 {
		return cue.Value{}, &InputError{Env: name, Msg: strings.Join(lines, "\n")}
	}
	return v, nil
}

// envFieldsPath lists the top-level fields an env package may set (in the
// schema, beside the output): any other is a typo whose values would
// otherwise be silently ignored.
var envFieldsPath = cue.ParsePath("output.envFields")

// unknownTopLevel names every top-level field of the env that is not one
// of output.envFields, at the env line that sets it.
func (x *explainer) unknownTopLevel() string {
	var allowed []string
	if err := x.v.LookupPath(envFieldsPath).Decode(&allowed); err != nil || len(allowed) == 0 {
		return ""
	}
	it, err := x.v.Fields()
	if err != nil {
		return ""
	}
	var lines []string
	for it.Next() {
		name := it.Selector().String()
		if slices.Contains(allowed, name) {
			continue
		}
		where := "(no position)"
		if ps := x.envPositions(it.Value()); len(ps) > 0 {
			where = x.pos(ps[0])
		} else if p := it.Value().Pos(); p.IsValid() {
			where = x.pos(p)
		}
		line := fmt.Sprintf("%s: %s: an env sets only %s; everything under %s would be ignored", where, name, strings.Join(allowed, ", "), name)
		if guess := closest(name, allowed); guess != "" {
			line += fmt.Sprintf(": did you mean %q?", guess)
		} else {
			line += ": remove it, or move its values under one of those"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// formatLoadError writes one line per load or syntax error, with its
// position relative to the repository.
func formatLoadError(err error, opts Options) string {
	x := &explainer{root: opts.Root, envsPrefix: filepath.Join(opts.Root, opts.EnvsDir) + string(filepath.Separator)}
	var lines []string
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		where := "(no position)"
		if ps := x.rank(cueerrors.Positions(e)); len(ps) > 0 {
			where = x.pos(ps[0])
		}
		lines = append(lines, where+": "+fmt.Sprintf(format, args...))
	}
	return strings.Join(lines, "\n")
}
