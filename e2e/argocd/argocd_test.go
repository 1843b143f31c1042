// Package argocd_test runs Argo CD itself (argocd-repo-server and
// argocd-application-controller built from github.com/argoproj/argo-cd) against
// a real kube-apiserver and a local git server holding this repository's
// render, and follows the root app-of-apps of rendered/prod from an empty
// cluster to every Application Synced, one auto-synced env change, and one
// prune. Opt in with E2E_ARGOCD_TEST=1 (make e2e-argocd): the first run on a
// machine builds Argo CD, which takes many minutes.
package argocd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ecommerce-platform/gitops/e2e/internal/argocd"
	"github.com/ecommerce-platform/gitops/e2e/internal/argosync"
	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
	"github.com/ecommerce-platform/gitops/e2e/internal/cluster"
	"github.com/ecommerce-platform/gitops/e2e/internal/crds"
	"github.com/ecommerce-platform/gitops/e2e/internal/proc"
	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
	"github.com/ecommerce-platform/gitops/e2e/internal/twin"
	envedit "github.com/ecommerce-platform/gitops/internal/testrepo"
)

const env = "prod"

// Resync is Argo CD's reconciliation period here (120 s by default): how
// long a pushed commit may wait before the controller notices it without a
// webhook.
const resync = 10 * time.Second

// stack is everything one test runs: control plane, git server, Argo CD.
type stack struct {
	argo   *argocd.ArgoCD
	dyn    dynamic.Interface
	mapper *argosync.Applier // for its REST mapping only; it applies nothing here
	repo   *argocd.Repo
}

func TestArgoCDSyncsRenderedProd(t *testing.T) {
	if os.Getenv("E2E_ARGOCD_TEST") != "1" {
		t.Skip("runs Argo CD (built on first use, many minutes): set E2E_ARGOCD_TEST=1 or run make e2e-argocd")
	}
	ctx := t.Context()
	s := startStack(t)

	// The one object an operator applies by hand: the root app-of-apps.
	rootApp := argocd.ReadYAML(t, filepath.Join(s.repo.Dir, "rendered", env, "argocd", "application-platform-"+env+".yaml"))
	if _, err := s.dyn.Resource(argocd.ApplicationGVR).Namespace(argocd.Namespace).Create(ctx, rootApp, metav1.CreateOptions{}); err != nil {
		t.Fatalf("apply root Application: %v", err)
	}
	want := renderedApplications(t, s.repo.Dir)
	head := s.repo.Head(t)
	start := time.Now()
	s.waitSynced(t, want, head, 10*time.Minute)
	t.Logf("all %d Applications Synced at %s in %s", len(want), head[:8], time.Since(start).Round(time.Second))
	s.logHealth(t)
	s.logCharts(t)
	// Synced is Argo CD's word; check the server independently.
	n := s.checkRenderedObjectsLive(t)
	t.Logf("all %d rendered objects exist in the API server", n)
	if t.Failed() {
		return
	}

	t.Run("env change auto-syncs", func(t *testing.T) { s.autoSyncsReplicaBump(t, want) })
	if t.Failed() {
		return
	}
	t.Run("app removed from git is pruned, data kept", func(t *testing.T) { s.prunesRemovedDatabase(t) })
}

// bumpService is the service whose replica floor the env change raises.
const bumpService = "cart"

var (
	rolloutGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}
	hpaGVR     = schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}
)

