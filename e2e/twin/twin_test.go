// Package twin_test runs rendered/prod in the platform twin (internal/twin):
// the real kube-scheduler, kube-controller-manager and Argo Rollouts
// controller against a real API server, with kwok playing the kubelets of
// the rendered node groups in three zones. Opt in with E2E_TWIN_TEST=1
// (make e2e-twin): the first run on a machine builds kube-scheduler, kwok
// and the Rollouts controller.
//
// The External Secrets operator is the real one, reading Secrets Manager
// from kumo (an AWS emulator) through a STAND-IN for AWS STS and IAM that
// checks the web-identity token and the rendered IAM objects
// (internal/awstwin). Other stand-ins, named as such: the volume provisioner
// (no Portworx; internal/twin/standins.go); metrics-server (no kubelets to
// scrape: PodMetrics from a table the test sets; internal/twin/metrics.go).
package twin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/ecommerce-platform/gitops/e2e/internal/argocd"
	"github.com/ecommerce-platform/gitops/e2e/internal/awstwin"
	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
	"github.com/ecommerce-platform/gitops/e2e/internal/crds"
	"github.com/ecommerce-platform/gitops/e2e/internal/proc"
	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
	"github.com/ecommerce-platform/gitops/e2e/internal/twin"
)

const (
	env = binaries.TwinEnv
	// portworx is the CSI driver of the rendered StorageClasses, served here
	// by the volume provisioner stand-in.
	portworx = "pxd.portworx.com"
)

// instanceTypes are the EC2 types the rendered node groups use: AWS's
// published vCPUs and memory minus what the EKS AL2023 AMI reserves for the
// kubelet and system (kube-reserved CPU 6% of the first core, 1% of the
// second, 0.5% of the third and fourth, 0.25% of the rest; memory
// 11 MiB * maxPods + 255 MiB; eviction-hard 100 Mi), maxPods from the VPC
// CNI's ENI table (eni-max-pods.txt). A node group with a type not listed
// here fails the test: add the type.
var instanceTypes = map[string]twin.InstanceType{
	// 4 vCPU, 16 GiB, 58 pods: 4000m - 80m; 16384Mi - 893Mi - 100Mi.
	"m6i.xlarge": {CPU: "3920m", Memory: "15391Mi", Pods: 58},
	// 8 vCPU, 32 GiB, 58 pods.
	"m6i.2xlarge": {CPU: "7910m", Memory: "31775Mi", Pods: 58},
	// 8 vCPU, 64 GiB, 58 pods: 8000m - 90m; 65536Mi - 893Mi - 100Mi.
	"r6i.2xlarge": {CPU: "7910m", Memory: "64543Mi", Pods: 58},
	// 4 vCPU, 32 GiB, 58 pods.
	"r6i.xlarge": {CPU: "3920m", Memory: "31775Mi", Pods: 58},
}

var (
	rolloutGVR     = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}
	analysisRunGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysisruns"}
)

// platform is one running twin with an env's render synced into it.
type platform struct {
	env string
	tw  *twin.Twin
	cs  kubernetes.Interface
	// repo is the git repository Argo CD syncs; envDir its render of env
	// (the committed one but for the stand-in edits of argocd.Repo).
	repo   *argocd.Repo
	argo   *argocd.ArgoCD
	envDir string
	// standIns ends with the test; standInsDone are the stand-ins' exits.
	standIns     context.Context
	standInsDone []<-chan struct{}
	nodes        []*corev1.Node
	zones        []string
	// analysis answers the AnalysisTemplates' web metrics (HTTP_PROXY of the
	// Rollouts controller).
	analysis *analysisServer
	// aws is kumo behind the STS/IAM stand-in; seeded holds what the test
	// put in Secrets Manager, by target Secret (ns/name) and key; remote
	// the secret strings by Secrets Manager name.
	aws    *awstwin.Server
	seeded map[string]map[string]string
	remote map[string]string
}

// startPlatform starts a twin of prod's cluster with rendered/prod synced
// into it.
func startPlatform(t *testing.T) *platform {
	t.Helper()
	return startEnv(t, env)
}

