package twin

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/fake"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// The stand-in answers the aggregator only (front-proxy CA, allowed name,
// a user header), reports request x load for the pods the selector matches
// that run on a Ready node, one entry per running container, and follows
// SetLoad.
func TestMetricsStandInServesPodMetricsToTheAggregatorOnly(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := func(name, app string, phase corev1.PodPhase, node string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{
				NodeName: node,
				InitContainers: []corev1.Container{
					{Name: "migrate"}, // runs to completion: no metrics
					{Name: "proxy", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}},
				},
				Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("512Mi"),
				}}}},
			},
			Status: corev1.PodStatus{Phase: phase},
		}
	}
	node := func(name string, ready corev1.ConditionStatus) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
	}
	cs := fake.NewSimpleClientset(
		node("node-a", corev1.ConditionTrue), node("node-b", corev1.ConditionTrue), node("node-lost", corev1.ConditionUnknown),
		pod("orders-1", "orders", corev1.PodRunning, "node-a"),
		pod("orders-2", "orders", corev1.PodPending, ""),
		pod("orders-3", "orders", corev1.PodRunning, "node-lost"), // its kubelet does not report
		pod("cart-1", "cart", corev1.PodRunning, "node-b"),
	)
	frontCA, frontKey, frontPEM, err := newCA("front-proxy-ca")
	if err != nil {
		t.Fatal(err)
	}
	m, err := StartMetricsStandIn(cs, frontPEM, "front-proxy-client")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	serverCAs := x509.NewCertPool()
	serverCAs.AppendCertsFromPEM(m.CABundle())
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: serverCAs, ServerName: MetricsServiceName + "." + MetricsServiceNamespace + ".svc", Certificates: certs,
		}}}
	}
	aggregator, err := issue(frontCA, frontKey, &x509.Certificate{Subject: pkix.Name{CommonName: "front-proxy-client"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Fatal(err)
	}
	otherName, err := issue(frontCA, frontKey, &x509.Certificate{Subject: pkix.Name{CommonName: "someone"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Fatal(err)
	}
	otherCA, otherKey, _, err := newCA("cluster-ca")
	if err != nil {
		t.Fatal(err)
	}
	otherSigner, err := issue(otherCA, otherKey, &x509.Certificate{Subject: pkix.Name{CommonName: "front-proxy-client"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Fatal(err)
	}

	url := "https://127.0.0.1:" + strconv.Itoa(m.Port()) + metricsPrefix + "/namespaces/shop/pods?labelSelector=app%3Dorders"
	get := func(c *http.Client, user string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if user != "" {
			req.Header.Set("X-Remote-User", user)
		}
		return c.Do(req)
	}
	// No client certificate, or one from another CA: the handshake fails.
	for name, c := range map[string]*http.Client{"no certificate": client(), "another CA": client(otherSigner)} {
		if resp, err := get(c, "hpa"); err == nil {
			resp.Body.Close()
			t.Errorf("%s: answered HTTP %d, want a refused handshake", name, resp.StatusCode)
		}
	}
	// The front-proxy CA, but a name not allowed, or no user: 401.
	for name, tc := range map[string]struct {
		cert tls.Certificate
		user string
	}{"name not allowed": {otherName, "hpa"}, "no user": {aggregator, ""}} {
		resp, err := get(client(tc.cert), tc.user)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d, want 401", name, resp.StatusCode)
		}
	}

	list := func() metricsv1beta1.PodMetricsList {
		t.Helper()
		resp, err := get(client(aggregator), "system:kube-controller-manager")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		var l metricsv1beta1.PodMetricsList
		if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	usageOf := func(l metricsv1beta1.PodMetricsList) map[string]string {
		out := map[string]string{}
		for _, pm := range l.Items {
			for _, c := range pm.Containers {
				cpu, mem := c.Usage[corev1.ResourceCPU], c.Usage[corev1.ResourceMemory]
				out[pm.Name+"/"+c.Name] = cpu.String() + " " + mem.String()
			}
		}
		return out
	}
	// Only the orders pod running on a reporting node; its app container and its sidecar, at
	// DefaultLoad (30% CPU, 40% memory of the requests; the sidecar has no
	// memory request: a nominal 16Mi).
	want := map[string]string{"orders-1/app": "75m 214748365", "orders-1/proxy": "30m 16Mi"}
	if got := usageOf(list()); !equalMaps(got, want) {
		t.Errorf("default load: %v, want %v", got, want)
	}
	m.SetLoad("shop", labels.SelectorFromSet(labels.Set{"app": "orders"}), Load{CPU: 2, Memory: 0.5})
	m.SetLoad("shop", labels.SelectorFromSet(labels.Set{"app": "cart"}), Load{CPU: 3, Memory: 3})
	want = map[string]string{"orders-1/app": "500m 256Mi", "orders-1/proxy": "200m 16Mi"}
	if got := usageOf(list()); !equalMaps(got, want) {
		t.Errorf("after SetLoad: %v, want %v", got, want)
	}
	m.ResetLoad()
	want = map[string]string{"orders-1/app": "75m 214748365", "orders-1/proxy": "30m 16Mi"}
	if got := usageOf(list()); !equalMaps(got, want) {
		t.Errorf("after ResetLoad: %v, want %v", got, want)
	}
	if got := m.Served()["system:kube-controller-manager"]; got != 3 {
		t.Errorf("served %d lists to the proxied user, want 3", got)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
