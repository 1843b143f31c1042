package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Load parses files in parallel; what it returns is what reading them one
// after the other in path order returns: objects in path order, then
// document order, and the error of the first failing file.
func TestLoadOrderAndFirstError(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := range 60 {
		sub := filepath.Join(dir, fmt.Sprintf("d%d", i%7))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("f%02d.yaml", i)
		var doc strings.Builder
		for j := range i%3 + 1 {
			fmt.Fprintf(&doc, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d-%d}\n", i, j)
		}
		if err := os.WriteFile(filepath.Join(sub, name), []byte(doc.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The expected order: sorted paths, then documents.
	var paths []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return err
	})
	for _, p := range paths {
		var i int
		fmt.Sscanf(filepath.Base(p), "f%02d.yaml", &i)
		for j := range i%3 + 1 {
			want = append(want, fmt.Sprintf("%s c%d-%d", p, i, j))
		}
	}
	for _, procs := range []int{1, 2, 8} {
		prev := runtime.GOMAXPROCS(procs)
		objs, err := Load(dir)
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range objs {
			got = append(got, o.File+" "+o.Name())
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("GOMAXPROCS %d: objects out of order:\n%s\nwant:\n%s", procs, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// Two bad files: the error is the first one's, in path order.
	for _, bad := range []string{"d5/f12.yaml", "d1/f50.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, bad), []byte("kind: [\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "d1/f50.yaml")) {
			t.Fatalf("err = %v, want the one of d1/f50.yaml", err)
		}
	}
}
