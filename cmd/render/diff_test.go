package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/internal/diff"
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
	// A pull request lowers a prod replica floor below the policy minimum.
	edit(t, root+"/envs/prod/services.cue", "cart: replicas:       3", "cart: replicas:       1")

	code, stdout, stderr := runCLI(t, "diff", "--root", root, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r diff.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	changed := map[string][]diff.Change{}
	for _, o := range r.Objects {
		if o.Env != "prod" || o.Status != diff.Changed {
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
		"Rollout/cart": {"spec.replicas: 3 -> 1"},
		// the autoscaler's ceiling follows the floor (replicas * 3)
		"HorizontalPodAutoscaler/cart": {"spec.maxReplicas: 9 -> 3", "spec.minReplicas: 3 -> 1"},
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
		"replicas.hpa-min HorizontalPodAutoscaler/cart envs/prod/services.cue:7",
		"replicas.min Rollout/cart envs/prod/services.cue:7",
	}
	if d := cmp.Diff(wantFindings, introduced); d != "" {
		t.Errorf("new findings (-want +got):\n%s", d)
	}

	code, md, stderr := runCLI(t, "diff", "--root", root, "--format", "markdown", "--env", "prod")
	if code != exitOK {
		t.Fatalf("markdown: exit %d: %s", code, stderr)
	}
	for _, s := range []string{diff.Marker, "| prod | svc-cart | 0 | 2 | 0 |", "| `spec.replicas` | `3` | `1` | `envs/prod/services.cue:7` |"} {
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
