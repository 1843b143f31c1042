package generator

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// sharedDir holds values common to every env; it is imported, not rendered.
const sharedDir = "shared"

// discover lists the envs to render: every folder of EnvsDir holding .cue
// files, except shared/; a selected name that is not one of them is an error.
func discover(opts Options) ([]string, error) {
	dir := filepath.Join(opts.Root, opts.EnvsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, &InputError{Msg: fmt.Sprintf("cannot read environments: %v", err)}
	}
	var all []string
	for _, e := range entries {
		if !e.IsDir() || e.Name() == sharedDir || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		cues, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*.cue"))
		if len(cues) > 0 {
			all = append(all, e.Name())
		}
	}
	if len(opts.Envs) == 0 {
		if len(all) == 0 {
			return nil, &InputError{Msg: fmt.Sprintf("no environments under %s", dir)}
		}
		return all, nil
	}
	var picked []string
	for _, name := range opts.Envs {
		if !slices.Contains(all, name) {
			return nil, &InputError{Msg: fmt.Sprintf("unknown env %q (have: %s)", name, strings.Join(all, ", "))}
		}
		picked = append(picked, name)
	}
	slices.Sort(picked)
	return slices.Compact(picked), nil
}
