package e2e_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestSyncFollowsApplications checks the harness's Argo CD semantics on a
// small env: Applications are followed in wave order (not file order),
// namespaced objects without a namespace land in the destination namespace
// (created by CreateNamespace=true), objects carry Argo CD's tracking
// annotation, and a folder no Application syncs is reported.
func TestSyncFollowsApplications(t *testing.T) {
	root := t.TempDir()
	env := filepath.Join(root, "rendered", "e2e")
	files := map[string]string{
		"argocd/kustomization.yaml": kustomization("root.yaml", "a-late.yaml", "b-early.yaml"),
		"argocd/root.yaml":          application("root", "", "argocd", "rendered/e2e/argocd"),
		// File and name order put "late" first; its wave puts it second.
		"argocd/a-late.yaml":        application("late", "2", "late-ns", "rendered/e2e/late"),
		"argocd/b-early.yaml":       application("early", "1", "early-ns", "rendered/e2e/early"),
		"early/kustomization.yaml":  kustomization("cm.yaml"),
		"early/cm.yaml":             configMap("early-cm"),
		"late/kustomization.yaml":   kustomization("cm.yaml"),
		"late/cm.yaml":              configMap("late-cm"),
		"orphan/kustomization.yaml": kustomization("cm.yaml"),
		"orphan/cm.yaml":            configMap("orphan-cm"),
	}
	for name, text := range files {
		path := filepath.Join(env, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	s := newServer(t, binaries.KubernetesVersion)
	rep, err := s.applier.SyncEnv(t.Context(), root, env, bootstrapFolder)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(env, "orphan")) {
		t.Errorf("want an error naming the orphan folder, got %v", err)
	}
	if len(rep.Rejections) > 0 {
		t.Errorf("rejections:\n%s", rep.RejectionList())
	}
	wantFolders := []string{filepath.Join(env, "argocd"), filepath.Join(env, "early"), filepath.Join(env, "late")}
	if !slices.Equal(rep.Folders, wantFolders) {
		t.Errorf("synced folders in order %v, want %v", rep.Folders, wantFolders)
	}

	configMaps := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	cm, err := s.applier.Client().Resource(configMaps).Namespace("early-ns").Get(t.Context(), "early-cm", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("early-cm not in the destination namespace: %v", err)
	}
	if got, want := cm.GetAnnotations()["argocd.argoproj.io/tracking-id"], "early:/ConfigMap:early-ns/early-cm"; got != want {
		t.Errorf("tracking-id = %q, want %q", got, want)
	}
	if _, err := s.applier.Client().Resource(configMaps).Namespace("default").Get(t.Context(), "orphan-cm", metav1.GetOptions{}); err == nil {
		t.Error("the orphan folder was applied")
	}
}

func kustomization(resources ...string) string {
	return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + strings.Join(resources, "\n- ") + "\n"
}

func configMap(name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  k: v\n"
}

func application(name, wave, namespace, path string) string {
	annotations := ""
	if wave != "" {
		annotations = "  annotations:\n    argocd.argoproj.io/sync-wave: \"" + wave + "\"\n"
	}
	return `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: ` + name + `
  namespace: argocd
` + annotations + `spec:
  project: default
  destination:
    server: https://kubernetes.default.svc
    namespace: ` + namespace + `
  source:
    repoURL: https://example.com/repo.git
    path: ` + path + `
  syncPolicy:
    syncOptions:
    - CreateNamespace=true
`
}
