package twin_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ecommerce-platform/gitops/e2e/internal/argocd"
	envedit "github.com/ecommerce-platform/gitops/internal/testrepo"
)

// TestBlueGreenRelease: a new image digest of one service goes out as the
// render's blue-green strategy says. The preview ReplicaSet comes up spread
// over the zones, the rendered prePromotionAnalysis (unchanged, answered by
// the test's endpoint from the preview pods' state) succeeds, the Rollout
// stays paused with the active Service on the old version until it is
// promoted (the status patch of `kubectl argo rollouts promote`), then the
// active Service switches and the old ReplicaSet scales to zero after
// scaleDownDelaySeconds. A second release whose analysis fails aborts: the
// active Service never leaves the version it is on.
func TestBlueGreenRelease(t *testing.T) {
	p := startPlatform(t)
	p.waitUp(t, 5*time.Minute)
	_, rollout := p.releaseCandidate(t)
	ns, name := rollout.GetNamespace(), rollout.GetName()
	bg := func(field string) string {
		v, _, _ := unstructured.NestedString(rollout.Object, "spec", "strategy", "blueGreen", field)
		return v
	}
	active, preview := bg("activeService"), bg("previewService")
	delay, found, _ := unstructured.NestedInt64(rollout.Object, "spec", "strategy", "blueGreen", "scaleDownDelaySeconds")
	if !found {
		delay = 30 // Rollouts' default (defaults.DefaultScaleDownDelaySeconds)
	}
	t.Logf("releasing Rollout %s/%s (active %s, preview %s, scaleDownDelaySeconds %d)", ns, name, active, preview, delay)
	v1 := p.stableHash(t, ns, name)

	// Release 2: a new digest, as a commit to the env would render it.
	release2 := p.releaseImage(t, name, 2)
	v2 := p.waitNewHash(t, ns, name, v1)
	p.waitPreviewUp(t, ns, name, v2)
	if got := p.serviceHash(t, ns, preview); got != v2 {
		t.Errorf("preview Service %s selects %q, want the new %q", preview, got, v2)
	}
	if got := p.serviceHash(t, ns, active); got != v1 {
		t.Errorf("active Service %s selects %q before promotion, want the old %q", active, got, v1)
	}
	run := p.waitAnalysis(t, ns, v2, "Successful", 3*time.Minute)
	host := analysisHost(t, run)
	if hits := p.analysis.hitsFor(host); hits == 0 {
		t.Errorf("AnalysisRun %s succeeded without asking %s", run.GetName(), host)
	}
	t.Logf("prePromotionAnalysis %s Successful (%d requests to %s)", run.GetName(), p.analysis.hitsFor(host), host)
	// Not auto-promoted: it waits paused, serving the old version.
	p.eventually(t, time.Minute, "the Rollout paused before promotion", func() (bool, string) {
		r := p.get(t, rolloutGVR, ns, name)
		phase, _, _ := unstructured.NestedString(r.Object, "status", "phase")
		conds, _, _ := unstructured.NestedSlice(r.Object, "status", "pauseConditions")
		return phase == "Paused" && len(conds) > 0, "phase " + phase
	})
	for range 5 {
		if got := p.serviceHash(t, ns, active); got != v1 {
			t.Fatalf("active Service %s switched to %q without promotion", active, got)
		}
		time.Sleep(time.Second)
	}

	p.changeRootDuringRelease(t, ns, name, active, v1)

	promoted := p.promote(t, ns, name)
	p.eventually(t, 2*time.Minute, "the active Service on the new version", func() (bool, string) {
		got := p.serviceHash(t, ns, active)
		return got == v2, "active selects " + got
	})
	t.Logf("promoted: active Service %s on %s %s after the promotion", active, v2, time.Since(promoted).Round(time.Second))
	// The controller switches the Service before it writes the status
	// (rollout/bluegreen.go, then persistRolloutStatus): the stable
	// ReplicaSet follows within the reconcile.
	p.eventually(t, 30*time.Second, "the new ReplicaSet stable after promotion", func() (bool, string) {
		got := p.stableHash(t, ns, name)
		return got == v2, "stable " + got
	})
	old := p.replicaSet(t, ns, name, v1)
	p.eventually(t, time.Duration(delay)*time.Second+2*time.Minute, "the old ReplicaSet scaled to zero", func() (bool, string) {
		old = p.replicaSet(t, ns, name, v1)
		return *old.Spec.Replicas == 0, fmt.Sprintf("old ReplicaSet %s at %d replicas", old.Name, *old.Spec.Replicas)
	})
	if waited := time.Since(promoted); waited < time.Duration(delay-2)*time.Second {
		t.Errorf("old ReplicaSet scaled down %s after promotion, before scaleDownDelaySeconds %d", waited.Round(time.Second), delay)
	} else {
		t.Logf("old ReplicaSet %s scaled to zero %s after promotion (scaleDownDelaySeconds %d)", old.Name, waited.Round(time.Second), delay)
	}
	p.waitUp(t, 2*time.Minute)
	// Promoted, every Application is Synced and Healthy again, the root
	// app of apps included.
	p.waitApplications(t, 3*time.Minute, true)

	// Release 3 is broken: its analysis fails, the Rollout aborts, and the
	// active Service stays on v2 all along.
	p.analysis.failing.Store(true)
	release3 := p.releaseImage(t, name, 3)
	v3 := p.waitNewHash(t, ns, name, v2)
	watchDone := make(chan string)
	stop := make(chan struct{})
	go func() {
		var moved string
		for {
			select {
			case <-stop:
				watchDone <- moved
				return
			case <-time.After(200 * time.Millisecond):
			}
			svc, err := p.cs.CoreV1().Services(ns).Get(t.Context(), active, metav1.GetOptions{})
			if err == nil && svc.Spec.Selector["rollouts-pod-template-hash"] != v2 && moved == "" {
				moved = svc.Spec.Selector["rollouts-pod-template-hash"]
			}
		}
	}()
	failed := p.waitAnalysis(t, ns, v3, "Failed", 3*time.Minute)
	p.eventually(t, time.Minute, "the Rollout aborted", func() (bool, string) {
		r := p.get(t, rolloutGVR, ns, name)
		aborted, _, _ := unstructured.NestedBool(r.Object, "status", "abort")
		phase, _, _ := unstructured.NestedString(r.Object, "status", "phase")
		return aborted && phase == "Degraded", fmt.Sprintf("abort %v, phase %s", aborted, phase)
	})
	// Give the controller time to (wrongly) switch after the abort.
	time.Sleep(5 * time.Second)
	close(stop)
	if moved := <-watchDone; moved != "" {
		t.Errorf("active Service %s moved to %q during the failed release", active, moved)
	}
	if got := p.serviceHash(t, ns, active); got != v2 {
		t.Errorf("active Service %s selects %q after the abort, want %q", active, got, v2)
	}
	if got := p.stableHash(t, ns, name); got != v2 {
		t.Errorf("stable ReplicaSet %q after the abort, want %q", got, v2)
	}
	r := p.get(t, rolloutGVR, ns, name)
	msg, _, _ := unstructured.NestedString(r.Object, "status", "message")
	t.Logf("release 3 (%s): AnalysisRun %s Failed; Rollout aborted (%s); active Service stayed on %s", v3, failed.GetName(), msg, v2)
	p.rootNotSyncedAt(t, release2, release3)
}

