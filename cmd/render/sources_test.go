package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/internal/finding"
)

// A pull request lowers a prod replica floor below the minimum: the finding
// points at the env line it changed, in json and as a GitHub annotation.
func TestCheckFindingsPointAtTheEnvLine(t *testing.T) {
	root := scratchRepo(t)
	edit(t, filepath.Join(root, "envs/prod/services.cue"), "cart: replicas:       3", "cart: replicas:       1")
	if code, _, stderr := runCLI(t, "--root", root); code != exitOK {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	crds := crdsDir(t)
	t.Chdir(root)

	code, stdout, stderr := runCLI(t, "check", "--env", "prod", "--format", "json", "--crds", crds)
	if code != exitFindings {
		t.Fatalf("exit %d, want %d: %s\n%s", code, exitFindings, stderr, stdout)
	}
	// The report says which kinds only their CUE definitions validate.
	for _, want := range []string{
		"schemaless: validated by CUE only: portworx.io/v1beta2 VolumePlacementStrategy (1)",
		"schemaless: validated by CUE only: stork.libopenstorage.org/v1alpha1 SchedulePolicy (1)",
		", 0 unknown",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	var out struct{ Findings []finding.Finding }
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	var rollout *finding.Finding
	for i, f := range out.Findings {
		if f.Kind == "Rollout" && f.Name == "cart" && f.Path == "spec.replicas" {
			rollout = &out.Findings[i]
		}
	}
	if rollout == nil {
		t.Fatalf("no finding on Rollout cart spec.replicas: %s", stdout)
	}
	if len(rollout.Source) == 0 {
		t.Fatalf("finding has no source: %+v", rollout)
	}
	if diff := cmp.Diff(finding.Source{File: "envs/prod/services.cue", Line: 7, Column: 8}, rollout.Source[0]); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}

	_, gh, _ := runCLI(t, "check", "--env", "prod", "--format", "github", "--crds", crds)
	lines := strings.Split(gh, "\n")
	i := slicesIndex(lines, "::error file=envs/prod/services.cue,line=7,col=8,title=replicas.min::")
	if i < 0 {
		t.Fatalf("no annotation on envs/prod/services.cue:7:\n%s", gh)
	}
	if !strings.HasPrefix(lines[i+1], "::error file=rendered/prod/svc-cart/rollout-cart.yaml,") {
		t.Errorf("the rendered location should follow the env one:\n%s\n%s", lines[i], lines[i+1])
	}

	// A hand-edited rendered file has no CUE behind it: rendered location only.
	edit(t, filepath.Join(root, "rendered/prod/svc-cart/rollout-cart.yaml"), "  replicas: 1", "  replicas: 1 # hand-edited")
	_, stdout, _ = runCLI(t, "check", "--env", "prod", "--format", "json", "--crds", crds)
	out.Findings = nil
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range out.Findings {
		if f.Kind == "Rollout" && f.Name == "cart" && f.Path == "spec.replicas" {
			found = true
			if len(f.Source) > 0 {
				t.Errorf("finding on a hand-edited file still has a CUE source: %+v", f)
			}
		}
	}
	if !found {
		t.Errorf("the hand-edited file's finding is gone: %s", stdout)
	}
}

func slicesIndex(lines []string, prefix string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

// crdsDir is the CRD folder beside the repository, as an absolute path (the
// test changes directory).
func crdsDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("GITOPS_CRD_DIR"); dir != "" {
		return dir
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "crds"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
