// Package testrepo holds what the end-to-end tests do to a scratch copy of
// the repository: copy its folders, run a command in it.
package testrepo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"
	"sigs.k8s.io/yaml"
)

// CopyDir copies the tree src to dst (which must not hold those files yet).
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// Run runs name with args in dir and fails the test with its output.
func Run(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// RenderCLI builds the repository's render command into dir and returns its
// path: the tests run the real CLI on a changed copy of the inputs, as a
// commit would be rendered, instead of importing the generator.
func RenderCLI(t testing.TB, root, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "render")
	Run(t, root, "go", "build", "-o", bin, "./cmd/render")
	return bin
}

// Root is the main module's root: the nearest folder above the test's
// working directory that holds cue.mod/.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// CRDs is the CRD folder: $E2E_CRDS, else the verified folder of the main
// module's schema/crds.lock.yaml (render crds fetch prints it: ../shared/crds
// where it matches the lock, else fetched into the cache). This module does
// not import the main one, so it asks its command.
func CRDs(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("E2E_CRDS"); dir != "" {
		return dir
	}
	cmd := exec.CommandContext(t.Context(), "go", "run", "./cmd/render", "crds", "fetch")
	cmd.Dir = Root(t)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("render crds fetch: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// KubernetesVersionAnnotation is where the rendered root Application of an
// env names the Kubernetes release its cluster runs (schema/kubernetes.cue).
const KubernetesVersionAnnotation = "platform.shop/kubernetes-version"

// KubernetesVersion is the release rendered/<env> declares in its bootstrap
// folder (argocd/), so the tests run the API server the env's cluster runs:
// upgrading the cluster in the env moves the tests with it.
func KubernetesVersion(root, env string) (string, error) {
	dir := filepath.Join(root, "rendered", env, "argocd")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return "", err
	}
	found := map[string]string{} // version -> file
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var obj struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return "", fmt.Errorf("%s: %w", f, err)
			}
			if v := obj.Metadata.Annotations[KubernetesVersionAnnotation]; v != "" {
				found[v] = f
			}
		}
	}
	switch len(found) {
	case 1:
		for v := range found {
			return v, nil
		}
	case 0:
		return "", fmt.Errorf("no %s annotation in %s", KubernetesVersionAnnotation, dir)
	}
	return "", fmt.Errorf("%s declares several Kubernetes releases: %v", dir, found)
}

// FindRoot is Root without a test: the nearest folder above the working
// directory that holds cue.mod/.
func FindRoot() (string, error) {
	dir, err := filepath.Abs(".")
	if err != nil {
		return "", err
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, "cue.mod")); err == nil && st.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no cue.mod/ above the working directory: run the tests inside the repository")
		}
		dir = parent
	}
}

// EnvString evaluates envs/<env> (with the schema it imports) and returns
// the string at path, e.g. "platform.account": a value of the env the
// rendered objects carry only inside ARNs.
func EnvString(root, env, path string) (string, error) {
	insts := load.Instances([]string{"./envs/" + env}, &load.Config{Dir: root})
	if len(insts) != 1 || insts[0].Err != nil {
		return "", fmt.Errorf("load envs/%s: %v", env, insts[0].Err)
	}
	v := cuecontext.New().BuildInstance(insts[0]).LookupPath(cue.ParsePath(path))
	s, err := v.String()
	if err != nil {
		return "", fmt.Errorf("envs/%s %s: %w", env, path, err)
	}
	return s, nil
}
