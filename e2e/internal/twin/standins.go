package twin

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// selectedNode is the annotation the scheduler puts on a WaitForFirstConsumer
// claim once it has chosen the node of the pod that uses it; an external
// provisioner waits for it (k8s.io/component-helpers storage/volume).
const selectedNode = "volume.kubernetes.io/selected-node"

// RunVolumeProvisioner is a STAND-IN for Portworx's CSI provisioner: no
// Portworx runs in the twin. For every claim of a StorageClass whose
// provisioner is one of provisioners, once the scheduler has set its
// selected-node annotation, it creates a PersistentVolume pre-bound to the
// claim (claimRef), of the claim's size and access modes, with the class's
// reclaim policy, as a CSI volume of that driver. The PV has no node
// affinity: a Portworx volume with repl > 1 is reachable from every
// Portworx node, which is what lets a database pod move to another zone.
// The PV binder (kube-controller-manager) then binds the pair, as it does
// for a real provisioner's volumes. It runs until ctx ends; errors go to logf.
func RunVolumeProvisioner(ctx context.Context, cs kubernetes.Interface, logf func(string, ...any), provisioners ...string) <-chan struct{} {
	done := make(chan struct{})
	ours := map[string]bool{}
	for _, p := range provisioners {
		ours[p] = true
	}
	go func() {
		defer close(done)
		for {
			if err := provisionOnce(ctx, cs, ours); err != nil && ctx.Err() == nil {
				logf("volume provisioner stand-in: %v", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return done
}

func provisionOnce(ctx context.Context, cs kubernetes.Interface, ours map[string]bool) error {
	classes, err := cs.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	byName := map[string]storagev1.StorageClass{}
	for _, sc := range classes.Items {
		if ours[sc.Provisioner] {
			byName[sc.Name] = sc
		}
	}
	claims, err := cs.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pvc := range claims.Items {
		if pvc.Spec.StorageClassName == nil || pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil {
			continue
		}
		sc, ok := byName[*pvc.Spec.StorageClassName]
		if !ok || pvc.Annotations[selectedNode] == "" {
			continue
		}
		reclaim := corev1.PersistentVolumeReclaimDelete
		if sc.ReclaimPolicy != nil {
			reclaim = *sc.ReclaimPolicy
		}
		mode := corev1.PersistentVolumeFilesystem
		if pvc.Spec.VolumeMode != nil {
			mode = *pvc.Spec.VolumeMode
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{
				Name:        "pvc-" + string(pvc.UID),
				Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": sc.Provisioner},
			},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
				AccessModes:                   pvc.Spec.AccessModes,
				PersistentVolumeReclaimPolicy: reclaim,
				StorageClassName:              sc.Name,
				VolumeMode:                    &mode,
				ClaimRef: &corev1.ObjectReference{
					Kind: "PersistentVolumeClaim", APIVersion: "v1",
					Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
				},
				PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
					Driver: sc.Provisioner, VolumeHandle: string(pvc.UID), FSType: "ext4",
				}},
			},
		}
		if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("PV for %s/%s: %w", pvc.Namespace, pvc.Name, err)
		}
	}
	return nil
}

// ExternalSecretGVR is External Secrets' ExternalSecret.
var ExternalSecretGVR = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}

// RunExternalSecretsStandIn is a STAND-IN for the External Secrets
// operator, which the twin does not run yet: for every ExternalSecret it
// writes the target Secret with the keys the ExternalSecret asks for and
// placeholder values (no AWS here), and reports Ready=True, as ESO does
// after reading AWS Secrets Manager. It proves only that each target Secret
// the pods reference is named by an ExternalSecret; not that AWS, IRSA or
// the store work. It runs until ctx ends.
func RunExternalSecretsStandIn(ctx context.Context, dyn dynamic.Interface, cs kubernetes.Interface, logf func(string, ...any)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			list, err := dyn.Resource(ExternalSecretGVR).Namespace("").List(ctx, metav1.ListOptions{})
			if err == nil {
				for i := range list.Items {
					if err := markExternalSecretSynced(ctx, dyn, cs, &list.Items[i]); err != nil && ctx.Err() == nil {
						logf("external-secrets stand-in: %v", err)
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

// ExternalSecretTarget is the Secret an ExternalSecret writes.
func ExternalSecretTarget(es *unstructured.Unstructured) string {
	target, _, _ := unstructured.NestedString(es.Object, "spec", "target", "name")
	if target == "" {
		target = es.GetName()
	}
	return target
}

func markExternalSecretSynced(ctx context.Context, dyn dynamic.Interface, cs kubernetes.Interface, es *unstructured.Unstructured) error {
	if ready(es) {
		return nil
	}
	target := ExternalSecretTarget(es)
	data := map[string][]byte{}
	items, _, _ := unstructured.NestedSlice(es.Object, "spec", "data")
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			if k, ok := m["secretKey"].(string); ok {
				data[k] = []byte("twin-placeholder")
			}
		}
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: target, Namespace: es.GetNamespace(),
			Labels: map[string]string{"reconcile.external-secrets.io/managed": "true"}},
		Data: data,
	}
	if _, err := cs.CoreV1().Secrets(es.GetNamespace()).Create(ctx, secret, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("Secret %s/%s: %w", es.GetNamespace(), target, err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	_ = unstructured.SetNestedField(es.Object, map[string]any{
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "SecretSynced",
			"message": "secret synced (twin stand-in)", "lastTransitionTime": now,
		}},
		"refreshTime":           now,
		"syncedResourceVersion": "1-twin",
		"binding":               map[string]any{"name": target},
	}, "status")
	if _, err := dyn.Resource(ExternalSecretGVR).Namespace(es.GetNamespace()).UpdateStatus(ctx, es, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("ExternalSecret %s/%s status: %w", es.GetNamespace(), es.GetName(), err)
	}
	return nil
}
