package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/internal/diff"
	"github.com/ecommerce-platform/gitops/internal/testrepo"
)

// gitRepo turns a scratch repository into a git repository with one commit.
func gitRepo(t *testing.T, root string) {
	t.Helper()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "base"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", root}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

func TestDiffAgainstBase(t *testing.T) {
	root := scratchRepo(t)
	gitRepo(t, root)
	// A pull request lowers a replica floor below the policy minimum.
	replicas := testrepo.Set(t, webReplicas(t, root), "1")
	at := fmt.Sprintf("envs/small/platform.cue:%d", replicas.Label.Line)
	policyDir := fixturePolicies(t)

	code, stdout, stderr := runCLI(t, "diff", "--root", root, "--policies", policyDir, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r diff.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	changed := map[string][]diff.Change{}
	for _, o := range r.Objects {
		if o.Env != "small" || o.Status != diff.Changed {
			t.Errorf("unexpected %s %s %s/%s %s", o.Status, o.Env, o.Kind, o.Namespace, o.Name)
			continue
		}
		changed[o.Kind+"/"+o.Name] = o.Changes
	}
	got := map[string][]string{}
	for obj, changes := range changed {
		for _, c := range changes {
			got[obj] = append(got[obj], c.String())
		}
	}
	want := map[string][]string{
		"Rollout/web": {"spec.replicas: 3 -> 1"},
		// the autoscaler's ceiling follows the floor (replicas * 3)
		"HorizontalPodAutoscaler/web": {"spec.maxReplicas: 9 -> 3", "spec.minReplicas: 3 -> 1"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
	if r.Base == "" {
		t.Errorf("report does not name its base")
	}
	// The change breaks the replica policy: reported as new, at the env line.
	var introduced []string
	for _, f := range r.Findings {
		where := f.File
		if len(f.Source) > 0 {
			where = fmt.Sprintf("%s:%d", f.Source[0].File, f.Source[0].Line)
		}
		introduced = append(introduced, f.Rule+" "+f.Kind+"/"+f.Name+" "+where)
	}
	wantFindings := []string{
		"replicas.hpa-min HorizontalPodAutoscaler/web " + at,
		"replicas.min Rollout/web " + at,
	}
	if d := cmp.Diff(wantFindings, introduced); d != "" {
		t.Errorf("new findings (-want +got):\n%s", d)
	}

	code, md, stderr := runCLI(t, "diff", "--root", root, "--policies", policyDir, "--format", "markdown", "--env", "small")
	if code != exitOK {
		t.Fatalf("markdown: exit %d: %s", code, stderr)
	}
	for _, s := range []string{diff.Marker, "| small | svc-web | 0 | 2 | 0 |", "| `spec.replicas` | `3` | `1` | `" + at + "` |"} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
}

func TestDiffBadInput(t *testing.T) {
	root := scratchRepo(t)
	gitRepo(t, root)
	for _, args := range [][]string{
		{"diff", "--root", root, "--base", "no-such-ref"},
		{"diff", "--root", root, "--format", "html"},
	} {
		if code, _, stderr := runCLI(t, args...); code != exitBadInput {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitBadInput, stderr)
		}
	}
}
