package crds

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestLoadReadsOnlyCRDsFromEveryFile(t *testing.T) {
	dir := t.TempDir()
	nested := filepath.Join(dir, "vendor-a")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	multi := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-crd
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
`
	if err := os.WriteFile(filepath.Join(nested, "crds.yaml"), []byte(multi), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# not yaml: ignored\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].GetName() != "gadgets.example.com" || got[1].GetName() != "widgets.example.com" {
		t.Errorf("got %d CRDs: %v", len(got), got)
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("want an error for a folder without CRDs")
	}
}

func TestWithSchemalessLetsUpstreamWin(t *testing.T) {
	upstream := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "schedulepolicies.stork.libopenstorage.org"},
		"spec":     map[string]any{"scope": "Cluster", "upstream": true},
	}}
	all := WithSchemaless([]*unstructured.Unstructured{upstream})
	if len(all) != len(schemaless) {
		t.Fatalf("got %d CRDs, want %d", len(all), len(schemaless))
	}
	seen := map[string]int{}
	for _, crd := range all {
		seen[crd.GetName()]++
	}
	if seen["schedulepolicies.stork.libopenstorage.org"] != 1 || all[0] != upstream {
		t.Errorf("upstream SchedulePolicy CRD not kept alone: %v", seen)
	}
}

func TestSchemalessKeepsEveryField(t *testing.T) {
	for _, crd := range Schemaless() {
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		if len(versions) != 1 {
			t.Fatalf("%s: %d versions", crd.GetName(), len(versions))
		}
		keep, _, _ := unstructured.NestedBool(versions[0].(map[string]any), "schema", "openAPIV3Schema", "x-kubernetes-preserve-unknown-fields")
		if !keep {
			t.Errorf("%s does not preserve unknown fields", crd.GetName())
		}
	}
}