// startEnv starts a twin of the env's cluster (its node groups, zones and
// Kubernetes release) with rendered/<env> synced into it.
func startEnv(t *testing.T, env string) *platform {
	t.Helper()
	if os.Getenv("E2E_TWIN_TEST") != "1" {
		t.Skip("runs the platform twin (kube-scheduler, kwok, Argo Rollouts and External Secrets built on first use): set E2E_TWIN_TEST=1 or run make e2e-twin")
	}
	ctx := t.Context()
	root := testrepo.Root(t)
	// The control plane, its controllers and the scheduler are the release
	// the env's cluster runs (its root Application's annotation).
	version, err := testrepo.KubernetesVersion(root, env)
	if err != nil {
		t.Fatal(err)
	}
	opts := binaries.Options{Log: testWriter{t}, KubernetesVersion: version}
	control, err := binaries.Ensure(ctx, opts)
	if err != nil {
		t.Fatalf("kube-apiserver and etcd: %v", err)
	}
	kcm, err := binaries.EnsureControllerManager(ctx, opts)
	if err != nil {
		t.Fatalf("kube-controller-manager: %v", err)
	}
	bins, err := binaries.EnsureTwin(ctx, opts)
	if err != nil {
		t.Fatalf("twin binaries: %v", err)
	}
	upstream, err := crds.Load(testrepo.CRDs(t))
	if err != nil {
		t.Fatalf("upstream CRDs (set E2E_CRDS to their folder): %v", err)
	}
	// External Secrets' own kinds beyond the lock (its GeneratorState).
	esoCRDs, err := crds.Load(bins.ESO.CRDs)
	if err != nil {
		t.Fatalf("External Secrets' CRDs: %v", err)
	}
	tmp := t.TempDir()
	// What Argo CD syncs: this checkout's inputs, rendered by the
	// repository's CLI, committed to a git server on 127.0.0.1.
	repo := argocd.NewRepo(t, root, filepath.Join(tmp, "repo"), filepath.Join(tmp, "render"), env)
	p := &platform{env: env, repo: repo, envDir: repo.Rendered()}
	if p.nodes, err = twin.NodeGroupNodes(p.envDir, instanceTypes); err != nil {
		t.Fatal(err)
	}
	zoneSet := map[string]bool{}
	for _, n := range p.nodes {
		zoneSet[n.Labels[twin.ZoneLabel]] = true
	}
	for z := range zoneSet {
		p.zones = append(p.zones, z)
	}
	sort.Strings(p.zones)

	p.analysis = newAnalysisServer(t)
	start := time.Now()
	p.tw, err = twin.Start(ctx, twin.Options{
		Control: control, ControllerManager: kcm, Twin: bins, Dir: tmp,
		CRDs: append(crds.WithSchemaless(upstream), esoCRDs...), Zones: p.zones,
		RolloutsEnv: []string{"HTTP_PROXY=" + p.analysis.URL, "http_proxy=" + p.analysis.URL},
		// A lost zone's nodes turn unreachable after 20 s and its pods are
		// evicted 10 s later (defaults: 50 s and 300 s).
		NodeMonitorGracePeriod: 20 * time.Second,
		TolerationSeconds:      10,
		// The HPAs sync every 5 s (default 15 s) and scale down 30 s after
		// the load falls (default 5 min; the rendered HPAs have no
		// spec.behavior, so the controller's window applies).
		HPASyncPeriod:             hpaSyncPeriod,
		HPADownscaleStabilization: hpaDownscaleStabilization,
	})
	if err != nil {
		t.Fatalf("start the twin: %v", err)
	}
	standIns, stopStandIns := context.WithCancel(context.Background())
	p.standIns = standIns
	t.Cleanup(func() {
		stopStandIns()
		for _, d := range p.standInsDone {
			<-d
		}
		if t.Failed() {
			t.Log(p.tw.Logs(25))
		}
		rss := p.tw.MaxRSS()
		groups := p.tw.ProcessGroups()
		p.tw.Stop()
		t.Logf("peak memory: %s", twin.FormatRSS(rss))
		// Every process ran in its own group and was given a path in tmp:
		// nothing may survive Stop.
		for name, pgid := range groups {
			if err := proc.GroupGone(pgid); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if left := proc.Naming(tmp); len(left) > 0 {
			t.Errorf("processes left running after the twin stopped:\n%s", strings.Join(left, "\n"))
		}
	})
	if p.cs, err = kubernetes.NewForConfig(p.tw.Config); err != nil {
		t.Fatal(err)
	}
	p.analysis.cs = p.cs
	for _, n := range p.nodes {
		if _, err := p.cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create Node %s: %v", n.Name, err)
		}
	}
	logf := func(format string, args ...any) { t.Logf(format, args...) }
	p.standInsDone = append(p.standInsDone, twin.RunVolumeProvisioner(standIns, p.cs, logf, portworx))
	p.waitNodesReady(t, 2*time.Minute)
	t.Logf("twin up in %s: %d nodes in %v", time.Since(start).Round(time.Second), len(p.nodes), p.zones)
	start = time.Now()

	// The twin's AWS and External Secrets first: Argo CD's waves wait for
	// the ExternalSecrets to be Ready. Its accounts, roles and seeds come
	// from the render; the IAM objects it checks are read live, as synced.
	p.startExternalSecrets(t, root, bins.ESO.Controller)
	p.runAWSStandIns(t, upstream)
	p.startDescheduler(t, bins.Descheduler)
	p.startArgoCD(t, root)
	// Every process binds loopback only (kwok runs without its kubelet
	// server, the Rollouts and Argo CD controllers are built with a
	// loopback listen address, the others are given --bind-address /
	// listen URLs).
	wide, err := p.tw.NotLoopback()
	if err != nil {
		t.Fatal(err)
	}
	argoWide, err := p.argo.NotLoopback()
	if err != nil {
		t.Fatal(err)
	}
	for name, addrs := range argoWide {
		wide[name] = addrs
	}
	if len(wide) > 0 {
		t.Fatalf("twin processes listen beyond 127.0.0.1: %v", wide)
	}
	// The one object an operator applies by hand (README, Bootstrap step 7).
	rootApp := p.repo.RootApplication(t)
	if _, err := p.tw.Dyn.Resource(argocd.ApplicationGVR).Namespace(argocd.Namespace).Create(ctx, rootApp, metav1.CreateOptions{}); err != nil {
		t.Fatalf("apply the root Application: %v", err)
	}
	p.waitApplications(t, 10*time.Minute, true)
	t.Logf("every Application of %s Synced and Healthy at %.8s, %s after the root app", env, p.repo.Head(t), time.Since(start).Round(time.Second))
	return p
}

