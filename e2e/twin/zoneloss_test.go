package twin_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ecommerce-platform/gitops/e2e/internal/twin"
)

// TestZoneLoss: one zone's kubelets fall silent (its kwok stops): the zone
// holding the database writer, the worst case. Node lifecycle marks its
// nodes unreachable after the shortened grace period and the
// taint-eviction controller evicts their pods after the shortened
// toleration. Every workload keeps at least the minimum its
// PodDisruptionBudget promises Ready in the other zones throughout, and the
// Rollouts' replacements schedule there until each has all its replicas
// Ready again. The writer's pod stays Terminating (no kubelet confirms its
// end, and a StatefulSet never runs two pods of one ordinal): it moves only
// once the lost nodes carry the out-of-service taint, as the README's
// zone-loss runbook says, and then comes up in a surviving zone on the same
// claim and volume.
func TestZoneLoss(t *testing.T) {
	p := startPlatform(t)
	p.waitUp(t, 5*time.Minute)
	lost, writers := p.writerZone(t)
	floors := p.disruptionFloors(t)
	watch := p.watchReady(t, floors)

	if err := p.tw.StopZone(lost); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	t.Logf("zone %s lost (it holds %v): its kwok stopped", lost, writers)
	p.eventually(t, 2*time.Minute, "the lost zone's nodes unreachable", func() (bool, string) {
		nodes, err := p.cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{LabelSelector: twin.ZoneLabel + "=" + lost})
		if err != nil {
			return false, err.Error()
		}
		var reachable []string
		for _, n := range nodes.Items {
			if !hasTaint(&n, "node.kubernetes.io/unreachable") {
				reachable = append(reachable, n.Name)
			}
		}
		return len(reachable) == 0, fmt.Sprintf("not tainted unreachable yet: %v", reachable)
	})
	t.Logf("lost zone's nodes tainted unreachable %s after the loss", time.Since(stopped).Round(time.Second))

	// Every Rollout back to all replicas Ready, outside the lost zone.
	p.eventually(t, 4*time.Minute, "every Rollout's replicas Ready in the surviving zones", func() (bool, string) {
		zones := p.nodeZones(t)
		var short []string
		for _, w := range p.workloads(t) {
			if w.kind == "StatefulSet" {
				continue
			}
			ready := 0
			for _, pod := range p.podsOf(t, w.namespace, w.selector) {
				if podReady(&pod) && zones[pod.Spec.NodeName] != lost && p.isStable(t, w, &pod) {
					ready++
				}
			}
			if ready < int(w.replicas) {
				short = append(short, fmt.Sprintf("%s %d/%d%s", w.id, ready, w.replicas, p.pendingReason(t, w)))
			}
		}
		return len(short) == 0, strings.Join(short, "; ")
	})
	t.Logf("every Rollout has all replicas Ready outside %s %s after the loss", lost, time.Since(stopped).Round(time.Second))

	nodes, err := p.cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var surviving []corev1.Node
	for _, n := range nodes.Items {
		if n.Labels[twin.ZoneLabel] != lost {
			surviving = append(surviving, n)
		}
	}
	zones := p.nodeZones(t)
	for _, w := range p.workloads(t) {
		if w.kind == "StatefulSet" {
			continue
		}
		var live []corev1.Pod
		for _, pod := range p.podsOf(t, w.namespace, w.selector) {
			if zones[pod.Spec.NodeName] != lost {
				live = append(live, pod)
			}
		}
		counts := checkZoneSpread(t, w.id+" after the loss", w.template, live, surviving)
		t.Logf("%s: per surviving zone %v", w.id, counts)
	}

	// The writer: still on its lost node, Terminating, and not replaced. The
	// taint eviction controller marks it for deletion once its toleration
	// of the unreachable taint runs out, which may come after the Rollouts
	// are Ready elsewhere: wait for that, within a bound.
	for _, w := range writers {
		var pod *corev1.Pod
		var err error
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
			pod, err = p.cs.CoreV1().Pods(w.namespace).Get(t.Context(), w.pod, metav1.GetOptions{})
			if err != nil || pod.Spec.NodeName != w.node || pod.DeletionTimestamp != nil || time.Now().After(deadline) {
				break
			}
		}
		switch {
		case err != nil:
			t.Errorf("%s: pod %s: %v (expected it stuck Terminating on %s)", w.set, w.pod, err, w.node)
		case pod.Spec.NodeName != w.node || pod.DeletionTimestamp == nil:
			t.Errorf("%s: pod %s on %s, deleting %v: expected it Terminating on its lost node %s", w.set, w.pod, pod.Spec.NodeName, pod.DeletionTimestamp != nil, w.node)
		default:
			t.Logf("%s: pod %s Terminating on the lost node %s since %s: no kubelet confirms its end, so the StatefulSet does not start it elsewhere", w.set, w.pod, w.node, pod.DeletionTimestamp.Format("15:04:05"))
		}
	}

	// The runbook: the out-of-service taint on the lost zone's nodes lets
	// the pod garbage collector force-delete their terminating pods
	// (pkg/controller/podgc gcTerminating: node not Ready and tainted
	// node.kubernetes.io/out-of-service), and the StatefulSet starts the
	// writer again in a surviving zone, on the same claim.
	lostNodes, err := p.cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{LabelSelector: twin.ZoneLabel + "=" + lost})
	if err != nil {
		t.Fatal(err)
	}
	tainted := time.Now()
	for _, n := range lostNodes.Items {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: outOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute})
		if _, err := p.cs.CoreV1().Nodes().Update(t.Context(), &n, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("taint %s out-of-service: %v", n.Name, err)
		}
	}
	p.eventually(t, 3*time.Minute, "every StatefulSet ready again outside "+lost, func() (bool, string) {
		zones := p.nodeZones(t)
		var waiting []string
		for _, w := range writers {
			pod, err := p.cs.CoreV1().Pods(w.namespace).Get(t.Context(), w.pod, metav1.GetOptions{})
			if err != nil {
				waiting = append(waiting, w.pod+": "+err.Error())
				continue
			}
			if !podReady(pod) || zones[pod.Spec.NodeName] == lost {
				waiting = append(waiting, fmt.Sprintf("%s on %q ready %v%s", w.pod, pod.Spec.NodeName, podReady(pod), p.pendingReason(t, workload{namespace: w.namespace, selector: labels.SelectorFromSet(pod.Labels)})))
			}
		}
		return len(waiting) == 0, strings.Join(waiting, "; ")
	})
	for _, w := range writers {
		pod, err := p.cs.CoreV1().Pods(w.namespace).Get(t.Context(), w.pod, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for claim, volume := range w.claims {
			pvc, err := p.cs.CoreV1().PersistentVolumeClaims(w.namespace).Get(t.Context(), claim, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if pvc.Spec.VolumeName != volume || pvc.Status.Phase != corev1.ClaimBound {
				t.Errorf("%s: claim %s on volume %q (%s), want its volume %s: the data must follow the writer", w.set, claim, pvc.Spec.VolumeName, pvc.Status.Phase, volume)
			}
		}
		t.Logf("%s: writer %s Ready on %s (%s) %s after the out-of-service taint, on its claims and volumes %v", w.set, w.pod, pod.Spec.NodeName, zones[pod.Spec.NodeName], time.Since(tainted).Round(time.Second), w.claims)
	}
	for id, low := range watch.stop() {
		t.Logf("%s: fewest Ready pods during the loss %d (PodDisruptionBudget floor %d)", id, low, floors[id])
	}
}

// outOfService is the taint that tells Kubernetes a node is down for good
// (non-graceful node shutdown, GA in 1.28): its terminating pods are
// force-deleted and their volumes detached.
const outOfService = "node.kubernetes.io/out-of-service"

// writer is one StatefulSet pod, its node and the volumes of its claims.
type writer struct {
	set, namespace, pod, node string
	claims                    map[string]string // claim -> volume
}

// writerZone is the zone of the first StatefulSet's first pod (the
// database writer) and every StatefulSet pod in that zone; without a
// StatefulSet, the first zone.
func (p *platform) writerZone(t *testing.T) (string, []writer) {
	t.Helper()
	sets, err := p.cs.AppsV1().StatefulSets("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zones := p.nodeZones(t)
	zone := ""
	var ws []writer
	for _, s := range sets.Items {
		for i := range *s.Spec.Replicas {
			pod, err := p.cs.CoreV1().Pods(s.Namespace).Get(t.Context(), fmt.Sprintf("%s-%d", s.Name, i), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if zone == "" {
				zone = zones[pod.Spec.NodeName]
			}
			if zones[pod.Spec.NodeName] != zone {
				continue
			}
			w := writer{set: "StatefulSet " + s.Namespace + "/" + s.Name, namespace: s.Namespace, pod: pod.Name, node: pod.Spec.NodeName, claims: map[string]string{}}
			for _, v := range pod.Spec.Volumes {
				if v.PersistentVolumeClaim == nil {
					continue
				}
				pvc, err := p.cs.CoreV1().PersistentVolumeClaims(s.Namespace).Get(t.Context(), v.PersistentVolumeClaim.ClaimName, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				w.claims[pvc.Name] = pvc.Spec.VolumeName
			}
			ws = append(ws, w)
		}
	}
	if zone == "" {
		return p.zones[0], nil
	}
	return zone, ws
}

// TestZoneDrain: every node of one zone is drained as `kubectl drain` does
// (cordon, then the Eviction API for every pod on it, retrying while a
// PodDisruptionBudget refuses). The drain completes, no workload ever has
// fewer Ready pods than its PodDisruptionBudget promises, and the evicted
// Rollout pods are replaced in the other zones. Then the zone is
// uncordoned, and the descheduler spreads every workload over the zones
// again (the scheduler alone never moves a running pod).
func TestZoneDrain(t *testing.T) {
	p := startPlatform(t)
	p.waitUp(t, 5*time.Minute)
	zone := p.zones[len(p.zones)-1]
	floors := p.disruptionFloors(t)
	watch := p.watchReady(t, floors)
	ctx := t.Context()

	nodes, err := p.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: twin.ZoneLabel + "=" + zone})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, n := range nodes.Items {
		if _, err := p.cs.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("cordon %s: %v", n.Name, err)
		}
	}
	refused := 0
	p.eventually(t, 6*time.Minute, "zone "+zone+" drained", func() (bool, string) {
		var left []string
		for _, n := range nodes.Items {
			pods, err := p.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.Name})
			if err != nil {
				return false, err.Error()
			}
			for _, pod := range pods.Items {
				left = append(left, pod.Namespace+"/"+pod.Name)
				if pod.DeletionTimestamp != nil {
					continue
				}
				err := p.cs.PolicyV1().Evictions(pod.Namespace).Evict(ctx, &policyv1.Eviction{
					ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
				})
				// 429: a PodDisruptionBudget refuses for now; kubectl drain
				// waits and retries.
				if apierrors.IsTooManyRequests(err) {
					refused++
				} else if err != nil && !apierrors.IsNotFound(err) {
					return false, fmt.Sprintf("evict %s: %v", pod.Name, err)
				}
			}
		}
		return len(left) == 0, fmt.Sprintf("left on the zone's nodes: %v", left)
	})
	t.Logf("zone %s drained in %s (%d evictions refused by a PodDisruptionBudget and retried)", zone, time.Since(start).Round(time.Second), refused)

	p.eventually(t, 4*time.Minute, "every workload's replicas Ready outside the drained zone", func() (bool, string) {
		var short []string
		for _, w := range p.workloads(t) {
			ready := 0
			for _, pod := range p.podsOf(t, w.namespace, w.selector) {
				if podReady(&pod) && (w.kind == "StatefulSet" || p.isStable(t, w, &pod)) {
					ready++
				}
			}
			if ready < int(w.replicas) {
				short = append(short, fmt.Sprintf("%s %d/%d%s", w.id, ready, w.replicas, p.pendingReason(t, w)))
			}
		}
		return len(short) == 0, strings.Join(short, "; ")
	})

	// The zone is back: uncordoned, it holds none of the pods, which the
	// constraints forbid once its nodes count again. Nothing moves pods by
	// itself; the rendered descheduler (zones.rebalance) evicts what breaks
	// a constraint, through the Eviction API, and the scheduler puts the
	// replacements in the empty zone.
	for _, n := range nodes.Items {
		if _, err := p.cs.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, []byte(`{"spec":{"unschedulable":false}}`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("uncordon %s: %v", n.Name, err)
		}
	}
	back := time.Now()
	p.eventually(t, 3*deschedulerInterval+3*time.Minute, "every workload spread over the zones again after zone "+zone+" came back", func() (bool, string) {
		all, err := p.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var wrong []string
		for _, w := range p.workloads(t) {
			wrong = append(wrong, p.unbalanced(t, w, int(w.replicas), all.Items)...)
		}
		return len(wrong) == 0, strings.Join(wrong, "; ")
	})
	t.Logf("zone %s uncordoned: every workload spread over the zones again %s later", zone, time.Since(back).Round(time.Second))
	p.checkWorkloads(t)
	for id, low := range watch.stop() {
		t.Logf("%s: fewest Ready pods during the drain and the rebalancing %d (PodDisruptionBudget floor %d)", id, low, floors[id])
	}
}

