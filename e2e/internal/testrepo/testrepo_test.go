package testrepo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeApp(t *testing.T, root, env, file, version string) {
	t.Helper()
	dir := filepath.Join(root, "rendered", env, "argocd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	annotations := ""
	if version != "" {
		annotations = "  annotations:\n    " + KubernetesVersionAnnotation + ": " + version + "\n"
	}
	doc := "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: " + file + "\n" + annotations
	if err := os.WriteFile(filepath.Join(dir, file+".yaml"), []byte(doc+"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestKubernetesVersionReadsTheEnvsRelease(t *testing.T) {
	root := t.TempDir()
	writeApp(t, root, "prod", "root", "v1.35.4")
	writeApp(t, root, "prod", "other", "")
	if v, err := KubernetesVersion(root, "prod"); err != nil || v != "v1.35.4" {
		t.Errorf("KubernetesVersion = %q, %v; want v1.35.4", v, err)
	}

	writeApp(t, root, "none", "root", "")
	if _, err := KubernetesVersion(root, "none"); err == nil || !strings.Contains(err.Error(), KubernetesVersionAnnotation) {
		t.Errorf("no annotation: err = %v, want it to name the annotation", err)
	}

	writeApp(t, root, "two", "a", "v1.35.4")
	writeApp(t, root, "two", "b", "v1.37.2")
	if _, err := KubernetesVersion(root, "two"); err == nil || !strings.Contains(err.Error(), "v1.37.2") {
		t.Errorf("two releases: err = %v, want both named", err)
	}
}

// The committed render declares a release, so the e2e servers follow it.
func TestRenderedEnvsDeclareTheirRelease(t *testing.T) {
	root := Root(t)
	for _, env := range []string{"prod", "dr"} {
		if v, err := KubernetesVersion(root, env); err != nil || !strings.HasPrefix(v, "v1.") {
			t.Errorf("%s: %q, %v", env, v, err)
		}
	}
}

func TestEnvStringReadsTheEnv(t *testing.T) {
	root := Root(t)
	got, err := EnvString(root, "prod", "platform.region")
	if err != nil {
		t.Fatal(err)
	}
	if got != "us-east-1" {
		t.Errorf("prod's platform.region = %q, want us-east-1 (envs/prod/platform.cue)", got)
	}
	if _, err := EnvString(root, "prod", "platform.noSuchField"); err == nil {
		t.Error("a missing field was read without error")
	}
}
