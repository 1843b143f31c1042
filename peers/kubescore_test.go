// Package peers runs third-party checkers on rendered/ as a test: their
// findings must all be in a committed list of accepted findings, each with
// its reason, so a new finding fails. A separate module, so the main go.mod
// stays light; the checkers are built pinned from the Go module proxy.
package peers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	// kubeScore is the pinned peer: github.com/zegl/kube-score at this version.
	kubeScoreModule  = "github.com/zegl/kube-score/cmd/kube-score"
	kubeScoreVersion = "v1.20.0"
	// kubernetesVersion is what kube-score checks the objects against (its
	// default is v1.18); the clusters run 1.35.
	kubernetesVersion = "v1.35"
	acceptedFile      = "kube-score-accepted.yaml"
)

// kubeScoreBinary builds kube-score once per machine into the user cache
// (go install pkg@version: the version's own go.mod, no replace, no module
// of ours involved) and returns its path.
func kubeScoreBinary(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "platform-peers", "kube-score-"+kubeScoreVersion)
	bin := filepath.Join(dir, "kube-score")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", kubeScoreModule+"@"+kubeScoreVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building kube-score %s: %v\n%s", kubeScoreVersion, err, out)
	}
	// Rename is atomic: a concurrent build only ever sees a whole binary.
	if err := os.Rename(filepath.Join(tmp, "kube-score"), bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// finding is one kube-score check that is not OK for one object.
type finding struct {
	Env     string // the rendered/<env> it was found in
	Check   string // kube-score check id, e.g. container-image-pull-policy
	Object  string // Kind/namespace/name (Kind/name when cluster-scoped)
	Summary string
}

func (f finding) String() string {
	return fmt.Sprintf("%s %s %s: %s", f.Env, f.Check, f.Object, f.Summary)
}

// accepted is one entry of kube-score-accepted.yaml.
type accepted struct {
	Check string `json:"check"`
	// Objects are path.Match patterns over Kind/namespace/name.
	Objects []string `json:"objects"`
	// Summary, if set, is a substring the finding's summary must contain.
	Summary string `json:"summary,omitempty"`
	// Env, if set, is the one env (rendered/<env>) the entry holds for.
	Env    string `json:"env,omitempty"`
	Reason string `json:"reason"`
}

func (a accepted) covers(f finding) bool {
	if a.Check != f.Check || !strings.Contains(f.Summary, a.Summary) || (a.Env != "" && a.Env != f.Env) {
		return false
	}
	for _, p := range a.Objects {
		if ok, _ := path.Match(p, f.Object); ok {
			return true
		}
	}
	return false
}

// TestKubeScore runs kube-score on each env of rendered/, and on a copy where
// every Rollout is a Deployment with the same pod template (kube-score does
// not know Rollouts and would skip their pods), and compares its findings
// with the accepted list: a new finding fails, and so does an accepted entry
// that no longer matches anything (the list stays true).
func TestKubeScore(t *testing.T) {
	bin := kubeScoreBinary(t)
	var list []accepted
	raw, err := os.ReadFile(acceptedFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, &list); err != nil {
		t.Fatalf("%s: %v", acceptedFile, err)
	}
	for i, a := range list {
		if a.Check == "" || len(a.Objects) == 0 || strings.TrimSpace(a.Reason) == "" {
			t.Errorf("%s entry %d (%s): check, objects and reason are required", acceptedFile, i, a.Check)
		}
	}

	envs, err := filepath.Glob(filepath.Join("..", "rendered", "*"))
	if err != nil || len(envs) == 0 {
		t.Fatalf("no rendered envs (%v)", err)
	}
	used := make([]bool, len(list))
	for _, env := range envs {
		t.Run(filepath.Base(env), func(t *testing.T) {
			files := rolloutsAsDeployments(t, env)
			for _, f := range kubeScore(t, bin, files) {
				f.Env = filepath.Base(env)
				i := slices.IndexFunc(list, func(a accepted) bool { return a.covers(f) })
				if i < 0 {
					t.Errorf("new kube-score finding (fix it, or accept it in peers/%s with its reason): %s", acceptedFile, f)
					continue
				}
				used[i] = true
			}
		})
	}
	for i, a := range list {
		if !used[i] {
			t.Errorf("%s entry %d (%s %v) matches no finding any more: remove it", acceptedFile, i, a.Check, a.Objects)
		}
	}
}

// rolloutsAsDeployments copies an env's objects into a temporary folder, each
// Rollout replaced by a Deployment with its metadata, replicas, selector and
// pod template (and each HPA of a Rollout pointed at that Deployment), and
// returns the files.
func rolloutsAsDeployments(t *testing.T, env string) []string {
	t.Helper()
	out := t.TempDir()
	var files []string
	err := filepath.WalkDir(env, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || d.Name() == "kustomization.yaml" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var obj map[string]any
		if err := yaml.Unmarshal(data, &obj); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		spec, _ := obj["spec"].(map[string]any)
		if ref, ok := spec["scaleTargetRef"].(map[string]any); ok && obj["kind"] == "HorizontalPodAutoscaler" && ref["kind"] == "Rollout" {
			// The autoscaler then scales the Deployment standing in for the Rollout.
			ref["apiVersion"], ref["kind"] = "apps/v1", "Deployment"
			if data, err = yaml.Marshal(obj); err != nil {
				return err
			}
		}
		if obj["kind"] == "Rollout" {
			dep := map[string]any{
				"apiVersion": "apps/v1",
				"kind":       "Deployment",
				"metadata":   obj["metadata"],
				"spec": map[string]any{
					"replicas": spec["replicas"],
					"selector": spec["selector"],
					"template": spec["template"],
				},
			}
			if data, err = yaml.Marshal(dep); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(env, p)
		dst := filepath.Join(out, strings.ReplaceAll(rel, string(filepath.Separator), "_"))
		files = append(files, dst)
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// kubeScore runs the binary on files and returns its findings: every check
// that is not skipped and not graded OK (10), one per comment.
func kubeScore(t *testing.T, bin string, files []string) []finding {
	t.Helper()
	args := append([]string{"score", "--output-format", "json", "--kubernetes-version", kubernetesVersion}, files...)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// kube-score exits 1 when it finds anything critical: the JSON decides.
	if err := cmd.Run(); err != nil && stdout.Len() == 0 {
		t.Fatalf("kube-score: %v\n%s", err, stderr.String())
	}
	var report []struct {
		TypeMeta   struct{ Kind string } `json:"type_meta"`
		ObjectMeta struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"object_meta"`
		Checks []struct {
			Check struct {
				ID string `json:"id"`
			} `json:"check"`
			Grade    int  `json:"grade"`
			Skipped  bool `json:"skipped"`
			Comments []struct {
				Path    string `json:"path"`
				Summary string `json:"summary"`
			} `json:"comments"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("kube-score output: %v", err)
	}
	if len(report) == 0 {
		t.Fatal("kube-score scored no object")
	}
	var out []finding
	for _, o := range report {
		obj := strings.Join(slices.DeleteFunc([]string{o.TypeMeta.Kind, o.ObjectMeta.Namespace, o.ObjectMeta.Name}, func(s string) bool { return s == "" }), "/")
		for _, c := range o.Checks {
			if c.Skipped || c.Grade >= 10 {
				continue
			}
			for _, cm := range c.Comments {
				s := cm.Summary
				if cm.Path != "" {
					s = "(" + cm.Path + ") " + s
				}
				out = append(out, finding{Check: c.Check.ID, Object: obj, Summary: s})
			}
			if len(c.Comments) == 0 {
				out = append(out, finding{Check: c.Check.ID, Object: obj})
			}
		}
	}
	return out
}

// TestKubeScoreCatchesANewFinding: a crafted Deployment that drops the
// platform's controls (no security context, no resources) gets findings the
// accepted list does not cover, so TestKubeScore would fail on it.
func TestKubeScoreCatchesANewFinding(t *testing.T) {
	bin := kubeScoreBinary(t)
	dir := t.TempDir()
	crafted := filepath.Join(dir, "deployment.yaml")
	err := os.WriteFile(crafted, []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry/web@sha256:0000000000000000000000000000000000000000000000000000000000000000
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(acceptedFile)
	if err != nil {
		t.Fatal(err)
	}
	var list []accepted
	if err := yaml.UnmarshalStrict(raw, &list); err != nil {
		t.Fatal(err)
	}
	var fresh []string
	for _, f := range kubeScore(t, bin, []string{crafted}) {
		if !slices.ContainsFunc(list, func(a accepted) bool { return a.covers(f) }) {
			fresh = append(fresh, f.Check)
		}
	}
	for _, want := range []string{"container-security-context-readonlyrootfilesystem", "container-ephemeral-storage-request-and-limit", "pod-networkpolicy"} {
		if !slices.Contains(fresh, want) {
			t.Errorf("crafted Deployment: no new %s finding (new: %v)", want, fresh)
		}
	}
}
