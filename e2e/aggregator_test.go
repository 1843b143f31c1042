package e2e_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
	"github.com/ecommerce-platform/gitops/e2e/internal/cluster"
	"github.com/ecommerce-platform/gitops/e2e/internal/twin"
)

// TestMetricsStandInThroughTheAggregator: the twin's metrics.k8s.io
// stand-in, registered with an APIService, is Available and answers a
// metrics client (the one the HPA controller uses) through the API server's
// aggregator, which authenticates with its front-proxy certificate and
// passes the caller's user on.
func TestMetricsStandInThroughTheAggregator(t *testing.T) {
	ctx := t.Context()
	b := bins[binaries.KubernetesVersion]
	c, err := cluster.Start(ctx, cluster.Options{KubeAPIServer: b.KubeAPIServer, Etcd: b.Etcd, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	defer c.Stop()
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}

	// One running pod on a Ready node (no kubelet: their status is written
	// here).
	node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("shop").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	no := false
	pod, err := cs.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orders-1", Labels: map[string]string{"app": "orders"}},
		Spec: corev1.PodSpec{NodeName: "node-a", AutomountServiceAccountToken: &no, Containers: []corev1.Container{{
			Name: "orders", Image: "registry/orders",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("512Mi")}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	if _, err := cs.CoreV1().Pods("shop").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	m, err := twin.StartMetricsStandIn(cs, c.FrontProxyCA, cluster.FrontProxyClientName)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	start := time.Now()
	if err := twin.RegisterMetricsAPI(ctx, dyn, cs, m, 2*time.Minute); err != nil {
		t.Fatalf("%v\n%s", err, c.Logs(20))
	}
	t.Logf("APIService %s Available, and proxied by the aggregator, %s after it was created", twin.MetricsAPIService, time.Since(start).Round(100*time.Millisecond))

	mc, err := metricsclient.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	cpuOf := func() string {
		t.Helper()
		l, err := mc.MetricsV1beta1().PodMetricses("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=orders"})
		if err != nil {
			t.Fatalf("list PodMetrics through the aggregator: %v", err)
		}
		if len(l.Items) != 1 || l.Items[0].Name != "orders-1" || len(l.Items[0].Containers) != 1 {
			t.Fatalf("PodMetrics %+v, want orders-1 with one container", l.Items)
		}
		q := l.Items[0].Containers[0].Usage[corev1.ResourceCPU]
		return q.String()
	}
	if got := cpuOf(); got != "75m" {
		t.Errorf("CPU at the default load: %s, want 75m (30%% of 250m)", got)
	}
	m.SetLoad("shop", labels.SelectorFromSet(labels.Set{"app": "orders"}), twin.Load{CPU: 2, Memory: 0.5})
	if got := cpuOf(); got != "500m" {
		t.Errorf("CPU after SetLoad 200%%: %s, want 500m", got)
	}
	// The aggregator passed the caller on: the admin token's user.
	if got := m.Served()["e2e-admin"]; got != 2 {
		t.Errorf("lists served for user e2e-admin: %d (all: %v), want 2", got, m.Served())
	}
}
