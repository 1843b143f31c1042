package twin_test

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ecommerce-platform/gitops/e2e/internal/twin"
)

// The HPA controller's pace in the twin (startPlatform): its sync period,
// and the scale-down stabilization window it applies to HPAs without a
// spec.behavior (the rendered ones have none; the default is 5 minutes).
const (
	hpaSyncPeriod             = 5 * time.Second
	hpaDownscaleStabilization = 30 * time.Second
)

// TestAutoscaling (issue 17, scenario 5): the real HPA controller reads pod
// CPU from the metrics.k8s.io stand-in through the API server's aggregator.
// At the steady default load (30% of the requests, under every rendered
// target) every HPA is active and able to scale, Argo CD would call it
// Healthy, and every Rollout keeps its replicas. A CPU rise on one
// service's pods scales its Rollout to maxReplicas (HPA -> the Rollout's
// scale subresource -> the Rollouts controller -> the stable ReplicaSet)
// with the new pods spread over the zones as the constraints say; when the
// load falls it scales back to minReplicas, not before the stabilization
// window, and the rendered descheduler spreads the survivors over the
// zones again as the constraints say (the scale-down itself does not).
func TestAutoscaling(t *testing.T) {
	p := startPlatform(t)
	p.waitUp(t, 5*time.Minute)

	hpas := p.hpas(t)
	if len(hpas) == 0 {
		t.Fatal("no HorizontalPodAutoscaler was synced")
	}
	rendered := map[string]int64{}
	for _, h := range hpas {
		if h.Spec.ScaleTargetRef.Kind != "Rollout" {
			t.Fatalf("HPA %s scales a %s; this test follows Rollouts", h.Name, h.Spec.ScaleTargetRef.Kind)
		}
		if h.Spec.Behavior != nil {
			t.Fatalf("HPA %s has a spec.behavior: the controller's --horizontal-pod-autoscaler-downscale-stabilization does not apply to it; assert its own window", h.Name)
		}
		rendered[h.Namespace+"/"+h.Name] = p.rolloutReplicas(t, h.Namespace, h.Spec.ScaleTargetRef.Name)
	}

	// Steady load: active, able to scale, Healthy for Argo CD, at minReplicas.
	start := time.Now()
	p.waitHPAsSteady(t, 2*time.Minute)
	t.Logf("every HPA active %s after the platform was up", time.Since(start).Round(time.Second))
	// A few more syncs: nothing moves.
	time.Sleep(3 * hpaSyncPeriod)
	for _, h := range p.hpas(t) {
		if why := steadyHPA(&h); why != "" {
			t.Errorf("HPA %s/%s after %s more: %s", h.Namespace, h.Name, 3*hpaSyncPeriod, why)
		}
		got := p.rolloutReplicas(t, h.Namespace, h.Spec.ScaleTargetRef.Name)
		if want := rendered[h.Namespace+"/"+h.Name]; got != want {
			t.Errorf("Rollout %s/%s: %d replicas at the steady load, want the rendered %d", h.Namespace, h.Spec.ScaleTargetRef.Name, got, want)
		}
		t.Logf("HPA %s/%s: %s; Argo CD health %s", h.Namespace, h.Name, describeHPA(&h), argoCDHPAHealth(&h))
	}
	if served := p.tw.Metrics.Served(); len(served) == 0 {
		t.Error("the metrics stand-in answered no PodMetrics list")
	} else {
		t.Logf("PodMetrics lists served through the aggregator, by user: %v", served)
	}

	// A CPU rise on the service with the widest range.
	sort.Slice(hpas, func(i, j int) bool {
		return hpas[i].Spec.MaxReplicas-*hpas[i].Spec.MinReplicas > hpas[j].Spec.MaxReplicas-*hpas[j].Spec.MinReplicas ||
			hpas[i].Spec.MaxReplicas-*hpas[i].Spec.MinReplicas == hpas[j].Spec.MaxReplicas-*hpas[j].Spec.MinReplicas && hpas[i].Name < hpas[j].Name
	})
	h := hpas[0]
	target := cpuTarget(t, &h)
	lo, hi := *h.Spec.MinReplicas, h.Spec.MaxReplicas
	// Enough CPU that even at maxReplicas the utilization is over the
	// target: the HPA goes to maxReplicas, limited by it.
	load := float64(target) / 100 * float64(hi) / float64(lo) * 1.2
	if math.Ceil(float64(lo)*load*100/float64(target)) <= float64(hi) {
		t.Fatalf("load %.2f would not ask for more than %d replicas", load, hi)
	}
	w := p.rolloutWorkload(t, h.Namespace, h.Spec.ScaleTargetRef.Name)
	p.tw.Metrics.SetLoad(h.Namespace, w.selector, twin.Load{CPU: load, Memory: twin.DefaultLoad.Memory})
	t.Logf("CPU of %s's pods raised to %.0f%% of their requests (target %d%%)", w.id, load*100, target)
	rise := time.Now()
	p.eventually(t, 4*time.Minute, fmt.Sprintf("%s scaled to %d Ready pods", w.id, hi), func() (bool, string) {
		return p.scaledTo(t, h.Namespace, h.Name, w, hi)
	})
	t.Logf("%s at %d Ready pods %s after the rise", w.id, hi, time.Since(rise).Round(time.Second))
	live := p.hpa(t, h.Namespace, h.Name)
	if c := hpaCondition(&live, autoscalingv2.ScalingLimited); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "TooManyReplicas" {
		t.Errorf("HPA %s at maxReplicas under load: ScalingLimited %v, want True TooManyReplicas", h.Name, c)
	}
	if got := argoCDHPAHealth(&live); got != "Healthy" {
		t.Errorf("HPA %s under load: Argo CD health %s, want Healthy", h.Name, got)
	}
	nodes, err := p.cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := p.podsOf(t, h.Namespace, w.selector)
	t.Logf("%s scaled up: pods per zone %v", w.id, checkZoneSpread(t, w.id, w.template, pods, nodes.Items))
	p.checkRolloutServices(t)
	// The other HPAs did not move.
	for _, o := range p.hpas(t) {
		if o.Name == h.Name && o.Namespace == h.Namespace {
			continue
		}
		if got, want := p.rolloutReplicas(t, o.Namespace, o.Spec.ScaleTargetRef.Name), rendered[o.Namespace+"/"+o.Name]; got != want {
			t.Errorf("Rollout %s/%s: %d replicas while only %s was loaded, want %d", o.Namespace, o.Spec.ScaleTargetRef.Name, got, w.id, want)
		}
	}

	// The load falls: back to minReplicas once the window has passed.
	p.tw.Metrics.ResetLoad()
	fall := time.Now()
	p.eventually(t, hpaDownscaleStabilization+3*time.Minute, fmt.Sprintf("%s back to %d Ready pods", w.id, lo), func() (bool, string) {
		return p.scaledTo(t, h.Namespace, h.Name, w, lo)
	})
	down := time.Since(fall)
	// The HPA keeps the highest recommendation of the window; the last high
	// one can be up to a sync period older than the fall.
	if down < hpaDownscaleStabilization-hpaSyncPeriod {
		t.Errorf("%s scaled down %s after the load fell, before the %s stabilization window", w.id, down.Round(time.Second), hpaDownscaleStabilization)
	}
	t.Logf("%s back at %d Ready pods %s after the load fell (window %s)", w.id, lo, down.Round(time.Second), hpaDownscaleStabilization)
	// The zone constraints bind the scheduler only: the ReplicaSet
	// controller picks the pods to delete by readiness, co-location on a
	// node and age (kubernetes v1.35.4 pkg/controller/replicaset
	// getPodsToDelete), not by zone, so the survivors may be skewed. The
	// rendered descheduler (zones.rebalance) evicts what breaks a
	// constraint, and the scheduler puts the replacement where it holds.
	zoneOf := p.nodeZones(t)
	perZone := zoneCounts{}
	for _, pod := range p.podsOf(t, h.Namespace, w.selector) {
		perZone[zoneOf[pod.Spec.NodeName]]++
	}
	t.Logf("%s scaled down: pods per zone %v (skew %d)", w.id, perZone, perZone.skew())
	rebalance := time.Now()
	p.eventually(t, 3*deschedulerInterval+2*time.Minute, w.id+" spread over the zones again", func() (bool, string) {
		broken := p.unbalanced(t, w, int(lo), nodes.Items)
		return len(broken) == 0, strings.Join(broken, "; ")
	})
	perZone = zoneCounts{}
	for _, pod := range p.podsOf(t, h.Namespace, w.selector) {
		perZone[zoneOf[pod.Spec.NodeName]]++
	}
	t.Logf("%s spread again %s after the scale-down: pods per zone %v", w.id, time.Since(rebalance).Round(time.Second), perZone)
	p.waitHPAsSteady(t, time.Minute)
}

