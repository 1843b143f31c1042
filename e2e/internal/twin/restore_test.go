package twin

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The claims a restore brings back: PersistentVolumeClaim entries only, in
// the namespace the mapping restores them to.
func TestRestoreTargetsFollowTheNamespaceMapping(t *testing.T) {
	r := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "stork.libopenstorage.org/v1alpha1", "kind": "ApplicationRestore",
		"metadata": map[string]any{"name": "restore-1", "namespace": "shop"},
		"spec": map[string]any{
			"namespaceMapping": map[string]any{"shop": "shop-dr"},
			"includeResources": []any{
				map[string]any{"group": "core", "version": "v1", "kind": "PersistentVolumeClaim", "name": "data-db-0", "namespace": "shop"},
				map[string]any{"group": "apps", "version": "v1", "kind": "StatefulSet", "name": "db", "namespace": "shop"},
				map[string]any{"group": "core", "version": "v1", "kind": "PersistentVolumeClaim", "name": "logs-0", "namespace": "other"},
			},
		},
	}}
	got, err := RestoreTargets(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"shop-dr/data-db-0", "other/logs-0"}; !slices.Equal(got, want) {
		t.Errorf("RestoreTargets = %v, want %v", got, want)
	}
}
