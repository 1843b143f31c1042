package checker

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/ecommerce-platform/gitops/generator"
	"github.com/ecommerce-platform/gitops/internal/manifest"
	"github.com/ecommerce-platform/gitops/internal/synth"
	"github.com/ecommerce-platform/gitops/policies"
)

// growthSizes are the synthetic platforms the growth tests measure: the
// real services plus 6, 18 and 30 synthetic ones. Six at a time keeps the
// mix of the added services the same (every third public, every second with
// a database), so with linear rules every 12 added services add exactly the
// same number of steps.
var growthSizes = []int{5 + 6, 5 + 18, 5 + 30}

// growthPlatforms renders each synthetic platform once per test binary.
var growthPlatforms = sync.OnceValues(func() ([][]Set, error) {
	root, err := os.MkdirTemp("", "growth-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	var out [][]Set
	for _, n := range growthSizes {
		dir := filepath.Join(root, fmt.Sprint(n))
		if err := synth.Write(filepath.Join("..", ".."), dir, n); err != nil {
			return nil, err
		}
		envs, err := generator.Render(context.Background(), generator.Options{Root: dir, Jobs: 1})
		if err != nil {
			return nil, err
		}
		// Written as render writes them, and read as render check reads them.
		if err := generator.Write(filepath.Join(dir, "rendered"), envs, false); err != nil {
			return nil, err
		}
		var sets []Set
		for _, env := range envs {
			objs, err := manifest.Load(filepath.Join(dir, "rendered", env.Name))
			if err != nil {
				return nil, err
			}
			sets = append(sets, Set{Env: env.Name, Objects: objs})
		}
		out = append(out, sets)
	}
	return out, nil
})

// superlinear measures c's steps on every growth platform and names each
// rule set (and env_index) whose steps per 12 added services grow with the
// platform: a rule whose work per object grows with the env, quadratic in
// objects. With linear rules the two differences are equal, to the step.
func superlinear(t *testing.T, c *Checker) []string {
	t.Helper()
	platforms, err := growthPlatforms()
	if err != nil {
		t.Fatal(err)
	}
	totals := make([]map[string]int64, len(platforms)) // rule set -> steps
	for i, sets := range platforms {
		steps, err := c.Steps(context.Background(), sets)
		if err != nil {
			t.Fatal(err)
		}
		totals[i] = map[string]int64{}
		for env, n := range steps.EnvIndex {
			totals[i]["env_index ("+env+")"] += n
		}
		for _, byRule := range steps.Objects {
			for rule, n := range byRule {
				totals[i][rule] += n
			}
		}
	}
	var out []string
	for _, rule := range slices.Sorted(maps.Keys(totals[len(totals)-1])) {
		first := totals[1][rule] - totals[0][rule]
		second := totals[2][rule] - totals[1][rule]
		if second > first {
			out = append(out, fmt.Sprintf("%s: %d steps per 12 added services from %d to %d services, %d from %d to %d",
				rule, first, growthSizes[0], growthSizes[1], second, growthSizes[1], growthSizes[2]))
		}
	}
	return out
}

// TestPolicyWorkGrowsLinearly: the policies' work grows linearly with the
// platform: every rule set's steps per added service are the same at every
// size. A rule that scans the env for each object (instead of looking it up
// in an env_index table) fails here long before its cost shows at 500
// services.
func TestPolicyWorkGrowsLinearly(t *testing.T) {
	for _, s := range superlinear(t, newChecker(t, Options{})) {
		t.Errorf("work per added service grows with the platform (a rule scans the env per object; build an env_index table and look it up): %s", s)
	}
}

// TestQuadraticRuleIsCaught: the measure of TestPolicyWorkGrowsLinearly
// names a rule set holding one rule that scans the namespace's Services for
// every Service, and only that one.
func TestQuadraticRuleIsCaught(t *testing.T) {
	fsys := fstest.MapFS{"scan.rego": {Data: []byte(`package scan

import data.lib

deny contains msg if {
	input.kind == "Service"
	some other in lib.objects("Service", lib.namespace(input))
	other.metadata.name == concat("-", [input.metadata.name, "twin"])
	msg := "never: no Service is named <name>-twin"
}
`)}}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		data, err := fs.ReadFile(policies.FS, p)
		fsys[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := superlinear(t, newChecker(t, Options{Policies: fsys}))
	if len(got) != 1 || !strings.HasPrefix(got[0], "scan.deny: ") {
		t.Errorf("superlinear rule sets = %q, want scan.deny alone", got)
	}
}
