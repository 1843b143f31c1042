// Package crds installs the CustomResourceDefinitions the platform's objects
// need into a test API server: the upstream CRD files, plus schemaless CRDs
// for the Stork and Portworx kinds, which upstream registers at runtime
// without a schema (so the API server validates nothing of them there either).
package crds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Load reads every CustomResourceDefinition in the YAML or JSON files under
// dir (recursively, multi-document files allowed), sorted by name. Other
// documents are ignored.
func Load(dir string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 64*1024)
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return fmt.Errorf("%s: %w", path, err)
			}
			u := &unstructured.Unstructured{Object: doc}
			if u.GetKind() == "CustomResourceDefinition" && u.GroupVersionKind().Group == crdResource.Group {
				out = append(out, u)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CustomResourceDefinition under %s", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// schemalessKind is one runtime-registered kind without a schema.
type schemalessKind struct {
	group, version, kind, plural string
	clusterScoped                bool
}

// schemaless lists the Stork and Portworx kinds as their operators register
// them: Stork's SchedulePolicy, ApplicationRegistration and
// Portworx's VolumePlacementStrategy are cluster-scoped, the rest namespaced.
var schemaless = []schemalessKind{
	{"stork.libopenstorage.org", "v1alpha1", "SchedulePolicy", "schedulepolicies", true},
	{"stork.libopenstorage.org", "v1alpha1", "NamespacedSchedulePolicy", "namespacedschedulepolicies", false},
	{"stork.libopenstorage.org", "v1alpha1", "BackupLocation", "backuplocations", false},
	{"stork.libopenstorage.org", "v1alpha1", "ApplicationBackup", "applicationbackups", false},
	{"stork.libopenstorage.org", "v1alpha1", "ApplicationBackupSchedule", "applicationbackupschedules", false},
	{"stork.libopenstorage.org", "v1alpha1", "ApplicationRestore", "applicationrestores", false},
	{"stork.libopenstorage.org", "v1alpha1", "ApplicationClone", "applicationclones", false},
	{"stork.libopenstorage.org", "v1alpha1", "ApplicationRegistration", "applicationregistrations", true},
	{"stork.libopenstorage.org", "v1alpha1", "VolumeSnapshotSchedule", "volumesnapshotschedules", false},
	{"stork.libopenstorage.org", "v1alpha1", "VolumeSnapshotRestore", "volumesnapshotrestores", false},
	{"stork.libopenstorage.org", "v1alpha1", "GroupVolumeSnapshot", "groupvolumesnapshots", false},
	{"stork.libopenstorage.org", "v1alpha1", "ClusterPair", "clusterpairs", false},
	{"stork.libopenstorage.org", "v1alpha1", "Migration", "migrations", false},
	{"stork.libopenstorage.org", "v1alpha1", "MigrationSchedule", "migrationschedules", false},
	{"stork.libopenstorage.org", "v1alpha1", "Rule", "rules", false},
	{"stork.libopenstorage.org", "v1alpha1", "ResourceTransformation", "resourcetransformations", false},
	{"portworx.io", "v1beta2", "VolumePlacementStrategy", "volumeplacementstrategies", true},
}

// Schemaless returns CRDs for the Stork and Portworx kinds that accept any
// content (x-kubernetes-preserve-unknown-fields at the root, so Stork's
// top-level fields such as policy and location are kept too).
func Schemaless() []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(schemaless))
	for _, k := range schemaless {
		scope := "Namespaced"
		if k.clusterScoped {
			scope = "Cluster"
		}
		out = append(out, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]any{"name": k.plural + "." + k.group},
			"spec": map[string]any{
				"group": k.group,
				"scope": scope,
				"names": map[string]any{
					"kind":     k.kind,
					"listKind": k.kind + "List",
					"plural":   k.plural,
					"singular": strings.ToLower(k.kind),
				},
				"versions": []any{map[string]any{
					"name": k.version, "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{
						"type":                                 "object",
						"x-kubernetes-preserve-unknown-fields": true,
					}},
				}},
			},
		}})
	}
	return out
}

// WithSchemaless adds the schemaless CRDs that upstream does not already
// provide: a real schema, when one is available, beats none.
func WithSchemaless(upstream []*unstructured.Unstructured) []*unstructured.Unstructured {
	have := make(map[string]bool, len(upstream))
	for _, crd := range upstream {
		have[crd.GetName()] = true
	}
	out := slices.Clone(upstream)
	for _, crd := range Schemaless() {
		if !have[crd.GetName()] {
			out = append(out, crd)
		}
	}
	return out
}

// Install server-side applies every CRD, then waits until each is
// Established (its API is served). Every failure is reported, not just the
// first.
func Install(ctx context.Context, client dynamic.Interface, fieldManager string, crds []*unstructured.Unstructured, timeout time.Duration) error {
	var errs []error
	force := true
	var names []string
	for _, crd := range crds {
		body, err := json.Marshal(crd.Object)
		if err == nil {
			_, err = client.Resource(crdResource).Patch(ctx, crd.GetName(), types.ApplyPatchType, body,
				metav1.PatchOptions{FieldManager: fieldManager, Force: &force, FieldValidation: metav1.FieldValidationStrict})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("CRD %s: %w", crd.GetName(), err))
			continue
		}
		names = append(names, crd.GetName())
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, name := range names {
		if err := waitEstablished(ctx, client, name); err != nil {
			errs = append(errs, fmt.Errorf("CRD %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func waitEstablished(ctx context.Context, client dynamic.Interface, name string) error {
	for {
		crd, err := client.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		var problem string
		for _, c := range conditions {
			c, _ := c.(map[string]any)
			switch {
			case c["type"] == "Established" && c["status"] == "True":
				return nil
			case c["type"] == "NamesAccepted" && c["status"] == "False":
				problem = fmt.Sprint(c["message"])
			}
		}
		select {
		case <-ctx.Done():
			if problem != "" {
				return fmt.Errorf("not established: %s", problem)
			}
			return fmt.Errorf("not established: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
