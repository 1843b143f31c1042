package checker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
	"github.com/ecommerce-platform/gitops/policies"
)

func newChecker(t testing.TB, opts Options) *Checker {
	t.Helper()
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parse(t testing.TB, file, src string) []*manifest.Object {
	t.Helper()
	objs, err := manifest.Parse(file, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func loadRendered(t testing.TB, env string) []*manifest.Object {
	t.Helper()
	objs, err := manifest.Load(filepath.Join("..", "..", "rendered", env))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatalf("rendered/%s is empty", env)
	}
	return objs
}

// The committed render passes every policy in both envs, parity included.
func TestRenderedIsClean(t *testing.T) {
	c := newChecker(t, Options{})
	fs, err := c.Check(context.Background(), []Set{{"prod", loadRendered(t, "prod")}, {"dr", loadRendered(t, "dr")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Errorf("%s:%d: %s %s: %s", f.File, f.Line, f.Severity, f.Rule, f.Message)
	}
}

func TestEnvs(t *testing.T) {
	c := newChecker(t, Options{})
	if diff := cmp.Diff([]string{"dr", "prod"}, c.Envs()); diff != "" {
		t.Errorf("Envs (-want +got):\n%s", diff)
	}
	if _, err := c.Check(context.Background(), []Set{{Env: "staging"}}); err == nil || !strings.Contains(err.Error(), `unknown env "staging"`) {
		t.Errorf("Check(staging) error = %v, want unknown env", err)
	}
}

const badRollout = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  strategy:
    blueGreen:
      activeService: web
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry/web:1.0
        env:
        - name: DB_PASSWORD
          value: hunter2
`

// A crafted bad object: every finding at its field's line, from several
// packages at once, cross-resource rules included, in a stable order.
func TestCrossPackageFindingsAndLines(t *testing.T) {
	c := newChecker(t, Options{})
	objs := parse(t, "bad/rollout.yaml", badRollout)
	got, err := c.Check(context.Background(), []Set{{"prod", objs}})
	if err != nil {
		t.Fatal(err)
	}
	type short struct {
		Rule string
		Sev  finding.Severity
		Line int
		Path string
	}
	var gotShort []short
	for _, f := range got {
		if f.File != "bad/rollout.yaml" || f.Kind != "Rollout" || f.Name != "web" || f.Namespace != "shop" || f.Env != "prod" {
			t.Errorf("finding names the wrong object: %+v", f)
		}
		if strings.Contains(f.Message, "hunter2") {
			t.Errorf("finding echoes the secret value: %s", f.Message)
		}
		gotShort = append(gotShort, short{f.Rule, f.Severity, f.Line, f.Path})
	}
	want := []short{
		{"replicas.min", finding.Deny, 7, "spec.replicas"},
		{"releases.promotion-gate", finding.Deny, 11, "spec.strategy.blueGreen"},
		{"releases.rollout-services", finding.Deny, 12, "spec.strategy.blueGreen.activeService"},
		{"zones.pdb-missing", finding.Deny, 4, "metadata.name"},
		{"zones.spread", finding.Deny, 16, "spec.template.spec.topologySpreadConstraints"},
		{"releases.image-digest", finding.Deny, 19, "spec.template.spec.containers[0].image"},
		{"secrets.env-literal", finding.Deny, 22, "spec.template.spec.containers[0].env[0].value"},
		{"network.unselected-pod", finding.Deny, 4, "metadata.name"},
		{"identity.default-service-account", finding.Deny, 16, "spec.template.spec.serviceAccountName"},
		{"identity.unneeded-token", finding.Deny, 16, "spec.template.spec.automountServiceAccountToken"},
		{"priority.missing", finding.Deny, 16, "spec.template.spec.priorityClassName"},
	}
	// Sorted by line, then rule.
	sortShort := func(s []short) {
		for i := range s {
			for j := i + 1; j < len(s); j++ {
				if s[j].Line < s[i].Line || (s[j].Line == s[i].Line && s[j].Rule < s[i].Rule) {
					s[i], s[j] = s[j], s[i]
				}
			}
		}
	}
	sortShort(want)
	if diff := cmp.Diff(want, gotShort); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// The worker count changes nothing but speed.
func TestDeterministicAcrossWorkers(t *testing.T) {
	objs := append(loadRendered(t, "prod"), parse(t, "bad/rollout.yaml", badRollout)...)
	var first []finding.Finding
	for _, w := range []int{1, 2, 8} {
		got, err := newChecker(t, Options{Workers: w}).Check(context.Background(), []Set{{"prod", objs}, {"dr", loadRendered(t, "dr")}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Fatal("no findings on a bad object")
		}
		if first == nil {
			first = got
		} else if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("workers=%d differs (-1 worker +%d):\n%s", w, w, diff)
		}
	}
}

// Parity runs when both envs are checked together, and only then.
func TestParity(t *testing.T) {
	c := newChecker(t, Options{})
	prod := loadRendered(t, "prod")
	var dr []*manifest.Object
	for _, o := range loadRendered(t, "dr") {
		if !(o.Kind() == "Service" && o.Name() == "cart") {
			dr = append(dr, o)
		}
	}
	got, err := c.Check(context.Background(), []Set{{"prod", prod}, {"dr", dr}})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]int{}
	for _, f := range got {
		rules[f.Rule+"/"+f.Env]++
	}
	// prod's cart Service has no dr counterpart; dr's cart Rollout loses its
	// active Service, and its Ingress its backend.
	if diff := cmp.Diff(map[string]int{"parity.missing-in-peer/prod": 1, "releases.rollout-services/dr": 1, "references.ingress-backend/dr": 1}, rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	alone, err := c.Check(context.Background(), []Set{{"prod", prod}})
	if err != nil {
		t.Fatal(err)
	}
	if len(alone) != 0 {
		t.Errorf("prod alone: parity has no peer and must stay silent, got %v", alone)
	}
}

// Policies written the plain conftest way (string results) work, and their
// rule id is the package name.
func TestConftestStyleStringResults(t *testing.T) {
	fsys := fstest.MapFS{
		"thresholds.rego": {Data: []byte("package thresholds\nprod := {}\n")},
		"labels.rego": {Data: []byte(`package labels
deny contains msg if {
	not input.metadata.labels.team
	msg := sprintf("%s has no team label", [input.metadata.name])
}
warn contains "plain warning" if input.kind == "ConfigMap"
`)},
		"labels_test.rego": {Data: []byte("package labels_test\ntest_x if false\n")},
	}
	c := newChecker(t, Options{Policies: fsys})
	objs := parse(t, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n")
	got, err := c.Check(context.Background(), []Set{{"prod", objs}})
	if err != nil {
		t.Fatal(err)
	}
	want := []finding.Finding{
		{Rule: "labels", Severity: finding.Deny, Message: "cm has no team label", File: "cm.yaml", Line: 1, Kind: "ConfigMap", Name: "cm", Env: "prod"},
		{Rule: "labels", Severity: finding.Warn, Message: "plain warning", File: "cm.yaml", Line: 1, Kind: "ConfigMap", Name: "cm", Env: "prod"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A broken policy is a *PolicyError (exit 2), at load or at evaluation.
func TestBrokenPolicies(t *testing.T) {
	th := &fstest.MapFile{Data: []byte("package thresholds\nprod := {}\n")}
	for name, tc := range map[string]struct {
		fs      fstest.MapFS
		atCheck bool
		want    string
	}{
		"syntax":        {fstest.MapFS{"thresholds.rego": th, "p.rego": {Data: []byte("package p\ndeny contains x if {")}}, false, "p.rego"},
		"unsafe":        {fstest.MapFS{"thresholds.rego": th, "p.rego": {Data: []byte("package p\ndeny contains x if y == 1\n")}}, false, "unsafe"},
		"no rules":      {fstest.MapFS{"thresholds.rego": th}, false, "no deny, warn or violation"},
		"no thresholds": {fstest.MapFS{"p.rego": {Data: []byte("package p\ndeny contains \"x\" if false\n")}}, false, "thresholds"},
		"no msg":        {fstest.MapFS{"thresholds.rego": th, "p.rego": {Data: []byte("package p\ndeny contains {\"rule\": \"x\"} if true\n")}}, true, "no string msg"},
		"number":        {fstest.MapFS{"thresholds.rego": th, "p.rego": {Data: []byte("package p\ndeny contains 1 if true\n")}}, true, "neither a string nor an object"},
		"conflict":      {fstest.MapFS{"thresholds.rego": th, "p.rego": {Data: []byte("package p\nx := 1 if true\nx := 2 if true\ndeny contains \"d\" if x\n")}}, true, "conflict"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := New(context.Background(), Options{Policies: tc.fs})
			if err == nil && tc.atCheck {
				_, err = c.Check(context.Background(), []Set{{"prod", parse(t, "a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")}})
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want a PolicyError containing %q", err, tc.want)
			}
		})
	}
}

func TestDottedPath(t *testing.T) {
	for in, want := range map[string]string{
		"spec/replicas": "spec.replicas",
		"spec/template/spec/containers/0/env/2/value": "spec.template.spec.containers[0].env[2].value",
		"0/a": "[0].a",
	} {
		if got := DottedPath(strings.Split(in, "/")); got != want {
			t.Errorf("DottedPath(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestIndex(t *testing.T) {
	objs := parse(t, "x.yaml", `apiVersion: v1
kind: Service
metadata: {name: a, namespace: shop}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: px}
---
apiVersion: redshift.aws.upbound.io/v1beta1
kind: Cluster
metadata: {name: a}
---
apiVersion: redshift.aws.upbound.io/v1beta2
kind: Cluster
metadata: {name: a}
`)
	idx := index(objs, func(i int) any { return objs[i].Object })
	keys := fmt.Sprint(len(idx["Service"].(map[string]any)["shop"].(map[string]any)["a"].([]any)),
		len(idx["StorageClass.storage.k8s.io"].(map[string]any)[""].(map[string]any)["px"].([]any)),
		len(idx["Cluster.redshift.aws.upbound.io"].(map[string]any)[""].(map[string]any)["a"].([]any)))
	if keys != "1 1 2" {
		t.Errorf("index counts = %s, want 1 1 2 (both versions of the redshift Cluster kept)", keys)
	}
}

// BenchmarkCheck measures one env's check over the committed render, the
// figure to compare with conftest's per-rule, per-file re-evaluation.
func BenchmarkCheck(b *testing.B) {
	c := newChecker(b, Options{})
	sets := []Set{{"prod", loadRendered(b, "prod")}, {"dr", loadRendered(b, "dr")}}
	n := len(sets[0].Objects) + len(sets[1].Objects)
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Check(context.Background(), sets); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// Every rule id a policy can report is documented (SARIF shows the text).
func TestRuleDocs(t *testing.T) {
	docs := newChecker(t, Options{}).RuleDocs()
	var ids []string
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.rego") || !strings.HasSuffix(p, ".rego") {
			return err
		}
		src, _ := fs.ReadFile(policies.FS, p)
		for _, part := range strings.Split(string(src), `lib.finding("`)[1:] {
			id, _, _ := strings.Cut(part, `"`)
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) < 20 {
		t.Fatalf("found %d rule ids in the policies", len(ids))
	}
	for _, id := range append(ids, RuleWaiverExpired, RuleWaiverUnused) {
		if docs[id] == "" {
			t.Errorf("rule %s has no docs entry", id)
		}
	}
	for id := range docs {
		if !slices.Contains(ids, id) && !strings.HasPrefix(id, "waiver.") {
			t.Errorf("docs entry %s names no rule", id)
		}
	}
}

// BenchmarkConftestStyle evaluates the same policies the way conftest does
// (DESIGN.md §5): per object and per rule set a fresh rego.New().Eval, the
// input re-converted each time, no goroutines. It is the baseline the
// engine's one prepared query per object is measured against.
func BenchmarkConftestStyle(b *testing.B) {
	c := newChecker(b, Options{})
	objs := append(loadRendered(b, "prod"), loadRendered(b, "dr")...)
	modules, err := load(policies.FS)
	if err != nil {
		b.Fatal(err)
	}
	compiler := ast.NewCompiler()
	if compiler.Compile(modules); compiler.Failed() {
		b.Fatal(compiler.Errors)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		for _, o := range objs {
			for _, r := range c.rules {
				q := fmt.Sprintf("x := data[%q][%q]", r.pkg, r.name)
				if _, err := rego.New(rego.Query(q), rego.Compiler(compiler), rego.Input(o.Object)).Eval(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(len(objs)*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// data.check.files relates objects to the Argo CD Application syncing their
// folder: without RespectIgnoreDifferences the cart Rollout's HPA is fought.
func TestFilesReachTheRules(t *testing.T) {
	objs := loadRendered(t, "prod")
	var app *manifest.Object
	for _, o := range objs {
		if o.Kind() == "Application" && o.Name() == "prod-svc-cart" {
			app = o
		}
	}
	if app == nil {
		t.Fatal("rendered/prod has no Application prod-svc-cart")
	}
	app.Object["spec"].(map[string]any)["syncPolicy"].(map[string]any)["syncOptions"] = []any{"ServerSideApply=true"}
	got, err := newChecker(t, Options{}).Check(context.Background(), []Set{{"prod", objs}})
	if err != nil {
		t.Fatal(err)
	}
	// Without RespectIgnoreDifferences the Services' selector hash is not
	// kept either (releases.selector-hash, a deny); both come from files.
	if len(got) != 2 {
		t.Fatalf("findings %+v, want an hpa-fight warning and a selector-hash denial on the cart Rollout", got)
	}
	for _, rule := range []string{"replicas.hpa-fight", "releases.selector-hash"} {
		found := false
		for _, f := range got {
			if f.Rule == rule && f.Name == "cart" && f.File == filepath.Join("..", "..", "rendered", "prod", "svc-cart", "rollout-cart.yaml") {
				found = true
				if rule == "replicas.hpa-fight" && f.Severity != finding.Warn {
					t.Errorf("%s: severity %v, want a warning", rule, f.Severity)
				}
			}
		}
		if !found {
			t.Errorf("findings %+v, want %s on the cart Rollout", got, rule)
		}
	}
}

// A package's env_index is evaluated once per env, without input, and the
// rules read it from data.check.env_index[pkg]; an env_index that fails to
// evaluate is a PolicyError.
func TestEnvIndex(t *testing.T) {
	th := &fstest.MapFile{Data: []byte("package thresholds\nprod := {}\ndr := {}\n")}
	fsys := fstest.MapFS{
		"thresholds.rego": th,
		"names.rego": {Data: []byte(`package names
env_index := {"count": count(data.check.index.ConfigMap[""]), "env": data.check.env, "input": input_kind}
default input_kind := "none"
input_kind := input.kind
deny contains msg if {
	ix := data.check.env_index.names
	msg := sprintf("%s sees %d ConfigMap(s) in %s, input %s", [input.metadata.name, ix.count, ix.env, ix.input])
}
`)},
	}
	c := newChecker(t, Options{Policies: fsys})
	objs := parse(t, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
	got, err := c.Check(context.Background(), []Set{{"prod", objs}, {"dr", objs[:1]}})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, f := range got {
		msgs = append(msgs, f.Message)
	}
	want := []string{"a sees 1 ConfigMap(s) in dr, input none", "a sees 2 ConfigMap(s) in prod, input none", "b sees 2 ConfigMap(s) in prod, input none"}
	slices.Sort(msgs)
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	broken := fstest.MapFS{"thresholds.rego": th, "p.rego": {Data: []byte("package p\nenv_index := 3 if true\nenv_index := 4 if true\ndeny contains \"d\" if false\n")}}
	c = newChecker(t, Options{Policies: broken})
	var pe *PolicyError
	if _, err := c.Check(context.Background(), []Set{{"prod", objs}}); !errors.As(err, &pe) || !strings.Contains(err.Error(), "env_index") {
		t.Errorf("error = %v, want a PolicyError about env_index", err)
	}
}
