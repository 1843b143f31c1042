package twin_test

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ecommerce-platform/gitops/e2e/internal/argocd"
	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
	"github.com/ecommerce-platform/gitops/e2e/internal/proc"
	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
	"github.com/ecommerce-platform/gitops/e2e/internal/twin"
)

// resync is Argo CD's reconciliation period in the twin (120 s by
// default): how long a pushed commit may wait before the controller sees it
// without a webhook. The one setting the twin changes in what the values
// file configures.
const resync = 10 * time.Second

// runAWSStandIns starts the stand-ins for the controllers that act on AWS,
// which no test can run: Crossplane's AWS provider, the ACK QuickSight
// controller and the AWS Load Balancer Controller (internal/twin; each
// reports its objects ready and does nothing else). With the Application
// health check in argocd-cm, the root app's waves wait on those objects.
func (p *platform) runAWSStandIns(t *testing.T, upstream []*unstructured.Unstructured) {
	t.Helper()
	region, err := testrepo.EnvString(p.repo.Dir, p.env, "platform.region")
	if err != nil {
		t.Fatal(err)
	}
	logf := func(format string, args ...any) { t.Logf(format, args...) }
	p.standInsDone = append(p.standInsDone,
		twin.RunProviderStandIn(p.standIns, p.tw.Dyn, twin.ManagedResourceGVRs(upstream), logf),
		twin.RunACKStandIn(p.standIns, p.tw.Dyn, twin.ACKResourceGVRs(upstream), logf),
		twin.RunLoadBalancerStandIn(p.standIns, p.cs, region, logf),
	)
}

