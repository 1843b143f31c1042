// Package argosync applies a rendered environment to an API server the way
// Argo CD syncs it: the bootstrap folder (the app-of-apps) first, then each
// Application's folder, in sync-wave order, every folder built exactly as
// kustomize builds it, with server-side apply.
//
// It is a test harness, not Argo CD: no health checks, no pruning, no
// controllers; what it proves is that the API server accepts every object,
// in the order Argo CD would send them.
package argosync

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Argo CD annotations the sync order depends on.
const (
	annotationSyncWave = "argocd.argoproj.io/sync-wave"
	annotationHook     = "argocd.argoproj.io/hook"
	// annotationTrackingID is how Argo CD v3 records which Application owns
	// an object (app:group/kind:namespace/name).
	annotationTrackingID = "argocd.argoproj.io/tracking-id"
)

// Folder is one kustomize folder as Argo CD would sync it.
type Folder struct {
	// Dir is the folder on disk.
	Dir string
	// App names the Application that syncs it ("" for none: objects are
	// then applied without Argo CD's tracking annotation).
	App string
	// Namespace is the Application's destination namespace, given to
	// namespaced objects that name none.
	Namespace string
	// CreateNamespace: the Application has syncOptions CreateNamespace=true,
	// so Argo CD creates Namespace before syncing.
	CreateNamespace bool
	// Objects are what kustomize builds from Dir, in sync order (Sort).
	Objects []*unstructured.Unstructured
}

// Build runs kustomize on dir (krusty, the library kustomize and Argo CD's
// kustomize both use) and returns its objects in sync order.
func Build(dir string) ([]*unstructured.Unstructured, error) {
	if _, err := os.Stat(filepath.Join(dir, "kustomization.yaml")); err != nil {
		return nil, fmt.Errorf("%s: no kustomization.yaml (the harness only syncs kustomize folders): %w", dir, err)
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range resMap.Resources() {
		// Through JSON, not r.Map(): kustomize's maps hold Go ints, which
		// unstructured (int64 only) cannot deep-copy.
		data, err := r.MarshalJSON()
		obj := &unstructured.Unstructured{}
		if err == nil {
			err = obj.UnmarshalJSON(data)
		}
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		objs = append(objs, obj)
	}
	if objs, err = Sort(objs); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return objs, nil
}

// application is what the harness reads from an Argo CD Application.
type application struct {
	name string
	wave int
	dirs []string // source paths, relative to the repository root
	// chart is repoURL/chart@version when the source is a Helm chart from a
	// chart repository: the harness applies the Application but cannot sync
	// it (no test machine reaches a chart repository, DESIGN.md section 8).
	chart           string
	namespace       string
	createNamespace bool
}

// readApplication reads an Application's sources, destination and sync
// options, refusing source types the harness cannot reproduce (helm,
// kustomize overrides, plugins) rather than silently applying something else.
func readApplication(obj *unstructured.Unstructured) (application, error) {
	app := application{name: obj.GetName()}
	var err error
	if app.wave, err = Wave(obj); err != nil {
		return app, err
	}
	sources, _, _ := unstructured.NestedSlice(obj.Object, "spec", "sources")
	if src, ok, _ := unstructured.NestedMap(obj.Object, "spec", "source"); ok {
		sources = append(sources, src)
	}
	for _, s := range sources {
		src, _ := s.(map[string]any)
		if chart, ok := src["chart"].(string); ok && chart != "" && len(sources) == 1 {
			app.chart = fmt.Sprintf("%v/%s@%v", src["repoURL"], chart, src["targetRevision"])
			return app, nil
		}
		for _, unsupported := range []string{"helm", "kustomize", "plugin", "chart"} {
			if _, ok := src[unsupported]; ok {
				return app, fmt.Errorf("Application %s: source.%s is not supported by the e2e harness", app.name, unsupported)
			}
		}
		if p, ok := src["path"].(string); ok && p != "" {
			app.dirs = append(app.dirs, p)
		}
	}
	if len(app.dirs) == 0 {
		return app, fmt.Errorf("Application %s: no source with a path", app.name)
	}
	app.namespace, _, _ = unstructured.NestedString(obj.Object, "spec", "destination", "namespace")
	opts, _, _ := unstructured.NestedStringSlice(obj.Object, "spec", "syncPolicy", "syncOptions")
	app.createNamespace = slices.Contains(opts, "CreateNamespace=true")
	return app, nil
}

// Wave is an object's argocd.argoproj.io/sync-wave (0 when absent).
func Wave(obj *unstructured.Unstructured) (int, error) {
	v, ok := obj.GetAnnotations()[annotationSyncWave]
	if !ok {
		return 0, nil
	}
	w, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%s: %s %q is not an integer", Describe(obj), annotationSyncWave, v)
	}
	return w, nil
}

