package argocd

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// ValuesFile is the repository's Helm values for Argo CD's chart (README,
// Bootstrap step 4), relative to the repository root.
const ValuesFile = "bootstrap/argocd-values.yaml"

// Settings are what the chart values put into argocd-cm and
// argocd-cmd-params-cm: what a test reads to run Argo CD as users do.
type Settings struct {
	CM     map[string]string
	Params map[string]string
}

// paramEnv maps the argocd-cmd-params-cm keys a test can honour to the
// environment variable Argo CD's install manifests feed each into
// (manifests/base/application-controller/...-statefulset.yaml): outside a
// pod nothing reads that ConfigMap, so Start sets the variables.
var paramEnv = map[string]string{
	"controller.resource.health.persist": "ARGOCD_APPLICATION_CONTROLLER_PERSIST_RESOURCE_HEALTH",
}

// ReadSettings reads configs.cm and configs.params of a values file. A
// params key Start cannot pass on is an error, not silently dropped.
func ReadSettings(path string) (Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Settings{}, err
	}
	var v struct {
		Configs struct {
			CM     map[string]string `json:"cm"`
			Params map[string]string `json:"params"`
		} `json:"configs"`
	}
	// Other chart values (image, service accounts) are not a test's.
	if err := yaml.Unmarshal(data, &v); err != nil {
		return Settings{}, fmt.Errorf("%s: %w", path, err)
	}
	if v.Configs.CM == nil {
		return Settings{}, fmt.Errorf("%s: no configs.cm", path)
	}
	var unknown []string
	for k := range v.Configs.Params {
		if _, ok := paramEnv[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Settings{}, fmt.Errorf("%s: configs.params %s: the tests cannot pass these on to Argo CD's components (add them to paramEnv in e2e/internal/argocd)", path, strings.Join(unknown, ", "))
	}
	return Settings{CM: v.Configs.CM, Params: v.Configs.Params}, nil
}

// env is the environment the params become, as in Argo CD's manifests.
func (s Settings) env() []string {
	var out []string
	for k, v := range s.Params {
		out = append(out, paramEnv[k]+"="+v)
	}
	sort.Strings(out)
	return out
}
