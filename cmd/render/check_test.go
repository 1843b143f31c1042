package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

// repoRoot is where `render check` runs by default (it reads rendered/).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func runCheckCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"check"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// fakeSchema stands in for internal/schemacheck where a test is about the
// policies, so it does not depend on the CRDs or the Kubernetes schemas.
type fakeSchema struct{ deny map[string]string } // object name -> message

func (f fakeSchema) Validate(objs []*manifest.Object, env string) []finding.Finding {
	var out []finding.Finding
	for _, o := range objs {
		if msg, ok := f.deny[o.Name()]; ok {
			out = append(out, finding.Finding{Rule: "schema", Severity: finding.Deny, Message: msg, File: o.File, Line: o.Line, Kind: o.Kind(), Namespace: o.Namespace(), Name: o.Name(), Env: env})
		}
	}
	return out
}

func useFakeSchema(t *testing.T, f fakeSchema) {
	old := newSchemaValidator
	newSchemaValidator = func(string, string) (schemaValidator, error) { return f, nil }
	t.Cleanup(func() { newSchemaValidator = old })
}

func pinToday(t *testing.T, day string) {
	old := today
	d, _ := time.Parse(time.DateOnly, day)
	today = func() time.Time { return d }
	t.Cleanup(func() { today = old })
}

type jsonOut struct {
	Findings []finding.Finding `json:"findings"`
}

func decodeFindings(t *testing.T, stdout string) jsonOut {
	t.Helper()
	var out jsonOut
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("stdout is not the JSON contract: %v\n%s", err, stdout)
	}
	return out
}

// The committed render passes the real pipeline (schemas from the CRDs of
// schema/crds.lock.yaml and the policies) for both envs, the way `make check` runs it.
func TestCheckRenderedIsClean(t *testing.T) {
	t.Chdir(repoRoot(t))
	code, stdout, stderr := runCheckCLI(t, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, `"findings": []`) {
		t.Errorf(`clean output lacks "findings": []:\n%s`, stdout)
	}
	code, stdout, _ = runCheckCLI(t)
	if code != exitOK || !strings.Contains(stdout, "in dr, prod: 0 denied, 0 warning(s), 0 waived") {
		t.Errorf("text: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCheckCLI(t, "--env", "dr", "--format", "junit")
	if code != exitOK || !strings.Contains(stdout, `<testsuite name="dr"`) || strings.Contains(stdout, `name="prod"`) {
		t.Errorf("--env dr: exit %d\n%s", code, stdout)
	}
}

const badObjects = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, nodeTaintsPolicy: Honor, labelSelector: {matchLabels: {app: api}}}
      serviceAccountName: api-runner
      automountServiceAccountToken: false
      priorityClassName: system-cluster-critical
      containers:
      - name: api
        image: registry/api@sha256:c4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6
        envFrom:
        - secretRef:
            name: api-env
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: api
  namespace: shop
spec:
  maxUnavailable: 0
  selector: {matchLabels: {app: api}}
  unhealthyPodEvictionPolicy: AlwaysAllow
---
apiVersion: v1
kind: Secret
metadata:
  name: api-env
  namespace: shop
stringData:
  TOKEN: s3cr3t-value
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api-runner, namespace: shop}
automountServiceAccountToken: false
`

func writeCheckFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A crafted bad folder: exit 1 and exactly these findings, at these lines.
func TestCheckBadDirJSON(t *testing.T) {
	useFakeSchema(t, fakeSchema{})
	dir := t.TempDir()
	t.Chdir(dir)
	writeCheckFile(t, dir, "bad/api.yaml", badObjects)
	code, stdout, stderr := runCheckCLI(t, "--format", "json", "bad")
	if code != exitFindings {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	f := func(rule string, line int, kind, name, path, msg string) finding.Finding {
		return finding.Finding{Rule: rule, Severity: finding.Deny, Message: msg, File: filepath.Join("bad", "api.yaml"), Line: line, Kind: kind, Namespace: "shop", Name: name, Env: "prod", Path: path}
	}
	want := []finding.Finding{
		f("replicas.min", 7, "Deployment", "api", "spec.replicas", "Deployment api runs 2 replica(s); prod needs at least 3"+thresholdNote("prod", "min_replicas")),
		f("zones.pdb-blocks-drain", 32, "PodDisruptionBudget", "api", "spec.maxUnavailable", "PodDisruptionBudget api has maxUnavailable 0: no pod can ever be evicted, so node drains hang"),
		f("secrets.secret-data", 41, "Secret", "api-env", "stringData", "Secret api-env holds 1 value(s) in stringData (keys [\"TOKEN\"]) in git: produce it with an ExternalSecret instead"),
	}
	if diff := cmp.Diff(want, decodeFindings(t, stdout).Findings); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if strings.Contains(stdout, "s3cr3t-value") {
		t.Error("the Secret's value is printed")
	}

	// --env dr applies dr's thresholds: 2 replicas are enough there.
	code, stdout, _ = runCheckCLI(t, "--format", "json", "--env", "dr", "bad")
	got := decodeFindings(t, stdout).Findings
	if code != exitFindings || len(got) != 2 || got[0].Rule != "zones.pdb-blocks-drain" || got[0].Env != "dr" {
		t.Errorf("--env dr: exit %d, %+v", code, got)
	}
}

// Every format runs through the CLI; a warning alone exits 0.
func TestCheckFormatsAndWarnings(t *testing.T) {
	useFakeSchema(t, fakeSchema{})
	dir := t.TempDir()
	t.Chdir(dir)
	writeCheckFile(t, dir, "hpa.yaml", `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  replicas: 12
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, nodeTaintsPolicy: Honor, labelSelector: {matchLabels: {app: db}}}]
      serviceAccountName: db
      automountServiceAccountToken: false
      priorityClassName: system-cluster-critical
      containers: []
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: db, namespace: shop}
automountServiceAccountToken: false
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: db, namespace: shop}
spec:
  minReplicas: 3
  maxReplicas: 6
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db, namespace: shop}
spec: {maxUnavailable: 4, unhealthyPodEvictionPolicy: AlwaysAllow, selector: {matchLabels: {app: db}}}
---
# zones.rebalance: the spread is restored after the HPA scales down.
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: descheduler, namespace: argocd}
spec:
  source:
    chart: descheduler
    helm: {valuesObject: {deschedulerPolicy: {profiles: [{name: zone-spread, plugins: {balance: {enabled: [RemovePodsViolatingTopologySpreadConstraint]}}}]}}}
