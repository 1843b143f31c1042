package schema_test

import (
	"fmt"
	"strings"
	"testing"

	"cuelang.org/go/cue"

	"github.com/ecommerce-platform/gitops/internal/crdlock"
)

// chartMismatches lists the sources of lock that name a chart at another
// version than #AddonCharts installs (or a chart it does not have): their
// CRDs would not be the installed controller's.
func chartMismatches(lock *crdlock.Lock, schema cue.Value) []string {
	var out []string
	for _, s := range lock.Sources {
		if s.Chart == nil {
			continue
		}
		v := schema.LookupPath(cue.MakePath(cue.Def("#AddonCharts"), cue.Str(s.Chart.Name), cue.Str("version")))
		got, err := v.String()
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("%s: chart %s is not in #AddonCharts (%v)", s.Name, s.Chart.Name, err))
		case got != s.Chart.Version:
			out = append(out, fmt.Sprintf("%s: %s pins %s %s at chart %s, but #AddonCharts installs chart %s", s.Name, crdlock.FileName, s.Repository, s.Version, s.Chart.Version, got))
		}
	}
	return out
}

// The CRDs are the installed controllers': a chart bump in #AddonCharts
// without the lock's (or the reverse) fails here.
func TestCRDLockMatchesTheCharts(t *testing.T) {
	_, schema := schemaValue(t)
	lock, err := crdlock.Load(crdlock.FileName)
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, s := range lock.Sources {
		if s.Chart != nil {
			named++
		}
	}
	if named < 4 {
		t.Errorf("%d sources name their chart, want at least External Secrets, Argo Rollouts, the Load Balancer Controller and ACK QuickSight", named)
	}
	for _, m := range chartMismatches(lock, schema) {
		t.Error(m)
	}

	// Crafted: the lock still at an older chart, and a chart the model does not have.
	text := `sources:
  - name: argo-rollouts
    repository: github.com/argoproj/argo-rollouts
    version: v1.8.0
    chart: {name: argo-rollouts, version: 2.40.0}
    files: [{path: manifests/crds/rollout-crd.yaml, sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}]
  - name: gone
    repository: github.com/example/gone
    version: v1
    chart: {name: gone, version: 1.0.0}
    files: [{path: crds/a.yaml, sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}]
`
	crafted, err := crdlock.Parse("crafted.lock.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(chartMismatches(crafted, schema), "\n")
	for _, want := range []string{"argo-rollouts: crds.lock.yaml pins github.com/argoproj/argo-rollouts v1.8.0 at chart 2.40.0, but #AddonCharts installs chart 2.41.0", "gone: chart gone is not in #AddonCharts"} {
		if !strings.Contains(got, want) {
			t.Errorf("crafted lock: mismatches lack %q:\n%s", want, got)
		}
	}
}
