package twin_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"github.com/ecommerce-platform/gitops/e2e/internal/twin"
)

// zoneCounts is how many pods of one group sit in each eligible zone.
type zoneCounts map[string]int

func (z zoneCounts) String() string {
	keys := make([]string, 0, len(z))
	for k := range z {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, z[k])
	}
	return strings.Join(parts, " ")
}

func (z zoneCounts) skew() int {
	lo, hi, first := 0, 0, true
	for _, n := range z {
		if first || n < lo {
			lo = n
		}
		if first || n > hi {
			hi = n
		}
		first = false
	}
	return hi - lo
}

// checkZoneSpread asserts that pods (one workload's, not terminating) obey
// every hard zone constraint of template, as the scheduler reads it
// (pkg/scheduler/framework/plugins/podtopologyspread): pods are counted per
// zone among those matching the constraint's labelSelector and, for
// matchLabelKeys, the same values of those keys (so each Rollout ReplicaSet
// is spread on its own); the zones are those of the nodes the pod may run
// on (nodeAffinityPolicy Honor, the default: its nodeSelector and required
// node affinity; nodeTaintsPolicy Honor only when asked: its tolerations);
// the largest and smallest count differ by at most maxSkew. It returns the
// per-zone counts of each group for the log.
func checkZoneSpread(t *testing.T, workload string, template *corev1.PodTemplateSpec, pods []corev1.Pod, nodes []corev1.Node) []zoneCounts {
	t.Helper()
	all, broken := zoneSpread(t, workload, template, pods, nodes)
	for _, b := range broken {
		t.Error(b)
	}
	return all
}

// zoneSpread is checkZoneSpread's reading: the per-zone counts of each
// group and what breaks the constraints, for a caller that waits for it.
func zoneSpread(t *testing.T, workload string, template *corev1.PodTemplateSpec, pods []corev1.Pod, nodes []corev1.Node) (all []zoneCounts, broken []string) {
	t.Helper()
	nodeZone := map[string]string{}
	for _, n := range nodes {
		nodeZone[n.Name] = n.Labels[twin.ZoneLabel]
	}
	hard := 0
	for _, c := range template.Spec.TopologySpreadConstraints {
		if c.TopologyKey != twin.ZoneLabel || c.WhenUnsatisfiable != corev1.DoNotSchedule {
			continue
		}
		hard++
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			t.Fatalf("%s: topologySpreadConstraint labelSelector: %v", workload, err)
		}
		probe := &corev1.Pod{Spec: template.Spec}
		affinity := nodeaffinity.GetRequiredNodeAffinity(probe)
		eligible := map[string]bool{}
		for i := range nodes {
			n := &nodes[i]
			if c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor {
				if ok, _ := affinity.Match(n); !ok {
					continue
				}
			}
			if c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor {
				if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), n.Spec.Taints, template.Spec.Tolerations, func(tn *corev1.Taint) bool {
					return tn.Effect == corev1.TaintEffectNoSchedule || tn.Effect == corev1.TaintEffectNoExecute
				}, false); untolerated {
					continue
				}
			}
			eligible[n.Labels[twin.ZoneLabel]] = true
		}
		groups := map[string]zoneCounts{}
		for _, pod := range pods {
			if !sel.Matches(labels.Set(pod.Labels)) || pod.Spec.NodeName == "" {
				continue
			}
			var key []string
			for _, k := range c.MatchLabelKeys {
				key = append(key, pod.Labels[k])
			}
			g := strings.Join(key, ",")
			if groups[g] == nil {
				groups[g] = zoneCounts{}
				for z := range eligible {
					groups[g][z] = 0
				}
			}
			if z := nodeZone[pod.Spec.NodeName]; eligible[z] {
				groups[g][z]++
			}
		}
		if len(groups) == 0 {
			broken = append(broken, fmt.Sprintf("%s: no scheduled pod matches its zone constraint's selector %s", workload, sel))
		}
		for g, counts := range groups {
			if counts.skew() > int(c.MaxSkew) {
				broken = append(broken, fmt.Sprintf("%s %s: pods per zone %s differ by %d, maxSkew %d", workload, g, counts, counts.skew(), c.MaxSkew))
			}
			all = append(all, counts)
		}
	}
	if hard == 0 && len(pods) > 1 {
		broken = append(broken, fmt.Sprintf("%s: %d pods and no hard (DoNotSchedule) zone spread constraint: one zone's loss could take every pod", workload, len(pods)))
	}
	return all, broken
}

// unbalanced says what keeps w from running exactly replicas pods, all
// Ready and spread over the zones as its constraints say: nothing when it
// does.
func (p *platform) unbalanced(t *testing.T, w workload, replicas int, nodes []corev1.Node) []string {
	t.Helper()
	pods := p.podsOf(t, w.namespace, w.selector)
	ready := 0
	for i := range pods {
		if podReady(&pods[i]) {
			ready++
		}
	}
	_, broken := zoneSpread(t, w.id, w.template, pods, nodes)
	if ready != replicas || len(pods) != replicas {
		broken = append(broken, fmt.Sprintf("%s %d/%d Ready of %d pods", w.id, ready, replicas, len(pods)))
	}
	return broken
}
