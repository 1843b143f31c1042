package generator

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// Difference is one way rendered/ on disk disagrees with a fresh render.
type Difference struct {
	Path   string // under outDir, slash-separated
	Reason string // "stale", "missing" or "not produced by the renderer"
	Diff   string // unified diff, for stale files
}

func (d Difference) String() string {
	if d.Diff != "" {
		return d.Diff
	}
	return fmt.Sprintf("%s: %s\n", d.Path, d.Reason)
}

// Compare reports every difference between outDir and the rendered envs:
// stale or hand-edited files, missing files, and files the renderer did not
// produce. With all, folders of envs that no longer exist count too.
func Compare(outDir string, envs []Env, all bool) ([]Difference, error) {
	var diffs []Difference
	for _, env := range envs {
		onDisk, err := readTree(filepath.Join(outDir, env.Name))
		if err != nil {
			return nil, err
		}
		for _, f := range env.Files {
			p := env.Name + "/" + f.Path
			got, ok := onDisk[f.Path]
			delete(onDisk, f.Path)
			switch {
			case !ok:
				diffs = append(diffs, Difference{Path: p, Reason: "missing"})
			case !bytes.Equal(got, f.Data):
				diffs = append(diffs, Difference{Path: p, Reason: "stale", Diff: unified(p, got, f.Data)})
			}
		}
		for p := range onDisk {
			diffs = append(diffs, Difference{Path: env.Name + "/" + p, Reason: "not produced by the renderer"})
		}
	}
	if all {
		entries, err := os.ReadDir(outDir)
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		for _, e := range entries {
			if !slices.ContainsFunc(envs, func(env Env) bool { return env.Name == e.Name() }) {
				diffs = append(diffs, Difference{Path: e.Name(), Reason: "not produced by the renderer"})
			}
		}
	}
	slices.SortFunc(diffs, func(a, b Difference) int { return strings.Compare(a.Path, b.Path) })
	return diffs, nil
}

// readTree reads every file under dir, keyed by slash path relative to dir.
// A missing dir is an empty tree.
func readTree(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	return files, err
}

func unified(path string, committed, fresh []byte) string {
	text, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        lines(committed),
		B:        lines(fresh),
		FromFile: "rendered/" + path + " (committed)",
		ToFile:   "rendered/" + path + " (fresh render)",
		Context:  3,
	})
	return text
}

// lines splits text after each newline, keeping them, as the diff wants.
func lines(text []byte) []string {
	ls := strings.SplitAfter(string(text), "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}
