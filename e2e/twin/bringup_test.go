package twin_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ecommerce-platform/gitops/e2e/internal/twin"
)

// notReconciled are the rendered kinds no real controller serves in the
// twin, and what stands in for it. None holds a wave of the root app: Argo
// CD has no health check for Stork's and Portworx's kinds, and the
// stand-ins report the others ready as their controllers would.
var notReconciled = map[string]string{
	"ApplicationBackupSchedule, ApplicationRestore, BackupLocation, SchedulePolicy, StorageCluster": "no Stork/Portworx (the volume provisioner and, in TestDRFailover, the restore are STAND-INs)",
	"Ingress": "the AWS Load Balancer Controller STAND-IN gives each its ALB's DNS name and nothing else (no AWS)",
	"Crossplane managed resources (*.aws.upbound.io)": "the Crossplane provider STAND-IN reports them Synced and Ready and nothing else (its module is refused by the proxy; no AWS)",
	"ACK resources (*.services.k8s.aws)":              "the ACK controller STAND-IN reports them Ready and nothing else (no AWS)",
	"chart Applications (addon-*, fluent-bit)":        "created by the app of apps, never synced: their chart repositories are unreachable offline; the twin runs Rollouts and External Secrets itself",
	"Argo CD cluster Secret of the workload cluster":  "a STAND-IN points it at the twin's API server, which also plays the management cluster",
}

// TestBringUp: the root app of rendered/prod applied by hand to an empty
// twin; Argo CD (configured as bootstrap/argocd-values.yaml says) brings up
// every Application Synced and Healthy, wave after wave (startEnv), and the
// platform comes up: every
// Rollout Healthy with its active Service on the stable ReplicaSet, every
// StatefulSet ready, every claim Bound, every HPA active and Healthy, every
// pod of every workload spread over the zones as its constraints say, every
// ExternalSecret synced by External Secrets from the twin's Secrets Manager
// with the seeded values, every Secret a pod references present.
func TestBringUp(t *testing.T) {
	p := startPlatform(t)
	start := time.Now()
	p.waitUp(t, 5*time.Minute)
	t.Logf("platform up %s after the sync", time.Since(start).Round(time.Second))

	p.checkWorkloads(t)
	p.checkRolloutServices(t)
	p.checkClaims(t)
	p.waitSecretsSynced(t, 3*time.Minute)
	p.checkSeededValues(t)
	p.checkSecretReferences(t)
	// The HPA controller serves the HPAs now (metrics stand-in): each
	// active at minReplicas and Healthy for Argo CD (TestAutoscaling scales).
	p.waitHPAsSteady(t, 2*time.Minute)
	keys := make([]string, 0, len(notReconciled))
	for k := range notReconciled {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("not reconciled in the twin: %s: %s", k, notReconciled[k])
	}
}

// checkWorkloads: every workload has all its replicas Ready, its pods
// spread over the zones as its constraints say.
func (p *platform) checkWorkloads(t *testing.T) {
	t.Helper()
	nodes, err := p.cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range p.workloads(t) {
		pods := p.podsOf(t, w.namespace, w.selector)
		counts := checkZoneSpread(t, w.id, w.template, pods, nodes.Items)
		ready := 0
		for i := range pods {
			if podReady(&pods[i]) {
				ready++
			}
		}
		if ready != int(w.replicas) {
			t.Errorf("%s: %d pods Ready, want its %d replicas", w.id, ready, w.replicas)
		}
		t.Logf("%s: %d/%d Ready; pods per zone: %v", w.id, ready, w.replicas, counts)
	}
}

// workload is one pod-owning object of the render, read from the live object.
type workload struct {
	id, kind, namespace, name string
	replicas                  int64
	selector                  labels.Selector
	template                  *corev1.PodTemplateSpec
}