// rootNotSyncedAt fails if the root app of apps ran a sync at any of the
// given commits, which leave its folder unchanged: it did when it compared
// what Argo CD writes back on its children (the /operation that starts a
// child's sync, an empty field Argo CD's types drop), and that sync waited
// on the released child's health (topology.child-operation and
// topology.child-canonical).
func (p *platform) rootNotSyncedAt(t *testing.T, commits ...string) {
	t.Helper()
	root := p.repo.RootApplication(t)
	apps, err := argocd.Apps(t.Context(), p.tw.Dyn)
	if err != nil {
		t.Fatal(err)
	}
	app, ok := apps[root.GetName()]
	if !ok {
		t.Fatalf("the root app %s is missing", root.GetName())
	}
	var synced []string
	history, _, _ := unstructured.NestedSlice(app.Object, "status", "history")
	for _, h := range history {
		if rev, ok := h.(map[string]any)["revision"].(string); ok {
			synced = append(synced, rev)
		}
	}
	for _, path := range [][]string{{"status", "operationState", "syncResult", "revision"}, {"status", "operationState", "operation", "sync", "revision"}, {"operation", "sync", "revision"}} {
		if rev, _, _ := unstructured.NestedString(app.Object, path...); rev != "" {
			synced = append(synced, rev)
		}
	}
	for _, c := range commits {
		if slices.Contains(synced, c) {
			t.Errorf("the root app %s ran a sync at %.8s, a commit that leaves its folder unchanged (it synced at %v): it differs from what Argo CD wrote back on a child Application", root.GetName(), c, synced)
		}
	}
}

// releaseCandidate is the first Rollout (by folder) with a blue-green
// strategy and a prePromotionAnalysis, and the folder it is rendered in.
func (p *platform) releaseCandidate(t *testing.T) (string, *unstructured.Unstructured) {
	t.Helper()
	rollouts := p.list(t, rolloutGVR, "")
	sort.Slice(rollouts, func(i, j int) bool { return rollouts[i].GetName() < rollouts[j].GetName() })
	for i := range rollouts {
		r := &rollouts[i]
		if _, found, _ := unstructured.NestedMap(r.Object, "spec", "strategy", "blueGreen", "prePromotionAnalysis"); !found {
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(p.envDir, "*", "rollout-"+r.GetName()+".yaml"))
		if len(matches) == 1 {
			return filepath.Dir(matches[0]), r
		}
	}
	t.Fatal("no rendered blue-green Rollout with a prePromotionAnalysis")
	return "", nil
}

