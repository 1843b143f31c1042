package policies_test

import (
	"context"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/ecommerce-platform/gitops/policies"
)

// coverageThreshold is the share of policy lines the Rego unit tests must
// run (the non-test files; opa test --coverage counts the same lines).
const coverageThreshold = 100.0

func loadModules(t *testing.T) map[string]*ast.Module {
	t.Helper()
	modules := map[string]*ast.Module{}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		src, err := fs.ReadFile(policies.FS, p)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts(p, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		modules[p] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return modules
}

// TestRego runs every test_ rule of policies/*_test.rego through OPA's tester,
// as `opa test --coverage policies/` does, and fails below the threshold.
func TestRego(t *testing.T) {
	modules := loadModules(t)
	cov := cover.New()
	runner := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithEnablePrintStatements(true)).
		SetStore(inmem.New()).
		SetModules(modules).
		SetCoverageQueryTracer(cov).
		CapturePrintOutput(true).
		// Per test: catches a runaway rule, and leaves room for coverage
		// tracing on a loaded 2-core machine (one test took 34 s at load 20).
		SetTimeout(5 * time.Minute)
	ch, err := runner.RunTests(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for r := range ch {
		n++
		if !r.Pass() {
			t.Errorf("%s.%s (%s): %s\n%s", r.Package, r.Name, r.Location, r.String(), r.Output)
		}
	}
	if n < 50 {
		t.Errorf("ran %d Rego tests; expected the full suite (50+)", n)
	}

	// Coverage of the policies only: test files cover themselves trivially.
	policyModules := map[string]*ast.Module{}
	for p, m := range modules {
		if !strings.HasSuffix(p, "_test.rego") {
			policyModules[p] = m
		}
	}
	rep := cov.Report(policyModules)
	// The report also lists the test files' covered lines: count policy files only.
	var covered, notCovered int
	for file := range policyModules {
		if fr := rep.Files[file]; fr != nil {
			covered += fr.CoveredLines
			notCovered += fr.NotCoveredLines
		}
	}
	if covered == 0 {
		t.Fatal("no policy line covered: the coverage tracer saw nothing")
	}
	pct := 100 * float64(covered) / float64(covered+notCovered)
	t.Logf("%d Rego tests, coverage of policies %.2f%% (%d lines covered, %d not)", n, pct, covered, notCovered)
	if pct < coverageThreshold {
		var missing []string
		for file := range policyModules {
			for _, rg := range rep.Files[file].NotCovered {
				missing = append(missing, file+":"+strconv.Itoa(rg.Start.Row)+"-"+strconv.Itoa(rg.End.Row))
			}
		}
		slices.Sort(missing)
		t.Errorf("Rego coverage %.2f%% is below %.0f%%; lines not run by any test: %s", pct, coverageThreshold, strings.Join(missing, ", "))
	}
}

// TestEveryRuleHasATest checks that each rule id a policy declares appears in
// a test file: a rule without a failing test is not known to work.
func TestEveryRuleHasATest(t *testing.T) {
	var tests strings.Builder
	rules := map[string]string{}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		src, _ := fs.ReadFile(policies.FS, p)
		if strings.HasSuffix(p, "_test.rego") {
			tests.Write(src)
			return nil
		}
		for _, line := range strings.Split(string(src), "\n") {
			if _, rest, ok := strings.Cut(line, `lib.finding("`); ok {
				id, _, _ := strings.Cut(rest, `"`)
				rules[id] = p
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 20 {
		t.Fatalf("found %d rule ids; the rules list has more (parser broken?)", len(rules))
	}
	for id, file := range rules {
		if !strings.Contains(tests.String(), `"`+id+`"`) {
			t.Errorf("rule %s (%s) is named by no *_test.rego", id, file)
		}
	}
}