// autoSyncsReplicaBump commits a replica bump in envs/prod and waits for
// Argo CD to apply it on its own: nothing here asks for a sync. The env's
// replicas are a floor: the render writes them to the HPA's minReplicas (and
// the Rollout's initial replicas), and the Application ignores the Rollout's
// spec.replicas (ignoreDifferences + RespectIgnoreDifferences=true) because
// the HPA owns it. So the HPA must change and the Rollout's replicas must not.
func (s *stack) autoSyncsReplicaBump(t *testing.T, apps []string) {
	const ns = "shop"
	rollout := s.get(t, rolloutGVR, ns, bumpService)
	hpa := s.get(t, hpaGVR, ns, bumpService)
	if rollout == nil || hpa == nil {
		t.Fatalf("Rollout or HPA %s/%s was not synced", ns, bumpService)
	}
	replicas, _, _ := unstructured.NestedInt64(rollout.Object, "spec", "replicas")
	oldMin, _, _ := unstructured.NestedInt64(hpa.Object, "spec", "minReplicas")
	services := filepath.Join(s.repo.Dir, "envs", env, "services.cue")
	envedit.Set(t, envedit.Find(t, services, "platform", "services", bumpService, "replicas"), strconv.FormatInt(oldMin+1, 10))
	head := s.repo.Commit(t, fmt.Sprintf("%s replicas %d -> %d", bumpService, oldMin, oldMin+1))
	start := time.Now()
	wantHPA := argocd.ReadYAML(t, filepath.Join(s.repo.Dir, "rendered", env, "svc-"+bumpService, "horizontalpodautoscaler-"+bumpService+".yaml"))
	wantMin, _, _ := unstructured.NestedInt64(wantHPA.Object, "spec", "minReplicas")
	wantMax, _, _ := unstructured.NestedInt64(wantHPA.Object, "spec", "maxReplicas")
	if wantMin != oldMin+1 {
		t.Fatalf("rendered HPA minReplicas %d after the bump, want %d", wantMin, oldMin+1)
	}

	app := env + "-svc-" + bumpService
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if err := s.argo.Exited(); err != nil {
			t.Fatal(err)
		}
		live := s.get(t, hpaGVR, ns, bumpService)
		gotMin, _, _ := unstructured.NestedInt64(live.Object, "spec", "minReplicas")
		gotMax, _, _ := unstructured.NestedInt64(live.Object, "spec", "maxReplicas")
		if gotMin == wantMin && gotMax == wantMax {
			t.Logf("HPA %s/%s minReplicas %d -> %d, maxReplicas %d, %s after the commit (resourceVersion %s -> %s)",
				ns, bumpService, oldMin, gotMin, gotMax, time.Since(start).Round(time.Second), hpa.GetResourceVersion(), live.GetResourceVersion())
			break
		}
		if time.Now().After(deadline) {
			st := argocd.ReadAppState(s.apps(t)[app])
			t.Fatalf("HPA %s/%s minReplicas %d, maxReplicas %d 3 minutes after commit %.8s (git: %d, %d); %s is %s at %.8s, operation %s: %s",
				ns, bumpService, gotMin, gotMax, head, wantMin, wantMax, app, st.Sync, st.Revision, st.OpPhase, st.OpMessage)
		}
		time.Sleep(time.Second)
	}
	// The change came from an automated sync of the new commit.
	a := s.apps(t)[app]
	syncedRev, _, _ := unstructured.NestedString(a.Object, "status", "operationState", "syncResult", "revision")
	if st := argocd.ReadAppState(a); !st.Automated || syncedRev != head {
		t.Errorf("%s: last operation automated=%v at %.8s, want an automated sync of %.8s", app, st.Automated, syncedRev, head)
	}
	if live := s.get(t, rolloutGVR, ns, bumpService); live != nil {
		got, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas")
		if got != replicas {
			t.Errorf("Rollout %s/%s replicas %d -> %d: Argo CD overwrote the HPA-owned field it is told to ignore", ns, bumpService, replicas, got)
		}
	}
	s.waitSynced(t, apps, head, 3*time.Minute)
}