// changeRootDuringRelease commits a change to the root app of apps' own
// folder (an annotation on one child Application, as a PR changing an
// Application's spec would be) while the release waits paused for its
// promotion: the root's sync must complete at once, not wait for the
// promotion (the Application health check of bootstrap/argocd-values.yaml
// counts the Suspended child as Healthy; Argo CD's documented one holds the
// root's sync, and with it every later root change, until someone
// promotes). The release stays paused, on the old version.
func (p *platform) changeRootDuringRelease(t *testing.T, ns, name, active, stable string) {
	t.Helper()
	root := p.repo.RootApplication(t).GetName()
	files, err := filepath.Glob(filepath.Join(p.repo.Rendered(), "argocd", "application-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var child string
	for _, f := range files {
		if n := argocd.ReadYAML(t, f).GetName(); n != root {
			child = f
			break
		}
	}
	if child == "" {
		t.Fatalf("the root app %s has no child Application to change", root)
	}
	original, err := os.ReadFile(child)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	head := p.repo.CommitEdited(t, "a child Application changed during the release", func() {
		app := argocd.ReadYAML(t, child)
		ann := app.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann["platform.shop/twin-change"] = "during the release"
		app.SetAnnotations(ann)
		argocd.WriteYAML(t, child, app)
	})
	p.waitRootSynced(t, head, "the root app synced the change during the paused release")
	t.Logf("root app synced %.8s (a changed child Application) %s after the commit, the release still paused", head, time.Since(start).Round(time.Second))
	// Back to the render: a later commit renders again and would revert
	// the change itself, a root sync in the middle of the next release.
	head = p.repo.CommitEdited(t, "the child Application's change reverted", func() {
		if err := os.WriteFile(child, original, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	p.waitRootSynced(t, head, "the root app synced the revert during the paused release")
	t.Logf("root app synced %.8s (the change reverted) %s after the first commit", head, time.Since(start).Round(time.Second))
	r := p.get(t, rolloutGVR, ns, name)
	if phase, _, _ := unstructured.NestedString(r.Object, "status", "phase"); phase != "Paused" {
		t.Errorf("Rollout %s is %s after the root's sync, want still Paused", name, phase)
	}
	if got := p.serviceHash(t, ns, active); got != stable {
		t.Errorf("active Service %s switched to %q without promotion", active, got)
	}
}

// waitRootSynced waits until the root app's last operation has synced head
// and is done.
func (p *platform) waitRootSynced(t *testing.T, head, what string) {
	t.Helper()
	p.eventually(t, 2*time.Minute, what, func() (bool, string) {
		apps, err := argocd.Apps(t.Context(), p.tw.Dyn)
		if err != nil {
			t.Fatal(err)
		}
		why := p.rootOperationDone(t, apps, head)
		return why == "", why
	})
}

// releaseImage commits release n of service name: a new image digest in
// the shared catalogue (envs/shared/catalog.cue), as a release PR does, and
// waits until Argo CD has synced it. Not Healthy: the Rollout is Suspended
// until it is promoted.
func (p *platform) releaseImage(t *testing.T, name string, release int) string {
	t.Helper()
	return p.commit(t, fmt.Sprintf("release %d of %s", release, name), false, func(dir string) {
		catalog := filepath.Join(dir, "envs", "shared", "catalog.cue")
		envedit.Set(t, envedit.Find(t, catalog, "services", name, "image", "digest"), strconv.Quote(fmt.Sprintf("sha256:%064x", 0xfeed0000+release)))
	})
}

func (p *platform) stableHash(t *testing.T, ns, name string) string {
	t.Helper()
	r := p.get(t, rolloutGVR, ns, name)
	h, _, _ := unstructured.NestedString(r.Object, "status", "stableRS")
	if h == "" {
		t.Fatalf("Rollout %s has no stable ReplicaSet", name)
	}
	return h
}

// waitNewHash waits for the controller to create the ReplicaSet of a new
// pod template and returns its hash.
func (p *platform) waitNewHash(t *testing.T, ns, name, old string) string {
	t.Helper()
	var h string
	p.eventually(t, time.Minute, "a new ReplicaSet for the new image", func() (bool, string) {
		r := p.get(t, rolloutGVR, ns, name)
		h, _, _ = unstructured.NestedString(r.Object, "status", "currentPodHash")
		return h != "" && h != old, "currentPodHash " + h
	})
	return h
}

// waitPreviewUp waits for the new ReplicaSet's pods to be Ready and checks
// their spread over the zones.
func (p *platform) waitPreviewUp(t *testing.T, ns, name, hash string) {
	t.Helper()
	r := p.get(t, rolloutGVR, ns, name)
	replicas, _, _ := unstructured.NestedInt64(r.Object, "spec", "replicas")
	p.eventually(t, 2*time.Minute, "the preview ReplicaSet Ready", func() (bool, string) {
		rs := p.replicaSet(t, ns, name, hash)
		return int64(rs.Status.ReadyReplicas) == replicas, fmt.Sprintf("%d/%d ready", rs.Status.ReadyReplicas, replicas)
	})
	nodes, err := p.cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range p.workloads(t) {
		if w.kind == "Rollout" && w.name == name && w.namespace == ns {
			sel := labels.SelectorFromSet(labels.Set{"rollouts-pod-template-hash": hash})
			pods := p.podsOf(t, ns, sel)
			counts := checkZoneSpread(t, w.id+" preview", w.template, pods, nodes.Items)
			t.Logf("preview ReplicaSet %s: %d pods Ready; per zone: %v", hash, replicas, counts)
		}
	}
}

// replicaSet is the Rollout's ReplicaSet of a pod template hash.
func (p *platform) replicaSet(t *testing.T, ns, rollout, hash string) *appsv1.ReplicaSet {
	t.Helper()
	l, err := p.cs.AppsV1().ReplicaSets(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "rollouts-pod-template-hash=" + hash})
	if err != nil {
		t.Fatal(err)
	}
	for i := range l.Items {
		for _, o := range l.Items[i].OwnerReferences {
			if o.Kind == "Rollout" && o.Name == rollout {
				return &l.Items[i]
			}
		}
	}
	t.Fatalf("no ReplicaSet of Rollout %s with hash %s", rollout, hash)
	return nil
}

// waitAnalysis waits for the AnalysisRun of a pod template hash to reach
// phase.
func (p *platform) waitAnalysis(t *testing.T, ns, hash, phase string, timeout time.Duration) *unstructured.Unstructured {
	t.Helper()
	var run *unstructured.Unstructured
	p.eventually(t, timeout, "AnalysisRun of "+hash+" "+phase, func() (bool, string) {
		var seen []string
		for _, r := range p.list(t, analysisRunGVR, ns) {
			if r.GetLabels()["rollouts-pod-template-hash"] != hash {
				continue
			}
			got, _, _ := unstructured.NestedString(r.Object, "status", "phase")
			if got == phase {
				run = r.DeepCopy()
				return true, ""
			}
			msg, _, _ := unstructured.NestedString(r.Object, "status", "message")
			seen = append(seen, r.GetName()+" "+got+" "+msg)
		}
		return false, "runs: " + strings.Join(seen, "; ")
	})
	return run
}

// analysisHost is the host the run's web metric asked: its url with the
// run's args put in (the run keeps the template's {{args.<name>}}; the
// controller resolves them when it measures).
func analysisHost(t *testing.T, run *unstructured.Unstructured) string {
	t.Helper()
	args, _, _ := unstructured.NestedSlice(run.Object, "spec", "args")
	metrics, _, _ := unstructured.NestedSlice(run.Object, "spec", "metrics")
	for _, m := range metrics {
		url, _, _ := unstructured.NestedString(m.(map[string]any), "provider", "web", "url")
		for _, a := range args {
			name, _ := a.(map[string]any)["name"].(string)
			value, _ := a.(map[string]any)["value"].(string)
			url = strings.ReplaceAll(url, "{{args."+name+"}}", value)
		}
		if rest, ok := strings.CutPrefix(url, "http://"); ok {
			return strings.SplitN(rest, "/", 2)[0]
		}
	}
	t.Fatalf("AnalysisRun %s has no http web metric", run.GetName())
	return ""
}

// promote does what `kubectl argo rollouts promote` does to a paused
// blue-green Rollout (pkg/kubectl-argo-rollouts/cmd/promote): clear the
// pause conditions through the status subresource, and unpause the spec if
// it is paused. It returns when it promoted.
func (p *platform) promote(t *testing.T, ns, name string) time.Time {
	t.Helper()
	res := p.tw.Dyn.Resource(rolloutGVR).Namespace(ns)
	if _, err := res.Patch(t.Context(), name, types.MergePatchType, []byte(`{"status":{"pauseConditions":null}}`), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatalf("promote %s: %v", name, err)
	}
	now := time.Now()
	r := p.get(t, rolloutGVR, ns, name)
	if paused, _, _ := unstructured.NestedBool(r.Object, "spec", "paused"); paused {
		if _, err := res.Patch(t.Context(), name, types.MergePatchType, []byte(`{"spec":{"paused":false}}`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("promote %s: %v", name, err)
		}
	}
	return now
}
