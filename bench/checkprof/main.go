// Command checkprof profiles the policies over a rendered tree: the time of
// each package's rule set over every object of each env, then OPA's
// expression profile (the costliest lines). A benchmark aid, not a check:
//
//	go run ./bench/checkprof -root /tmp/synth-500 [-top 30] [-cpuprofile FILE] [-check-only]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
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
	fmt.Println("\nOPA profiler, costliest expressions (all envs, traced):")
	for _, e := range exprs {
		fmt.Printf("%10v  evals %8d  redo %8d  %s\n", time.Duration(e.ExprTimeNs).Round(time.Millisecond), e.NumEval, e.NumRedo, e.Location)
	}
	return nil
}