// isStable: the pod belongs to the Rollout's stable ReplicaSet (or the
// workload is not a Rollout).
func (p *platform) isStable(t *testing.T, w workload, pod *corev1.Pod) bool {
	if w.kind != "Rollout" {
		return true
	}
	return pod.Labels["rollouts-pod-template-hash"] == p.stableHash(t, w.namespace, w.name)
}

// pendingReason is the scheduler's word on a Pending pod of w, if any.
func (p *platform) pendingReason(t *testing.T, w workload) string {
	for _, pod := range p.podsOf(t, w.namespace, w.selector) {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return fmt.Sprintf(" (pod %s Pending: %s)", pod.Name, c.Message)
			}
		}
	}
	return ""
}

// disruptionFloors is, per workload, the fewest Ready pods its
// PodDisruptionBudget allows (minAvailable, or replicas - maxUnavailable).
func (p *platform) disruptionFloors(t *testing.T) map[string]int {
	t.Helper()
	pdbs, err := p.cs.PolicyV1().PodDisruptionBudgets("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	floors := map[string]int{}
	for _, w := range p.workloads(t) {
		found := false
		for _, pdb := range pdbs.Items {
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil || pdb.Namespace != w.namespace || !sel.Matches(labels.Set(w.template.Labels)) {
				continue
			}
			found = true
			switch {
			case pdb.Spec.MinAvailable != nil:
				v, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(w.replicas), true)
				if err != nil {
					t.Fatal(err)
				}
				floors[w.id] = v
			case pdb.Spec.MaxUnavailable != nil:
				v, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(w.replicas), true)
				if err != nil {
					t.Fatal(err)
				}
				floors[w.id] = int(w.replicas) - v
			}
		}
		if !found {
			t.Errorf("%s: no PodDisruptionBudget selects its pods", w.id)
		}
	}
	return floors
}

