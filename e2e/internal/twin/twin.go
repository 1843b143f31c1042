// Package twin runs a twin of the production cluster without kubelets or
// containers: the real control plane (etcd, kube-apiserver), the real
// kube-scheduler and kube-controller-manager, the real Argo Rollouts
// controller, and one kwok process per zone that plays the kubelets of that
// zone's nodes (pods become Running and Ready once bound; probes never run),
// and, in the test process, a stand-in for metrics-server behind the API
// server's aggregator (metrics.go) so the HPA controller runs.
// Everything binds 127.0.0.1 and runs in its own process group
// (internal/proc), so a test can stop one zone's kwok to lose that zone.
package twin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
	"github.com/ecommerce-platform/gitops/e2e/internal/cluster"
	"github.com/ecommerce-platform/gitops/e2e/internal/crds"
	"github.com/ecommerce-platform/gitops/e2e/internal/proc"
)

// Controllers are the kube-controller-manager controllers the twin runs, by
// their v1.35 names (`kube-controller-manager --help`, --controllers;
// cmd/kube-controller-manager/names/controller_names.go):
// node-lifecycle lifts the not-ready taint the API server's
// TaintNodesByCondition admission puts on every new Node and marks a silent
// zone's nodes unreachable; serviceaccount creates each namespace's default
// ServiceAccount, without which no pod is admitted; the PV binder binds the
// provisioner stand-in's volumes to their claims; the others are the
// workload controllers the rendered objects rely on; the HPA controller
// scales the Rollouts from the metrics stand-in's PodMetrics (metrics.go).
// Not run: node-ipam (kwok
// assigns pod IPs from its --cidr), service-account-token (no legacy token
// Secrets), cloud and CSI controllers.
var Controllers = []string{
	"node-lifecycle-controller",
	"taint-eviction-controller",
	"serviceaccount-controller",
	"namespace-controller",
	"garbage-collector-controller",
	"replicaset-controller",
	"deployment-controller",
	"statefulset-controller",
	"job-controller",
	"disruption-controller",
	"endpointslice-controller",
	"pod-garbage-collector-controller",
	"persistentvolume-binder-controller",
	"horizontal-pod-autoscaler-controller",
}

// Options say what the twin runs.
type Options struct {
	Control binaries.Paths
	// ControllerManager is kube-controller-manager's binary.
	ControllerManager string
	Twin              binaries.TwinPaths
	// Dir holds every process's state and log; the caller owns it.
	Dir string
	// CRDs are installed before the controllers start (Rollouts' informers
	// need its kinds).
	CRDs []*unstructured.Unstructured
	// Zones get one kwok each.
	Zones []string
	// RolloutsEnv is added to the Rollouts controller's environment, e.g.
	// HTTP_PROXY for its web metrics (Go's default transport honours it;
	// loopback API traffic is never proxied).
	RolloutsEnv []string
	// NodeMonitorGracePeriod is how long a silent node stays Ready
	// (kube-controller-manager's default is 50 s); TolerationSeconds is the
	// default tolerationSeconds the API server gives every pod for the
	// not-ready and unreachable taints (default 300 s). Zero keeps the
	// defaults.
	NodeMonitorGracePeriod time.Duration
	TolerationSeconds      int
	// HPASyncPeriod is how often the HPA controller syncs each HPA
	// (default 15 s); HPADownscaleStabilization is how long it keeps the
	// highest recommendation before scaling down, for HPAs without a
	// spec.behavior (default 5 min). Zero keeps the defaults.
	HPASyncPeriod             time.Duration
	HPADownscaleStabilization time.Duration
}

// Twin is a running twin. Stop it exactly once (Stop is idempotent).
type Twin struct {
	*cluster.Cluster
	Dyn dynamic.Interface
	// Metrics serves metrics.k8s.io (a stand-in for metrics-server); the
	// test sets the pods' load on it.
	Metrics    *MetricsStandIn
	kubeconfig string
	dir        string
	scheduler  *proc.Process
	rollouts   *proc.Process
	eso        *proc.Process // StartExternalSecrets
	// descheduler: StartDescheduler.
	descheduler *proc.Process
	kwok        map[string]*proc.Process
	zones       []string
	// lost are the zones whose kwok StopZone stopped on purpose.
	lost map[string]bool
	// pgids of every process started, to check nothing survives Stop.
	pgids map[string]int
}