func (p *platform) waitNodesReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	p.eventually(t, timeout, "every Node Ready and untainted by node-lifecycle", func() (bool, string) {
		nodes, err := p.cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var notReady []string
		for _, n := range nodes.Items {
			if !nodeReady(&n) || hasTaint(&n, "node.kubernetes.io/not-ready") {
				notReady = append(notReady, n.Name)
			}
		}
		return len(notReady) == 0 && len(nodes.Items) == len(p.nodes), fmt.Sprintf("not ready: %v", notReady)
	})
}

// eventually polls cond every second until it holds, a twin process dies or
// timeout passes (then the test fails with cond's last word).
func (p *platform) eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if err := p.tw.Healthy(); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not reached after %s: %s", what, timeout, last)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(time.Second):
		}
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, tn := range n.Spec.Taints {
		if tn.Key == key {
			return true
		}
	}
	return false
}

func podReady(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// list returns the live objects of a kind.
func (p *platform) list(t *testing.T, gvr schema.GroupVersionResource, ns string) []unstructured.Unstructured {
	t.Helper()
	l, err := p.tw.Dyn.Resource(gvr).Namespace(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list %s: %v", gvr.Resource, err)
	}
	return l.Items
}

func (p *platform) get(t *testing.T, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	o, err := p.tw.Dyn.Resource(gvr).Namespace(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return o
}

// podsOf lists the pods matching selector in ns, terminating ones excluded.
func (p *platform) podsOf(t *testing.T, ns string, selector labels.Selector) []corev1.Pod {
	t.Helper()
	l, err := p.cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	for _, pod := range l.Items {
		if pod.DeletionTimestamp == nil {
			pods = append(pods, pod)
		}
	}
	return pods
}

func (p *platform) nodeZones(t *testing.T) map[string]string {
	t.Helper()
	nodes, err := p.cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, n := range nodes.Items {
		m[n.Name] = n.Labels[twin.ZoneLabel]
	}
	return m
}

// fromUnstructured converts a live object to its typed form.
func fromUnstructured(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// analysisServer answers the rendered AnalysisTemplates' web metrics: the
// Rollouts controller reaches it as its HTTP proxy, so the templates run
// unchanged (url http://<service>-preview.<ns>.svc.cluster.local/healthz).
// It reports the state of the pods behind the Service the URL names:
// {"ok": true} when the URL's port is one of that Service's ports and the
// Service selects at least one pod and all are Ready, unless failing is set
// (a broken release).
type analysisServer struct {
	*httptest.Server
	cs      kubernetes.Interface
	failing atomic.Bool
	mu      sync.Mutex
	hits    map[string]int
}

func newAnalysisServer(t *testing.T) *analysisServer {
	a := &analysisServer{hits: map[string]int{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.URL.Hostname()
		if host == "" {
			host = r.Host
		}
		a.mu.Lock()
		a.hits[host]++
		a.mu.Unlock()
		port := r.URL.Port()
		if port == "" {
			port = "80"
		}
		ok, why := a.verdict(r.Context(), host, port)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": ok, "why": why})
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *analysisServer) verdict(ctx context.Context, host, port string) (bool, string) {
	if a.failing.Load() {
		return false, "the release is broken (test switch)"
	}
	parts := strings.Split(host, ".")
	if len(parts) < 3 || parts[2] != "svc" || a.cs == nil {
		return false, "not a Service host: " + host
	}
	svc, err := a.cs.CoreV1().Services(parts[1]).Get(ctx, parts[0], metav1.GetOptions{})
	if err != nil {
		return false, err.Error()
	}
	// The URL must reach a port the Service exposes, as kube-proxy would.
	served := false
	for _, p := range svc.Spec.Ports {
		served = served || strconv.Itoa(int(p.Port)) == port
	}
	if !served {
		return false, fmt.Sprintf("Service %s/%s has no port %s", parts[1], parts[0], port)
	}
	pods, err := a.cs.CoreV1().Pods(parts[1]).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return false, err.Error()
	}
	ready := 0
	for i := range pods.Items {
		if podReady(&pods.Items[i]) {
			ready++
		}
	}
	return ready > 0 && ready == len(pods.Items), fmt.Sprintf("%d of %d pods Ready", ready, len(pods.Items))
}

func (a *analysisServer) hitsFor(host string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[host]
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
