// Package cluster runs a throwaway Kubernetes control plane: one etcd and one
// kube-apiserver on 127.0.0.1, free ports, a temporary data dir, self-signed
// certificates, token authentication and AlwaysAllow authorization. There is
// no controller-manager or scheduler: the tests need the API server's own
// validation, defaulting and admission, nothing that reconciles.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/ecommerce-platform/gitops/e2e/internal/proc"
)

// Options say which binaries to run and where to keep state.
type Options struct {
	KubeAPIServer string
	Etcd          string
	// Dir holds certificates, etcd's data and both processes' logs; the caller
	// owns it (a test's t.TempDir()).
	Dir string
	// ReadyTimeout bounds the wait for /readyz; default 2 minutes (the server
	// is usually ready in about 5 s, but the machine may be busy).
	ReadyTimeout time.Duration
	// APIServerArgs are added to kube-apiserver's flags (e.g. the twin's
	// shortened default tolerations).
	APIServerArgs []string
}

// Cluster is a running control plane. Stop it exactly once.
type Cluster struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	URL    string
	// FrontProxyCA (PEM) signs the client certificate the API server's
	// aggregator presents to aggregated API servers (CN
	// FrontProxyClientName); such a server authenticates the aggregator by
	// it and reads the user from the X-Remote-User/-Group headers.
	FrontProxyCA []byte

	dir       string
	etcd      *process
	apiserver *process
	// controllerManager runs only when StartControllerManager asks for it.
	controllerManager *process
}

// Start launches etcd, then kube-apiserver, and returns once /readyz answers
// ok. On error nothing is left running.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 2 * time.Minute
	}
	c := &Cluster{dir: opts.Dir}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	pki, err := writePKI(filepath.Join(opts.Dir, "pki"))
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	// Ports are picked free and released before the servers bind them; another
	// process could take one in between, so a failed start retries with new ports.
	for attempt := 1; ; attempt++ {
		err = c.startProcesses(ctx, opts, pki)
		if err == nil || attempt == 3 || !errors.Is(err, errAddrInUse) {
			break
		}
		c.Stop()
	}
	if err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, opts.ReadyTimeout); err != nil {
		return nil, err
	}
	return c, nil
}

var errAddrInUse = errors.New("address already in use")

func (c *Cluster) startProcesses(ctx context.Context, opts Options, pki pkiFiles) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	dataDir := filepath.Join(opts.Dir, "etcd")
	if err := os.RemoveAll(dataDir); err != nil {
		return err
	}
	c.etcd, err = startProcess(opts.Etcd, filepath.Join(opts.Dir, "etcd.log"),
		"--name=e2e",
		"--data-dir="+dataDir,
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=e2e="+peerURL,
		// A throwaway store: durability buys nothing and fsync is slow on a
		// busy disk.
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}

	c.URL = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	c.apiserver, err = startProcessWith(opts.APIServerArgs, opts.KubeAPIServer, filepath.Join(opts.Dir, "kube-apiserver.log"),
		"--etcd-servers="+clientURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		// No kubernetes Service endpoints to maintain: nothing routes to us.
		"--endpoint-reconciler-type=none",
		"--tls-cert-file="+pki.serverCert,
		"--tls-private-key-file="+pki.serverKey,
		"--client-ca-file="+pki.caCert,
		"--token-auth-file="+pki.tokens,
		"--authorization-mode=AlwaysAllow",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.saKey,
		"--service-account-signing-key-file="+pki.saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		// The aggregator (kube-aggregator, in kube-apiserver) proxies an
		// APIService's group to its Service with this client certificate
		// and the user in request headers, as kubeadm configures it.
		"--requestheader-client-ca-file="+pki.frontProxyCA,
		"--requestheader-allowed-names="+FrontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+pki.proxyClientCert,
		"--proxy-client-key-file="+pki.proxyClientKey,
		"--v=1",
	)
	if err != nil {
		return err
	}
	c.Config = &rest.Config{
		Host:            c.URL,
		BearerToken:     pki.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: pki.caPEM},
		// The tests apply a few hundred objects in a row; client-go's default
		// 5 qps would make that take a minute for no reason.
		QPS:   200,
		Burst: 400,
	}
	c.FrontProxyCA = pki.frontProxyCAPEM
	return nil
}

// waitReady polls /readyz until it answers ok, a process exits, or time runs out.
func (c *Cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	transport, err := rest.TransportFor(c.Config)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	var last string
	for {
		for _, p := range []*process{c.etcd, c.apiserver} {
			if p.Exited() {
				return fmt.Errorf("%s exited before the API server was ready: %v\n%s", p.Name, p.Err(), p.Tail(30))
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			body := make([]byte, 4096)
			n, _ := resp.Body.Read(body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body[:n])
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("API server not ready after %s (last: %s)\n%s", timeout, last, c.apiserver.Tail(30))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// MaxRSS reports the peak resident memory of each process so far, in bytes
// (from /proc, so Linux only; zero elsewhere).
func (c *Cluster) MaxRSS() (apiserver, etcd int64) {
	return c.apiserver.MaxRSS(), c.etcd.MaxRSS()
}

// Logs returns the last lines of both processes' logs, for failure reports.
func (c *Cluster) Logs(lines int) string {
	var b strings.Builder
	for _, p := range []*process{c.etcd, c.apiserver, c.controllerManager} {
		if p != nil {
			fmt.Fprintf(&b, "--- %s (last %d lines of %s)\n%s\n", p.Name, lines, p.LogPath, p.Tail(lines))
		}
	}
	return b.String()
}

// Stop terminates kube-controller-manager if started, kube-apiserver, then
// etcd (each process group: SIGTERM, then SIGKILL after 10 s), and waits for
// them. Safe on a partly started cluster and when called twice.
func (c *Cluster) Stop() {
	for _, p := range []*process{c.controllerManager, c.apiserver, c.etcd} {
		if p != nil {
			p.Stop(10 * time.Second)
		}
	}
}

// process is a child in its own process group (internal/proc).
type process = proc.Process

func startProcess(bin, logPath string, args ...string) (*process, error) {
	p, err := proc.Start(filepath.Base(bin), bin, logPath, nil, args...)
	if err != nil {
		return nil, err
	}
	// etcd and kube-apiserver fail fast on a taken port; catch that here so
	// Start can retry with other ports.
	select {
	case <-p.Done():
		if bytes.Contains(readFile(logPath), []byte("address already in use")) {
			return nil, fmt.Errorf("%s: %w", p.Name, errAddrInUse)
		}
		return nil, fmt.Errorf("%s exited at start: %v\n%s", p.Name, p.Err(), p.Tail(30))
	case <-time.After(300 * time.Millisecond):
	}
	return p, nil
}

// startProcessWith is startProcess with extra flags after args.
func startProcessWith(extra []string, bin, logPath string, args ...string) (*process, error) {
	return startProcess(bin, logPath, append(args, extra...)...)
}

func readFile(path string) []byte {
	data, _ := os.ReadFile(path)
	return data
}

func freePorts(n int) ([]int, error) { return proc.FreePorts(n) }

// Processes are the running processes of the control plane (etcd,
// kube-apiserver, kube-controller-manager once started), by name.
func (c *Cluster) Processes() map[string]*proc.Process {
	m := map[string]*proc.Process{}
	for _, p := range []*process{c.etcd, c.apiserver, c.controllerManager} {
		if p != nil && !p.Exited() {
			m[p.Name] = p
		}
	}
	return m
}