// waitHPAsSteady waits until every HPA is as the steady load leaves it
// (steadyHPA).
func (p *platform) waitHPAsSteady(t *testing.T, timeout time.Duration) {
	t.Helper()
	p.eventually(t, timeout, "every HPA active at the steady load", func() (bool, string) {
		var waiting []string
		for _, h := range p.hpas(t) {
			if why := steadyHPA(&h); why != "" {
				waiting = append(waiting, h.Name+": "+why)
			}
		}
		return len(waiting) == 0, strings.Join(waiting, "; ")
	})
}

// scaledTo: the HPA asks for n, the Rollout's spec.replicas is n, its stable
// ReplicaSet has n replicas, n of its pods are Ready, and the Rollout is
// Healthy.
func (p *platform) scaledTo(t *testing.T, ns, hpaName string, w workload, n int32) (bool, string) {
	h := p.hpa(t, ns, hpaName)
	r := p.get(t, rolloutGVR, ns, w.name)
	replicas, _, _ := unstructured.NestedInt64(r.Object, "spec", "replicas")
	phase, _, _ := unstructured.NestedString(r.Object, "status", "phase")
	stable, _, _ := unstructured.NestedString(r.Object, "status", "stableRS")
	var rsReplicas int32 = -1
	rsList, err := p.cs.AppsV1().ReplicaSets(ns).List(t.Context(), metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{"rollouts-pod-template-hash": stable}).String()})
	if err == nil && len(rsList.Items) == 1 && rsList.Items[0].Spec.Replicas != nil {
		rsReplicas = *rsList.Items[0].Spec.Replicas
	}
	ready := 0
	pods := p.podsOf(t, ns, w.selector)
	for i := range pods {
		if podReady(&pods[i]) {
			ready++
		}
	}
	state := fmt.Sprintf("HPA desired %d (%s), Rollout replicas %d %s, stable ReplicaSet %d, %d of %d pods Ready",
		h.Status.DesiredReplicas, describeHPA(&h), replicas, phase, rsReplicas, ready, len(pods))
	return h.Status.DesiredReplicas == n && replicas == int64(n) && rsReplicas == n && ready == int(n) && len(pods) == int(n) && phase == "Healthy", state
}

