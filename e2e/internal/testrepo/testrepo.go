// Package testrepo holds what the end-to-end tests do to a scratch copy of
// the repository: copy its folders, run a command in it.
package testrepo

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CopyDir copies the tree src to dst (which must not hold those files yet).
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// Run runs name with args in dir and fails the test with its output.
func Run(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
