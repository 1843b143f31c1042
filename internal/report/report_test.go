package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/internal/finding"
)

var sample = Result{
	Envs: []string{"prod", "dr"},
	Objects: []Object{
		{Env: "prod", File: "rendered/prod/svc-cart/rollout-cart.yaml", Line: 2, Kind: "Rollout", Namespace: "shop", Name: "cart"},
		{Env: "prod", File: "rendered/prod/storage/sc.yaml", Line: 2, Kind: "StorageClass", Name: "px"},
		{Env: "dr", File: "rendered/dr/svc-cart/rollout-cart.yaml", Line: 2, Kind: "Rollout", Namespace: "shop", Name: "cart"},
	},
	Findings: []finding.Finding{
		{Rule: "replicas.min", Severity: finding.Deny, Message: "Rollout cart runs 1 replica(s); prod needs at least 3", File: "rendered/prod/svc-cart/rollout-cart.yaml", Line: 13, Kind: "Rollout", Namespace: "shop", Name: "cart", Env: "prod", Path: "spec.replicas"},
		{Rule: "replicas.hpa-fight", Severity: finding.Warn, Message: "fights, 100%: a\nb", File: "rendered/prod/svc-cart/rollout-cart.yaml", Line: 13, Kind: "Rollout", Namespace: "shop", Name: "cart", Env: "prod"},
		{Rule: "zones.portworx-repl", Severity: finding.Deny, Message: "repl 2", File: "rendered/prod/storage/sc.yaml", Line: 18, Kind: "StorageClass", Name: "px", Env: "prod", Waived: "migration (owner t, until 2026-12-31)"},
	},
}

func render(t *testing.T, format string, r Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, format, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestJSONContract(t *testing.T) {
	var got struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal([]byte(render(t, "json", sample)), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"rule": "replicas.min", "severity": "deny", "message": "Rollout cart runs 1 replica(s); prod needs at least 3",
		"file": "rendered/prod/svc-cart/rollout-cart.yaml", "line": float64(13), "kind": "Rollout", "namespace": "shop",
		"name": "cart", "env": "prod", "path": "spec.replicas",
	}
	if len(got.Findings) != 3 {
		t.Fatalf("%d findings, want 3", len(got.Findings))
	}
	if diff := cmp.Diff(want, got.Findings[0]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Every contract field is present even when empty (namespace of a cluster-scoped object).
	for _, k := range []string{"rule", "severity", "message", "file", "line", "kind", "namespace", "name", "env"} {
		if _, ok := got.Findings[2][k]; !ok {
			t.Errorf("field %q missing", k)
		}
	}
	if got.Findings[2]["waived"] == nil {
		t.Error("a waived finding says so")
	}
}

func TestJSONClean(t *testing.T) {
	out := render(t, "json", Result{Envs: []string{"prod"}})
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw["findings"]) != "[]" {
		t.Errorf(`clean output: findings = %s, want []`, raw["findings"])
	}
}

func TestSARIF(t *testing.T) {
	var log map[string]any
	if err := json.Unmarshal([]byte(render(t, "sarif", sample)), &log); err != nil {
		t.Fatal(err)
	}
	// Required by SARIF 2.1.0: version, runs; run.tool.driver.name; result.message.
	if log["version"] != "2.1.0" || !strings.Contains(log["$schema"].(string), "sarif-2.1.0") {
		t.Errorf("version %v schema %v", log["version"], log["$schema"])
	}
	runs := log["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	run := runs[0].(map[string]any)
	driver := run["tool"].(map[string]any)["driver"].(map[string]any)
	if driver["name"] != "render-check" || driver["version"] == "" {
		t.Errorf("driver name %v", driver["name"])
	}
	var ids []string
	for _, r := range driver["rules"].([]any) {
		rule := r.(map[string]any)
		ids = append(ids, rule["id"].(string))
		// GitHub code scanning rejects rules without fullDescription and help.
		for _, k := range []string{"shortDescription", "fullDescription", "help"} {
			if d, _ := rule[k].(map[string]any); d == nil || d["text"] == "" {
				t.Errorf("rule %v without %s", rule["id"], k)
			}
		}
		if _, ok := rule["name"]; ok {
			t.Errorf("rule %v repeats its id as name (SARIF1001)", rule["id"])
		}
	}
	if diff := cmp.Diff([]string{"replicas.hpa-fight", "replicas.min", "zones.portworx-repl"}, ids); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	results := run["results"].([]any)
	if len(results) != 3 {
		t.Fatalf("%d results", len(results))
	}
	levels := []string{}
	for _, x := range results {
		r := x.(map[string]any)
		levels = append(levels, r["level"].(string))
		if ids[int(r["ruleIndex"].(float64))] != r["ruleId"] {
			t.Errorf("ruleIndex %v does not point at %v", r["ruleIndex"], r["ruleId"])
		}
		if r["message"].(map[string]any)["text"] == "" {
			t.Error("result without message text")
		}
		loc := r["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)
		uri := loc["artifactLocation"].(map[string]any)["uri"].(string)
		if strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "./") || !strings.HasPrefix(uri, "rendered/prod/") {
			t.Errorf("uri %q is not relative to the repository root", uri)
		}
		if loc["region"].(map[string]any)["startLine"].(float64) < 1 {
			t.Error("startLine < 1")
		}
	}
	if diff := cmp.Diff([]string{"error", "warning", "error"}, levels); diff != "" {
		t.Errorf("levels (-want +got):\n%s", diff)
	}
	if sup := results[2].(map[string]any)["suppressions"]; sup == nil {
		t.Error("the waived finding carries a suppression")
	}
}

func TestSARIFListsDocumentedRules(t *testing.T) {
	r := sample
	r.Findings = nil
	r.Rules = map[string]string{"zones.spread": "Spread over zones.", "replicas.hpa-fight": "Warning: fights."}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID                   string
						ShortDescription     struct{ Text string }
						DefaultConfiguration struct{ Level string }
					}
				}
			}
			Results []any
		}
	}
	if err := json.Unmarshal([]byte(render(t, "sarif", r)), &log); err != nil {
		t.Fatal(err)
	}
	rules := log.Runs[0].Tool.Driver.Rules
	if len(rules) != 2 || rules[0].ID != "replicas.hpa-fight" || rules[0].DefaultConfiguration.Level != "warning" ||
		rules[1].ShortDescription.Text != "Spread over zones." || rules[1].DefaultConfiguration.Level != "error" {
		t.Errorf("rules %+v", rules)
	}
	if log.Runs[0].Results == nil || len(log.Runs[0].Results) != 0 {
		t.Errorf("a clean run has results: [] (not null): %v", log.Runs[0].Results)
	}
}

