package argocd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
	envedit "github.com/ecommerce-platform/gitops/internal/testrepo"
)

// Repo is a git repository holding a render of this repository's CUE for
// one env, served over HTTP on 127.0.0.1: what Argo CD syncs in a test.
type Repo struct {
	Dir, Env string
	Server   *GitServer
	render   string
}

// NewRepo copies the repository's inputs (cue.mod, envs, schema) from root
// to dir, builds the repository's render CLI into renderDir, points the
// env's git.repoURL at a git server on 127.0.0.1 and commits the first
// render on main (the Applications' targetRevision). The server stops when
// the test ends.
func NewRepo(t testing.TB, root, dir, renderDir, env string) *Repo {
	t.Helper()
	for _, d := range []string{"cue.mod", "envs", "schema"} {
		testrepo.CopyDir(t, filepath.Join(root, d), filepath.Join(dir, d))
	}
	if err := os.MkdirAll(renderDir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Repo{Dir: dir, Env: env, render: testrepo.RenderCLI(t, root, renderDir)}
	testrepo.Run(t, dir, "git", "init", "-q", "-b", "main")
	srv, err := ServeGit(filepath.Join(dir, ".git"), "gitops.git")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	r.Server = srv
	platform := filepath.Join(dir, "envs", env, "platform.cue")
	envedit.Set(t, envedit.Find(t, platform, "platform", "git", "repoURL"), strconv.Quote(srv.URL))
	r.Commit(t, "render with the local git server")
	return r
}

// Rendered is the env's render folder in the repository.
func (r *Repo) Rendered() string { return filepath.Join(r.Dir, "rendered", r.Env) }

// Commit renders the env with the repository's CLI and commits everything,
// as a merged PR does; it returns the new HEAD.
func (r *Repo) Commit(t testing.TB, msg string) string {
	t.Helper()
	return r.CommitEdited(t, msg, nil)
}

// CommitEdited is Commit with editRendered run on the render before it is
// committed: a render that `render --check` would refuse, for a test of
// what such a commit does.
func (r *Repo) CommitEdited(t testing.TB, msg string, editRendered func()) string {
	t.Helper()
	testrepo.Run(t, r.Dir, r.render, "--root", r.Dir, "--env", r.Env)
	r.standInWorkloadCluster(t)
	if editRendered != nil {
		editRendered()
	}
	testrepo.Run(t, r.Dir, "git", "add", "-A")
	testrepo.Run(t, r.Dir, "git", "-c", "user.name=e2e", "-c", "user.email=e2e@localhost", "commit", "-q", "-m", msg)
	return r.Head(t)
}

// standInWorkloadCluster rewrites the rendered registration of the workload
// cluster (the Argo CD cluster Secret, schema/argocd_app.cue) so that its
// name points at the test's API server: the STAND-IN for the EKS cluster,
// which Argo CD would reach at its endpoint with an IAM token
// (awsAuthConfig). Only the server and config change; the name every
// Application's destination uses, the label and the sync wave stay as
// rendered. Server https://kubernetes.default.svc with no credential is
// Argo CD's in-cluster connection, which ARGOCD_FAKE_IN_CLUSTER sends to
// the kubeconfig: the management and workload clusters are one API server.
func (r *Repo) standInWorkloadCluster(t testing.TB) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(r.Rendered(), "argocd", "secret-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		sec := ReadYAML(t, f)
		if sec.GetLabels()["argocd.argoproj.io/secret-type"] != "cluster" {
			continue
		}
		if err := unstructured.SetNestedField(sec.Object, "https://kubernetes.default.svc", "stringData", "server"); err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedField(sec.Object, `{"tlsClientConfig":{"insecure":false}}`, "stringData", "config"); err != nil {
			t.Fatal(err)
		}
		WriteYAML(t, f, sec)
		n++
	}
	if n != 1 {
		t.Fatalf("rendered/%s/argocd has %d Argo CD cluster Secrets, want the workload cluster's one", r.Env, n)
	}
}

// Head is the commit main points to.
func (r *Repo) Head(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("git", "-C", r.Dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// RootApplication is the env's root app of apps, the one object an
// operator applies by hand (README, Bootstrap step 7).
func (r *Repo) RootApplication(t testing.TB) *unstructured.Unstructured {
	t.Helper()
	return ReadYAML(t, filepath.Join(r.Rendered(), "argocd", "application-platform-"+r.Env+".yaml"))
}

// ReadYAML reads one object from a YAML file.
func ReadYAML(t testing.TB, path string) *unstructured.Unstructured {
	t.Helper()
	obj, err := readObject(path)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// WriteYAML writes one object to a YAML file (a test's edit of a render).
func WriteYAML(t testing.TB, path string, obj *unstructured.Unstructured) {
	t.Helper()
	data, err := yaml.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readObject(path string) (*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Through JSON, so numbers decode as int64 as they do from the server.
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(js); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return obj, nil
}
