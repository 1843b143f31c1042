package twin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// The metrics API the stand-in serves, and the Service and APIService that
// register it, named as metrics-server's chart names them (rendered
// prod-addon-metrics-server: release metrics-server in kube-system).
const (
	MetricsGroup            = "metrics.k8s.io"
	MetricsVersion          = "v1beta1"
	MetricsAPIService       = MetricsVersion + "." + MetricsGroup
	MetricsServiceNamespace = "kube-system"
	MetricsServiceName      = "metrics-server"
)

// APIServiceGVR is the aggregator's registration kind.
var APIServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// Load is the usage the metrics stand-in reports for a container, as a
// fraction of its request (0.3: 30% of the requested CPU).
type Load struct{ CPU, Memory float64 }

// DefaultLoad is a steady load under every rendered HPA's CPU target (70%):
// the HPAs hold their Rollouts at minReplicas.
var DefaultLoad = Load{CPU: 0.3, Memory: 0.4}

// MetricsStandIn is a STAND-IN for metrics-server (no kubelets, so nothing
// to scrape): an HTTPS server on 127.0.0.1 in the test process that serves
// metrics.k8s.io/v1beta1 PodMetrics, the one resource the HPA controller
// reads for Resource metrics (kubernetes v1.35.4
// pkg/controller/podautoscaler/metrics/client.go: PodMetricses(ns).List with
// the scale target's selector). Usage comes from a table the test sets
// (SetLoad), each container's request times its Load. NodeMetrics are not
// served: nothing in the twin reads them.
//
// The API server reaches it as an aggregated API (APIService
// v1beta1.metrics.k8s.io, Service kube-system/metrics-server). The
// aggregator resolves the Service with its ClusterIP resolver (no
// --enable-aggregator-routing; kube-aggregator v0.35.4
// pkg/apiserver/resolvers.go), which for an ExternalName Service dials
// externalName:APIService.spec.service.port (k8s.io/apiserver v0.35.4
// pkg/util/proxy/proxy.go ResolveCluster): so the Service is ExternalName
// 127.0.0.1. Endpoint routing cannot reach it: EndpointSlice validation
// refuses loopback addresses (kubernetes v1.35.4
// pkg/apis/core/validation ValidateEndpointIP), and a ClusterIP needs a
// kube-proxy. The aggregator verifies the serving certificate against the
// APIService's caBundle for the name metrics-server.kube-system.svc
// (handler_proxy.go); the stand-in accepts only clients with a certificate
// from the cluster's front-proxy CA and the allowed name, and requires the
// user in X-Remote-User, as an aggregated server's requestheader
// authenticator does.
type MetricsStandIn struct {
	cs           kubernetes.Interface
	server       *http.Server
	listener     net.Listener
	caPEM        []byte
	allowedNames []string

	mu    sync.Mutex
	rules []loadRule
	dflt  Load
	// served counts the PodMetrics lists answered, by requesting user.
	served map[string]int
}

type loadRule struct {
	namespace string
	selector  labels.Selector
	load      Load
}

// StartMetricsStandIn listens on a free 127.0.0.1 port. frontProxyCA (PEM)
// and allowedNames say which client certificates are the aggregator's.
func StartMetricsStandIn(cs kubernetes.Interface, frontProxyCA []byte, allowedNames ...string) (*MetricsStandIn, error) {
	clientCAs := x509.NewCertPool()
	if !clientCAs.AppendCertsFromPEM(frontProxyCA) {
		return nil, errors.New("metrics stand-in: no front-proxy CA certificate")
	}
	cert, caPEM, err := servingCert(MetricsServiceName + "." + MetricsServiceNamespace + ".svc")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &MetricsStandIn{cs: cs, listener: ln, caPEM: caPEM, allowedNames: allowedNames, dflt: DefaultLoad, served: map[string]int{}}
	m.server = &http.Server{
		Handler:           m,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientCAs:    clientCAs,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		},
	}
	go func() { _ = m.server.ServeTLS(ln, "", "") }()
	return m, nil
}

// Port is the port it listens on (127.0.0.1).
func (m *MetricsStandIn) Port() int { return m.listener.Addr().(*net.TCPAddr).Port }

// CABundle is the PEM CA of its serving certificate, for the APIService.
func (m *MetricsStandIn) CABundle() []byte { return m.caPEM }

// Close stops serving.
func (m *MetricsStandIn) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = m.server.Shutdown(ctx)
}

// SetLoad makes the pods of namespace that match selector report load; a
// later rule for the same namespace and selector replaces the earlier one.
func (m *MetricsStandIn) SetLoad(namespace string, selector labels.Selector, load Load) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, r := range m.rules {
		if r.namespace == namespace && r.selector.String() == selector.String() {
			m.rules[i].load = load
			return
		}
	}
	m.rules = append(m.rules, loadRule{namespace, selector, load})
}

// ResetLoad drops every SetLoad: all pods report DefaultLoad again.
func (m *MetricsStandIn) ResetLoad() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rules = nil
}