// phase orders Argo CD's hook phases; skip marks objects a normal sync never
// applies (SyncFail hooks run only when a sync fails, Skip never).
func phase(obj *unstructured.Unstructured) (order int, skip bool) {
	hooks := obj.GetAnnotations()[annotationHook]
	if hooks == "" {
		return 0, false
	}
	order, skip = 0, true
	for _, h := range strings.Split(hooks, ",") {
		switch strings.TrimSpace(h) {
		case "PreSync":
			return -1, false
		case "Sync":
			order, skip = 0, false
		case "PostSync":
			if skip {
				order, skip = 1, false
			}
		}
	}
	return order, skip
}

// kindOrder is Argo CD's (gitops-engine sync_tasks.go, from Helm's kind
// sorter): within a wave these kinds go first, in this order; every other
// kind (custom resources) comes after them.
var kindOrder = func() map[string]int {
	kinds := []string{
		"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
		"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap",
		"StorageClass", "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition",
		"ClusterRole", "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList",
		"Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
		"ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler",
		"StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
	}
	m := make(map[string]int, len(kinds))
	for i, k := range kinds {
		m[k] = i - len(kinds) // negative, so unknown kinds (0) sort last
	}
	return m
}()

// Sort orders objects as Argo CD's sync does: hook phase, wave, kind, name;
// then a Namespace moves up to just before the first object in it, and a CRD
// to just before the first object of its kind (taking that object's wave).
// Objects a sync never applies (SyncFail and Skip hooks) are left out.
func Sort(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	type task struct {
		obj         *unstructured.Unstructured
		phase, wave int
	}
	tasks := make([]task, 0, len(objs))
	for _, o := range objs {
		p, skip := phase(o)
		if skip {
			continue
		}
		w, err := Wave(o)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, task{o, p, w})
	}
	slices.SortStableFunc(tasks, func(a, b task) int {
		if d := a.phase - b.phase; d != 0 {
			return d
		}
		if d := a.wave - b.wave; d != 0 {
			return d
		}
		if d := kindOrder[a.obj.GetKind()] - kindOrder[b.obj.GetKind()]; d != 0 {
			return d
		}
		return strings.Compare(a.obj.GetName(), b.obj.GetName())
	})
	ordered := make([]*unstructured.Unstructured, len(tasks))
	for i, t := range tasks {
		ordered[i] = t.obj
	}
	ordered = moveBeforeDependents(ordered, func(o *unstructured.Unstructured) (string, bool) {
		return o.GetName(), o.GetKind() == "Namespace" && o.GroupVersionKind().Group == ""
	}, func(o *unstructured.Unstructured) (string, bool) {
		return o.GetNamespace(), o.GetNamespace() != ""
	})
	ordered = moveBeforeDependents(ordered, func(o *unstructured.Unstructured) (string, bool) {
		if o.GetKind() != "CustomResourceDefinition" || o.GroupVersionKind().Group != "apiextensions.k8s.io" {
			return "", false
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		return group + "/" + kind, group != "" && kind != ""
	}, func(o *unstructured.Unstructured) (string, bool) {
		gvk := o.GroupVersionKind()
		return gvk.Group + "/" + gvk.Kind, true
	})
	return ordered, nil
}

// moveBeforeDependents moves each dependency (isDep) that sorts after the
// first object referring to it (refersTo) to just before that object.
func moveBeforeDependents(objs []*unstructured.Unstructured, isDep, refersTo func(*unstructured.Unstructured) (string, bool)) []*unstructured.Unstructured {
	first := map[string]int{}
	for i := 0; i < len(objs); i++ {
		o := objs[i]
		if key, ok := isDep(o); ok {
			if at, ok := first[key]; ok {
				copy(objs[at+1:i+1], objs[at:i])
				objs[at] = o
				for k, idx := range first {
					if idx >= at {
						first[k] = idx + 1
					}
				}
			}
			continue
		}
		if key, ok := refersTo(o); ok {
			if _, seen := first[key]; !seen {
				first[key] = i
			}
		}
	}
	return objs
}

// Describe names an object the way kubectl does: kind.group namespace/name.
func Describe(obj *unstructured.Unstructured) string {
	gk := obj.GroupVersionKind().GroupKind().String()
	if ns := obj.GetNamespace(); ns != "" {
		return gk + " " + ns + "/" + obj.GetName()
	}
	return gk + " " + obj.GetName()
}
