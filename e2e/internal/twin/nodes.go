package twin

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// InstanceType is what a node of one EC2 instance type offers pods.
type InstanceType struct {
	// CPU and Memory are allocatable: the published size minus what the
	// EKS AMI reserves (kube-reserved, eviction threshold).
	CPU, Memory string
	// Pods is the EKS max-pods of the type (VPC CNI without prefix delegation).
	Pods int
}

// NodeGroupNodes reads the rendered EKS NodeGroups (Crossplane
// eks.aws.upbound.io NodeGroup) and Subnets of envDir and returns the Nodes
// AWS would start: for each node group its desired size spread over its
// subnets' zones as the Auto Scaling group balances them, each Node with the
// instance type's allocatable resources, the node group's labels and
// taints, and the labels EKS and the kubelet set (zone, region, instance
// type, node group, hostname).
func NodeGroupNodes(envDir string, types map[string]InstanceType) ([]*corev1.Node, error) {
	objs, err := ReadObjects(envDir)
	if err != nil {
		return nil, err
	}
	subnetZone := map[string]string{}
	var groups []*unstructured.Unstructured
	for _, o := range objs {
		group := o.GroupVersionKind().Group
		switch {
		case o.GetKind() == "Subnet" && group == "ec2.aws.upbound.io":
			zone, _, _ := unstructured.NestedString(o.Object, "spec", "forProvider", "availabilityZone")
			subnetZone[o.GetName()] = zone
		case o.GetKind() == "NodeGroup" && group == "eks.aws.upbound.io":
			groups = append(groups, o)
		}
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("%s: no NodeGroup rendered", envDir)
	}
	var nodes []*corev1.Node
	for _, g := range groups {
		ns, err := groupNodes(g, subnetZone, types)
		if err != nil {
			return nil, fmt.Errorf("NodeGroup %s: %w", g.GetName(), err)
		}
		nodes = append(nodes, ns...)
	}
	return nodes, nil
}

func groupNodes(g *unstructured.Unstructured, subnetZone map[string]string, types map[string]InstanceType) ([]*corev1.Node, error) {
	fp := func(path ...string) []string { return append([]string{"spec", "forProvider"}, path...) }
	var zones []string
	refs, _, _ := unstructured.NestedSlice(g.Object, fp("subnetIdRefs")...)
	for _, r := range refs {
		name, _ := r.(map[string]any)["name"].(string)
		zone := subnetZone[name]
		if zone == "" {
			return nil, fmt.Errorf("subnet %q is not a rendered Subnet with an availabilityZone", name)
		}
		zones = append(zones, zone)
	}
	if len(zones) == 0 {
		return nil, fmt.Errorf("no spec.forProvider.subnetIdRefs (the twin reads zones from the referenced Subnets)")
	}
	sort.Strings(zones)
	desired, found, _ := unstructured.NestedInt64(g.Object, "spec", "initProvider", "scalingConfig", "desiredSize")
	if !found {
		desired, found, _ = unstructured.NestedInt64(g.Object, fp("scalingConfig", "desiredSize")...)
	}
	if !found {
		desired, _, _ = unstructured.NestedInt64(g.Object, fp("scalingConfig", "minSize")...)
	}
	instanceTypes, _, _ := unstructured.NestedStringSlice(g.Object, fp("instanceTypes")...)
	if len(instanceTypes) == 0 {
		return nil, fmt.Errorf("no spec.forProvider.instanceTypes")
	}
	it, ok := types[instanceTypes[0]]
	if !ok {
		return nil, fmt.Errorf("instance type %s is not in the twin's table", instanceTypes[0])
	}
	region, _, _ := unstructured.NestedString(g.Object, fp("region")...)
	capacityType, _, _ := unstructured.NestedString(g.Object, fp("capacityType")...)
	groupLabels, _, _ := unstructured.NestedStringMap(g.Object, fp("labels")...)
	var taints []corev1.Taint
	rawTaints, _, _ := unstructured.NestedSlice(g.Object, fp("taint")...)
	for _, r := range rawTaints {
		m, _ := r.(map[string]any)
		key, _ := m["key"].(string)
		value, _ := m["value"].(string)
		effect, _ := m["effect"].(string)
		e, ok := map[string]corev1.TaintEffect{
			"NO_SCHEDULE": corev1.TaintEffectNoSchedule, "NO_EXECUTE": corev1.TaintEffectNoExecute,
			"PREFER_NO_SCHEDULE": corev1.TaintEffectPreferNoSchedule,
		}[effect]
		if !ok {
			return nil, fmt.Errorf("taint %s: effect %q is not one EKS knows", key, effect)
		}
		taints = append(taints, corev1.Taint{Key: key, Value: value, Effect: e})
	}
	alloc := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(it.CPU),
		corev1.ResourceMemory: resource.MustParse(it.Memory),
		corev1.ResourcePods:   *resource.NewQuantity(int64(it.Pods), resource.DecimalSI),
	}
	if disk, found, _ := unstructured.NestedInt64(g.Object, fp("diskSize")...); found {
		alloc[corev1.ResourceEphemeralStorage] = resource.MustParse(strconv.FormatInt(disk, 10) + "Gi")
	}
	var nodes []*corev1.Node
	for i := range int(desired) {
		// The Auto Scaling group balances instances over its subnets' zones.
		zone := zones[i%len(zones)]
		name := fmt.Sprintf("%s-%s-%d", g.GetName(), zone, i/len(zones))
		labels := map[string]string{
			"kubernetes.io/hostname":           name,
			"kubernetes.io/os":                 "linux",
			"kubernetes.io/arch":               "amd64",
			ZoneLabel:                          zone,
			"topology.kubernetes.io/region":    region,
			"node.kubernetes.io/instance-type": instanceTypes[0],
			"eks.amazonaws.com/nodegroup":      g.GetName(),
			"eks.amazonaws.com/capacityType":   capacityType,
		}
		for k, v := range groupLabels {
			labels[k] = v
		}
		nodes = append(nodes, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec:       corev1.NodeSpec{Taints: taints},
			Status:     corev1.NodeStatus{Allocatable: alloc, Capacity: alloc},
		})
	}
	return nodes, nil
}

// ReadObjects reads every rendered object of envDir (one per .yaml file, as
// the renderer writes them; kustomization.yaml files are skipped).
func ReadObjects(envDir string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	err := filepath.WalkDir(envDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || d.Name() == "kustomization.yaml" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// Through JSON into unstructured, so numbers are int64 (a plain
		// YAML decode gives float64, which NestedInt64 refuses).
		js, err := yaml.YAMLToJSON(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(js); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if obj.GetKind() != "" {
			objs = append(objs, obj)
		}
		return nil
	})
	return objs, err
}
