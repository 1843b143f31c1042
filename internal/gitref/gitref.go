// Package gitref reads the files of a git revision, so a base revision can
// be rendered beside the working tree without touching it.
package gitref

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// MergeBase returns the merge base of HEAD and the first of candidates that
// exists (e.g. main, then origin/main).
func MergeBase(repo string, candidates ...string) (string, error) {
	for _, c := range candidates {
		out, err := git(repo, "merge-base", "HEAD", c)
		if err == nil {
			return strings.TrimSpace(string(out)), nil
		}
	}
	return "", fmt.Errorf("no merge base of HEAD with %s: pass --base REF", strings.Join(candidates, " or "))
}

// Extract writes the files under paths at rev into dst. Paths the revision
// does not have are skipped (an older revision may predate them).
func Extract(repo, rev string, paths []string, dst string) error {
	if _, err := git(repo, "rev-parse", "--verify", "--quiet", rev+"^{commit}"); err != nil {
		return fmt.Errorf("unknown revision %q", rev)
	}
	var present []string
	for _, p := range paths {
		if _, err := git(repo, "cat-file", "-e", rev+":"+p); err == nil {
			present = append(present, p)
		}
	}
	if len(present) == 0 {
		return nil
	}
	archive, err := git(repo, append([]string{"archive", "--format=tar", rev, "--"}, present...)...)
	if err != nil {
		return err
	}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(target, filepath.Clean(dst)+string(filepath.Separator)) {
			return fmt.Errorf("git archive entry %q escapes the destination", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, data, 0o644); err != nil {
				return err
			}
		}
	}
}

func git(repo string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
