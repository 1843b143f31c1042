package testrepo

import (
	"os"
	"path/filepath"
	"testing"
)

// Without E2E_CRDS the tests install the verified folder of crds.lock.yaml
// (render crds fetch), never an unverified ../shared/crds.
func TestCRDsDefaultIsTheLocksVerifiedFolder(t *testing.T) {
	t.Setenv("E2E_CRDS", "")
	dir := CRDs(t)
	for _, f := range []string{"argo-rollouts/rollout-crd.yaml", "crossplane-aws/eks.aws.upbound.io_clusters.yaml", ".complete"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
	// Folders the lock leaves out (not chosen upstreams) are not there.
	if _, err := os.Stat(filepath.Join(dir, "karpenter")); err == nil {
		t.Errorf("%s holds karpenter/, which crds.lock.yaml does not pin", dir)
	}
}
