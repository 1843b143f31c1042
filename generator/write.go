package generator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Write replaces outDir/<env>/ with each env's files. Every env is first
// written in full to a hidden temporary folder beside it; only when all are
// written is each swapped into place in one rename, so a failed or
// interrupted render leaves rendered/ as it was, and files of objects that no
// longer exist are gone. With prune, folders of envs that no longer exist
// are removed too (pass it only when every env was rendered).
func Write(outDir string, envs []Env, prune bool) (err error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	removeStaleTemps(outDir)
	staged := make([]string, len(envs))
	defer func() {
		for _, dir := range staged {
			if dir != "" {
				os.RemoveAll(dir)
			}
		}
	}()
	for i, env := range envs {
		dir, err := os.MkdirTemp(outDir, tempPrefix(env.Name))
		if err != nil {
			return err
		}
		staged[i] = dir
		if err := writeFiles(dir, env.Files); err != nil {
			return fmt.Errorf("writing %s: %w", env.Name, err)
		}
	}
	for i, env := range envs {
		if err := swapInto(staged[i], filepath.Join(outDir, env.Name)); err != nil {
			return fmt.Errorf("replacing %s: %w", filepath.Join(outDir, env.Name), err)
		}
		// staged[i] now holds the previous render (or nothing): the deferred
		// cleanup removes it.
	}
	if prune {
		return pruneEnvs(outDir, envs)
	}
	return nil
}

func tempPrefix(env string) string { return "." + env + ".render-" }

func writeFiles(dir string, files []File) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// swapInto puts the staged folder at dst. Where the OS can exchange two
// paths atomically (Linux renameat2), dst is never missing; elsewhere there
// is a moment between two renames.
func swapInto(staged, dst string) error {
	if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
		return os.Rename(staged, dst)
	}
	if err := exchange(staged, dst); err == nil {
		return nil
	}
	old := staged + ".old"
	if err := os.Rename(dst, old); err != nil {
		return err
	}
	if err := os.Rename(staged, dst); err != nil {
		os.Rename(old, dst) // put the previous render back
		return err
	}
	return os.Rename(old, staged) // so the caller's cleanup removes it
}

// removeStaleTemps clears temporary folders a killed render left behind.
func removeStaleTemps(outDir string) {
	entries, _ := os.ReadDir(outDir)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".render-") {
			os.RemoveAll(filepath.Join(outDir, e.Name()))
		}
	}
}

// pruneEnvs removes everything in outDir that is not a rendered env.
func pruneEnvs(outDir string, envs []Env) error {
	keep := map[string]bool{}
	for _, e := range envs {
		keep[e.Name] = true
	}
	entries, err := os.ReadDir(outDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !keep[e.Name()] {
			if err := os.RemoveAll(filepath.Join(outDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
