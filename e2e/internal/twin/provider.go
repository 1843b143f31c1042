package twin

import (
	"context"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// providerGroupSuffix is the API group family of Crossplane's AWS provider
// (provider-upjet-aws): s3.aws.upbound.io, iam.aws.upbound.io, ...
const providerGroupSuffix = ".upbound.io"

// conditionlessKinds never get status.conditions from the provider; Argo
// CD's health check for _.upbound.io calls them Healthy without any
// (argo-cd v3.6.1 resource_customizations/_.upbound.io/_/health.lua).
var conditionlessKinds = []string{"ProviderConfig", "ProviderConfigUsage", "StoreConfig", "ClusterProviderConfig", "ClusterProviderConfigUsage"}

// ManagedResourceGVRs lists the served resources of the provider's CRDs that
// are managed resources (every kind of the group family except the
// conditionless configuration kinds).
func ManagedResourceGVRs(crds []*unstructured.Unstructured) []schema.GroupVersionResource {
	return storageGVRs(crds, providerGroupSuffix, conditionlessKinds)
}

// storageGVRs lists the storage version's resource of every CRD whose group
// ends in suffix, except the kinds named in except.
func storageGVRs(crds []*unstructured.Unstructured, suffix string, except []string) []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	for _, crd := range crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		if !strings.HasSuffix(group, suffix) || slices.Contains(except, kind) {
			continue
		}
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			m, _ := v.(map[string]any)
			if storage, _ := m["storage"].(bool); storage {
				name, _ := m["name"].(string)
				out = append(out, schema.GroupVersionResource{Group: group, Version: name, Resource: plural})
			}
		}
	}
	return out
}

// RunProviderStandIn is a STAND-IN for Crossplane's AWS provider, which no
// test can run (no AWS here): it reports every managed resource of gvrs as
// Crossplane does once the external resource exists and matches its spec,
// conditions Synced=True (ReconcileSuccess) and Ready=True (Available), and
// nothing else: no status.atProvider, no external name, no AWS call. Why:
// Argo CD's health check for _.upbound.io kinds is Progressing until Ready,
// and Argo CD waits for health between sync waves, before pruning
// (PruneLast=true) and, with the Application health check the README
// enables, between the root app's waves. Without it those waits never end in
// a test; with it they end as they do against AWS once the provider has
// created everything. It runs until ctx ends; errors go to logf.
func RunProviderStandIn(ctx context.Context, dyn dynamic.Interface, gvrs []schema.GroupVersionResource, logf func(string, ...any)) <-chan struct{} {
	return runConditionStandIn(ctx, dyn, gvrs, "crossplane provider stand-in", crossplaneReady, logf)
}

// crossplaneReady are the conditions Crossplane's managed reconciler sets
// once the external resource is up to date.
func crossplaneReady(now string) []any {
	return []any{
		map[string]any{"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "lastTransitionTime": now},
		map[string]any{"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": now},
	}
}

// runConditionStandIn sets conds on every object of gvrs that is not Ready
// yet, every second until ctx ends.
func runConditionStandIn(ctx context.Context, dyn dynamic.Interface, gvrs []schema.GroupVersionResource, who string, conds func(now string) []any, logf func(string, ...any)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			for _, gvr := range gvrs {
				list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
				if err != nil {
					continue // not established yet, or ctx ended
				}
				for i := range list.Items {
					if err := markReady(ctx, dyn, gvr, &list.Items[i], conds); err != nil && ctx.Err() == nil {
						logf("%s: %s %s: %v", who, gvr.Resource, list.Items[i].GetName(), err)
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

func markReady(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, mr *unstructured.Unstructured, conds func(now string) []any) error {
	if ready(mr) || mr.GetDeletionTimestamp() != nil {
		return nil
	}
	_ = unstructured.SetNestedSlice(mr.Object, conds(time.Now().UTC().Format(time.RFC3339)), "status", "conditions")
	_, err := dyn.Resource(gvr).Namespace(mr.GetNamespace()).UpdateStatus(ctx, mr, metav1.UpdateOptions{})
	return err
}

// ready: the object reports the condition Ready=True.
func ready(obj *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" && m["status"] == "True" {
			return true
		}
	}
	return false
}
