package generator

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := readTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for p, d := range files {
		out[p] = string(d)
	}
	return out
}

func TestWriteReplacesAndRemovesStaleFiles(t *testing.T) {
	out := t.TempDir()
	first := []Env{{Name: "prod", Files: []File{{Path: "a/x.yaml", Data: []byte("x")}, {Path: "a/y.yaml", Data: []byte("y")}}}}
	if err := Write(out, first, true); err != nil {
		t.Fatal(err)
	}
	// A killed render's staging folder and a stale env are cleared by the next one.
	if err := os.MkdirAll(filepath.Join(out, ".prod.render-123", "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(out, "staging"), 0o755); err != nil {
		t.Fatal(err)
	}
	second := []Env{{Name: "prod", Files: []File{{Path: "a/x.yaml", Data: []byte("x2")}}}}
	if err := Write(out, second, true); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"prod/a/x.yaml": "x2"}, tree(t, out)); diff != "" {
		t.Errorf("after the second render (-want +got):\n%s", diff)
	}
}

func TestWriteWithoutPruneKeepsOtherEnvs(t *testing.T) {
	out := t.TempDir()
	both := []Env{{Name: "dr", Files: []File{{Path: "a.yaml", Data: []byte("dr")}}}, {Name: "prod", Files: []File{{Path: "a.yaml", Data: []byte("p")}}}}
	if err := Write(out, both, true); err != nil {
		t.Fatal(err)
	}
	if err := Write(out, []Env{{Name: "prod", Files: []File{{Path: "a.yaml", Data: []byte("p2")}}}}, false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"dr/a.yaml": "dr", "prod/a.yaml": "p2"}, tree(t, out)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A render that fails while writing leaves every env exactly as it was,
// even an env whose own files were written fine before the failure.
func TestWriteFailureLeavesRenderedUntouched(t *testing.T) {
	out := t.TempDir()
	before := []Env{
		{Name: "dr", Files: []File{{Path: "a/x.yaml", Data: []byte("dr-old")}}},
		{Name: "prod", Files: []File{{Path: "a/x.yaml", Data: []byte("prod-old")}}},
	}
	if err := Write(out, before, true); err != nil {
		t.Fatal(err)
	}
	want := tree(t, out)
	broken := []Env{
		{Name: "dr", Files: []File{{Path: "a/x.yaml", Data: []byte("dr-new")}}},
		// a file and a folder with one name cannot both be written
		{Name: "prod", Files: []File{{Path: "a/x.yaml", Data: []byte("p")}, {Path: "a/x.yaml/y.yaml", Data: []byte("p")}}},
	}
	if err := Write(out, broken, true); err == nil {
		t.Fatal("write succeeded; want an error")
	}
	if diff := cmp.Diff(want, tree(t, out)); diff != "" {
		t.Errorf("a failed render changed rendered/ (-before +after):\n%s", diff)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 {
		t.Errorf("a failed render left staging folders behind: %v", entries)
	}
}

func TestCompareReportsEveryKindOfDrift(t *testing.T) {
	out := t.TempDir()
	envs := []Env{{Name: "prod", Files: []File{
		{Path: "a/edited.yaml", Data: []byte("replicas: 3\n")},
		{Path: "a/deleted.yaml", Data: []byte("x\n")},
		{Path: "a/same.yaml", Data: []byte("x\n")},
	}}}
	if err := Write(out, envs, true); err != nil {
		t.Fatal(err)
	}
	if diffs, err := Compare(out, envs, true); err != nil || len(diffs) != 0 {
		t.Fatalf("fresh render: diffs %v, err %v", diffs, err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(out, "prod/a/edited.yaml"), []byte("replicas: 1\n"), 0o644))
	must(os.Remove(filepath.Join(out, "prod/a/deleted.yaml")))
	must(os.WriteFile(filepath.Join(out, "prod/a/extra.yaml"), []byte("x\n"), 0o644))
	must(os.MkdirAll(filepath.Join(out, "old-env"), 0o755))
	diffs, err := Compare(out, envs, true)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range diffs {
		got[d.Path] = d.Reason
	}
	want := map[string]string{
		"old-env":             "not produced by the renderer",
		"prod/a/deleted.yaml": "missing",
		"prod/a/edited.yaml":  "stale",
		"prod/a/extra.yaml":   "not produced by the renderer",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, d := range diffs {
		if d.Path == "prod/a/edited.yaml" && d.Diff != "--- rendered/prod/a/edited.yaml (committed)\n+++ rendered/prod/a/edited.yaml (fresh render)\n@@ -1 +1 @@\n-replicas: 1\n+replicas: 3\n" {
			t.Errorf("unexpected unified diff:\n%s", d.Diff)
		}
	}
}