// prunesRemovedDatabase removes the orders-db database from prod: its app
// folder and its Application leave git. Argo CD must delete the Application
// (the root app prunes) and the objects it managed, except those annotated
// Delete=false (the data objects carry Prune=false,Delete=false; Delete=false
// is the one that holds when the whole Application goes): the StatefulSet and
// its PVCs keep the data.
func (s *stack) prunesRemovedDatabase(t *testing.T) {
	const db = "orders-db"
	app := env + "-db-" + db
	folder := filepath.Join(s.repo.Dir, "rendered", env, "db-"+db)
	objs, err := argosync.Build(folder)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s renders no objects", folder)
	}

	// Argo CD deletes what an Application deployed only when the Application
	// carries this finalizer; without it, deleting the Application orphans
	// its objects.
	const resourcesFinalizer = "resources-finalizer.argocd.argoproj.io"
	appYAML := argocd.ReadYAML(t, filepath.Join(s.repo.Dir, "rendered", env, "argocd", "application-"+app+".yaml"))
	cascades := slices.Contains(appYAML.GetFinalizers(), resourcesFinalizer)

	// Found by CUE path, not text: the services lose their database
	// reference, prod its databases (the catalogue's and the env's own).
	platform := filepath.Join(s.repo.Dir, "envs", env, "platform.cue")
	services := envedit.Find(t, platform, "platform", "services")
	envedit.Set(t, services, "{for n, svc in "+services.Text+" {(n): {for f, v in svc if f != \"database\" {(f): v}}}}")
	envedit.Delete(t, envedit.Find(t, platform, "platform", "databases"))
	envedit.Delete(t, envedit.Find(t, filepath.Join(s.repo.Dir, "envs", env, "services.cue"), "platform", "databases", db))
	head := s.repo.Commit(t, "prod drops "+db)
	if _, err := os.Stat(folder); !os.IsNotExist(err) {
		t.Fatalf("%s still rendered after removing %s", folder, db)
	}
	start := time.Now()
	want := renderedApplications(t, s.repo.Dir)
	s.waitSynced(t, want, head, 5*time.Minute)
	t.Logf("Application %s pruned, the rest Synced to %.8s, %s after the commit", app, head, time.Since(start).Round(time.Second))

	// What stays and what goes, by the annotation each object carries in git.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var wrong []string
		for _, o := range objs {
			keep := strings.Contains(o.GetAnnotations()["argocd.argoproj.io/sync-options"], "Delete=false")
			live := s.getObject(t, o)
			switch {
			case keep && live == nil:
				wrong = append(wrong, argosync.Describe(o)+": deleted, but it is annotated Delete=false")
			case keep && live.GetDeletionTimestamp() != nil:
				wrong = append(wrong, argosync.Describe(o)+": being deleted, but it is annotated Delete=false")
			case !keep && live != nil && live.GetDeletionTimestamp() != nil:
				wrong = append(wrong, argosync.Describe(o)+": being deleted, not gone")
			case !keep && live != nil:
				wrong = append(wrong, argosync.Describe(o)+": still there")
			}
		}
		if len(wrong) == 0 {
			break
		}
		if time.Now().After(deadline) {
			hint := ""
			if !cascades {
				hint = fmt.Sprintf("\nrendered/%s/argocd/application-%s.yaml has no finalizer %s: Argo CD deleted the Application and orphaned what it deployed", env, app, resourcesFinalizer)
			}
			t.Fatalf("2 minutes after %s was pruned:\n  %s%s", app, strings.Join(wrong, "\n  "), hint)
		}
		time.Sleep(2 * time.Second)
	}
	var kept []string
	for _, o := range objs {
		if strings.Contains(o.GetAnnotations()["argocd.argoproj.io/sync-options"], "Delete=false") {
			kept = append(kept, argosync.Describe(o))
		}
	}
	t.Logf("kept (Delete=false): %s", strings.Join(kept, ", "))
}

