package binaries

import (
	"strings"
	"testing"
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
