package twin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const subnetYAML = `apiVersion: ec2.aws.upbound.io/v1beta1
kind: Subnet
metadata:
  name: net-%s
spec:
  forProvider:
    availabilityZone: %s
`

const nodeGroupYAML = `apiVersion: eks.aws.upbound.io/v1beta2
kind: NodeGroup
metadata:
  name: db
spec:
  forProvider:
    capacityType: ON_DEMAND
    diskSize: 50
    instanceTypes: [r6i.2xlarge]
    labels:
      platform.shop/nodegroup: db
    region: us-east-1
    scalingConfig: {maxSize: 9, minSize: 3}
    subnetIdRefs: [{name: net-b}, {name: net-a}, {name: net-c}]
    taint:
    - {key: platform.shop/storage, value: portworx, effect: NO_SCHEDULE}
  initProvider:
    scalingConfig: {desiredSize: 5}
`

func writeEnv(t *testing.T, groups string) string {
	t.Helper()
	dir := t.TempDir()
	for _, z := range []string{"a", "b", "c"} {
		data := strings.ReplaceAll(strings.Replace(subnetYAML, "%s", z, 1), "%s", "us-east-1"+z)
		if err := os.WriteFile(filepath.Join(dir, "subnet-"+z+".yaml"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "eks"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "eks", "nodegroup.yaml"), []byte(groups), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestNodeGroupNodesSpreadsDesiredSizeOverTheSubnetsZones(t *testing.T) {
	types := map[string]InstanceType{"r6i.2xlarge": {CPU: "7910m", Memory: "64543Mi", Pods: 58}}
	nodes, err := NodeGroupNodes(writeEnv(t, nodeGroupYAML), types)
	if err != nil {
		t.Fatal(err)
	}
	perZone := map[string]int{}
	for _, n := range nodes {
		perZone[n.Labels[ZoneLabel]]++
		if n.Labels["platform.shop/nodegroup"] != "db" || n.Labels["eks.amazonaws.com/nodegroup"] != "db" ||
			n.Labels["node.kubernetes.io/instance-type"] != "r6i.2xlarge" || n.Labels["kubernetes.io/hostname"] != n.Name {
			t.Errorf("node %s labels %v", n.Name, n.Labels)
		}
		if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Effect != corev1.TaintEffectNoSchedule || n.Spec.Taints[0].Value != "portworx" {
			t.Errorf("node %s taints %v, want the node group's NO_SCHEDULE taint", n.Name, n.Spec.Taints)
		}
		if got := n.Status.Allocatable.Cpu().String(); got != "7910m" {
			t.Errorf("node %s cpu %s", n.Name, got)
		}
	}
	if len(nodes) != 5 || perZone["us-east-1a"] != 2 || perZone["us-east-1b"] != 2 || perZone["us-east-1c"] != 1 {
		t.Errorf("desiredSize 5 over 3 zones gave %d nodes %v, want 2/2/1", len(nodes), perZone)
	}

	if _, err := NodeGroupNodes(writeEnv(t, nodeGroupYAML), map[string]InstanceType{}); err == nil || !strings.Contains(err.Error(), "r6i.2xlarge") {
		t.Errorf("an instance type missing from the table was accepted: %v", err)
	}
	bad := strings.Replace(nodeGroupYAML, "{name: net-c}", "{name: net-x}", 1)
	if _, err := NodeGroupNodes(writeEnv(t, bad), types); err == nil || !strings.Contains(err.Error(), "net-x") {
		t.Errorf("a subnet that is not rendered was accepted: %v", err)
	}
}

func TestSchedulerConfigServesTheDefaultAndStorkProfiles(t *testing.T) {
	var cfg struct {
		APIVersion       string `json:"apiVersion"`
		Kind             string `json:"kind"`
		ClientConnection struct {
			Kubeconfig string `json:"kubeconfig"`
		} `json:"clientConnection"`
		LeaderElection struct {
			LeaderElect *bool `json:"leaderElect"`
		} `json:"leaderElection"`
		Profiles []struct {
			SchedulerName string `json:"schedulerName"`
		} `json:"profiles"`
	}
	if err := yaml.UnmarshalStrict([]byte(schedulerConfig("/tmp/a b/kubeconfig")), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.APIVersion != "kubescheduler.config.k8s.io/v1" || cfg.ClientConnection.Kubeconfig != "/tmp/a b/kubeconfig" ||
		cfg.LeaderElection.LeaderElect == nil || *cfg.LeaderElection.LeaderElect ||
		len(cfg.Profiles) != 2 || cfg.Profiles[0].SchedulerName != "default-scheduler" || cfg.Profiles[1].SchedulerName != StorkScheduler {
		t.Errorf("scheduler config %+v", cfg)
	}
}