// startStack starts etcd, kube-apiserver, Redis, the git server, the
// repo-server and the application controller, all on 127.0.0.1, and stops
// them when the test ends, failed or not.
func startStack(t *testing.T) *stack {
	t.Helper()
	ctx := t.Context()
	log := testWriter{t}
	// The API server the env's cluster runs (its rendered root Application says which).
	version, err := testrepo.KubernetesVersion(testrepo.Root(t), env)
	if err != nil {
		t.Fatal(err)
	}
	bins, err := binaries.Ensure(ctx, binaries.Options{Log: log, KubernetesVersion: version})
	if err != nil {
		t.Fatalf("kube-apiserver and etcd: %v", err)
	}
	kcm, err := binaries.EnsureControllerManager(ctx, binaries.Options{Log: log, KubernetesVersion: version})
	if err != nil {
		t.Fatalf("kube-controller-manager: %v", err)
	}
	argoBins, err := binaries.EnsureArgoCD(ctx, binaries.Options{Log: log})
	if err != nil {
		t.Fatalf("Argo CD and kustomize: %v", err)
	}
	tmp := t.TempDir()
	s := &stack{}

	// The repository Argo CD syncs: this working tree's CUE, rendered by the
	// repository's own CLI after pointing git.repoURL at the local server,
	// committed on main (the Applications' targetRevision).
	s.repo = argocd.NewRepo(t, testrepo.Root(t), filepath.Join(tmp, "repo"), filepath.Join(tmp, "render"), env)

	upstream, err := crds.Load(testrepo.CRDs(t))
	if err != nil {
		t.Fatalf("upstream CRDs (set E2E_CRDS to their folder): %v", err)
	}
	c, err := cluster.Start(ctx, cluster.Options{KubeAPIServer: bins.KubeAPIServer, Etcd: bins.Etcd, Dir: filepath.Join(tmp, "cluster")})
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.Logs(20))
		}
		apiserverRSS, etcdRSS := c.MaxRSS()
		kcmRSS := c.ControllerManagerMaxRSS()
		c.Stop()
		t.Logf("peak memory: kube-apiserver %d MiB, etcd %d MiB, kube-controller-manager %d MiB", apiserverRSS>>20, etcdRSS>>20, kcmRSS>>20)
	})
	// Only the garbage collector: Argo CD prunes with foreground deletion,
	// which leaves the object with a foregroundDeletion finalizer until the
	// garbage collector has deleted its dependents and removed it. No other
	// controller runs (no pods, no Deployments' ReplicaSets, no PVC binding).
	if err := c.StartControllerManager(kcm, "garbagecollector"); err != nil {
		t.Fatalf("start kube-controller-manager: %v", err)
	}
	if s.dyn, err = dynamic.NewForConfig(c.Config); err != nil {
		t.Fatal(err)
	}
	if err := crds.Install(ctx, s.dyn, "e2e-setup", crds.WithSchemaless(upstream), 3*time.Minute); err != nil {
		t.Fatalf("install CRDs: %v", err)
	}
	if s.mapper, err = argosync.NewApplier(c.Config, "e2e-read"); err != nil {
		t.Fatal(err)
	}
	certs := map[string][]byte{s.repo.Server.Host: s.repo.Server.CertPEM}
	if err := argocd.Bootstrap(ctx, c.Config, resync, certs, nil); err != nil {
		t.Fatalf("Argo CD settings: %v", err)
	}
	runStandIns(t, c.Config, upstream)

	a, err := argocd.Start(ctx, argocd.Options{
		Binaries: argoBins, Config: c.Config, Dir: filepath.Join(tmp, "argocd"), Reconciliation: resync, TLSCerts: certs,
	})
	if err != nil {
		t.Fatalf("start Argo CD: %v", err)
	}
	s.argo = a
	if wide, err := a.NotLoopback(); err != nil {
		t.Fatal(err)
	} else if len(wide) > 0 {
		a.Stop()
		t.Fatalf("Argo CD listens beyond 127.0.0.1: %v", wide)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(a.Logs(60))
		}
		rss := a.MaxRSS()
		pids := a.Pids()
		a.Stop()
		for name, pid := range pids {
			// Each component ran in its own process group: nothing of it,
			// nor anything it spawned (git, kustomize), may survive.
			if err := proc.GroupGone(pid); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		var names []string
		for n := range rss {
			names = append(names, fmt.Sprintf("%s %d MiB", n, rss[n]>>20))
		}
		sort.Strings(names)
		t.Logf("peak memory: %s", strings.Join(names, ", "))
	})
	return s
}

// runStandIns starts the two stand-ins this test needs (both named so in
// internal/twin, and in the README) until the test ends: the External
// Secrets writer, because the rendered apps put their ExternalSecrets in sync
// wave -1 and Argo CD waits for them to be Ready before the next wave; and
// the Crossplane provider's Ready conditions, because Argo CD waits for the
// managed resources to be healthy before it prunes (PruneLast=true).
func runStandIns(t *testing.T, cfg *rest.Config, upstream []*unstructured.Unstructured) {
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
	secrets := twin.RunExternalSecretsStandIn(ctx, dyn, cs, t.Logf)
	provider := twin.RunProviderStandIn(ctx, dyn, twin.ManagedResourceGVRs(upstream), t.Logf)
	t.Cleanup(func() { cancel(); <-secrets; <-provider })
}

// renderedApplications names the Applications in rendered/<env>/argocd/
// that sync a folder of this repository: the ones this test asserts Synced.
func renderedApplications(t *testing.T, repo string) []string {
	t.Helper()
	synced, _ := renderedApplicationsBySource(t, repo)
	return synced
}

// renderedApplicationsBySource: argocd.RenderedApplications of the test
// repository's render. Chart Applications are created by the app of apps
// and checked to exist, not to be Synced.
func renderedApplicationsBySource(t *testing.T, repo string) (synced, charts []string) {
	t.Helper()
	synced, charts, err := argocd.RenderedApplications(filepath.Join(repo, "rendered", env))
	if err != nil {
		t.Fatal(err)
	}
	return synced, charts
}