`)
	for format, want := range map[string]string{
		"text":   "hpa.yaml:5: warn [replicas.hpa-fight]",
		"json":   `"severity": "warn"`,
		"sarif":  `"level": "warning"`,
		"junit":  `<testcase name="StatefulSet/shop/db"`,
		"github": "::warning file=hpa.yaml,line=5,title=replicas.hpa-fight::",
	} {
		code, stdout, stderr := runCheckCLI(t, "--format", format, "hpa.yaml")
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("--format %s: exit %d, want 0 and %q in:\n%s%s", format, code, want, stdout, stderr)
		}
	}
}

func TestCheckBadInput(t *testing.T) {
	useFakeSchema(t, fakeSchema{})
	dir := t.TempDir()
	t.Chdir(dir)
	writeCheckFile(t, dir, "ok.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
	writeCheckFile(t, dir, "broken/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n")
	writeCheckFile(t, dir, "rendered/staging/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"malformed yaml":  {[]string{"ok.yaml", "broken"}, filepath.Join("broken", "svc.yaml") + ":3: invalid YAML"},
		"not an object":   {[]string{writeCheckFile(t, dir, "list.yaml", "- a\n- b\n")}, "list.yaml:1: document is not a mapping"},
		"missing path":    {[]string{"nope"}, "nope: cannot read"},
		"unknown env":     {[]string{"--env", "staging", "ok.yaml"}, `unknown env "staging" (known: dr, prod)`},
		"unknown env dir": {nil, `unknown env "staging"`},
		"unknown format":  {[]string{"--format", "xml", "ok.yaml"}, `unknown format "xml"`},
		"bad flag":        {[]string{"--nope"}, "flag provided but not defined"},
		"bad waivers":     {[]string{"--waivers", writeCheckFile(t, dir, "w.yaml", "waivers:\n- rule: x\n"), "ok.yaml"}, "w.yaml:2: waiver has no object"},
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCheckCLI(t, tc.args...)
			if code != exitBadInput || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q (stdout %q)", code, stderr, tc.want, stdout)
			}
		})
	}
}

// Schema validation runs first: its denies stop the policies (which would
// report noise on mistyped objects); --schema-only never runs them.
func TestCheckSchemaFirst(t *testing.T) {
	useFakeSchema(t, fakeSchema{deny: map[string]string{"api": "spec.replicas: got string, want integer"}})
	dir := t.TempDir()
	t.Chdir(dir)
	writeCheckFile(t, dir, "bad/api.yaml", badObjects)
	code, stdout, stderr := runCheckCLI(t, "--format", "json", "bad")
	got := decodeFindings(t, stdout).Findings
	if code != exitFindings || len(got) != 2 || got[0].Rule != "schema" || got[1].Rule != "schema" || !strings.Contains(stderr, "policies not run") {
		t.Errorf("exit %d, findings %+v, stderr %q", code, got, stderr)
	}

	useFakeSchema(t, fakeSchema{})
	code, stdout, _ = runCheckCLI(t, "--format", "json", "--schema-only", "bad")
	if code != exitOK || len(decodeFindings(t, stdout).Findings) != 0 {
		t.Errorf("--schema-only on schema-valid objects: exit %d\n%s", code, stdout)
	}
}

func TestCheckWaivers(t *testing.T) {
	useFakeSchema(t, fakeSchema{})
	dir := t.TempDir()
	t.Chdir(dir)
	writeCheckFile(t, dir, "pdb.yaml", `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: api, namespace: shop}
