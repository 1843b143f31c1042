// The end-to-end tests apply rendered/ to a real kube-apiserver (built from
// the module proxy by internal/binaries, cached after the first run), the way
// Argo CD syncs it. Offline validation is necessary, not sufficient: the API
// server's own defaulting, CEL rules and admission are the truth.
//
//	cd e2e && go test -count=1 -timeout 60m ./...
//
// Environment: E2E_CRDS (upstream CRD folder, default ../shared/crds from the
// repository root); E2E_KUBE_APISERVER, E2E_ETCD or KUBEBUILDER_ASSETS (your
// own binaries); E2E_CACHE_DIR (where built binaries are cached).
package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecommerce-platform/gitops/e2e/internal/argosync"
	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
	"github.com/ecommerce-platform/gitops/e2e/internal/cluster"
	"github.com/ecommerce-platform/gitops/e2e/internal/crds"
	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
	"k8s.io/client-go/discovery"
)

const (
	// fieldManager owns every field the tests apply, as Argo CD's
	// "argocd-controller" would in a real cluster.
	fieldManager = "argocd-e2e"
	// bootstrapFolder is the app-of-apps folder of each rendered env: the one
	// a person applies once, after which Argo CD syncs the rest.
	bootstrapFolder = "argocd"
	// argoNamespace is where Argo CD's Applications live; Argo CD's install
	// creates it, so the tests do.
	argoNamespace = "argocd"
)

// bins holds kube-apiserver and etcd per Kubernetes release: each rendered
// env runs against the release its cluster runs, the harness's own tests
// against binaries.KubernetesVersion.
var bins = map[string]binaries.Paths{}

// TestMain finds or builds the binaries once for every test: a cold build
// takes 10-20 minutes, so its progress goes straight to stderr.
func TestMain(m *testing.M) {
	if err := ensureBinaries(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func ensureBinaries() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := testrepo.FindRoot()
	if err != nil {
		return err
	}
	versions := []string{binaries.KubernetesVersion}
	entries, err := os.ReadDir(filepath.Join(root, "rendered"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(root, "rendered", e.Name(), bootstrapFolder)); err != nil {
			continue
		}
		v, err := testrepo.KubernetesVersion(root, e.Name())
		if err != nil {
			return err
		}
		versions = append(versions, v)
	}
	for _, v := range versions {
		if _, ok := bins[v]; ok {
			continue
		}
		p, err := binaries.Ensure(ctx, binaries.Options{Log: os.Stderr, KubernetesVersion: v})
		if err != nil {
			return err
		}
		bins[v] = p
	}
	return nil
}

// serverVersion is the release the API server reports (/version).
func serverVersion(c *cluster.Cluster) (string, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		return "", err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return "", err
	}
	return info.GitVersion, nil
}

// envVersion is the Kubernetes release rendered/<env> declares.
func envVersion(t *testing.T, root, env string) string {
	t.Helper()
	v, err := testrepo.KubernetesVersion(root, env)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// server is a fresh control plane with every CRD the platform uses.
type server struct {
	*cluster.Cluster
	applier *argosync.Applier
}

// newServer starts etcd and kube-apiserver (Kubernetes release version) for
// this test only, installs the CRDs and stops both processes when the test
// ends, failed or not.
func newServer(t *testing.T, version string) *server {
	t.Helper()
	ctx := t.Context()
	start := time.Now()
	upstream, err := crds.Load(testrepo.CRDs(t))
	if err != nil {
		t.Fatalf("upstream CRDs (set E2E_CRDS to their folder): %v", err)
	}
	all := crds.WithSchemaless(upstream)

	b, ok := bins[version]
	if !ok {
		t.Fatalf("no binaries for Kubernetes %s (TestMain builds the releases rendered/ declares)", version)
	}
	c, err := cluster.Start(ctx, cluster.Options{KubeAPIServer: b.KubeAPIServer, Etcd: b.Etcd, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.Logs(40))
		}
		apiserverRSS, etcdRSS := c.MaxRSS()
		c.Stop()
		t.Logf("peak memory: kube-apiserver %d MiB, etcd %d MiB", apiserverRSS>>20, etcdRSS>>20)
	})
	ready := time.Since(start)

	applier, err := argosync.NewApplier(c.Config, fieldManager)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := serverVersion(c); err != nil || got != version {
		t.Fatalf("the API server reports %q (%v), want Kubernetes %s", got, err, version)
	}
	if err := crds.Install(ctx, applier.Client(), fieldManager, all, 3*time.Minute); err != nil {
		t.Fatalf("install CRDs: %v", err)
	}
	applier.Refresh()
	if err := applier.EnsureNamespace(ctx, argoNamespace); err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane ready in %s; %d CRDs (%d upstream) established in %s",
		ready.Round(time.Millisecond), len(all), len(upstream), (time.Since(start) - ready).Round(time.Millisecond))
	return &server{Cluster: c, applier: applier}
}