// Start brings the twin up: control plane, CRDs, controller-manager,
// scheduler, Rollouts controller, one kwok per zone. On error nothing is left
// running.
func Start(ctx context.Context, opts Options) (_ *Twin, err error) {
	var apiArgs []string
	if opts.TolerationSeconds > 0 {
		s := strconv.Itoa(opts.TolerationSeconds)
		apiArgs = append(apiArgs, "--default-not-ready-toleration-seconds="+s, "--default-unreachable-toleration-seconds="+s)
	}
	c, err := cluster.Start(ctx, cluster.Options{
		KubeAPIServer: opts.Control.KubeAPIServer, Etcd: opts.Control.Etcd,
		Dir: filepath.Join(opts.Dir, "cluster"), APIServerArgs: apiArgs,
	})
	if err != nil {
		return nil, fmt.Errorf("control plane: %w", err)
	}
	t := &Twin{Cluster: c, dir: opts.Dir, kwok: map[string]*proc.Process{}, lost: map[string]bool{}, zones: opts.Zones, pgids: map[string]int{}}
	defer func() {
		if err != nil {
			t.Stop()
		}
	}()
	if t.Dyn, err = dynamic.NewForConfig(c.Config); err != nil {
		return nil, err
	}
	if err := crds.Install(ctx, t.Dyn, "twin-setup", opts.CRDs, 3*time.Minute); err != nil {
		return nil, fmt.Errorf("install CRDs: %w", err)
	}
	t.kubeconfig = filepath.Join(opts.Dir, "admin.kubeconfig")
	if err := cluster.WriteKubeconfig(t.kubeconfig, c.Config, ""); err != nil {
		return nil, err
	}

	// metrics.k8s.io is served before the controller-manager starts, so the
	// HPA controller's first syncs find it.
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	if t.Metrics, err = StartMetricsStandIn(cs, c.FrontProxyCA, cluster.FrontProxyClientName); err != nil {
		return nil, fmt.Errorf("metrics stand-in: %w", err)
	}
	if err := RegisterMetricsAPI(ctx, t.Dyn, cs, t.Metrics, 2*time.Minute); err != nil {
		return nil, fmt.Errorf("register the metrics stand-in: %w", err)
	}

	var kcmArgs []string
	if opts.NodeMonitorGracePeriod > 0 {
		kcmArgs = append(kcmArgs, "--node-monitor-grace-period="+opts.NodeMonitorGracePeriod.String(), "--node-monitor-period=2s")
	}
	if opts.HPASyncPeriod > 0 {
		kcmArgs = append(kcmArgs, "--horizontal-pod-autoscaler-sync-period="+opts.HPASyncPeriod.String())
	}
	if opts.HPADownscaleStabilization > 0 {
		kcmArgs = append(kcmArgs, "--horizontal-pod-autoscaler-downscale-stabilization="+opts.HPADownscaleStabilization.String())
	}
	if err := c.StartControllerManagerWith(opts.ControllerManager, Controllers, kcmArgs); err != nil {
		return nil, fmt.Errorf("kube-controller-manager: %w", err)
	}

	// One kube-scheduler serves two profiles: the default one, and "stork",
	// a STAND-IN for Stork's scheduler (the rendered database pods name
	// schedulerName: stork). Stork runs kube-scheduler with its extender,
	// which prefers the nodes holding a replica of the pod's Portworx
	// volumes; without Portworx there are no replicas to prefer, so the
	// stand-in is the plain profile under Stork's name.
	schedConfig := filepath.Join(opts.Dir, "kube-scheduler.yaml")
	if err := os.WriteFile(schedConfig, []byte(schedulerConfig(t.kubeconfig)), 0o644); err != nil {
		return nil, err
	}
	if t.scheduler, err = t.startWithPort(ctx, "kube-scheduler", opts.Twin.KubeScheduler, nil, func(port int) []string {
		return []string{
			"--config=" + schedConfig,
			"--authentication-kubeconfig=" + t.kubeconfig,
			"--authorization-kubeconfig=" + t.kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--v=1",
		}
	}); err != nil {
		return nil, err
	}

	// The Rollouts controller reads its settings from its own namespace
	// (POD_NAMESPACE), which its install creates. It binds its health and
	// metrics ports on every interface (controller.go listenAddr
	// "0.0.0.0:%d", no bind flag); both are given explicitly, free ports.
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": RolloutsNamespace},
	}}
	if _, err := t.Dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("namespace %s: %w", RolloutsNamespace, err)
	}
	ports, err := proc.FreePorts(2)
	if err != nil {
		return nil, err
	}
	t.rollouts, err = t.start("rollouts-controller", opts.Twin.Rollouts,
		append([]string{"POD_NAMESPACE=" + RolloutsNamespace}, opts.RolloutsEnv...),
		"--kubeconfig="+t.kubeconfig,
		"--leader-elect=false",
		"--healthzPort="+strconv.Itoa(ports[0]),
		"--metricsPort="+strconv.Itoa(ports[1]),
		"--loglevel=info",
	)
	if err != nil {
		return nil, err
	}
	if err := t.rollouts.WaitTCP(ctx, "127.0.0.1:"+strconv.Itoa(ports[0]), 2*time.Minute); err != nil {
		return nil, err
	}

	for i, zone := range opts.Zones {
		if err := t.startKwok(zone, i, opts.Twin); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// startKwok runs the kubelets of one zone: kwok manages only the nodes
// labelled with that zone, assigns pod IPs from its own range, and keeps its
// own kubelet server off (no --server-address: kwok's server would bind every
// interface).
func (t *Twin) startKwok(zone string, index int, bins binaries.TwinPaths) error {
	entries, err := os.ReadDir(bins.KwokStages)
	if err != nil {
		return fmt.Errorf("kwok stages: %w", err)
	}
	args := []string{
		"--kubeconfig=" + t.kubeconfig,
		"--manage-all-nodes=false",
		"--manage-nodes-with-label-selector=" + ZoneLabel + "=" + zone,
		"--cidr=10." + strconv.Itoa(64+index) + ".0.0/16",
		"--node-ip=10." + strconv.Itoa(64+index) + ".255.254",
		"--node-lease-duration-seconds=20",
	}
	for _, e := range entries {
		args = append(args, "--config="+filepath.Join(bins.KwokStages, e.Name()))
	}
	p, err := t.start("kwok-"+zone, bins.Kwok, nil, args...)
	if err != nil {
		return err
	}
	t.kwok[zone] = p
	return nil
}

// StopZone stops the kwok of zone: its nodes stop renewing their leases and
// reporting, as when a zone is cut off.
func (t *Twin) StopZone(zone string) error {
	p := t.kwok[zone]
	if p == nil {
		return fmt.Errorf("no kwok runs for zone %s", zone)
	}
	t.lost[zone] = true
	p.Stop(10 * time.Second)
	return nil
}

// StorkScheduler is the scheduler name Stork's scheduler serves.
const StorkScheduler = "stork"

func schedulerConfig(kubeconfig string) string {
	return "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n" +
		"clientConnection:\n  kubeconfig: " + strconv.Quote(kubeconfig) + "\n" +
		"leaderElection:\n  leaderElect: false\n" +
		"profiles:\n- schedulerName: default-scheduler\n- schedulerName: " + StorkScheduler + "\n"
}

// RolloutsNamespace is where the Rollouts controller runs, as in its install.
const RolloutsNamespace = "argo-rollouts"

// ZoneLabel is the well-known zone label of Nodes.
const ZoneLabel = "topology.kubernetes.io/zone"

// start runs one process, logging to <dir>/<name>.log, and fails if it exits
// at once (a bad flag).
func (t *Twin) start(name, bin string, env []string, args ...string) (*proc.Process, error) {
	p, err := proc.Start(name, bin, filepath.Join(t.dir, name+".log"), env, args...)
	if err != nil {
		return nil, err
	}
	t.pgids[name] = p.Pid()
	select {
	case <-p.Done():
		return nil, fmt.Errorf("%s exited at start: %v\n%s", name, p.Err(), p.Tail(30))
	case <-time.After(300 * time.Millisecond):
	}
	return p, nil
}

// startWithPort starts a process that listens on one free port given by
// args, retrying with another port if it was taken meanwhile, and waits
// until it listens.
func (t *Twin) startWithPort(ctx context.Context, name, bin string, env []string, args func(port int) []string) (*proc.Process, error) {
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		ports, err := proc.FreePorts(1)
		if err != nil {
			return nil, err
		}
		p, err := t.start(name, bin, env, args(ports[0])...)
		if err == nil {
			if err = p.WaitTCP(ctx, "127.0.0.1:"+strconv.Itoa(ports[0]), 2*time.Minute); err == nil {
				return p, nil
			}
			p.Stop(5 * time.Second)
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

// Healthy reports the first process that has exited, except the kwok of a
// zone StopZone stopped.
func (t *Twin) Healthy() error {
	for _, p := range t.procs() {
		if p.Exited() && !t.lost[strings.TrimPrefix(p.Name, "kwok-")] {
			return fmt.Errorf("%s exited: %v\n%s", p.Name, p.Err(), p.Tail(30))
		}
	}
	return nil
}

func (t *Twin) procs() []*proc.Process {
	ps := []*proc.Process{}
	for _, p := range []*proc.Process{t.scheduler, t.rollouts, t.eso, t.descheduler} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	for _, z := range t.zones {
		if p := t.kwok[z]; p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// Stop stops every process: scheduler, Rollouts, External Secrets, kwok,
// then the control plane, then the metrics stand-in. Safe on a partly
// started twin and when called twice.
func (t *Twin) Stop() {
	for _, p := range t.procs() {
		p.Stop(10 * time.Second)
	}
	if t.Cluster != nil {
		t.Cluster.Stop()
	}
	if t.Metrics != nil {
		t.Metrics.Close()
	}
}

// NotLoopback lists, per running process of the twin (control plane
// included), the TCP sockets it listens on beyond the loopback interface:
// every one must bind 127.0.0.1.
func (t *Twin) NotLoopback() (map[string][]string, error) {
	procs := t.Cluster.Processes()
	for _, p := range t.procs() {
		if !p.Exited() {
			procs[p.Name] = p
		}
	}
	out := map[string][]string{}
	for name, p := range procs {
		addrs, err := proc.NotLoopback(p.Pid())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(addrs) > 0 {
			out[name] = addrs
		}
	}
	return out, nil
}

// ProcessGroups are the process group ids of the processes the twin started
// besides the control plane, by name.
func (t *Twin) ProcessGroups() map[string]int { return t.pgids }

// MaxRSS is each running process's peak resident memory so far, in bytes.
func (t *Twin) MaxRSS() map[string]int64 {
	apiserver, etcd := t.Cluster.MaxRSS()
	m := map[string]int64{"kube-apiserver": apiserver, "etcd": etcd, "kube-controller-manager": t.Cluster.ControllerManagerMaxRSS()}
	for _, p := range t.procs() {
		m[p.Name] = p.MaxRSS()
	}
	return m
}

// Logs returns the last lines of every log, for failure reports.
func (t *Twin) Logs(lines int) string {
	var b strings.Builder
	b.WriteString(t.Cluster.Logs(lines))
	for _, p := range t.procs() {
		fmt.Fprintf(&b, "--- %s (last %d lines of %s)\n%s\n", p.Name, lines, p.LogPath, p.Tail(lines))
	}
	return b.String()
}

// FormatRSS renders MaxRSS for a log line.
func FormatRSS(m map[string]int64) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	var total int64
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d MiB", n, m[n]>>20)
		total += m[n]
	}
	return fmt.Sprintf("%s (sum %d MiB)", strings.Join(parts, ", "), total>>20)
}
