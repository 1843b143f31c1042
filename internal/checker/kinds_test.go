package checker

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/internal/finding"
)

// The kinds each rule set can match, as the static analysis finds them: only
// a kind test that fails for every other kind binds a rule to kinds.
func TestKindGuards(t *testing.T) {
	mod := func(src string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(src)} }
	fsys := fstest.MapFS{
		"thresholds.rego": mod("package thresholds\nprod := {}\n"),
		"consts.rego": mod(`package consts
kinds := {"A", "B"}
more := kinds | {"C"}
of_input := {input.kind}
of_check := {k | some k, _ in data.check.index}
one := "B"
`),
		"literal.rego":  mod("package literal\ndeny contains \"x\" if input.kind == \"A\"\nwarn contains \"y\" if \"B\" = input.kind\n"),
		"constant.rego": mod("package constant\nimport data.consts\ndeny contains \"x\" if input.kind in consts.more\nwarn contains \"y\" if { k := input.kind; k == consts.one }\n"),
		"array.rego":    mod("package array\ndeny contains \"x\" if input.kind in [\"A\", \"C\"]\n"),
		"union.rego":    mod("package union\ndeny contains \"x\" if input.kind == \"A\"\ndeny contains \"y\" if input.kind in {\"B\", \"C\"}\n"),
		"meet.rego":     mod("package meet\ndeny contains \"x\" if { input.kind in {\"A\", \"B\"}; input.kind == \"A\" }\nwarn contains \"y\" if { input.kind == \"A\"; input.kind == \"B\" }\n"),
		"negated.rego":  mod("package negated\ndeny contains \"x\" if not input.kind == \"A\"\nwarn contains \"y\" if input.kind != \"A\"\n"),
		"with.rego":     mod("package withmod\ndeny contains \"x\" if input.kind == \"A\" with input as {\"kind\": \"A\"}\n"),
		"dependent.rego": mod(`package dependent
import data.consts
deny contains "x" if input.kind in consts.of_input
warn contains "y" if input.kind in consts.of_check
violation contains "z" if input.kind in {"A", input.metadata.name}
`),
		"mixed.rego":  mod("package mixed\ndeny contains \"x\" if input.kind == \"A\"\ndeny contains \"y\" if input.metadata.name == \"n\"\n"),
		"nonstr.rego": mod("package nonstr\ndeny contains \"x\" if input.kind == 1\n"),
	}
	c := newChecker(t, Options{Policies: fsys})
	got := map[string][]string{}
	guards := findKindGuards(context.Background(), c.compiler, c.rules)
	for i, r := range c.rules {
		got[r.pkg+"."+r.name] = guards[i]
	}
	anyKind := []string(nil)
	want := map[string][]string{
		"literal.deny":        {"A"},
		"literal.warn":        {"B"},
		"constant.deny":       {"A", "B", "C"},
		"constant.warn":       {"B"},
		"array.deny":          {"A", "C"},
		"union.deny":          {"A", "B", "C"},
		"meet.deny":           {"A"},
		"meet.warn":           {},
		"negated.deny":        anyKind,
		"negated.warn":        anyKind,
		"withmod.deny":        anyKind,
		"dependent.deny":      anyKind,
		"dependent.warn":      anyKind,
		"dependent.violation": anyKind,
		"mixed.deny":          anyKind,
		"nonstr.deny":         anyKind,
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []string) bool { return (a == nil) == (b == nil) && slices.Equal(a, b) })); diff != "" {
		t.Errorf("kind guards (-want +got):\n%s", diff)
	}

	// The findings are those of every rule set evaluated for every object:
	// kinds A, B, C and one that no rule names.
	objs := parse(t, "objs.yaml", `apiVersion: v1
kind: A
metadata: {name: n}
---
apiVersion: v1
kind: B
metadata: {name: n}
---
apiVersion: v1
kind: C
metadata: {name: m}
---
apiVersion: v1
kind: D
metadata: {name: D}
`)
	sets := []Set{{"prod", objs}}
	fast, err := c.Check(context.Background(), sets)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(checkEveryRuleSet(t, Options{Policies: fsys}, sets), fast); diff != "" {
		t.Errorf("per-kind queries differ from the combined query (-combined +per kind):\n%s", diff)
	}
	if len(fast) == 0 {
		t.Error("no findings")
	}
}

// checkEveryRuleSet checks with every rule set evaluated for every object,
// as before the per-kind queries.
func checkEveryRuleSet(t *testing.T, opts Options, sets []Set) []finding.Finding {
	t.Helper()
	c := newChecker(t, opts)
	all := &kindQuery{query: c.query}
	for i := range c.rules {
		all.sel = append(all.sel, i)
	}
	for _, s := range sets {
		for _, o := range s.Objects {
			c.byKind[kindOf(o)] = all
		}
	}
	got, err := c.Check(context.Background(), sets)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The platform's policies: the same findings per kind as with every rule
// set, on the committed render with a bad Rollout put in.
func TestKindQueriesMatchEveryRuleSet(t *testing.T) {
	sets := []Set{{"prod", append(loadRendered(t, "prod"), parse(t, "bad/rollout.yaml", badRollout)...)}, {"dr", loadRendered(t, "dr")}}
	got, err := newChecker(t, Options{}).Check(context.Background(), sets)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("no findings on a bad object")
	}
	if diff := cmp.Diff(checkEveryRuleSet(t, Options{}, sets), got); diff != "" {
		t.Errorf("per-kind queries differ from the combined query (-combined +per kind):\n%s", diff)
	}
	c := newChecker(t, Options{})
	guards := findKindGuards(context.Background(), c.compiler, c.rules)
	guarded := 0
	for _, g := range guards {
		if g != nil {
			guarded++
		}
	}
	if guarded < len(guards)/2 {
		t.Errorf("only %d of %d rule sets bound to kinds: has a kind test stopped being recognised?", guarded, len(guards))
	}
}

// A constant that fails to evaluate binds nothing: the rule runs for every
// kind and fails at Check, as it did before the analysis.
func TestKindGuardOfABrokenConstant(t *testing.T) {
	fsys := fstest.MapFS{
		"thresholds.rego": {Data: []byte("package thresholds\nprod := {}\n")},
		"p.rego":          {Data: []byte("package p\nkinds := {\"A\"} if true\nkinds := {\"B\"} if true\ndeny contains \"x\" if input.kind in kinds\n")},
	}
	c := newChecker(t, Options{Policies: fsys})
	if g := findKindGuards(context.Background(), c.compiler, c.rules); g[0] != nil {
		t.Errorf("guard %v from a constant that does not evaluate", g[0])
	}
	_, err := c.Check(context.Background(), []Set{{"prod", parse(t, "o.yaml", "apiVersion: v1\nkind: C\nmetadata: {name: n}\n")}})
	if err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Errorf("Check: %v, want the conflict", err)
	}
}