// renderedEnvs lists rendered/<env> folders that have a bootstrap folder.
func renderedEnvs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(testrepo.Root(t), "rendered"))
	if err != nil {
		t.Fatal(err)
	}
	var envs []string
	for _, e := range entries {
		if fi, err := os.Stat(filepath.Join(testrepo.Root(t), "rendered", e.Name(), bootstrapFolder)); err == nil && fi.IsDir() {
			envs = append(envs, e.Name())
		}
	}
	if len(envs) == 0 {
		t.Fatalf("no rendered/<env>/%s folder under %s", bootstrapFolder, testrepo.Root(t))
	}
	return envs
}

// sync applies one env and fails the test on every rejection at once.
func (s *server) sync(t *testing.T, root, envDir string) *argosync.Report {
	t.Helper()
	start := time.Now()
	rep, err := s.applier.SyncEnv(t.Context(), root, envDir, bootstrapFolder)
	elapsed := time.Since(start)
	if err != nil {
		t.Errorf("sync %s: %v", envDir, err)
	}
	if n := len(rep.Rejections); n > 0 {
		t.Errorf("sync %s: the API server rejected %d of %d objects:\n%s", envDir, n, n+len(rep.Applied), rep.RejectionList())
	}
	var warnings []string
	for _, a := range rep.Applied {
		for _, w := range a.Warnings {
			warnings = append(warnings, a.ID+": "+w)
		}
	}
	if len(warnings) > 0 {
		t.Logf("server warnings:\n  %s", strings.Join(warnings, "\n  "))
	}
	t.Logf("synced %s: %d objects accepted from %d folders in %s", envDir, len(rep.Applied), len(rep.Folders), elapsed.Round(time.Millisecond))
	if len(rep.Charts) > 0 {
		var charts []string
		for app, chart := range rep.Charts {
			charts = append(charts, app+" ("+chart+")")
		}
		sort.Strings(charts)
		// Applied and accepted as Applications, never synced: the charts live
		// in chart repositories no test machine reaches (DESIGN.md section 8).
		t.Logf("not synced, upstream charts unreachable offline: %s", strings.Join(charts, ", "))
	}
	return rep
}

// TestRenderedEnvsApply applies each rendered env to its own fresh API server
// (both envs use namespace shop and cluster-scoped objects, so sharing one
// server would hide conflicts and collisions), then applies it again and
// checks nothing changed.
func TestRenderedEnvsApply(t *testing.T) {
	for _, env := range renderedEnvs(t) {
		t.Run(env, func(t *testing.T) {
			root := testrepo.Root(t)
			s := newServer(t, envVersion(t, root, env))
			envDir := filepath.Join(root, "rendered", env)
			first := s.sync(t, root, envDir)
			if t.Failed() {
				return
			}
			second := s.sync(t, root, envDir)
			changed, rewritten := compareSyncs(first, second)
			if len(changed) > 0 {
				t.Errorf("re-applying the same render changed %d objects (not idempotent):\n  %s", len(changed), strings.Join(changed, "\n  "))
			}
			if len(rewritten) > 0 {
				t.Logf("the server rewrote %d objects with identical content (new resourceVersion only):\n  %s", len(rewritten), strings.Join(rewritten, "\n  "))
			}
		})
	}
}

// compareSyncs lists the objects whose generation or stored content moved
// between two syncs (changed, with how), and apart from those the ones the
// server merely rewrote: same content, new resourceVersion.
func compareSyncs(before, after *argosync.Report) (changed, rewritten []string) {
	prev := before.ByID()
	for _, a := range after.Applied {
		b, ok := prev[a.ID]
		switch {
		case !ok:
			changed = append(changed, a.ID+": new")
		case a.Generation != b.Generation:
			changed = append(changed, fmt.Sprintf("%s: generation %d -> %d", a.ID, b.Generation, a.Generation))
		case !bytes.Equal(a.Live, b.Live):
			changed = append(changed, a.ID+": content changed, generation did not")
		case a.ResourceVersion != b.ResourceVersion:
			rewritten = append(rewritten, fmt.Sprintf("%s: resourceVersion %s -> %s", a.ID, b.ResourceVersion, a.ResourceVersion))
		}
	}
	return changed, rewritten
}
