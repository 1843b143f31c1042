package twin

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// ApplicationRestoreGVR is Stork's ApplicationRestore.
var ApplicationRestoreGVR = schema.GroupVersionResource{Group: "stork.libopenstorage.org", Version: "v1alpha1", Resource: "applicationrestores"}

// RestoredFrom is the annotation the restore stand-in puts on each claim it
// restores: the backup's name, so a test can tell a restored claim from an
// empty one.
const RestoredFrom = "twin.platform.shop/restored-from-backup"

// RunRestoreStandIn is a STAND-IN for Stork's ApplicationRestore controller:
// no Stork, Portworx or CloudSnap runs in the twin. backup is what the
// primary's backup holds: the objects of the primary's render. For every
// ApplicationRestore it restores the backed-up PersistentVolumeClaims that
// spec.includeResources names (every claim of the backup when it names
// none; libopenstorage/stork pkg/resourcecollector includeObject), into
// spec.namespaceMapping's namespace. A claim of that name already there is
// left alone and reported Retained (replacePolicy Retain;
// applicationrestore.go skipVolumesFromRestoreList); Delete is not served.
// A restored claim is created bare (no volumeName, annotated RestoredFrom),
// so the volume provisioner stand-in gives it a volume as Portworx's restore
// would. Then status is stage Final, status Successful (or PartialSuccess
// when a claim was retained, or Failed when the backup holds none it
// names), with a volume entry per claim. It runs until ctx ends.
func RunRestoreStandIn(ctx context.Context, dyn dynamic.Interface, cs kubernetes.Interface, backup []*unstructured.Unstructured, logf func(string, ...any)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			list, err := dyn.Resource(ApplicationRestoreGVR).Namespace("").List(ctx, metav1.ListOptions{})
			if err == nil {
				for i := range list.Items {
					if err := restoreOnce(ctx, dyn, cs, backup, &list.Items[i]); err != nil && ctx.Err() == nil {
						logf("Stork restore stand-in: %v", err)
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return done
}

// restoreInclude is one entry of spec.includeResources (Stork's ObjectInfo).
type restoreInclude struct {
	Group     string `json:"group"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

type restoreSpec struct {
	BackupName       string            `json:"backupName"`
	NamespaceMapping map[string]string `json:"namespaceMapping"`
	ReplacePolicy    string            `json:"replacePolicy"`
	IncludeResources []restoreInclude  `json:"includeResources"`
}

// RestoreTargets are the claims (namespace/name, in the restored namespace)
// an ApplicationRestore's includeResources names.
func RestoreTargets(r *unstructured.Unstructured) ([]string, error) {
	spec, err := readRestoreSpec(r)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, in := range spec.IncludeResources {
		if in.claim() {
			out = append(out, spec.restoredNamespace(in.Namespace)+"/"+in.Name)
		}
	}
	return out, nil
}

func readRestoreSpec(r *unstructured.Unstructured) (restoreSpec, error) {
	var spec restoreSpec
	raw, _, _ := unstructured.NestedMap(r.Object, "spec")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
		return spec, fmt.Errorf("ApplicationRestore %s/%s: %w", r.GetNamespace(), r.GetName(), err)
	}
	return spec, nil
}

// claim: the entry names a PersistentVolumeClaim (Stork names the core
// group "core" in ObjectInfo).
func (in restoreInclude) claim() bool {
	return (in.Group == "core" || in.Group == "") && in.Version == "v1" && in.Kind == "PersistentVolumeClaim"
}

// restoredNamespace is where a backed-up namespace is restored to.
func (s restoreSpec) restoredNamespace(ns string) string {
	if to, ok := s.NamespaceMapping[ns]; ok {
		return to
	}
	return ns
}

func restoreOnce(ctx context.Context, dyn dynamic.Interface, cs kubernetes.Interface, backup []*unstructured.Unstructured, r *unstructured.Unstructured) error {
	if stage, _, _ := unstructured.NestedString(r.Object, "status", "stage"); stage == "Final" {
		return nil
	}
	spec, err := readRestoreSpec(r)
	if err != nil {
		return err
	}
	if spec.ReplacePolicy != "Retain" {
		return fmt.Errorf("ApplicationRestore %s/%s: replacePolicy %q is not served by the stand-in (Retain only)", r.GetNamespace(), r.GetName(), spec.ReplacePolicy)
	}
	included := func(c *unstructured.Unstructured) bool {
		if len(spec.IncludeResources) == 0 {
			return true
		}
		for _, in := range spec.IncludeResources {
			if in.claim() && in.Name == c.GetName() && in.Namespace == c.GetNamespace() {
				return true
			}
		}
		return false
	}
	var volumes []any
	retained := 0
	for _, obj := range backup {
		if obj.GetAPIVersion() != "v1" || obj.GetKind() != "PersistentVolumeClaim" || !included(obj) {
			continue
		}
		ns := spec.restoredNamespace(obj.GetNamespace())
		var claim corev1.PersistentVolumeClaim
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &claim); err != nil {
			return fmt.Errorf("backed-up claim %s: %w", obj.GetName(), err)
		}
		restored := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{
				Name: claim.Name, Namespace: ns, Labels: claim.Labels,
				Annotations: map[string]string{RestoredFrom: spec.BackupName},
			},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: claim.Spec.AccessModes, Resources: claim.Spec.Resources,
				StorageClassName: claim.Spec.StorageClassName, VolumeMode: claim.Spec.VolumeMode,
			},
		}
		status := "Successful"
		created, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, restored, metav1.CreateOptions{})
		switch {
		case apierrors.IsAlreadyExists(err):
			status = "Retained"
			retained++
			if created, err = cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim.Name, metav1.GetOptions{}); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("restore claim %s/%s: %w", ns, claim.Name, err)
		}
		volumes = append(volumes, map[string]any{
			"persistentVolumeClaim": created.Name, "persistentVolumeClaimUID": string(created.UID),
			"sourceNamespace": obj.GetNamespace(), "status": status,
		})
	}
	overall := "Successful"
	switch {
	case len(volumes) == 0:
		overall = "Failed"
	case retained > 0:
		overall = "PartialSuccess"
	}
	now := time.Now().UTC().Format(time.RFC3339)
	_ = unstructured.SetNestedField(r.Object, map[string]any{
		"stage": "Final", "status": overall, "volumes": volumes, "finishTimestamp": now, "lastUpdateTimestamp": now,
		"reason": fmt.Sprintf("%d claim(s) of backup %s restored, %d retained (twin stand-in)", len(volumes)-retained, spec.BackupName, retained),
	}, "status")
	// Stork's CRD has no status subresource: status is written with the object.
	if _, err := dyn.Resource(ApplicationRestoreGVR).Namespace(r.GetNamespace()).Update(ctx, r, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("ApplicationRestore %s/%s status: %w", r.GetNamespace(), r.GetName(), err)
	}
	return nil
}
