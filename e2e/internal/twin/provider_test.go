package twin

import (
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ecommerce-platform/gitops/e2e/internal/crds"
	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
)

// The stand-in reports the provider's managed resources, never its
// configuration kinds (which Argo CD calls Healthy without conditions) nor
// any other controller's kinds.
func TestManagedResourceGVRsAreTheProvidersManagedKinds(t *testing.T) {
	upstream, err := crds.Load(filepath.Join(testrepo.CRDs(t), "crossplane-aws"))
	if err != nil {
		t.Fatal(err)
	}
	others, err := crds.Load(filepath.Join(testrepo.CRDs(t), "argo-rollouts"))
	if err != nil {
		t.Fatal(err)
	}
	gvrs := ManagedResourceGVRs(append(upstream, others...))
	for _, want := range []schema.GroupVersionResource{
		{Group: "s3.aws.upbound.io", Version: "v1beta2", Resource: "buckets"},
		{Group: "iam.aws.upbound.io", Version: "v1beta1", Resource: "roles"},
	} {
		if !slices.Contains(gvrs, want) {
			t.Errorf("missing %v", want)
		}
	}
	for _, g := range gvrs {
		if g.Resource == "providerconfigs" || g.Resource == "providerconfigusages" || g.Group == "argoproj.io" {
			t.Errorf("not a managed resource: %v", g)
		}
	}
}