// logCharts checks that the app of apps created every chart Application and
// says why none of them is Synced.
func (s *stack) logCharts(t *testing.T) {
	t.Helper()
	_, charts := renderedApplicationsBySource(t, s.repo.Dir)
	apps := s.apps(t)
	for _, name := range charts {
		app, ok := apps[name]
		if !ok {
			t.Errorf("chart Application %s: not created by the app of apps", name)
			continue
		}
		st := argocd.ReadAppState(app)
		repoURL, _, _ := unstructured.NestedString(app.Object, "spec", "source", "repoURL")
		t.Logf("not asserted Synced (upstream chart from %s, unreachable offline): %s is %s", repoURL, name, st.Sync)
	}
}

func (s *stack) apps(t *testing.T) map[string]*unstructured.Unstructured {
	t.Helper()
	apps, err := argocd.Apps(t.Context(), s.dyn)
	if err != nil {
		t.Fatal(err)
	}
	return apps
}

// waitSynced waits until exactly the Applications in want and the chart
// Applications exist and each of want is Synced to revision.
func (s *stack) waitSynced(t *testing.T, want []string, revision string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if err := s.argo.Exited(); err != nil {
			t.Fatal(err)
		}
		_, charts := renderedApplicationsBySource(t, s.repo.Dir)
		pending := argocd.Pending(s.apps(t), want, charts, revision, false)
		if len(pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d Applications are not Synced to %.8s:\n  %s", timeout, len(pending), revision, strings.Join(pending, "\n  "))
		}
		time.Sleep(2 * time.Second)
	}
}

// logHealth reports each Application's health and its resources that are not
// Healthy.
func (s *stack) logHealth(t *testing.T) {
	t.Helper()
	apps := s.apps(t)
	var names []string
	for n := range apps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st := argocd.ReadAppState(apps[n])
		var unhealthy []string
		res, _, _ := unstructured.NestedSlice(apps[n].Object, "status", "resources")
		for _, r := range res {
			m, _ := r.(map[string]any)
			h, _, _ := unstructured.NestedString(m, "health", "status")
			if h != "" && h != "Healthy" {
				unhealthy = append(unhealthy, fmt.Sprintf("%s/%s %s", m["kind"], m["name"], h))
			}
		}
		t.Logf("%-22s %s, health %s, operation %s; not Healthy: %s", n, st.Sync, st.Health, st.OpPhase, strings.Join(unhealthy, ", "))
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// get reads one object; nil when it does not exist.
func (s *stack) get(t *testing.T, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	var ri dynamic.ResourceInterface = s.dyn.Resource(gvr)
	if ns != "" {
		ri = s.dyn.Resource(gvr).Namespace(ns)
	}
	obj, err := ri.Get(t.Context(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return obj
}

// checkRenderedObjectsLive checks that every object the app folders of
// rendered/<env> build to exists in the API server, and returns how many.
func (s *stack) checkRenderedObjectsLive(t *testing.T) int {
	t.Helper()
	n := 0
	for _, file := range mustGlob(t, filepath.Join(s.repo.Dir, "rendered", env, "argocd", "application-*.yaml")) {
		app := argocd.ReadYAML(t, file)
		path, _, _ := unstructured.NestedString(app.Object, "spec", "source", "path")
		if path == "" {
			continue // an upstream chart (renderedApplicationsBySource): nothing of it is in git
		}
		destNS, _, _ := unstructured.NestedString(app.Object, "spec", "destination", "namespace")
		objs, err := argosync.Build(filepath.Join(s.repo.Dir, path))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetNamespace() == "" {
				o.SetNamespace(destNS) // dropped for cluster-scoped kinds by getObject
			}
			if s.getObject(t, o) == nil {
				t.Errorf("%s (%s): Argo CD says Synced, but it is not in the API server", argosync.Describe(o), path)
			}
			n++
		}
	}
	return n
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("nothing matches %s: %v", pattern, err)
	}
	return files
}

// getObject reads the live twin of a rendered object; nil when absent.
func (s *stack) getObject(t *testing.T, o *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	m, err := s.mapper.Mapping(o.GroupVersionKind())
	if err != nil {
		t.Fatalf("%s: %v", argosync.Describe(o), err)
	}
	ns := ""
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns = o.GetNamespace()
	}
	return s.get(t, m.Resource, ns, o.GetName())
}