spec: {maxUnavailable: 0, unhealthyPodEvictionPolicy: AlwaysAllow, selector: {matchLabels: {app: api}}}
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: shop, labels: {app: api}}
spec: {serviceAccountName: api-runner, automountServiceAccountToken: false, priorityClassName: system-cluster-critical, containers: []}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api-runner, namespace: shop}
automountServiceAccountToken: false
`)
	writeCheckFile(t, dir, "policies/waivers.yaml", `waivers:
- rule: zones.pdb-blocks-drain
  object: PodDisruptionBudget/shop/api
  env: prod
  reason: singleton leader election until v2
  owner: team-api
  expires: 2026-12-31
`)
	pinToday(t, "2026-11-26")
	code, stdout, _ := runCheckCLI(t, "--format", "json", "pdb.yaml")
	got := decodeFindings(t, stdout).Findings
	if code != exitOK || len(got) != 1 || got[0].Waived == "" {
		t.Errorf("live waiver: exit %d, %+v", code, got)
	}
	pinToday(t, "2027-01-01")
	code, stdout, _ = runCheckCLI(t, "--format", "json", "pdb.yaml")
	got = decodeFindings(t, stdout).Findings
	rules := []string{}
	for _, f := range got {
		rules = append(rules, f.Rule)
	}
	if code != exitFindings || !cmp.Equal(rules, []string{"zones.pdb-blocks-drain", "waiver.expired"}) {
		t.Errorf("expired waiver: exit %d, rules %v", code, rules)
	}
}

func TestCheckHelp(t *testing.T) {
	code, _, stderr := runCheckCLI(t, "--help")
	if code != exitOK || !strings.Contains(stderr, "render check [--env NAME] [--format text|json|sarif|junit|github] [PATH...]") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	var out bytes.Buffer
	run([]string{"help"}, &out, &out)
	if !strings.Contains(out.String(), "render check") {
		t.Errorf("help does not list check:\n%s", out.String())
	}
}

// PATHs under rendered/<env>/ take that env without --env, so two env
// folders are two sets and parity compares them.
func TestCheckPathsPickTheirEnv(t *testing.T) {
	useFakeSchema(t, fakeSchema{})
	dir := t.TempDir()
	t.Chdir(dir)
	svc := "apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: shop}\nspec: {selector: {app: x}}\n"
	writeCheckFile(t, dir, "rendered/prod/svc.yaml", strings.ReplaceAll(svc, "%s", "cart")+"---\n"+strings.ReplaceAll(svc, "%s", "orders"))
	writeCheckFile(t, dir, "rendered/dr/svc.yaml", strings.ReplaceAll(svc, "%s", "cart"))
	code, stdout, _ := runCheckCLI(t, "--format", "json", "rendered/prod", "rendered/dr/svc.yaml")
	got := decodeFindings(t, stdout).Findings
	if code != exitFindings || len(got) != 1 || got[0].Rule != "parity.missing-in-peer" || got[0].Name != "orders" || got[0].Env != "prod" || got[0].Line != 8 {
		t.Errorf("exit %d, %+v", code, got)
	}
	// --env forces one env over every PATH: one set, no parity.
	code, stdout, _ = runCheckCLI(t, "--format", "json", "--env", "dr", "rendered/prod", "rendered/dr")
	if got := decodeFindings(t, stdout).Findings; code != exitOK || len(got) != 0 {
		t.Errorf("--env dr: exit %d, %+v", code, got)
	}
}

// A waived schema finding does not stop the policies.
func TestCheckWaivedSchemaFindingLetsPoliciesRun(t *testing.T) {
	useFakeSchema(t, fakeSchema{deny: map[string]string{"api-env": "unknown field"}})
	pinToday(t, "2026-11-26")
	dir := t.TempDir()
	t.Chdir(dir)
	writeCheckFile(t, dir, "bad/api.yaml", badObjects)
	w := writeCheckFile(t, dir, "w.yaml", "waivers:\n- {rule: schema, object: Secret/shop/api-env, reason: r, owner: o, expires: 2026-12-31}\n")
	code, stdout, stderr := runCheckCLI(t, "--format", "json", "--waivers", w, "bad")
	got := decodeFindings(t, stdout).Findings
	if code != exitFindings || len(got) != 4 || strings.Contains(stderr, "policies not run") {
		t.Errorf("exit %d, %d findings, stderr %q", code, len(got), stderr)
	}
}

// thresholdNote is what a threshold rule's message adds (policies/lib.rego).
func thresholdNote(env, name string) string {
	return " (threshold " + env + "." + name + " in policies/thresholds.rego; to accept an exception, add a waiver with rule, object, reason, owner and expires to policies/waivers.yaml)"
}
