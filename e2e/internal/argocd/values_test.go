package argocd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
)

// The repository's values file is what the twin configures Argo CD from:
// it must enable the Application health check and only params the tests
// can pass on.
func TestRepositoryValuesEnableTheApplicationHealthCheck(t *testing.T) {
	s, err := ReadSettings(filepath.Join(testrepo.Root(t), ValuesFile))
	if err != nil {
		t.Fatal(err)
	}
	lua := s.CM["resource.customizations.health.argoproj.io_Application"]
	if !strings.Contains(lua, "obj.status.health.status") {
		t.Errorf("argocd-cm's Application health check does not read the child's health:\n%s", lua)
	}
	if got := s.env(); len(got) != 1 || got[0] != "ARGOCD_APPLICATION_CONTROLLER_PERSIST_RESOURCE_HEALTH=true" {
		t.Errorf("params as environment: %v", got)
	}
}

func TestReadSettingsRefusesWhatItCannotPassOn(t *testing.T) {
	for name, text := range map[string]string{
		"unknown param": "configs:\n  cm: {a: b}\n  params:\n    server.insecure: \"true\"\n",
		"no cm":         "configs:\n  params: {}\n",
		"not yaml":      "configs: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadSettings(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}
