package twin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

// aggregatorLag is a stand-in for the API server's side of an APIService
// registration: the Service and APIService are created, the APIService
// reads Available at once, and the group's discovery through the
// aggregator answers 503 "service unavailable" for the first proxyAfter
// requests, as kube-aggregator's proxy handler does until its own informer
// has seen the condition (handler_proxy.go, serviceAvailable).
type aggregatorLag struct {
	proxyAfter int

	mu        sync.Mutex
	discovery int
	ready     time.Time // when discovery first answered
}

func (a *aggregatorLag) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost:
		// Create: the object back, as the API server returns it.
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	case r.URL.Path == "/apis/apiregistration.k8s.io/v1/apiservices/"+MetricsAPIService:
		_ = json.NewEncoder(w).Encode(map[string]any{
			"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
			"metadata": map[string]any{"name": MetricsAPIService},
			"status":   map[string]any{"conditions": []any{map[string]any{"type": "Available", "status": "True", "reason": "Passed"}}},
		})
	case r.URL.Path == "/apis/"+MetricsGroup+"/"+MetricsVersion:
		a.mu.Lock()
		defer a.mu.Unlock()
		a.discovery++
		if a.discovery <= a.proxyAfter {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"service unavailable","reason":"ServiceUnavailable","code":503}`))
			return
		}
		if a.ready.IsZero() {
			a.ready = time.Now()
		}
		_, _ = w.Write([]byte(`{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"metrics.k8s.io/v1beta1","resources":[]}`))
	default:
		http.NotFound(w, r)
	}
}

func registerAgainst(t *testing.T, a *aggregatorLag, timeout time.Duration) error {
	t.Helper()
	srv := httptest.NewServer(a) // 127.0.0.1
	defer srv.Close()
	// JSON, the stand-in's only encoding (client-go sends built-in kinds
	// as protobuf by default).
	cfg := &rest.Config{Host: srv.URL, ContentConfig: rest.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"}}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, _, frontPEM, err := newCA("front-proxy-ca")
	if err != nil {
		t.Fatal(err)
	}
	m, err := StartMetricsStandIn(fake.NewSimpleClientset(), frontPEM, "front-proxy-client")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	return RegisterMetricsAPI(t.Context(), dyn, cs, m, timeout)
}

// RegisterMetricsAPI returns only once the aggregator proxies the group,
// not as soon as the APIService reads Available (CI failed on the gap: the
// first PodMetrics list got 503).
func TestRegisterMetricsAPIWaitsForTheAggregatorsProxy(t *testing.T) {
	a := &aggregatorLag{proxyAfter: 3}
	if err := registerAgainst(t, a, time.Minute); err != nil {
		t.Fatal(err)
	}
	if a.discovery != 4 || a.ready.IsZero() {
		t.Errorf("returned after %d discovery requests (answered: %v), want the 4th, the first answered", a.discovery, !a.ready.IsZero())
	}
}

// A proxy that never serves is an error naming the path, not a hang and
// not a success.
func TestRegisterMetricsAPIFailsWhenTheProxyNeverServes(t *testing.T) {
	err := registerAgainst(t, &aggregatorLag{proxyAfter: 1 << 30}, 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "through the aggregator still fails") || !strings.Contains(err.Error(), "/apis/metrics.k8s.io/v1beta1") {
		t.Fatalf("err = %v, want the aggregator's proxy named", err)
	}
}
