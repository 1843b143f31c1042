// Package argocd runs Argo CD's own argocd-repo-server and
// argocd-application-controller, with the Redis they cache in, as processes
// on 127.0.0.1 against a test API server (internal/cluster), plus a git
// server for the repository they sync from. Nothing here imitates Argo CD:
// the binaries are built from github.com/argoproj/argo-cd (internal/binaries).
package argocd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
	"github.com/ecommerce-platform/gitops/e2e/internal/cluster"
	"github.com/ecommerce-platform/gitops/e2e/internal/proc"
)

// Namespace is where Argo CD's settings and Applications live, as in its
// install manifests.
const Namespace = "argocd"

// EnvRedis names a redis-server binary; default: redis-server on PATH
// (Debian's package, see hack/install-deps.sh).
const EnvRedis = "E2E_REDIS_SERVER"

// Options say what to run against which API server.
type Options struct {
	Binaries binaries.ArgoCDPaths
	// Config reaches the test API server as a cluster admin.
	Config *rest.Config
	// Dir holds the kubeconfig, logs and the repo-server's clones; the caller
	// owns it (a test's t.TempDir()).
	Dir string
	// TLSCerts are server certificates to trust, by host name, as
	// argocd-tls-certs-cm holds them; written where the repo-server reads
	// them (in a pod that ConfigMap is mounted there).
	TLSCerts map[string][]byte
	// Reconciliation is argocd-cm's timeout.reconciliation: how often the
	// controller compares every Application with git and how long the
	// repo-server caches what a branch points to. Argo CD's default is 120 s
	// (180 s for the branch cache); a test wants seconds. Default 10 s.
	Reconciliation time.Duration
	// Settings are argocd-cmd-params-cm's (ReadSettings), passed as the
	// install manifests pass them. Without any, the controller persists
	// resource health anyway (--persist-resource-health), so a test can say
	// which resources are not Healthy.
	Settings Settings
}

// ArgoCD is a running Redis, repo-server and application controller.
type ArgoCD struct {
	RedisAddr, RepoServerAddr string
	procs                     []*proc.Process
}

