package schemacheck

import (
	"strings"
	"testing"
)

const rolloutNote = " (checked as PodTemplateSpec: the pod template of the ReplicaSets the Rollouts controller creates)"

// A Rollout's spec.template is typed loosely by its CRD: a bad enum, a bad
// quantity and a bad port there pass the CRD schema and are caught only as
// the PodTemplateSpec it becomes, each at its line.
func TestEmbeddedRolloutTemplate(t *testing.T) {
	doc := `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: cart
  namespace: shop
spec:
  selector:
    matchLabels: {app: cart}
  strategy:
    blueGreen: {activeService: cart, previewService: cart-preview}
  template:
    metadata:
      labels: {app: cart}
    spec:
      containers:
      - name: cart
        image: cart:1
        ports:
        - containerPort: 70000
        resources:
          requests:
            cpu: two cores
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: Sometimes
        labelSelector: {matchLabels: {app: cart}}
`
	got := validator(t).Validate(parse(t, "rollout.yaml", doc), "prod")
	checkFindings(t, doc, got, []want{
		{"spec.template.spec.containers.0.ports.0.containerPort", "spec.template.spec.containers.0.ports.0.containerPort: maximum: got 70,000, want 65,535" + rolloutNote, "containerPort: 70000"},
		{"spec.template.spec.containers.0.resources.requests.cpu", `spec.template.spec.containers.0.resources.requests.cpu: "two cores" is not a valid quantity: ` + quantityErr(t, "two cores") + rolloutNote, "cpu: two cores"},
		{"spec.template.spec.topologySpreadConstraints.0.whenUnsatisfiable", `spec.template.spec.topologySpreadConstraints.0.whenUnsatisfiable: "Sometimes" is not one of [DoNotSchedule ScheduleAnyway]` + rolloutNote, "whenUnsatisfiable: Sometimes"},
	})
}

func quantityErr(t *testing.T, s string) string {
	t.Helper()
	err := quantity(s)
	if err == nil {
		t.Fatalf("quantity(%q) accepted", s)
	}
	return err.Error()
}

// An AnalysisTemplate's job metric is a batch JobSpec: every metric's job is
// checked. Where the CRD's own copy of the type already faults a field (the
// string port), that finding stands alone, without a second one.
func TestEmbeddedAnalysisJob(t *testing.T) {
	doc := `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: smoke
  namespace: shop
spec:
  metrics:
  - name: ok
    provider:
      job:
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers:
              - name: smoke
                image: curl:1
  - name: bad
    provider:
      job:
        spec:
          template:
            spec:
              restartPolicy: Sometimes
              containers:
              - name: smoke
                image: curl:1
                ports:
                - containerPort: http
`
	got := validator(t).Validate(parse(t, "analysis.yaml", doc), "prod")
	note := " (checked as JobSpec: the Job the Rollouts job metric provider creates)"
	checkFindings(t, doc, got, []want{
		{"spec.metrics.1.provider.job.spec.template.spec.restartPolicy", `spec.metrics.1.provider.job.spec.template.spec.restartPolicy: "Sometimes" is not one of [Always OnFailure Never]` + note, "restartPolicy: Sometimes"},
		{"spec.metrics.1.provider.job.spec.template.spec.containers.0.ports.0.containerPort", `spec.metrics.1.provider.job.spec.template.spec.containers.0.ports.0.containerPort: expected integer, got string "http"`, "containerPort: http"},
	})
}

// The committed platform's Rollouts and AnalysisTemplates are valid as what
// they become (TestCommittedRenderIsValid checks every object); here the
// table itself: every entry names a definition the documents have, and the
// constraints reach built-in kinds too.
func TestEmbeddedTable(t *testing.T) {
	v := validator(t)
	n := 0
	for _, fields := range v.embedded {
		for _, f := range fields {
			n++
			if _, ok := v.builtin.OpenAPI[f.Type]; !ok {
				t.Errorf("%s %s embeds unknown %s", f.Group, f.Kind, f.Type)
			}
		}
	}
	if n < 3 {
		t.Errorf("embedded table has %d entries", n)
	}
	doc := `apiVersion: v1
kind: Service
metadata: {name: s, namespace: shop}
spec:
  ports:
  - port: 0
    protocol: HTTP
`
	got := v.Validate(parse(t, "svc.yaml", doc), "prod")
	checkFindings(t, doc, got, []want{
		{"spec.ports.0.port", "spec.ports.0.port: minimum: got 0, want 1", "port: 0"},
		{"spec.ports.0.protocol", `spec.ports.0.protocol: "HTTP" is not one of [TCP UDP SCTP]`, "protocol: HTTP"},
	})
}

func TestEmbeddedTableErrors(t *testing.T) {
	for name, tc := range map[string]struct{ data, want string }{
		"unknown field":  {"embedded:\n- {group: g, kind: K, path: spec, type: T, typo: x}\n", "unknown field"},
		"missing type":   {"embedded:\n- {group: g, kind: K, path: spec}\n", "needs group, kind, path and type"},
		"not yaml lists": {"embedded: {a: 1}\n", "embedded.yaml"},
	} {
		if _, err := parseEmbedded([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", name, err, tc.want)
		}
	}
	defs := map[string]any{"D": map[string]any{"properties": map[string]any{"p": map[string]any{"type": "string"}}}}
	if err := withValidation(defs, map[string]map[string]map[string]any{"X": {"p": {"enum": []any{"a"}}}}); err == nil || !strings.Contains(err.Error(), "X") {
		t.Errorf("unknown definition: error = %v", err)
	}
	if err := withValidation(defs, map[string]map[string]map[string]any{"D": {"q": {"enum": []any{"a"}}}}); err == nil || !strings.Contains(err.Error(), "D.q") {
		t.Errorf("unknown property: error = %v", err)
	}
}
