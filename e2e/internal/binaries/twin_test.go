package binaries

import (
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/internal/crdlock"
)

func TestGoModWithReplacesCopiesRemoteReplacesOnly(t *testing.T) {
	upstream := "module github.com/argoproj/argo-rollouts\n\ngo 1.26.10\n\nreplace (\n\tk8s.io/api => k8s.io/api v0.34.5\n\tgithub.com/x/y => ./local\n)\n"
	got, err := goModWithReplaces("platform-e2e/rollouts", "github.com/argoproj/argo-rollouts", RolloutsVersion, "1.26.10", "go.mod", []byte(upstream))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"module platform-e2e/rollouts", "go 1.26.10", "require github.com/argoproj/argo-rollouts " + RolloutsVersion, "k8s.io/api => k8s.io/api v0.34.5"} {
		if !strings.Contains(got, want) {
			t.Errorf("go.mod lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "./local") {
		t.Errorf("go.mod keeps a local replace, absent from the module zip:\n%s", got)
	}
	if _, err := goModWithReplaces("m", "x", "v1", "1.26", "go.mod", []byte("module x\n\ngo 1.26\n")); err == nil {
		t.Error("a go.mod without replaces was accepted: the upstream's shape changed and the build would fail later")
	}
}

// TestTwinRunsTheLockedRollouts: the twin's Rollouts controller is the
// version whose CRDs the lock pins, the one the platform's chart installs;
// a release the twin passes on another version says little of prod's.
func TestTwinRunsTheLockedRollouts(t *testing.T) {
	file, err := crdlock.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := crdlock.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range lock.Sources {
		if s.Module != "github.com/argoproj/argo-rollouts" {
			continue
		}
		if s.Version != RolloutsVersion {
			t.Fatalf("%s pins Argo Rollouts %s (chart %v), the twin builds %s: keep binaries.RolloutsVersion at the lock's version", file, s.Version, s.Chart, RolloutsVersion)
		}
		return
	}
	t.Fatalf("%s names no github.com/argoproj/argo-rollouts source", file)
}