// readyWatch samples each workload's Ready pods every 500 ms and fails the
// test the moment one has fewer than its floor.
type readyWatch struct {
	stop func() map[string]int
}

func (p *platform) watchReady(t *testing.T, floors map[string]int) readyWatch {
	t.Helper()
	ws := p.workloads(t)
	low := map[string]int{}
	var mu sync.Mutex
	var violations []string
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-time.After(500 * time.Millisecond):
			}
			for _, w := range ws {
				l, err := p.cs.CoreV1().Pods(w.namespace).List(t.Context(), metav1.ListOptions{LabelSelector: w.selector.String()})
				if err != nil {
					if !errors.Is(err, t.Context().Err()) {
						t.Logf("watch %s: %v", w.id, err)
					}
					continue
				}
				ready := 0
				for i := range l.Items {
					if podReady(&l.Items[i]) {
						ready++
					}
				}
				mu.Lock()
				if v, ok := low[w.id]; !ok || ready < v {
					low[w.id] = ready
				}
				if ready < floors[w.id] {
					violations = append(violations, fmt.Sprintf("%s: %d Ready at %s, below its PodDisruptionBudget floor %d", w.id, ready, time.Now().Format("15:04:05.0"), floors[w.id]))
				}
				mu.Unlock()
			}
		}
	}()
	var once sync.Once
	stop := func() map[string]int {
		once.Do(func() { close(done); <-finished })
		mu.Lock()
		defer mu.Unlock()
		for _, v := range violations {
			t.Error(v)
		}
		return low
	}
	t.Cleanup(func() { stop() })
	return readyWatch{stop: stop}
}
