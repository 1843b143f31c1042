package argocd

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func app(name, sync, revision, health string, resources ...any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": name},
		"status": map[string]any{
			"sync":      map[string]any{"status": sync, "revision": revision},
			"health":    map[string]any{"status": health},
			"resources": resources,
		},
	}}
}

// Pending names each Application that keeps the set from being the
// render's, and says why.
func TestPending(t *testing.T) {
	degraded := map[string]any{"kind": "ExternalSecret", "namespace": "shop", "name": "cart", "health": map[string]any{"status": "Degraded", "message": "could not get secret data"}}
	apps := map[string]*unstructured.Unstructured{
		"good":     app("good", "Synced", "abc", "Healthy"),
		"old":      app("old", "Synced", "000", "Healthy"),
		"sick":     app("sick", "Synced", "abc", "Degraded", degraded),
		"chart":    app("chart", "Unknown", "", "Healthy"),
		"leftover": app("leftover", "Synced", "abc", "Healthy"),
		"drifted": app("drifted", "OutOfSync", "abc", "Healthy",
			map[string]any{"kind": "Secret", "namespace": "argocd", "name": "repo", "status": "OutOfSync"},
			map[string]any{"kind": "Service", "namespace": "shop", "name": "cart", "status": "Synced"}),
	}
	synced := []string{"drifted", "good", "old", "sick", "missing"}
	if got := Pending(apps, synced, []string{"chart"}, "abc", false); len(got) != 4 ||
		!strings.HasSuffix(got[0], "; OutOfSync: Secret argocd/repo") ||
		!strings.HasPrefix(got[1], "leftover: exists, but git") || got[2] != "missing: not created" || !strings.HasPrefix(got[3], "old: Synced at 000") {
		t.Errorf("without health: %q", got)
	}
	got := Pending(apps, synced, []string{"chart", "other-chart"}, "abc", true)
	want := []string{"drifted: OutOfSync at abc", "leftover: exists", "missing: not created", "old: Synced at 000", "other-chart: not created", "sick: Synced at abc, Degraded"}
	if len(got) != len(want) {
		t.Fatalf("with health: %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("with health, line %d: %q, want it to start %q", i, got[i], want[i])
		}
	}
	if !strings.Contains(got[5], "not Healthy: ExternalSecret shop/cart Degraded: could not get secret data") {
		t.Errorf("the unhealthy resource is not named with Argo CD's message: %q", got[5])
	}
	if got := Pending(map[string]*unstructured.Unstructured{"good": apps["good"], "chart": apps["chart"]}, []string{"good"}, []string{"chart"}, "abc", true); len(got) != 0 {
		t.Errorf("all in place: %q", got)
	}
}
