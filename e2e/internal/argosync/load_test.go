package argosync

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(apiVersion, kind, namespace, name string, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetName(name)
	u.SetNamespace(namespace)
	if annotations != nil {
		u.SetAnnotations(annotations)
	}
	return u
}

func wave(w string) map[string]string { return map[string]string{annotationSyncWave: w} }

func names(objs []*unstructured.Unstructured) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.GetKind() + "/" + o.GetName()
	}
	return out
}

func TestSortFollowsArgoCD(t *testing.T) {
	crd := obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com", wave("5"))
	crd.Object["spec"] = map[string]any{"group": "example.com", "names": map[string]any{"kind": "Widget"}}
	objs := []*unstructured.Unstructured{
		obj("apps/v1", "Deployment", "shop", "web", nil),
		obj("v1", "Service", "shop", "web", nil),
		obj("argoproj.io/v1alpha1", "Rollout", "shop", "api", nil),
		obj("v1", "ConfigMap", "shop", "early", wave("-1")),
		obj("v1", "Service", "shop", "api", nil),
		obj("batch/v1", "Job", "shop", "migrate", map[string]string{annotationHook: "PreSync"}),
		obj("batch/v1", "Job", "shop", "notify-failure", map[string]string{annotationHook: "SyncFail"}),
		obj("batch/v1", "Job", "shop", "smoke", map[string]string{annotationHook: "PostSync"}),
		// Wave 3, but the ConfigMap in wave -1 lives in it: it moves up.
		obj("v1", "Namespace", "", "shop", wave("3")),
		// Wave 5, but a wave-0 Widget needs it: it moves up.
		crd,
		obj("example.com/v1", "Widget", "shop", "w", nil),
	}
	got, err := Sort(objs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Namespace/shop", // moved up to just before the first object in it
		"Job/migrate",    // PreSync phase before the rest
		"ConfigMap/early",
		"Service/api", "Service/web", // known kinds in Argo CD's kind order, then by name
		"Deployment/web",
		"Rollout/api", // custom kinds after known ones, by name
		"CustomResourceDefinition/widgets.example.com", // moved up to just before its first Widget
		"Widget/w",
		"Job/smoke", // PostSync; the SyncFail hook is never applied
	}
	if !slices.Equal(names(got), want) {
		t.Errorf("order:\n got %v\nwant %v", names(got), want)
	}
}

func TestWaveRejectsNonIntegers(t *testing.T) {
	if _, err := Sort([]*unstructured.Unstructured{obj("v1", "ConfigMap", "", "x", wave("first"))}); err == nil {
		t.Error("want an error for a non-integer sync-wave")
	}
}

func TestBuildRunsKustomize(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("kustomization.yaml", "resources:\n- cm.yaml\n- ns.yaml\n- svc.yaml\nlabels:\n- pairs:\n    team: shop\n")
	write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: shop\n  annotations:\n    x: y\nbinaryData: {}\ndata:\n  n: \"1\"\nimmutable: false\n")
	write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: shop\nspec:\n  ports:\n  - port: 80\n")
	write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n")
	got, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Namespace/shop", "ConfigMap/c", "Service/s"}; !slices.Equal(names(got), want) {
		t.Errorf("got %v, want %v", names(got), want)
	}
	// Numbers must come out as int64: unstructured cannot copy Go ints.
	for _, o := range got {
		o.DeepCopy()
	}
	if got[1].GetLabels()["team"] != "shop" {
		t.Errorf("kustomize labels not applied: %v", got[1].GetLabels())
	}
	if _, err := Build(t.TempDir()); err == nil {
		t.Error("want an error for a folder without kustomization.yaml")
	}
}

func TestReadApplication(t *testing.T) {
	app := obj("argoproj.io/v1alpha1", "Application", "argocd", "prod-storage", wave("1"))
	app.Object["spec"] = map[string]any{
		"destination": map[string]any{"namespace": "shop"},
		"source":      map[string]any{"path": "rendered/prod/storage"},
		"syncPolicy":  map[string]any{"syncOptions": []any{"ServerSideApply=true", "CreateNamespace=true"}},
	}
	got, err := readApplication(app)
	if err != nil {
		t.Fatal(err)
	}
	if got.wave != 1 || got.namespace != "shop" || !got.createNamespace || !slices.Equal(got.dirs, []string{"rendered/prod/storage"}) {
		t.Errorf("got %+v", got)
	}
	app.Object["spec"].(map[string]any)["source"] = map[string]any{"path": "x", "helm": map[string]any{}}
	if _, err := readApplication(app); err == nil {
		t.Error("want an error for a helm source the harness cannot reproduce")
	}
	// An upstream chart is recognised, not followed: no folder to sync.
	app.Object["spec"].(map[string]any)["source"] = map[string]any{
		"repoURL": "https://charts.example.org", "chart": "ctl", "targetRevision": "1.2.3", "helm": map[string]any{},
	}
	got, err = readApplication(app)
	if err != nil || got.chart != "https://charts.example.org/ctl@1.2.3" || len(got.dirs) != 0 {
		t.Errorf("chart source: got %+v, %v", got, err)
	}
}
