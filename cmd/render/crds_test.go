package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// render crds path prints the verified folder of crds.lock.yaml; a folder
// given that does not match is exit 2 naming the file; bad usage is exit 2.
func TestCRDsCommand(t *testing.T) {
	code, stdout, stderr := runCLI(t, "crds", "path")
	if code != exitOK {
		t.Fatalf("crds path: exit %d: %s", code, stderr)
	}
	dir := strings.TrimSpace(stdout)
	if _, err := os.Stat(filepath.Join(dir, "argo-rollouts", "rollout-crd.yaml")); err != nil {
		t.Fatalf("crds path printed %q, which lacks the Rollout CRD: %v", dir, err)
	}

	bad := t.TempDir()
	if err := os.CopyFS(bad, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(bad, "argo-cd", "appproject-crd.yaml")
	if err := os.WriteFile(edited, []byte("kind: Edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "crds", "fetch", "--crds", bad)
	if code != exitBadInput || !strings.Contains(stderr, edited+": sha256 ") || !strings.Contains(stderr, "crds.lock.yaml wants") {
		t.Errorf("crds fetch --crds with an edited file: exit %d, want %d naming it:\n%s", code, exitBadInput, stderr)
	}
	// render check reads CRDs the same way.
	code, _, stderr = runCLI(t, "check", "--schema-only", "--crds", bad, filepath.Join("..", "..", "rendered", "prod", "argocd"))
	if code != exitBadInput || !strings.Contains(stderr, edited) {
		t.Errorf("check --crds with an edited file: exit %d, want %d naming it:\n%s", code, exitBadInput, stderr)
	}

	for _, args := range [][]string{{"crds"}, {"crds", "pull"}, {"crds", "path", "extra"}} {
		if code, _, _ := runCLI(t, args...); code != exitBadInput {
			t.Errorf("render %s: exit %d, want %d", strings.Join(args, " "), code, exitBadInput)
		}
	}
}
