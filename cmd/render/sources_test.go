package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/internal/crdlock"
	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/testrepo"
)

// A pull request lowers a prod replica floor below the minimum: the finding
// points at the env line it changed, in json and as a GitHub annotation.
func TestCheckFindingsPointAtTheEnvLine(t *testing.T) {
	root := scratchRepo(t)
	replicas := testrepo.Set(t, webReplicas(t, root), "1")
	if code, _, stderr := runCLI(t, "--root", root); code != exitOK {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	crds := crdsDir(t)
	policyDir := fixturePolicies(t)
	t.Chdir(root)
	check := func(format string) (int, string, string) {
		return runCLI(t, "check", "--env", "small", "--policies", policyDir, "--format", format, "--crds", crds)
	}

	code, stdout, stderr := check("json")
	if code != exitFindings {
		t.Fatalf("exit %d, want %d: %s\n%s", code, exitFindings, stderr, stdout)
	}
	// The report says which kinds only their CUE definitions validate.
	for _, want := range []string{
		"schemaless: validated by CUE only: portworx.io/v1beta2 VolumePlacementStrategy (1)",
		"schemaless: validated by CUE only: stork.libopenstorage.org/v1alpha1 SchedulePolicy (1)",
		", 0 unknown",
		// ...and which Kubernetes it validated against: the one the env's cluster runs.
		"small: built-in kinds validated against Kubernetes v1.35.4",
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
		if f.Kind == "Rollout" && f.Name == "web" && f.Path == "spec.replicas" {
			rollout = &out.Findings[i]
		}
	}
	if rollout == nil {
		t.Fatalf("no finding on Rollout web spec.replicas: %s", stdout)
	}
	if len(rollout.Source) == 0 {
		t.Fatalf("finding has no source: %+v", rollout)
	}
	want := finding.Source{File: "envs/small/platform.cue", Line: replicas.Label.Line, Column: replicas.Label.Column}
	if diff := cmp.Diff(want, rollout.Source[0]); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}

	_, gh, _ := check("github")
	lines := strings.Split(gh, "\n")
	annotation := fmt.Sprintf("::error file=%s,line=%d,col=%d,title=replicas.min::", want.File, want.Line, want.Column)
	i := slicesIndex(lines, annotation)
	if i < 0 {
		t.Fatalf("no annotation %q:\n%s", annotation, gh)
	}
	if !strings.HasPrefix(lines[i+1], "::error file=rendered/small/svc-web/rollout-web.yaml,") {
		t.Errorf("the rendered location should follow the env one:\n%s\n%s", lines[i], lines[i+1])
	}

	// A hand-edited rendered file has no CUE behind it: rendered location only.
	edit(t, filepath.Join(root, "rendered/small/svc-web/rollout-web.yaml"), "  replicas: 1", "  replicas: 1 # hand-edited")
	_, stdout, _ = check("json")
	out.Findings = nil
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range out.Findings {
		if f.Kind == "Rollout" && f.Name == "web" && f.Path == "spec.replicas" {
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

// crdsDir is the verified folder of crds.lock.yaml's CRDs, as an absolute
// path (the test changes directory); --crds verifies it again.
func crdsDir(t *testing.T) string {
	t.Helper()
	res, err := crdlock.Dir(t.Context(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	return res.Dir
}