// Served is how many PodMetrics lists it answered, by requesting user (the
// X-Remote-User the aggregator passed on).
func (m *MetricsStandIn) Served() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.served))
	for k, v := range m.served {
		out[k] = v
	}
	return out
}

func (m *MetricsStandIn) loadOf(pod *corev1.Pod) Load {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.rules) - 1; i >= 0; i-- {
		r := m.rules[i]
		if r.namespace == pod.Namespace && r.selector.Matches(labels.Set(pod.Labels)) {
			return r.load
		}
	}
	return m.dflt
}

const metricsPrefix = "/apis/" + MetricsGroup + "/" + MetricsVersion

func (m *MetricsStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, err := m.authenticate(r)
	if err != nil {
		writeStatus(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, err.Error())
		return
	}
	if r.Method != http.MethodGet {
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, r.Method+" is not served")
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == metricsPrefix:
		// Legacy discovery; the aggregator falls back to it when /apis
		// does not answer aggregated discovery (handler_discovery.go).
		writeJSON(w, http.StatusOK, &metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: MetricsGroup + "/" + MetricsVersion,
			// As metrics-server declares them: get and list, no watch.
			APIResources: []metav1.APIResource{{Name: "pods", Namespaced: true, Kind: "PodMetrics", Verbs: metav1.Verbs{"get", "list"}}},
		})
	case path == metricsPrefix+"/pods":
		m.list(w, r, user, metav1.NamespaceAll)
	case strings.HasPrefix(path, metricsPrefix+"/namespaces/"):
		parts := strings.Split(strings.TrimPrefix(path, metricsPrefix+"/namespaces/"), "/")
		switch {
		case len(parts) == 2 && parts[1] == "pods":
			m.list(w, r, user, parts[0])
		case len(parts) == 3 && parts[1] == "pods":
			m.get(w, r, parts[0], parts[2])
		default:
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "not served: "+path)
		}
	default:
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "not served: "+path)
	}
}

// authenticate accepts the aggregator only: its client certificate was
// verified against the front-proxy CA in the handshake; its name must be
// allowed and it must say which user it proxies for.
func (m *MetricsStandIn) authenticate(r *http.Request) (string, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", errors.New("no client certificate")
	}
	if cn := r.TLS.PeerCertificates[0].Subject.CommonName; len(m.allowedNames) > 0 && !slices.Contains(m.allowedNames, cn) {
		return "", fmt.Errorf("client certificate %q is not an allowed front proxy", cn)
	}
	user := r.Header.Get("X-Remote-User")
	if user == "" {
		return "", errors.New("no X-Remote-User")
	}
	return user, nil
}

func (m *MetricsStandIn) list(w http.ResponseWriter, r *http.Request, user, namespace string) {
	sel := r.URL.Query().Get("labelSelector")
	if _, err := labels.Parse(sel); err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	pods, err := m.cs.CoreV1().Pods(namespace).List(r.Context(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
		return
	}
	reporting, err := m.reportingNodes(r.Context())
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
		return
	}
	out := &metricsv1beta1.PodMetricsList{TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: MetricsGroup + "/" + MetricsVersion}}
	now := time.Now()
	for i := range pods.Items {
		if pm, ok := m.podMetrics(&pods.Items[i], reporting, now); ok {
			out.Items = append(out.Items, pm)
		}
	}
	m.mu.Lock()
	m.served[user]++
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (m *MetricsStandIn) get(w http.ResponseWriter, r *http.Request, namespace, name string) {
	pod, err := m.cs.CoreV1().Pods(namespace).Get(r.Context(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
		return
	}
	if err == nil {
		reporting, err := m.reportingNodes(r.Context())
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
			return
		}
		if pm, ok := m.podMetrics(pod, reporting, time.Now()); ok {
			writeJSON(w, http.StatusOK, &pm)
			return
		}
	}
	writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("podmetrics %q not found", name))
}

// metricsWindow is the window each sample covers. The HPA ignores a CPU
// sample of a pod in its first minutes whose timestamp is within one window
// of its Ready transition (replica_calculator.go groupPods): a short window
// lets a freshly scheduled pod count soon.
const metricsWindow = 10 * time.Second

// reportingNodes are the Ready nodes: metrics-server scrapes each node's
// kubelet, so a node that stopped reporting (a lost zone) yields no
// metrics for its pods.
func (m *MetricsStandIn) reportingNodes(ctx context.Context) (map[string]bool, error) {
	nodes, err := m.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	ready := map[string]bool{}
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready[n.Name] = true
			}
		}
	}
	return ready, nil
}