// Start launches Redis, argocd-repo-server and argocd-application-controller
// and returns once each listens. The settings objects in the argocd namespace
// (Bootstrap) must exist before. On error nothing is left running.
func Start(ctx context.Context, opts Options) (_ *ArgoCD, err error) {
	a := &ArgoCD{}
	defer func() {
		if err != nil {
			a.Stop()
		}
	}()
	kubeconfig := filepath.Join(opts.Dir, "kubeconfig")
	// The controller's own client and, through ARGOCD_FAKE_IN_CLUSTER, the
	// in-cluster destination use it; its context defaults to argocd.
	if err := cluster.WriteKubeconfig(kubeconfig, opts.Config, Namespace); err != nil {
		return nil, err
	}
	for _, d := range []string{"home", "tmp", "tls", "ssh", "gpg"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	for host, pem := range opts.TLSCerts {
		if err := os.WriteFile(filepath.Join(opts.Dir, "tls", host), pem, 0o644); err != nil {
			return nil, err
		}
	}
	// kustomize and Argo CD's scripts are found on PATH by the repo-server,
	// as in Argo CD's image.
	binDir := filepath.Join(opts.Dir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink(opts.Binaries.Kustomize, filepath.Join(binDir, "kustomize")); err != nil {
		return nil, err
	}
	resync := opts.Reconciliation
	if resync == 0 {
		resync = 10 * time.Second
	}
	env := []string{
		// As Argo CD's manifests pass argocd-cm's timeout.reconciliation(.jitter)
		// to both components.
		"ARGOCD_RECONCILIATION_TIMEOUT=" + resync.String(),
		"ARGOCD_RECONCILIATION_JITTER=0s",
		"PATH=" + binDir + string(os.PathListSeparator) + opts.Binaries.Scripts + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + filepath.Join(opts.Dir, "home"),
		"TMPDIR=" + filepath.Join(opts.Dir, "tmp"), // the repo-server clones under it
		"KUBECONFIG=" + kubeconfig,
		// Argo CD's own switch for running its components outside a pod (its
		// Procfile sets it for local development): the in-cluster destination
		// https://kubernetes.default.svc is reached through KUBECONFIG instead
		// of a service-account token, so the rendered Applications stay as
		// they are.
		"ARGOCD_FAKE_IN_CLUSTER=true",
		"ARGOCD_TLS_DATA_PATH=" + filepath.Join(opts.Dir, "tls"),
		"ARGOCD_SSH_DATA_PATH=" + filepath.Join(opts.Dir, "ssh"),
		"ARGOCD_GNUPGHOME=" + filepath.Join(opts.Dir, "gpg"),
		"ARGOCD_GPG_ENABLED=false", // no signed commits to verify; needs no gpg
		// The controller's shard comes from its StatefulSet pod name; one
		// replica, shard 0.
		"HOSTNAME=argocd-application-controller-0",
		"ARGOCD_CONTROLLER_REPLICAS=1",
		"GIT_CONFIG_NOSYSTEM=1",
	}
	env = append(env, opts.Settings.env()...)

	for attempt := 1; ; attempt++ {
		err = a.startAll(ctx, opts, env, kubeconfig)
		if err == nil || attempt == 3 || !errors.Is(err, errAddrInUse) {
			break
		}
		a.Stop()
		a.procs = nil
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

var errAddrInUse = errors.New("address already in use")

func (a *ArgoCD) startAll(ctx context.Context, opts Options, env []string, kubeconfig string) error {
	ports, err := proc.FreePorts(4)
	if err != nil {
		return err
	}
	redis := os.Getenv(EnvRedis)
	if redis == "" {
		redis = "redis-server"
	}
	a.RedisAddr = "127.0.0.1:" + strconv.Itoa(ports[0])
	if err := a.start(ctx, "redis-server", redis, filepath.Join(opts.Dir, "redis.log"), nil, a.RedisAddr,
		"--port", strconv.Itoa(ports[0]), "--bind", "127.0.0.1",
		// A cache only: no snapshots, no append-only file.
		"--save", "", "--appendonly", "no", "--dir", filepath.Join(opts.Dir, "tmp"),
	); err != nil {
		return err
	}

	a.RepoServerAddr = "127.0.0.1:" + strconv.Itoa(ports[1])
	if err := a.start(ctx, "argocd-repo-server", opts.Binaries.ArgoCD, filepath.Join(opts.Dir, "repo-server.log"),
		append(env, "ARGOCD_BINARY_NAME=argocd-repo-server"), a.RepoServerAddr,
		"--address", "127.0.0.1",
		"--port", strconv.Itoa(ports[1]),
		"--metrics-address", "127.0.0.1",
		"--metrics-port", strconv.Itoa(ports[2]),
		"--redis", a.RedisAddr,
		// Plain gRPC on loopback; the controller is told the same. No mTLS
		// either (its default CA path is a pod's mounted Secret).
		"--disable-tls",
		"--client-ca-path=",
		"--loglevel", "info",
	); err != nil {
		return err
	}

	metrics := "127.0.0.1:" + strconv.Itoa(ports[3])
	args := []string{
		"--kubeconfig", kubeconfig,
		"--namespace", Namespace,
		"--redis", a.RedisAddr,
		"--repo-server", a.RepoServerAddr,
		"--repo-server-plaintext",
		"--metrics-port", strconv.Itoa(ports[3]),
		"--loglevel", "info",
	}
	if opts.Settings.Params == nil {
		// Keep each resource's health in the Application's status (off by
		// default since v3), so a test can say which resources are not Healthy.
		args = append(args, "--persist-resource-health")
	}
	return a.start(ctx, "argocd-application-controller", opts.Binaries.ArgoCD, filepath.Join(opts.Dir, "application-controller.log"),
		append(env, "ARGOCD_BINARY_NAME=argocd-application-controller"), metrics, args...)
}

// start runs one component and waits until it listens on addr.
func (a *ArgoCD) start(ctx context.Context, name, bin, logPath string, env []string, addr string, args ...string) error {
	p, err := proc.Start(name, bin, logPath, env, args...)
	if err != nil {
		return err
	}
	a.procs = append(a.procs, p)
	if err := p.WaitTCP(ctx, addr, 2*time.Minute); err != nil {
		if strings.Contains(p.Tail(50), "address already in use") {
			return fmt.Errorf("%s: %w", name, errAddrInUse)
		}
		return err
	}
	return nil
}

// Stop terminates every process, last started first, and waits for them.
// Safe on a partly started ArgoCD and when called twice.
func (a *ArgoCD) Stop() {
	for i := len(a.procs) - 1; i >= 0; i-- {
		a.procs[i].Stop(10 * time.Second)
	}
}

// Pids are the running processes' ids (each also its process group's id).
func (a *ArgoCD) Pids() map[string]int {
	m := map[string]int{}
	for _, p := range a.procs {
		m[p.Name] = p.Pid()
	}
	return m
}

// Exited names a component that is no longer running, if any.
func (a *ArgoCD) Exited() error {
	for _, p := range a.procs {
		if p.Exited() {
			return fmt.Errorf("%s exited: %v\n%s", p.Name, p.Err(), p.Tail(40))
		}
	}
	return nil
}

// NotLoopback lists, per running component, the TCP sockets it listens on
// beyond the loopback interface: every one must bind 127.0.0.1.
func (a *ArgoCD) NotLoopback() (map[string][]string, error) {
	out := map[string][]string{}
	for _, p := range a.procs {
		if p.Exited() {
			continue
		}
		addrs, err := proc.NotLoopback(p.Pid())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		if len(addrs) > 0 {
			out[p.Name] = addrs
		}
	}
	return out, nil
}

// MaxRSS reports each component's peak resident memory so far, in bytes.
func (a *ArgoCD) MaxRSS() map[string]int64 {
	m := map[string]int64{}
	for _, p := range a.procs {
		m[p.Name] = p.MaxRSS()
	}
	return m
}

// Logs returns the last lines of every component's log, for failure reports.
func (a *ArgoCD) Logs(lines int) string {
	var b strings.Builder
	for _, p := range a.procs {
		fmt.Fprintf(&b, "--- %s (last %d lines of %s)\n%s\n", p.Name, lines, p.LogPath, p.Tail(lines))
	}
	return b.String()
}
