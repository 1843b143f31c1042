package diff

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/generator"
	"github.com/ecommerce-platform/gitops/internal/finding"
)

func env(name string, files map[string]string) generator.Env {
	e := generator.Env{Name: name}
	for p, d := range files {
		e.Files = append(e.Files, generator.File{Path: p, Data: []byte(d)})
	}
	return e
}

const rollout = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: cart, namespace: shop}
spec:
  replicas: %s
  template:
    spec:
      containers:
      - name: cart
        image: cart@sha256:1
        env:
%s`

func TestCompareObjectsAndFields(t *testing.T) {
	base := []generator.Env{env("prod", map[string]string{
		"svc-cart/rollout-cart.yaml": strings.Replace(strings.Replace(rollout, "%s", "3", 1), "%s",
			"        - {name: A, value: a}\n        - {name: B, value: b}\n", 1),
		"svc-cart/service-old.yaml":   "apiVersion: v1\nkind: Service\nmetadata: {name: old, namespace: shop}\n",
		"svc-cart/kustomization.yaml": "resources: []\n",
	})}
	head := []generator.Env{env("prod", map[string]string{
		// B moved before A and a new C: matched by name, so only C shows.
		"svc-cart/rollout-cart.yaml": strings.Replace(strings.Replace(rollout, "%s", "1", 1), "%s",
			"        - {name: B, value: b}\n        - {name: A, value: a}\n        - {name: C, value: c}\n", 1),
		"svc-cart/service-new.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: new, namespace: shop}\n",
	})}
	r, err := Compare(base, head)
	if err != nil {
		t.Fatal(err)
	}
	want := []Object{{
		Env: "prod", App: "svc-cart", File: "rendered/prod/svc-cart/rollout-cart.yaml", APIVersion: "argoproj.io/v1alpha1",
		Kind: "Rollout", Namespace: "shop", Name: "cart", Status: Changed,
		Changes: []Change{
			{Path: "spec.replicas", Old: "3", New: "1", Keys: []string{"spec", "replicas"}},
			{Path: "spec.template.spec.containers[name=cart].env[name=C]", New: `{"name":"C","value":"c"}`,
				Keys: []string{"spec", "template", "spec", "containers", "0", "env", "2"}},
		},
	}, {
		Env: "prod", App: "svc-cart", File: "rendered/prod/svc-cart/service-new.yaml", APIVersion: "v1",
		Kind: "Service", Namespace: "shop", Name: "new", Status: Added,
		Body: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "new", "namespace": "shop"}},
	}, {
		Env: "prod", App: "svc-cart", File: "rendered/prod/svc-cart/service-old.yaml", APIVersion: "v1",
		Kind: "Service", Namespace: "shop", Name: "old", Status: Removed,
	}}
	if diff := cmp.Diff(want, r.Objects); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]AppSummary{{Env: "prod", App: "svc-cart", Added: 1, Changed: 1, Removed: 1}}, r.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// A file moved to another name or folder, or keys reordered, is no change.
func TestMovedOrReorderedIsNoChange(t *testing.T) {
	a := []generator.Env{env("prod", map[string]string{"x/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1', b: '2'}\n"})}
	b := []generator.Env{env("prod", map[string]string{"x/renamed.yaml": "kind: ConfigMap\ndata: {b: '2', a: '1'}\nmetadata: {name: c}\napiVersion: v1\n"})}
	r, err := Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Empty() {
		t.Errorf("want no change, got %+v", r.Objects)
	}
}

// Secret values never reach any format; references to secrets do.
func TestRedaction(t *testing.T) {
	base := []generator.Env{env("prod", map[string]string{
		"a/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: b2xk}\n",
		"a/cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {mode: fast}\n",
		"a/es.yaml":     "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: e}\nspec: {data: [{secretKey: API_TOKEN, remoteRef: {key: prod/old}}]}\n",
		"a/db.yaml":     "apiVersion: redshift.aws.upbound.io/v1beta2\nkind: Cluster\nmetadata: {name: r}\nspec: {forProvider: {region: us-east-1}}\n",
	})}
	head := []generator.Env{env("prod", map[string]string{
		"a/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: bmV3LXZhbHVl}\n",
		"a/cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {mode: fast, DB_PASSWORD: hunter2, tls.key: \"-----BEGIN RSA PRIVATE KEY-----\\nMIIE\"}\n",
		"a/es.yaml":     "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: e}\nspec: {data: [{secretKey: API_TOKEN, remoteRef: {key: prod/new}}]}\n",
		"a/db.yaml":     "apiVersion: redshift.aws.upbound.io/v1beta2\nkind: Cluster\nmetadata: {name: r}\nspec: {forProvider: {region: us-east-1, masterPassword: s3cr3t-literal, nodeType: ra3.xlplus}}\n",
	})}
	r, err := Compare(base, head)
	if err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func(*bytes.Buffer, *Report) error{
		"text":     func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) },
		"markdown": func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) },
		"json":     func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) },
	} {
		var out bytes.Buffer
		if err := write(&out, r); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"b2xk", "bmV3LXZhbHVl", "hunter2", "BEGIN RSA PRIVATE KEY", "s3cr3t-literal"} {
			if strings.Contains(out.String(), secret) {
				t.Errorf("%s output shows secret %q:\n%s", name, secret, out.String())
			}
		}
		for _, shown := range []string{"prod/new", "ra3.xlplus", Redacted} {
			if !strings.Contains(out.String(), shown) {
				t.Errorf("%s output lacks %q:\n%s", name, shown, out.String())
			}
		}
	}
}

func TestMarkdownIsAPullRequestComment(t *testing.T) {
	r := &Report{Base: "abc123",
		Summary: []AppSummary{{Env: "prod", App: "svc-cart", Changed: 1}},
		Objects: []Object{{Env: "prod", App: "svc-cart", File: "rendered/prod/svc-cart/rollout-cart.yaml", Kind: "Rollout",
			Namespace: "shop", Name: "cart", Status: Changed, Changes: []Change{{Path: "spec.replicas", Old: "3", New: "1"}}}},
		Findings: []finding.Finding{{Rule: "replicas", Severity: finding.Deny, Message: "Rollout has 1 replica, prod needs 3",
			File: "rendered/prod/svc-cart/rollout-cart.yaml", Line: 14, Kind: "Rollout", Name: "cart", Env: "prod",
			Source: []finding.Source{{File: "envs/prod/services.cue", Line: 7}}}},
	}
	var out bytes.Buffer
	if err := WriteMarkdown(&out, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		Marker,
		"| env | app | added | changed | removed |",
		"| prod | svc-cart | 0 | 1 | 0 |",
		"<details><summary>prod/svc-cart: Rollout <code>shop/cart</code> changed (1 field)</summary>",
		"| `spec.replicas` | `3` | `1` |  |",
		"| **deny** | replicas | Rollout cart | Rollout has 1 replica, prod needs 3 | `envs/prod/services.cue:7` |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, out.String())
		}
	}
	var decoded Report
	out.Reset()
	if err := WriteJSON(&out, r); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, &decoded); diff != "" {
		t.Errorf("json round trip (-want +got):\n%s", diff)
	}
}

func TestNewFindingsIgnoreLines(t *testing.T) {
	f := func(name string, line int) finding.Finding {
		return finding.Finding{Env: "prod", Rule: "r", Severity: finding.Deny, Kind: "Rollout", Name: name, Message: "m", Line: line}
	}
	got := NewFindings([]finding.Finding{f("a", 1)}, []finding.Finding{f("a", 9), f("b", 2)})
	if diff := cmp.Diff([]finding.Finding{f("b", 2)}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
