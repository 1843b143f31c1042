package binaries

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/internal/crdlock"

	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
)

func TestArgoCDGoModCopiesRemoteReplacesOnly(t *testing.T) {
	upstream := `module github.com/argoproj/argo-cd/v3

go 1.27.0

require github.com/argoproj/argo-cd/gitops-engine/v3 v3.6.1

replace (
	github.com/golang/protobuf => github.com/golang/protobuf v1.5.4
	k8s.io/api => k8s.io/api v0.37.0
)

replace github.com/argoproj/argo-cd/gitops-engine/v3 => ./gitops-engine
`
	got, err := argoCDGoModFrom("go.mod", []byte(upstream))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"require github.com/argoproj/argo-cd/v3 " + ArgoCDVersion,
		"github.com/golang/protobuf => github.com/golang/protobuf v1.5.4",
		"k8s.io/api => k8s.io/api v0.37.0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("go.mod lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "./gitops-engine") {
		t.Errorf("go.mod keeps the local gitops-engine replace, absent from the module zip:\n%s", got)
	}
	if _, err := argoCDGoModFrom("go.mod", []byte("module x\n\ngo 1.27.0\n")); err == nil {
		t.Error("a go.mod without replaces was accepted: argo-cd's shape changed and the build would fail later")
	}
}

func TestEnsureArgoCDPrefersBinariesFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	argocd := fakeBinary(t, filepath.Join(dir, "argocd"))
	kustomize := fakeBinary(t, filepath.Join(dir, "kustomize"))
	t.Setenv(EnvArgoCD, argocd)
	t.Setenv(EnvKustomize, kustomize)
	t.Setenv(EnvArgoCDScripts, dir)
	t.Setenv(EnvNoBuild, "1") // a build attempt would fail the test
	p, err := EnsureArgoCD(t.Context(), Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	if p.ArgoCD != argocd || p.Kustomize != kustomize || p.Scripts != dir {
		t.Fatalf("got %+v", p)
	}
	t.Setenv(EnvKustomize, filepath.Join(dir, "missing"))
	if _, err := EnsureArgoCD(t.Context(), Options{CacheDir: filepath.Join(dir, "cache")}); err == nil {
		t.Fatal("a missing kustomize from the environment was accepted")
	}
}

// The Argo CD the tests build is the one whose CRDs schema/crds.lock.yaml
// pins (and the README's bootstrap installs): the CRDs rendered/ is checked
// against must be those of the controller that syncs it.
func TestArgoCDIsTheLocksVersion(t *testing.T) {
	lock, err := crdlock.Load(filepath.Join(testrepo.Root(t), crdlock.LockPath))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range lock.Sources {
		if s.Repository == "github.com/argoproj/argo-cd" {
			if s.Version != ArgoCDVersion {
				t.Errorf("%s pins Argo CD's CRDs at %s, the tests run Argo CD %s: make them one version", crdlock.LockPath, s.Version, ArgoCDVersion)
			}
			return
		}
	}
	t.Errorf("%s has no Argo CD source", crdlock.LockPath)
}
