package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/internal/testrepo"
)

// scratchRepo is a temporary repository with the schema and the fixture
// envs (small, small-dr; internal/testrepo), rendered, as a developer's clone
// after `make render`. Tests break it, never the live envs.
func scratchRepo(t *testing.T) string {
	t.Helper()
	root := testrepo.Fixture(t)
	if code, _, stderr := runCLI(t, "--root", root); code != exitOK {
		t.Fatalf("render exit %d: %s", code, stderr)
	}
	return root
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRenderThenCheckIsClean(t *testing.T) {
	root := scratchRepo(t)
	if code, stdout, stderr := runCLI(t, "--root", root, "--check"); code != exitOK {
		t.Fatalf("--check right after render: exit %d\n%s%s", code, stdout, stderr)
	}
	// Rendering again changes nothing.
	before := snapshot(t, filepath.Join(root, "rendered"))
	if code, _, stderr := runCLI(t, "--root", root); code != exitOK {
		t.Fatalf("second render: exit %d: %s", code, stderr)
	}
	if after := snapshot(t, filepath.Join(root, "rendered")); len(after) != len(before) {
		t.Fatalf("second render changed the file count: %d -> %d", len(before), len(after))
	} else {
		for p, d := range before {
			if after[p] != d {
				t.Errorf("second render changed %s", p)
			}
		}
	}
}

// --check fails (exit 1, with the diff) on every way rendered/ can drift.
func TestCheckFailsOnDrift(t *testing.T) {
	cases := []struct {
		name   string
		drift  func(t *testing.T, root string)
		stdout string // expected in the report
	}{{
		name: "hand edit under rendered/",
		drift: func(t *testing.T, root string) {
			edit(t, filepath.Join(root, "rendered/small/svc-web/rollout-web.yaml"), "\n  replicas: 3\n", "\n  replicas: 9\n")
		},
		stdout: "-  replicas: 9\n+  replicas: 3",
	}, {
		name: "env change not rendered",
		drift: func(t *testing.T, root string) {
			testrepo.Set(t, webReplicas(t, root), "4")
		},
		stdout: "-  replicas: 3\n+  replicas: 4",
	}, {
		name: "file the renderer does not produce",
		drift: func(t *testing.T, root string) {
			write(t, filepath.Join(root, "rendered/small/svc-web/configmap-extra.yaml"), "kind: ConfigMap\n")
		},
		stdout: "small/svc-web/configmap-extra.yaml: not produced by the renderer",
	}, {
		name: "deleted rendered file",
		drift: func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, "rendered/small-dr/svc-web/rollout-web.yaml")); err != nil {
				t.Fatal(err)
			}
		},
		stdout: "small-dr/svc-web/rollout-web.yaml: missing",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := scratchRepo(t)
			tc.drift(t, root)
			code, stdout, stderr := runCLI(t, "--root", root, "--check")
			if code != exitFindings {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitFindings, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.stdout) {
				t.Errorf("report lacks %q:\n%s", tc.stdout, stdout)
			}
			if !strings.Contains(stderr, "run 'make render'") {
				t.Errorf("stderr does not say what to do: %s", stderr)
			}
		})
	}
}

// Bad input exits 2 naming file:line:col and leaves rendered/ byte for byte
// as it was.
func TestBadInputLeavesRenderedUntouched(t *testing.T) {
	root := scratchRepo(t)
	before := snapshot(t, filepath.Join(root, "rendered"))
	at := testrepo.At(root, testrepo.Set(t, webReplicas(t, root), `"three"`).Value)
	code, _, stderr := runCLI(t, "--root", root)
	if code != exitBadInput {
		t.Fatalf("exit %d, want %d: %s", code, exitBadInput, stderr)
	}
	if !strings.Contains(stderr, at+": platform.services.web.replicas: conflicting values") {
		t.Errorf("stderr does not name the file, line and field:\n%s", stderr)
	}
	after := snapshot(t, filepath.Join(root, "rendered"))
	if len(after) != len(before) {
		t.Fatalf("rendered/ changed: %d files -> %d", len(before), len(after))
	}
	for p, d := range before {
		if after[p] != d {
			t.Errorf("rendered/ changed: %s", p)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	root := scratchRepo(t)
	for _, args := range [][]string{
		{"--root", root, "--env", "staging"},
		{"--root", root, "--no-such-flag"},
		{"--root", root, "stray-argument"},
	} {
		if code, _, stderr := runCLI(t, args...); code != exitBadInput {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitBadInput, stderr)
		}
	}
	if code, _, stderr := runCLI(t, "--root", root, "--env", "small-dr", "--check"); code != exitOK {
		t.Errorf("--env small-dr --check: exit %d: %s", code, stderr)
	}
}

// webReplicas is the replica floor of the fixture's web service in the
// primary fixture env, found by its CUE path.
func webReplicas(t *testing.T, root string) testrepo.Field {
	t.Helper()
	return testrepo.Find(t, filepath.Join(root, "envs/small/platform.cue"), "platform", "services", "web", "replicas")
}

// fixturePolicies is a policy folder for the fixture envs: the repository's
// policies, with the fixture primary "small" held to prod's thresholds.
func fixturePolicies(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(testrepo.Root(t), "policies")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, ".rego") && !strings.HasSuffix(name, "_test.rego") {
			data, err := os.ReadFile(filepath.Join(src, name))
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, name), string(data))
		}
	}
	write(t, filepath.Join(dir, "fixture_thresholds.rego"), "package thresholds\n\nsmall := prod\n")
	return dir
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	write(t, path, strings.Replace(string(data), old, new, 1))
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
