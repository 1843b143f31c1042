package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/e2e/internal/argosync"
	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
)

// TestServerRejectsInvalidObjects proves the harness can fail: a folder of
// broken objects goes through the same build-and-apply path as rendered/,
// and each must come back as a rejection carrying the server's reason. Each
// broken object has a valid twin that must be accepted, so a rejection can
// only come from the one defect.
func TestServerRejectsInvalidObjects(t *testing.T) {
	cases := []struct {
		file string
		yaml string
		// reject is a fragment of the server's message; "" means accepted.
		reject string
	}{
		{"service-valid.yaml", service("web", "80"), ""},
		// A wrong type in a built-in kind.
		{"service-port-string.yaml", service("web-broken", `"eighty"`), "expected numeric"},

		{"rollout-valid.yaml", rollout("shop-valid", "activeService: shop-active"), ""},
		// An unknown field on a structural CRD: only strict field validation
		// turns this typo from a silently dropped field into an error.
		{"rollout-typo.yaml", rollout("shop-typo", "activeService: shop-active\n      activeServis: shop-active"), `activeServis`},
		// A required field missing (the CRD schema's required list).
		{"rollout-no-active.yaml", rollout("shop-no-active", "previewService: shop-preview"), "activeService"},

		{"zone-valid.yaml", zone("zone-valid", "name: shop.example.com\n    comment: e2e"), ""},
		// A CEL rule of a Crossplane CRD, which only fires after the server
		// defaults managementPolicies to ["*"].
		{"zone-no-name.yaml", zone("zone-no-name", "comment: e2e"), "spec.forProvider.name is a required parameter"},

		{"deployment-valid.yaml", deployment("api-valid", ""), ""},
		// A field newer than the cluster: PodSpec.schedulingGroup is in
		// Kubernetes v1.37, not in the v1.35 the clusters run (and this
		// server runs), so strict field validation rejects it, as EKS would.
		{"deployment-newer-field.yaml", deployment("api-newer", "      schedulingGroup:\n        podGroupName: api\n"), `schedulingGroup`},

		// A kind no CRD serves.
		{"widget.yaml", "apiVersion: example.invalid/v1\nkind: Widget\nmetadata:\n  name: w\nspec: {}\n", `no matches for kind "Widget"`},
	}

	dir := t.TempDir()
	var resources []string
	for _, c := range cases {
		if err := os.WriteFile(filepath.Join(dir, c.file), []byte(c.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		resources = append(resources, c.file)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization(resources...)), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := argosync.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(cases) {
		t.Fatalf("kustomize built %d objects from %d files", len(objs), len(cases))
	}

	s := newServer(t, binaries.KubernetesVersion)
	const ns = "e2e-negative"
	if err := s.applier.EnsureNamespace(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	rep := s.applier.ApplyFolder(t.Context(), argosync.Folder{Dir: dir, Namespace: ns, Objects: objs})

	// Map each outcome back to its file through the object's name.
	accepted := map[string]bool{}
	for _, a := range rep.Applied {
		accepted[a.Name] = true
	}
	rejected := map[string]string{}
	for _, r := range rep.Rejections {
		rejected[r.ID[strings.LastIndexAny(r.ID, " /")+1:]] = r.Message
	}
	for _, c := range cases {
		name := objectName(c.yaml)
		msg, wasRejected := rejected[name]
		switch {
		case c.reject == "" && !accepted[name]:
			t.Errorf("%s: want accepted, got rejected: %s", c.file, msg)
		case c.reject != "" && !wasRejected:
			t.Errorf("%s: want rejected (%q), but the server accepted it", c.file, c.reject)
		case c.reject != "" && !strings.Contains(msg, c.reject):
			t.Errorf("%s: rejected, but the message lacks %q: %s", c.file, c.reject, msg)
		case c.reject != "":
			t.Logf("%s rejected as expected: %s", c.file, msg)
		}
	}
	wantRejected := 0
	for _, c := range cases {
		if c.reject != "" {
			wantRejected++
		}
	}
	if len(rep.Rejections) != wantRejected || len(rep.Applied) != len(cases)-wantRejected {
		t.Errorf("want %d accepted and %d rejected, got %d and %d:\n%s",
			len(cases)-wantRejected, wantRejected, len(rep.Applied), len(rep.Rejections), rep.RejectionList())
	}
}

// objectName reads metadata.name from a fixture (always the first "name:"
// line, by construction of the fixtures below).
func objectName(yaml string) string {
	for line := range strings.Lines(yaml) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "name: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func service(name, port string) string {
	return `apiVersion: v1
kind: Service
metadata:
  name: ` + name + `
spec:
  selector:
    app: web
  ports:
  - name: http
    port: ` + port + `
    targetPort: 8080
`
}

// rollout is a minimal blue-green Rollout; blueGreen is the strategy body.
func rollout(name, blueGreen string) string {
	return `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: ` + name + `
spec:
  replicas: 2
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
      - name: shop
        image: registry.example.com/shop:1.0.0
  strategy:
    blueGreen:
      ` + blueGreen + `
`
}

// zone is a Crossplane route53 Zone (cluster-scoped); forProvider is its body.
func zone(name, forProvider string) string {
	return `apiVersion: route53.aws.upbound.io/v1beta1
kind: Zone
metadata:
  name: ` + name + `
spec:
  forProvider:
    ` + forProvider + `
`
}

// deployment is a minimal valid Deployment; extra is spliced into its pod spec.
func deployment(name, extra string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\nspec:\n  selector:\n    matchLabels: {app: " + name + "}\n  template:\n    metadata:\n      labels: {app: " + name + "}\n    spec:\n" + extra +
		"      containers:\n      - name: app\n        image: registry.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
}