func (p *platform) workloads(t *testing.T) []workload {
	t.Helper()
	var ws []workload
	for _, r := range p.list(t, rolloutGVR, "") {
		var spec struct {
			Replicas *int64                 `json:"replicas"`
			Selector *metav1.LabelSelector  `json:"selector"`
			Template corev1.PodTemplateSpec `json:"template"`
		}
		raw, _, _ := unstructured.NestedMap(r.Object, "spec")
		fromUnstructured(t, &unstructured.Unstructured{Object: raw}, &spec)
		sel, err := metav1.LabelSelectorAsSelector(spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		replicas := int64(1)
		if spec.Replicas != nil {
			replicas = *spec.Replicas
		}
		ws = append(ws, workload{id: "Rollout " + r.GetNamespace() + "/" + r.GetName(), kind: "Rollout", namespace: r.GetNamespace(), name: r.GetName(),
			replicas: replicas, selector: sel, template: &spec.Template})
	}
	sts, err := p.cs.AppsV1().StatefulSets("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range sts.Items {
		s := &sts.Items[i]
		sel, _ := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		ws = append(ws, workload{id: "StatefulSet " + s.Namespace + "/" + s.Name, kind: "StatefulSet", namespace: s.Namespace, name: s.Name,
			replicas: int64(*s.Spec.Replicas), selector: sel, template: &s.Spec.Template})
	}
	deps, err := p.cs.AppsV1().Deployments("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range deps.Items {
		d := &deps.Items[i]
		sel, _ := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		ws = append(ws, workload{id: "Deployment " + d.Namespace + "/" + d.Name, kind: "Deployment", namespace: d.Namespace, name: d.Name,
			replicas: int64(*d.Spec.Replicas), selector: sel, template: &d.Spec.Template})
	}
	if len(ws) == 0 {
		t.Fatal("no Rollout, StatefulSet or Deployment was synced")
	}
	return ws
}

// waitUp waits until every Rollout is Healthy, every StatefulSet and
// Deployment has all replicas ready and updated, and every claim is Bound.
func (p *platform) waitUp(t *testing.T, timeout time.Duration) {
	t.Helper()
	p.eventually(t, timeout, "every Rollout Healthy, StatefulSet ready, claim Bound", func() (bool, string) {
		var waiting []string
		for _, r := range p.list(t, rolloutGVR, "") {
			phase, _, _ := unstructured.NestedString(r.Object, "status", "phase")
			if phase != "Healthy" {
				msg, _, _ := unstructured.NestedString(r.Object, "status", "message")
				waiting = append(waiting, fmt.Sprintf("Rollout %s: %s %s", r.GetName(), phase, msg))
			}
		}
		sts, err := p.cs.AppsV1().StatefulSets("").List(t.Context(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, s := range sts.Items {
			if !statefulSetReady(&s) {
				waiting = append(waiting, fmt.Sprintf("StatefulSet %s: %d/%d ready", s.Name, s.Status.ReadyReplicas, *s.Spec.Replicas))
			}
		}
		claims, err := p.cs.CoreV1().PersistentVolumeClaims("").List(t.Context(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range claims.Items {
			if c.Status.Phase != corev1.ClaimBound {
				waiting = append(waiting, fmt.Sprintf("PVC %s: %s", c.Name, c.Status.Phase))
			}
		}
		pending, _ := p.cs.CoreV1().Pods("").List(t.Context(), metav1.ListOptions{FieldSelector: "status.phase=Pending"})
		if pending != nil {
			for _, pod := range pending.Items {
				for _, c := range pod.Status.Conditions {
					if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
						waiting = append(waiting, fmt.Sprintf("Pod %s unschedulable: %s", pod.Name, c.Message))
					}
				}
			}
		}
		if len(waiting) > 0 {
			waiting = append(waiting, p.failedCreates(t)...)
		}
		return len(waiting) == 0, strings.Join(waiting, "; ")
	})
}

// failedCreates are the controllers' FailedCreate events (a pod the API
// server refused: admission, PodSecurity, a missing ServiceAccount), one per
// object, so a stuck bring-up says why.
func (p *platform) failedCreates(t *testing.T) []string {
	events, err := p.cs.CoreV1().Events("").List(t.Context(), metav1.ListOptions{FieldSelector: "reason=FailedCreate"})
	if err != nil {
		return nil
	}
	last := map[string]string{}
	for _, e := range events.Items {
		last[e.InvolvedObject.Kind+" "+e.InvolvedObject.Name] = e.Message
	}
	var out []string
	for obj, msg := range last {
		out = append(out, "FailedCreate "+obj+": "+msg)
	}
	sort.Strings(out)
	return out
}

func statefulSetReady(s *appsv1.StatefulSet) bool {
	return s.Status.ObservedGeneration >= s.Generation && s.Status.ReadyReplicas == *s.Spec.Replicas &&
		s.Status.UpdatedReplicas == *s.Spec.Replicas
}

// checkRolloutServices: each blue-green Rollout's active and preview
// Services select its stable ReplicaSet's pods (the controller adds the
// rollouts-pod-template-hash to their selectors).
func (p *platform) checkRolloutServices(t *testing.T) {
	t.Helper()
	for _, r := range p.list(t, rolloutGVR, "") {
		stable, _, _ := unstructured.NestedString(r.Object, "status", "stableRS")
		active, _, _ := unstructured.NestedString(r.Object, "spec", "strategy", "blueGreen", "activeService")
		preview, _, _ := unstructured.NestedString(r.Object, "spec", "strategy", "blueGreen", "previewService")
		for _, svc := range []string{active, preview} {
			if svc == "" {
				continue
			}
			if got := p.serviceHash(t, r.GetNamespace(), svc); got != stable {
				t.Errorf("Rollout %s: Service %s selects hash %q, want the stable %q", r.GetName(), svc, got, stable)
			}
		}
	}
}

func (p *platform) serviceHash(t *testing.T, ns, name string) string {
	t.Helper()
	svc, err := p.cs.CoreV1().Services(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Service %s/%s: %v", ns, name, err)
	}
	return svc.Spec.Selector["rollouts-pod-template-hash"]
}

// checkClaims: every claim is Bound to a volume of the stand-in, and each
// StatefulSet pod mounts the claim its volumeClaimTemplate names
// (<template>-<set>-<ordinal>), which are the rendered PVCs.
func (p *platform) checkClaims(t *testing.T) {
	t.Helper()
	claims, err := p.cs.CoreV1().PersistentVolumeClaims("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) == 0 {
		t.Error("no PersistentVolumeClaim in the twin")
	}
	for _, c := range claims.Items {
		pv, err := p.cs.CoreV1().PersistentVolumes().Get(t.Context(), c.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			t.Errorf("PVC %s/%s: volume %q: %v", c.Namespace, c.Name, c.Spec.VolumeName, err)
			continue
		}
		node := c.Annotations["volume.kubernetes.io/selected-node"]
		t.Logf("PVC %s/%s Bound to %s (%s, reclaim %s), provisioned for node %s", c.Namespace, c.Name, pv.Name, pv.Spec.CSI.Driver, pv.Spec.PersistentVolumeReclaimPolicy, node)
	}
	sts, err := p.cs.AppsV1().StatefulSets("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts.Items {
		for i := range *s.Spec.Replicas {
			pod, err := p.cs.CoreV1().Pods(s.Namespace).Get(t.Context(), fmt.Sprintf("%s-%d", s.Name, i), metav1.GetOptions{})
			if err != nil {
				t.Errorf("StatefulSet %s: pod %d: %v", s.Name, i, err)
				continue
			}
			for _, tmpl := range s.Spec.VolumeClaimTemplates {
				want := fmt.Sprintf("%s-%s-%d", tmpl.Name, s.Name, i)
				found := false
				for _, v := range pod.Spec.Volumes {
					if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == want {
						found = true
					}
				}
				if !found {
					t.Errorf("pod %s does not mount claim %s", pod.Name, want)
				}
			}
		}
	}
}

// checkSecretReferences: every Secret key a workload's pods reference must
// be in a Secret an ExternalSecret wrote (External Secrets, from the twin's
// Secrets Manager), so a pod would not fail on a missing Secret or key.
func (p *platform) checkSecretReferences(t *testing.T) {
	t.Helper()
	written := map[string]map[string]bool{} // ns/name -> keys
	var names []string
	for _, es := range p.list(t, twin.ExternalSecretGVR, "") {
		target := es.GetNamespace() + "/" + twin.ExternalSecretTarget(&es)
		sec, err := p.cs.CoreV1().Secrets(es.GetNamespace()).Get(t.Context(), twin.ExternalSecretTarget(&es), metav1.GetOptions{})
		if err != nil {
			t.Errorf("ExternalSecret %s/%s: target Secret: %v", es.GetNamespace(), es.GetName(), err)
			continue
		}
		written[target] = map[string]bool{}
		for k := range sec.Data {
			written[target][k] = true
		}
		names = append(names, target)
	}
	sort.Strings(names)
	t.Logf("External Secrets wrote %d Secrets: %s", len(names), strings.Join(names, ", "))
	for _, w := range p.workloads(t) {
		spec := w.template.Spec
		check := func(name, key, where string) {
			keys, ok := written[w.namespace+"/"+name]
			switch {
			case !ok:
				t.Errorf("%s: %s names Secret %s, which no ExternalSecret writes", w.id, where, name)
			case key != "" && !keys[key]:
				t.Errorf("%s: %s names key %s of Secret %s, which its ExternalSecret does not write", w.id, where, key, name)
			}
		}
		for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && (e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional) {
					check(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, "container "+c.Name+" env "+e.Name)
				}
			}
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil && (e.SecretRef.Optional == nil || !*e.SecretRef.Optional) {
					check(e.SecretRef.Name, "", "container "+c.Name+" envFrom")
				}
			}
		}
		for _, v := range spec.Volumes {
			if v.Secret != nil && (v.Secret.Optional == nil || !*v.Secret.Optional) {
				check(v.Secret.SecretName, "", "volume "+v.Name)
			}
		}
	}
}