// podMetrics is what metrics-server reports for a running pod on a
// reporting node: one entry per running container (sidecars, the
// restartable init containers, included); other pods have no metrics.
func (m *MetricsStandIn) podMetrics(pod *corev1.Pod, reporting map[string]bool, now time.Time) (metricsv1beta1.PodMetrics, bool) {
	if pod.DeletionTimestamp != nil || !reporting[pod.Spec.NodeName] || pod.Status.Phase != corev1.PodRunning {
		return metricsv1beta1.PodMetrics{}, false
	}
	load := m.loadOf(pod)
	pm := metricsv1beta1.PodMetrics{
		TypeMeta:   metav1.TypeMeta{Kind: "PodMetrics", APIVersion: MetricsGroup + "/" + MetricsVersion},
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, Labels: pod.Labels, CreationTimestamp: metav1.NewTime(now)},
		Timestamp:  metav1.NewTime(now),
		Window:     metav1.Duration{Duration: metricsWindow},
	}
	containers := slices.Clone(pod.Spec.Containers)
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers, c)
		}
	}
	for _, c := range containers {
		pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: c.Name, Usage: corev1.ResourceList{
			corev1.ResourceCPU:    usage(c.Resources.Requests, corev1.ResourceCPU, load.CPU, resource.MustParse("1m")),
			corev1.ResourceMemory: usage(c.Resources.Requests, corev1.ResourceMemory, load.Memory, resource.MustParse("16Mi")),
		}})
	}
	return pm, true
}

// usage is fraction of the request of name; a container without that
// request uses fallback (the HPA refuses to compute utilization for it
// anyway: "missing request for cpu").
func usage(requests corev1.ResourceList, name corev1.ResourceName, fraction float64, fallback resource.Quantity) resource.Quantity {
	req, ok := requests[name]
	if !ok {
		return fallback
	}
	if name == corev1.ResourceCPU {
		return *resource.NewMilliQuantity(int64(math.Round(float64(req.MilliValue())*fraction)), resource.DecimalSI)
	}
	return *resource.NewQuantity(int64(math.Round(float64(req.Value())*fraction)), resource.BinarySI)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	writeJSON(w, code, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg,
	})
}

// servingCert is a self-signed CA (PEM) and a certificate for dnsName
// signed by it.
func servingCert(dnsName string) (tls.Certificate, []byte, error) {
	ca, caKey, caPEM, err := newCA("metrics-stand-in-ca")
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := issue(ca, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: dnsName}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{dnsName}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	return cert, caPEM, err
}

// newCA is a self-signed CA valid for a day, and its PEM.
func newCA(name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return ca, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// issue signs tmpl (subject, usages, names) with ca for a day.
func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = serial, now.Add(-time.Hour), now.Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// RegisterMetricsAPI creates the ExternalName Service and the APIService
// that send metrics.k8s.io to m, and waits until the aggregator reports the
// APIService Available (its availability controller has reached m's
// discovery through the Service, remote_available_controller.go) and then
// until the aggregator itself proxies the group. The two are not the same
// moment: the proxy handler learns of the Available condition from its own
// informer (APIServiceRegistrationController -> AddAPIService ->
// updateAPIService), and until then answers 503 "service unavailable"
// (kube-aggregator handler_proxy.go, serviceAvailable).
func RegisterMetricsAPI(ctx context.Context, dyn dynamic.Interface, cs kubernetes.Interface, m *MetricsStandIn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: MetricsServiceName, Namespace: MetricsServiceNamespace},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "127.0.0.1"},
	}
	// kube-system is created by the API server's system-namespaces
	// controller shortly after it is ready.
	for {
		_, err := cs.CoreV1().Services(MetricsServiceNamespace).Create(ctx, svc, metav1.CreateOptions{})
		if err == nil {
			break
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("Service %s/%s: %w", MetricsServiceNamespace, MetricsServiceName, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Service %s/%s: %w", MetricsServiceNamespace, MetricsServiceName, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": MetricsAPIService},
		"spec": map[string]any{
			"group": MetricsGroup, "version": MetricsVersion,
			"service":              map[string]any{"namespace": MetricsServiceNamespace, "name": MetricsServiceName, "port": int64(m.Port())},
			"caBundle":             base64.StdEncoding.EncodeToString(m.CABundle()),
			"groupPriorityMinimum": int64(100), "versionPriority": int64(100),
		},
	}}
	if _, err := dyn.Resource(APIServiceGVR).Create(ctx, apiService, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("APIService %s: %w", MetricsAPIService, err)
	}
	var last string
	for {
		o, err := dyn.Resource(APIServiceGVR).Get(ctx, MetricsAPIService, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
			for _, c := range conds {
				cm, _ := c.(map[string]any)
				if cm["type"] == "Available" {
					if cm["status"] == "True" {
						return waitProxied(ctx, cs, timeout)
					}
					last = fmt.Sprintf("%v: %v", cm["reason"], cm["message"])
				}
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("APIService %s not Available after %s: %s", MetricsAPIService, timeout, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// waitProxied waits until discovery of the metrics group answers through
// the aggregator's proxy.
func waitProxied(ctx context.Context, cs kubernetes.Interface, timeout time.Duration) error {
	path := "/apis/" + MetricsGroup + "/" + MetricsVersion
	for {
		err := cs.Discovery().RESTClient().Get().AbsPath(path).Do(ctx).Error()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("APIService %s Available, but GET %s through the aggregator still fails after %s: %w", MetricsAPIService, path, timeout, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// String names the stand-in for logs.
func (m *MetricsStandIn) String() string {
	return "metrics.k8s.io stand-in on 127.0.0.1:" + strconv.Itoa(m.Port())
}
