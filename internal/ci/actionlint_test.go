package ci

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/rhysd/actionlint"
)

func workflows(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../.github/workflows/*.y*ml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows found (%v)", err)
	}
	return files
}

func TestWorkflowsLintClean(t *testing.T) {
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.LintFiles(workflows(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("%s:%d:%d: %s [%s]", e.Filepath, e.Line, e.Column, e.Message, e.Kind)
	}
}

// The linter must be able to fail: a known-bad workflow is rejected.
func TestActionlintCatchesABrokenWorkflow(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.evnt.name }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.LintFile(bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) == 0 {
		t.Fatal("actionlint accepted a workflow with an undefined property")
	}
}

// Actions are pinned by full commit SHA: a tag can be moved to other code.
func TestActionsPinnedBySHA(t *testing.T) {
	uses := regexp.MustCompile(`(?m)^\s*-?\s*uses:\s*(\S+)`)
	pinned := regexp.MustCompile(`^[^@]+@[0-9a-f]{40}$`)
	for _, f := range workflows(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range uses.FindAllStringSubmatch(string(data), -1) {
			if !pinned.MatchString(m[1]) {
				t.Errorf("%s: %s is not pinned by commit SHA", f, m[1])
			}
		}
	}
}

// The workflows check out this repository only: the CRDs come from
// schema/crds.lock.yaml (make crds), not from a sibling repository that a runner
// may not be able to read or that may not exist.
func TestWorkflowsCheckOutNoOtherRepository(t *testing.T) {
	other := regexp.MustCompile(`(?m)^\s*repository:`)
	for _, f := range workflows(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if loc := other.FindIndex(data); loc != nil {
			t.Errorf("%s: checks out another repository (%q)", f, data[loc[0]:loc[1]])
		}
	}
	if !other.MatchString("      - uses: actions/checkout@x\n        with:\n          repository: o/platform-shared\n") {
		t.Fatal("the pattern misses a checkout of another repository")
	}
}