func TestJUnit(t *testing.T) {
	var got junitSuites
	if err := xml.Unmarshal([]byte(render(t, "junit", sample)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Suites) != 2 || got.Suites[0].Name != "prod" || got.Suites[1].Name != "dr" {
		t.Fatalf("suites %+v", got.Suites)
	}
	prod := got.Suites[0]
	if prod.Tests != 2 || prod.Failures != 1 || got.Failures != 1 || got.Tests != 3 {
		t.Errorf("prod tests %d failures %d, total %d/%d; want 2/1, 3/1", prod.Tests, prod.Failures, got.Tests, got.Failures)
	}
	cart := prod.Cases[0]
	if cart.Name != "Rollout/shop/cart" || cart.Failure == nil || !strings.Contains(cart.Failure.Text, "rollout-cart.yaml:13: [replicas.min]") {
		t.Errorf("cart case %+v", cart)
	}
	if !strings.Contains(cart.SystemOut, "warn") {
		t.Errorf("warnings go to system-out: %q", cart.SystemOut)
	}
	if sc := prod.Cases[1]; sc.Failure != nil || !strings.Contains(sc.SystemOut, "waived") {
		t.Errorf("a waived deny is not a failure: %+v", sc)
	}
	if dr := got.Suites[1].Cases[0]; dr.Failure != nil {
		t.Errorf("dr passed: %+v", dr)
	}
}

func TestGitHub(t *testing.T) {
	want := `::error file=rendered/prod/svc-cart/rollout-cart.yaml,line=13,title=replicas.min::Rollout cart runs 1 replica(s); prod needs at least 3 (Rollout/shop/cart, prod)
::warning file=rendered/prod/svc-cart/rollout-cart.yaml,line=13,title=replicas.hpa-fight::fights, 100%25: a%0Ab (Rollout/shop/cart, prod)
::notice file=rendered/prod/storage/sc.yaml,line=18,title=zones.portworx-repl::repl 2 (StorageClass/px, prod) -- waived: migration (owner t, until 2026-12-31)
`
	if diff := cmp.Diff(want, render(t, "github", sample)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := ghProp("a:b,c%"); got != "a%3Ab%2Cc%25" {
		t.Errorf("ghProp = %s", got)
	}
}

func TestText(t *testing.T) {
	out := render(t, "text", sample)
	for _, want := range []string{
		"rendered/prod/svc-cart/rollout-cart.yaml:13: deny [replicas.min] Rollout/shop/cart (prod): Rollout cart runs 1",
		"rendered/prod/storage/sc.yaml:18: waived [zones.portworx-repl] StorageClass/px (prod): repl 2 -- waived: migration",
		"checked 3 object(s) in prod, dr: 1 denied, 1 warning(s), 1 waived",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, "yaml", sample); err == nil {
		t.Error("unknown format accepted")
	}
}
