package twin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	envedit "github.com/ecommerce-platform/gitops/internal/testrepo"

	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
	"github.com/ecommerce-platform/gitops/e2e/internal/twin"
)

// TestDRFailover: the standby env comes up in its own twin running every
// service and no database. Then the failover commit of the runbook (the
// shop's writer moved to the standby and the backup's name, in one commit)
// is rendered from a copy of the inputs and synced: it renders the restore,
// nothing the restore brings back exists before it runs, the database pod
// waits for its claim, and once the restore stand-in has brought back the
// primary's backed-up claims, the database runs on exactly those claims
// (none created empty), its pods spread as their constraints say.
func TestDRFailover(t *testing.T) {
	const standby, primary = "dr", "prod"
	const backupName = "shop-cloudsnap-2026-12-01-0400"
	p := startEnv(t, standby)
	p.waitUp(t, 5*time.Minute)
	p.checkWorkloads(t)
	p.checkRolloutServices(t)
	sts, err := p.cs.AppsV1().StatefulSets("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts.Items {
		t.Errorf("the standby runs StatefulSet %s/%s before a failover: it must run no database", s.Namespace, s.Name)
	}
	p.checkNoClaims(t, "before a failover")

	// The failover commit of the runbook, committed to the repository Argo
	// CD syncs. Argo CD is not waited for as a whole: the database's
	// Application stays Progressing until the restore has run, and with the
	// Application health check the root app's later waves wait for it.
	root := testrepo.Root(t)
	writer := envedit.Find(t, filepath.Join(p.repo.Dir, "envs", "shared", "dr.cue"), "writer")
	envedit.Set(t, writer, strconv.Quote(standby))
	// A file of its own in the standby's package: CUE unifies it with the
	// env, as the runbook's edit of envs/dr/platform.cue would.
	failover := "package env\n\nplatform: dr: restore: backupName: " + strconv.Quote(backupName) + "\n"
	if err := os.WriteFile(filepath.Join(p.repo.Dir, "envs", standby, "failover.cue"), []byte(failover), 0o644); err != nil {
		t.Fatal(err)
	}
	head := p.repo.Commit(t, "fail over to "+standby+" from "+backupName)
	rendered := p.envDir

	restore := renderedRestore(t, rendered)
	if got, _, _ := unstructured.NestedString(restore.Object, "spec", "backupName"); got != backupName {
		t.Fatalf("ApplicationRestore %s restores backup %q, want %q", restore.GetName(), got, backupName)
	}
	targets, err := twin.RestoreTargets(restore)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) == 0 {
		t.Fatalf("ApplicationRestore %s names no claim to restore", restore.GetName())
	}
	t.Logf("the failover commit %.8s renders ApplicationRestore %s/%s of %s: claims %v", head, restore.GetNamespace(), restore.GetName(), backupName, targets)
	p.eventually(t, 3*time.Minute, "Argo CD applying the ApplicationRestore", func() (bool, string) {
		_, err := p.tw.Dyn.Resource(twin.ApplicationRestoreGVR).Namespace(restore.GetNamespace()).Get(t.Context(), restore.GetName(), metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	// Nothing the restore brings back exists, and the database pods wait
	// for their claims instead of starting on empty ones.
	for _, c := range targets {
		p.eventually(t, 2*time.Minute, "a pod waiting for claim "+c, func() (bool, string) {
			return p.podWaitsForClaim(t, c)
		})
	}
	p.checkNoClaims(t, "after the failover sync, before the restore ran")

	// The restore stand-in restores the primary's backup: the claims of the
	// primary's render (what its backup schedule backs up).
	backup, err := twin.ReadObjects(filepath.Join(root, "rendered", primary))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := twin.RunRestoreStandIn(ctx, p.tw.Dyn, p.cs, backup, func(format string, args ...any) { t.Logf(format, args...) })
	t.Cleanup(func() { stop(); <-done })
	p.eventually(t, time.Minute, "the restore Final", func() (bool, string) {
		r := p.get(t, twin.ApplicationRestoreGVR, restore.GetNamespace(), restore.GetName())
		stage, _, _ := unstructured.NestedString(r.Object, "status", "stage")
		status, _, _ := unstructured.NestedString(r.Object, "status", "status")
		reason, _, _ := unstructured.NestedString(r.Object, "status", "reason")
		if stage == "Final" && status != "Successful" {
			t.Fatalf("ApplicationRestore %s: %s: %s", r.GetName(), status, reason)
		}
		return stage == "Final", stage + " " + status + " " + reason
	})
	p.waitApplications(t, 5*time.Minute, true)
	p.waitUp(t, 5*time.Minute)
	p.checkWorkloads(t)
	// The restored database's credentials are the primary's (dataSecretsPrefix):
	// the standby's External Secrets role must read them.
	p.waitSecretsSynced(t, 3*time.Minute)
	p.checkSeededValues(t)
	p.checkSecretReferences(t)

	// The database runs on the restored claims, and on nothing else.
	claims, err := p.cs.CoreV1().PersistentVolumeClaims("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	restored := map[string]bool{}
	for _, c := range claims.Items {
		id := c.Namespace + "/" + c.Name
		if c.Annotations[twin.RestoredFrom] != backupName {
			t.Errorf("claim %s was not restored from %s: the database would start on an empty volume", id, backupName)
			continue
		}
		restored[id] = true
	}
	for _, c := range targets {
		if !restored[c] {
			t.Errorf("claim %s named by the restore was not restored: the primary's backup holds no such claim", c)
		}
	}
	mounted := 0
	zones := p.nodeZones(t)
	pods, err := p.cs.CoreV1().Pods("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range pods.Items {
		for _, v := range pod.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			id := pod.Namespace + "/" + v.PersistentVolumeClaim.ClaimName
			if !restored[id] {
				t.Errorf("pod %s mounts claim %s, which the restore did not bring back", pod.Name, id)
				continue
			}
			mounted++
			t.Logf("pod %s (%s) runs on restored claim %s", pod.Name, zones[pod.Spec.NodeName], id)
		}
	}
	if mounted == 0 {
		t.Error("no pod mounts a restored claim after the failover")
	}
}

// checkNoClaims: the standby holds no claim: a failover restores the
// primary's there, and Stork skips one that exists.
func (p *platform) checkNoClaims(t *testing.T, when string) {
	t.Helper()
	claims, err := p.cs.CoreV1().PersistentVolumeClaims("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range claims.Items {
		t.Errorf("claim %s/%s exists in the standby %s: the restore would skip it (Retain)", c.Namespace, c.Name, when)
	}
}

// podWaitsForClaim: a pod that mounts claim (ns/name) is Pending, and the
// claim does not exist.
func (p *platform) podWaitsForClaim(t *testing.T, claim string) (bool, string) {
	ns, name, _ := strings.Cut(claim, "/")
	if _, err := p.cs.CoreV1().PersistentVolumeClaims(ns).Get(t.Context(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("claim %s exists before the restore ran (err %v): the restore would skip it", claim, err)
	}
	pods, err := p.cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		return false, err.Error()
	}
	for _, pod := range pods.Items {
		for _, v := range pod.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name {
				if pod.Status.Phase != corev1.PodPending {
					t.Fatalf("pod %s is %s without its claim %s", pod.Name, pod.Status.Phase, claim)
				}
				return true, ""
			}
		}
	}
	return false, "no pod mounts it yet"
}

// renderedRestore is the one ApplicationRestore of an env's render.
func renderedRestore(t *testing.T, envDir string) *unstructured.Unstructured {
	t.Helper()
	objs, err := twin.ReadObjects(envDir)
	if err != nil {
		t.Fatal(err)
	}
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "ApplicationRestore" {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s renders %d ApplicationRestores, want 1", envDir, len(found))
	}
	return found[0]
}