// startArgoCD starts Argo CD's repo-server and application controller on
// the twin, configured as the repository's values file configures it in
// the management cluster (argocd-cm with the Application health check,
// argocd-cmd-params-cm), reconciling every resync.
func (p *platform) startArgoCD(t *testing.T, root string) {
	t.Helper()
	ctx := t.Context()
	bins, err := binaries.EnsureArgoCD(ctx, binaries.Options{Log: testWriter{t}})
	if err != nil {
		t.Fatalf("Argo CD and kustomize: %v", err)
	}
	settings, err := argocd.ReadSettings(filepath.Join(root, argocd.ValuesFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := settings.CM["resource.customizations.health.argoproj.io_Application"]; !ok {
		t.Fatalf("%s enables no Application health check: the root app's waves would order nothing", argocd.ValuesFile)
	}
	certs := map[string][]byte{p.repo.Server.Host: p.repo.Server.CertPEM}
	if err := argocd.Bootstrap(ctx, p.tw.Config, resync, certs, settings.CM); err != nil {
		t.Fatalf("Argo CD settings: %v", err)
	}
	p.argo, err = argocd.Start(ctx, argocd.Options{
		Binaries: bins, Config: p.tw.Config, Dir: filepath.Join(t.TempDir(), "argocd"),
		Reconciliation: resync, TLSCerts: certs, Settings: settings,
	})
	if err != nil {
		t.Fatalf("start Argo CD: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(p.argo.Logs(40))
		}
		rss := p.argo.MaxRSS()
		pids := p.argo.Pids()
		p.argo.Stop()
		t.Logf("peak memory of Argo CD: %s", twin.FormatRSS(rss))
		// Each component ran in its own process group: nothing of it, nor
		// anything it spawned (git, kustomize), may survive.
		for name, pid := range pids {
			if err := proc.GroupGone(pid); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

// waitApplications waits until every Application of the render syncing a
// folder of the repository exists, is Synced to the repository's HEAD and,
// if healthy, Healthy, and no Application exists that git does not have.
// Chart Applications (upstream Helm charts, unreachable offline) must
// exist; the twin runs their controllers itself or as stand-ins.
func (p *platform) waitApplications(t *testing.T, timeout time.Duration, healthy bool) {
	t.Helper()
	head := p.repo.Head(t)
	synced, charts, err := argocd.RenderedApplications(p.envDir)
	if err != nil {
		t.Fatal(err)
	}
	var last []string
	root := p.repo.RootApplication(t).GetName()
	logged := map[string]bool{}
	deadline := time.Now().Add(timeout)
	for {
		if err := p.argo.Exited(); err != nil {
			t.Fatal(err)
		}
		if err := p.tw.Healthy(); err != nil {
			t.Fatal(err)
		}
		apps, err := argocd.Apps(t.Context(), p.tw.Dyn)
		if err != nil {
			t.Fatal(err)
		}
		pending := argocd.Pending(apps, synced, charts, head, healthy)
		if why := p.rootOperationDone(t, apps, ""); why != "" {
			pending = append(pending, why)
		}
		// The root app's folder does not change with a release; when it
		// compared what Argo CD writes on its children (/operation) it was
		// OutOfSync on every child sync (topology.child-operation). Say on
		// what it is OutOfSync (not at bring-up, its children Missing).
		for _, line := range pending {
			_, diff, found := strings.Cut(line, "; OutOfSync: ")
			if strings.HasPrefix(line, root+": OutOfSync") && found && !strings.Contains(line, " Missing") && !logged[diff] {
				logged[diff] = true
				t.Logf("root app OutOfSync at %.8s on %s", head, diff)
			}
		}
		if len(pending) == 0 {
			return
		}
		last = pending
		if time.Now().After(deadline) {
			want := "Synced to " + head[:8]
			if healthy {
				want += " and Healthy"
			}
			t.Fatalf("after %s, %d Applications are not %s:\n  %s", timeout, len(last), want, strings.Join(last, "\n  "))
		}
		time.Sleep(2 * time.Second)
	}
}

// rootOperationDone says why the root app of apps' last operation is not
// done: running (a sync waiting for health holds every later commit to the
// root's folder) or failed. want, if not empty, is the revision it must have
// synced. Empty when done.
func (p *platform) rootOperationDone(t *testing.T, apps map[string]*unstructured.Unstructured, want string) string {
	t.Helper()
	root := p.repo.RootApplication(t).GetName()
	app, ok := apps[root]
	if !ok {
		return root + ": missing"
	}
	st := argocd.ReadAppState(app)
	switch {
	case st.OpPhase != "" && st.OpPhase != "Succeeded":
		return fmt.Sprintf("%s: operation %s: %s", root, st.OpPhase, st.OpMessage)
	case want != "" && st.OpRevision != want:
		return fmt.Sprintf("%s: last operation synced %.8s, want %.8s", root, st.OpRevision, want)
	}
	return ""
}

// commit edits the repository Argo CD syncs (edit changes files under its
// root, as a PR would), renders and commits it, and waits until Argo CD
// has synced every Application to it (and, if healthy, all are Healthy: a
// blue-green release is Suspended until it is promoted).
func (p *platform) commit(t *testing.T, msg string, healthy bool, edit func(dir string)) string {
	t.Helper()
	edit(p.repo.Dir)
	head := p.repo.Commit(t, msg)
	start := time.Now()
	p.waitApplications(t, 5*time.Minute, healthy)
	t.Logf("commit %.8s (%s): every Application Synced %s after it", head, msg, time.Since(start).Round(time.Second))
	return head
}

// rendered are the objects of the env's current render in the repository
// Argo CD syncs.
func (p *platform) rendered(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := twin.ReadObjects(p.envDir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// renderedFile is the file of the env's render holding the object.
func (p *platform) renderedFile(t *testing.T, kind, ns, name string) string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(p.envDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || d.Name() == "kustomization.yaml" {
			return err
		}
		o := argocd.ReadYAML(t, path)
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("%d rendered files hold %s %s/%s: %v", len(found), kind, ns, name, found)
	}
	return found[0]
}

// deschedulerInterval is the descheduler's loop in the twin (the render's
// deschedulingInterval is minutes): a scale-down's skew is undone within
// seconds.
const deschedulerInterval = 10 * time.Second

// startDescheduler runs the descheduler the render installs (its chart
// Application's policy and image) on the twin; none if the render has no
// such Application, so a scenario that needs it fails.
func (p *platform) startDescheduler(t *testing.T, bin string) {
	t.Helper()
	var app *unstructured.Unstructured
	for _, o := range p.rendered(t) {
		if chart, _, _ := unstructured.NestedString(o.Object, "spec", "source", "chart"); o.GetKind() == "Application" && chart == "descheduler" {
			app = o
		}
	}
	if app == nil {
		t.Logf("the render installs no descheduler: nothing restores the zone spread after a scale-down")
		return
	}
	values, _, _ := unstructured.NestedMap(app.Object, "spec", "source", "helm", "valuesObject")
	if tag, _, _ := unstructured.NestedString(values, "image", "tag"); tag != binaries.DeschedulerVersion {
		t.Fatalf("Application %s runs descheduler %q, the twin builds %s: keep #DeschedulerImage and binaries.DeschedulerVersion the same", app.GetName(), tag, binaries.DeschedulerVersion)
	}
	policy, _, _ := unstructured.NestedMap(values, "deschedulerPolicy")
	apiVersion, _, _ := unstructured.NestedString(values, "deschedulerPolicyAPIVersion")
	if len(policy) == 0 || apiVersion == "" {
		t.Fatalf("Application %s gives the descheduler no deschedulerPolicy or deschedulerPolicyAPIVersion", app.GetName())
	}
	if err := p.tw.StartDescheduler(t.Context(), twin.DeschedulerOptions{Bin: bin, Policy: policy, APIVersion: apiVersion, Interval: deschedulerInterval}); err != nil {
		t.Fatalf("descheduler: %v", err)
	}
	t.Logf("descheduler %s started with the policy of %s, every %s", binaries.DeschedulerVersion, app.GetName(), deschedulerInterval)
}