// steadyHPA says why h is not what the steady load should give: able to
// scale, active on a valid metric, under its target, at minReplicas, and
// Healthy for Argo CD.
func steadyHPA(h *autoscalingv2.HorizontalPodAutoscaler) string {
	var why []string
	for _, ct := range []autoscalingv2.HorizontalPodAutoscalerConditionType{autoscalingv2.AbleToScale, autoscalingv2.ScalingActive} {
		if c := hpaCondition(h, ct); c == nil || c.Status != corev1.ConditionTrue {
			why = append(why, fmt.Sprintf("%s %v", ct, c))
		}
	}
	if h.Status.DesiredReplicas != *h.Spec.MinReplicas || h.Status.CurrentReplicas != *h.Spec.MinReplicas {
		why = append(why, fmt.Sprintf("replicas current %d desired %d, want minReplicas %d", h.Status.CurrentReplicas, h.Status.DesiredReplicas, *h.Spec.MinReplicas))
	}
	for _, m := range h.Status.CurrentMetrics {
		if m.Resource != nil && m.Resource.Current.AverageUtilization != nil {
			want := int32(twin.DefaultLoad.CPU * 100)
			if got := *m.Resource.Current.AverageUtilization; got != want {
				why = append(why, fmt.Sprintf("%s utilization %d%%, want the stand-in's %d%%", m.Resource.Name, got, want))
			}
		}
	}
	if len(h.Status.CurrentMetrics) == 0 {
		why = append(why, "no current metrics")
	}
	if got := argoCDHPAHealth(h); got != "Healthy" {
		why = append(why, "Argo CD health "+got)
	}
	return strings.Join(why, ", ")
}

