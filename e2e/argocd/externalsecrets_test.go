package argocd_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

var externalSecretGVR = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}

// runExternalSecretsStandIn does, for every ExternalSecret, what the External
// Secrets Operator does once it has read AWS Secrets Manager: it writes the
// target Secret (placeholder values: there is no AWS here) and reports
// Ready=True. Why: the rendered apps put their ExternalSecret in sync wave -1,
// and Argo CD does not start the next wave until the previous one is healthy
// (Argo CD's own health check for ExternalSecret waits for Ready). Without an
// operator the Rollouts, Services and PVCs behind them would never be
// applied. Nothing here touches Argo CD's objects or decisions.
func runExternalSecretsStandIn(t *testing.T, cfg *rest.Config) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			list, err := dyn.Resource(externalSecretGVR).Namespace("").List(ctx, metav1.ListOptions{})
			if err == nil {
				for i := range list.Items {
					if err := markSynced(ctx, dyn, cs, &list.Items[i]); err != nil && ctx.Err() == nil {
						t.Logf("external-secrets stand-in: %v", err)
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
}

func markSynced(ctx context.Context, dyn dynamic.Interface, cs kubernetes.Interface, es *unstructured.Unstructured) error {
	conds, _, _ := unstructured.NestedSlice(es.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" && m["status"] == "True" {
			return nil
		}
	}
	target, _, _ := unstructured.NestedString(es.Object, "spec", "target", "name")
	if target == "" {
		target = es.GetName()
	}
	data := map[string][]byte{}
	items, _, _ := unstructured.NestedSlice(es.Object, "spec", "data")
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			if k, ok := m["secretKey"].(string); ok {
				data[k] = []byte("e2e-placeholder")
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
			"message": "secret synced", "lastTransitionTime": now,
		}},
		"refreshTime":           now,
		"syncedResourceVersion": "1-e2e",
		"binding":               map[string]any{"name": target},
	}, "status")
	if _, err := dyn.Resource(externalSecretGVR).Namespace(es.GetNamespace()).UpdateStatus(ctx, es, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("ExternalSecret %s/%s status: %w", es.GetNamespace(), es.GetName(), err)
	}
	return nil
}
