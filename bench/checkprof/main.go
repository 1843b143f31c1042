// Command checkprof profiles the policies over a rendered tree: the time of
// each package's rule set over every object of each env, then OPA's
// expression profile (the costliest lines). A benchmark aid, not a check:
//
//	go run ./bench/checkprof -root /tmp/synth-500 [-top 30] [-cpuprofile FILE] [-check-only]
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/ecommerce-platform/gitops/internal/checker"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

func main() {
	root := flag.String("root", ".", "the repository whose rendered/<env> folders are profiled")
	top := flag.Int("top", 30, "how many expressions to list")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of Check (as render check runs it) to this file")
	kind := flag.String("kind", "", "restrict the expression profile to the objects of this index key (Kind, or Kind.group)")
	checkOnly := flag.Bool("check-only", false, "only Check, timed (and profiled with -cpuprofile); no per-rule-set timing")
	flag.Parse()
	if err := run(*root, *top, *cpuprofile, *checkOnly, *kind); err != nil {
		fmt.Fprintln(os.Stderr, "checkprof:", err)
		os.Exit(1)
	}
}

func run(root string, top int, cpuprofile string, checkOnly bool, kind string) error {
	ctx := context.Background()
	c, err := checker.New(ctx, checker.Options{})
	if err != nil {
		return err
	}
	var sets []checker.Set
	for _, env := range c.Envs() {
		dir := filepath.Join(root, "rendered", env)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		objs, err := manifest.Load(dir)
		if err != nil {
			return err
		}
		sets = append(sets, checker.Set{Env: env, Objects: objs})
		fmt.Printf("%s: %d objects\n", env, len(objs))
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	start := time.Now()
	_, err = c.Check(ctx, sets)
	if cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	fmt.Printf("Check (as render check runs it): %v\n\n", time.Since(start).Round(time.Millisecond))
	if checkOnly {
		return nil
	}
	costs, exprs, err := c.Profile(ctx, sets, top, kind)
	if err != nil {
		return err
	}
	fmt.Println("rule set, each by its own query over every object of the env:")
	for _, r := range costs {
		fmt.Printf("%10v  %-5s %s\n", r.Elapsed.Round(time.Millisecond), r.Env, r.Rule)
	}
	if err := printSteps(ctx, c, sets); err != nil {
		return err
	}
	fmt.Println("\nOPA profiler, costliest expressions (all envs, traced):")
	for _, e := range exprs {
		fmt.Printf("%10v  evals %8d  redo %8d  %s\n", time.Duration(e.ExprTimeNs).Round(time.Millisecond), e.NumEval, e.NumRedo, e.Location)
	}
	return nil
}

// printSteps prints the work of each rule set in steps (expressions OPA
// evaluates, checker.Steps): unlike the times above, the same on any machine
// at any load, so two versions of a rule compare exactly.
func printSteps(ctx context.Context, c *checker.Checker, sets []checker.Set) error {
	steps, err := c.Steps(ctx, sets)
	if err != nil {
		return err
	}
	total := map[string]int64{}
	objects := map[string]int{}
	for obj, byRule := range steps.Objects {
		for rule, n := range byRule {
			total[obj.Env+" "+rule] += n
			objects[obj.Env+" "+rule]++
		}
	}
	for env, n := range steps.EnvIndex {
		total[env+" (env_index)"] = n
		objects[env+" (env_index)"] = 1
	}
	keys := slices.Collect(maps.Keys(total))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(total[b], total[a]), strings.Compare(a, b)) })
	fmt.Println("\nsteps (expressions evaluated), each rule set over the objects of the kinds it runs on:")
	for _, k := range keys {
		fmt.Printf("%12d  %-40s %6d objects, %d each\n", total[k], k, objects[k], total[k]/int64(objects[k]))
	}
	return nil
}