// argoCDHPAHealth is Argo CD's verdict on an autoscaling/v2 HPA, following
// gitops-engine v3.6.1 pkg/health/health_hpa.go (its module needs Go 1.27,
// newer than this module's, so it is not imported): Degraded if any
// condition has one of the failure reasons below (whatever its status),
// else Healthy if AbleToScale or ScalingLimited is True, else Progressing
// ("Waiting to Autoscale"; also with no conditions at all).
func argoCDHPAHealth(h *autoscalingv2.HorizontalPodAutoscaler) string {
	degraded := map[string]bool{
		"AbleToScale/FailedGetScale": true, "AbleToScale/FailedUpdateScale": true,
		"ScalingActive/FailedGetResourceMetric": true, "ScalingActive/FailedGetObjectMetric": true,
		"ScalingActive/FailedGetPodsMetric": true, "ScalingActive/FailedGetExternalMetric": true,
		"ScalingActive/FailedComputeMetricsReplicas": true, "ScalingActive/InvalidSelector": true,
	}
	for _, c := range h.Status.Conditions {
		if degraded[string(c.Type)+"/"+c.Reason] {
			return "Degraded (" + c.Reason + ": " + c.Message + ")"
		}
	}
	for _, c := range h.Status.Conditions {
		if (c.Type == autoscalingv2.AbleToScale || c.Type == autoscalingv2.ScalingLimited) && c.Status == corev1.ConditionTrue {
			return "Healthy"
		}
	}
	return "Progressing"
}

func hpaCondition(h *autoscalingv2.HorizontalPodAutoscaler, ct autoscalingv2.HorizontalPodAutoscalerConditionType) *autoscalingv2.HorizontalPodAutoscalerCondition {
	for i := range h.Status.Conditions {
		if h.Status.Conditions[i].Type == ct {
			return &h.Status.Conditions[i]
		}
	}
	return nil
}

func describeHPA(h *autoscalingv2.HorizontalPodAutoscaler) string {
	var parts []string
	for _, c := range h.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s %s", c.Type, c.Status, c.Reason))
	}
	for _, m := range h.Status.CurrentMetrics {
		if m.Resource != nil && m.Resource.Current.AverageUtilization != nil {
			parts = append(parts, fmt.Sprintf("%s %d%%", m.Resource.Name, *m.Resource.Current.AverageUtilization))
		}
	}
	return strings.Join(parts, ", ")
}

// cpuTarget is h's CPU utilization target in percent.
func cpuTarget(t *testing.T, h *autoscalingv2.HorizontalPodAutoscaler) int32 {
	t.Helper()
	for _, m := range h.Spec.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource.Name == corev1.ResourceCPU && m.Resource.Target.AverageUtilization != nil {
			return *m.Resource.Target.AverageUtilization
		}
	}
	t.Fatalf("HPA %s has no CPU utilization target", h.Name)
	return 0
}

func (p *platform) hpas(t *testing.T) []autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	l, err := p.cs.AutoscalingV2().HorizontalPodAutoscalers("").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func (p *platform) hpa(t *testing.T, ns, name string) autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	h, err := p.cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *h
}

func (p *platform) rolloutReplicas(t *testing.T, ns, name string) int64 {
	t.Helper()
	n, found, _ := unstructured.NestedInt64(p.get(t, rolloutGVR, ns, name).Object, "spec", "replicas")
	if !found {
		t.Fatalf("Rollout %s/%s has no spec.replicas", ns, name)
	}
	return n
}

func (p *platform) rolloutWorkload(t *testing.T, ns, name string) workload {
	t.Helper()
	for _, w := range p.workloads(t) {
		if w.kind == "Rollout" && w.namespace == ns && w.name == name {
			return w
		}
	}
	t.Fatalf("no Rollout %s/%s", ns, name)
	return workload{}
}
