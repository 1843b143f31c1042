package argocd

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// AppState is what tests read from an Application's status.
type AppState struct {
	Sync, Revision, Health, HealthMessage, OpPhase, OpMessage string
	// OpRevision: the revision the last operation synced.
	OpRevision string
	// Automated: the last operation was started by auto-sync.
	Automated bool
}

// ReadAppState reads an Application's status.
func ReadAppState(app *unstructured.Unstructured) AppState {
	var st AppState
	st.Sync, _, _ = unstructured.NestedString(app.Object, "status", "sync", "status")
	st.Revision, _, _ = unstructured.NestedString(app.Object, "status", "sync", "revision")
	st.Health, _, _ = unstructured.NestedString(app.Object, "status", "health", "status")
	st.HealthMessage, _, _ = unstructured.NestedString(app.Object, "status", "health", "message")
	st.OpPhase, _, _ = unstructured.NestedString(app.Object, "status", "operationState", "phase")
	st.OpMessage, _, _ = unstructured.NestedString(app.Object, "status", "operationState", "message")
	st.OpRevision, _, _ = unstructured.NestedString(app.Object, "status", "operationState", "syncResult", "revision")
	st.Automated, _, _ = unstructured.NestedBool(app.Object, "status", "operationState", "operation", "initiatedBy", "automated")
	return st
}

// ResourceHealth is one managed resource's health in an Application's
// status (kept there with controller.resource.health.persist).
type ResourceHealth struct {
	Kind, Namespace, Name, Status, Message string
}

// ResourceHealths lists an Application's resources with their health.
func ResourceHealths(app *unstructured.Unstructured) []ResourceHealth {
	var out []ResourceHealth
	res, _, _ := unstructured.NestedSlice(app.Object, "status", "resources")
	for _, r := range res {
		m, _ := r.(map[string]any)
		h := ResourceHealth{}
		h.Kind, _ = m["kind"].(string)
		h.Namespace, _ = m["namespace"].(string)
		h.Name, _ = m["name"].(string)
		h.Status, _, _ = unstructured.NestedString(m, "health", "status")
		h.Message, _, _ = unstructured.NestedString(m, "health", "message")
		out = append(out, h)
	}
	return out
}

// Apps lists the Applications in Argo CD's namespace, by name.
func Apps(ctx context.Context, dyn dynamic.Interface) (map[string]*unstructured.Unstructured, error) {
	list, err := dyn.Resource(ApplicationGVR).Namespace(Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Applications: %w", err)
	}
	m := map[string]*unstructured.Unstructured{}
	for i := range list.Items {
		m[list.Items[i].GetName()] = &list.Items[i]
	}
	return m, nil
}

// RenderedApplications splits the Argo CD Applications of an env's render
// (any app folder) into those syncing a folder of the repository and those
// installing an upstream Helm chart (the controllers of
// schema/cluster_addons.cue). The second kind cannot sync in a test: Argo
// CD's repo-server fetches the chart from its repository, and no test
// machine reaches one (DESIGN.md section 8).
func RenderedApplications(renderedEnv string) (synced, charts []string, err error) {
	files, err := filepath.Glob(filepath.Join(renderedEnv, "*", "application-*.yaml"))
	if err != nil {
		return nil, nil, err
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("no Applications rendered under %s", renderedEnv)
	}
	for _, f := range files {
		app, err := readObject(f)
		if err != nil {
			return nil, nil, err
		}
		if !strings.HasPrefix(app.GetAPIVersion(), "argoproj.io/") {
			continue // another kind named Application (an EMR Serverless one)
		}
		if chart, _, _ := unstructured.NestedString(app.Object, "spec", "source", "chart"); chart != "" {
			charts = append(charts, app.GetName())
			continue
		}
		synced = append(synced, app.GetName())
	}
	sort.Strings(synced)
	sort.Strings(charts)
	return synced, charts, nil
}

// Pending says, one line per Application, what keeps apps from being
// exactly the render's: each of synced exists, is Synced to revision and,
// if healthy, Healthy (with the resources that are not, and Argo CD's
// word on each); each of charts exists; no other Application exists.
// Empty when all hold.
func Pending(apps map[string]*unstructured.Unstructured, synced, charts []string, revision string, healthy bool) []string {
	var pending []string
	for _, name := range synced {
		app, ok := apps[name]
		if !ok {
			pending = append(pending, name+": not created")
			continue
		}
		st := ReadAppState(app)
		if st.Sync != "Synced" || st.Revision != revision || (healthy && st.Health != "Healthy") {
			pending = append(pending, fmt.Sprintf("%s: %s at %.8s, %s%s (operation %s: %s)%s",
				name, st.Sync, st.Revision, st.Health, colon(st.HealthMessage), st.OpPhase, st.OpMessage, unhealthy(app)+outOfSync(app)))
		}
	}
	for _, name := range charts {
		if _, ok := apps[name]; !ok {
			pending = append(pending, name+": not created")
		}
	}
	for name := range apps {
		if !slices.Contains(synced, name) && !slices.Contains(charts, name) {
			pending = append(pending, name+": exists, but git does not have it")
		}
	}
	sort.Strings(pending)
	return pending
}

func colon(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

// outOfSync names an Application's resources that differ from git: which
// one keeps it OutOfSync.
func outOfSync(app *unstructured.Unstructured) string {
	resources, _, _ := unstructured.NestedSlice(app.Object, "status", "resources")
	var out []string
	for _, r := range resources {
		m, ok := r.(map[string]any)
		if !ok || m["status"] != "OutOfSync" {
			continue
		}
		out = append(out, fmt.Sprintf("%v %v/%v", m["kind"], m["namespace"], m["name"]))
	}
	if len(out) == 0 {
		return ""
	}
	return "; OutOfSync: " + strings.Join(out, ", ")
}

// unhealthy names an Application's resources that are not Healthy, with
// Argo CD's message for each: what an operator reads.
func unhealthy(app *unstructured.Unstructured) string {
	var out []string
	for _, r := range ResourceHealths(app) {
		if r.Status != "" && r.Status != "Healthy" {
			out = append(out, fmt.Sprintf("%s %s/%s %s%s", r.Kind, r.Namespace, r.Name, r.Status, colon(r.Message)))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; not Healthy: " + strings.Join(out, ", ")
}
