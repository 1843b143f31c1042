// Command checkprof profiles the policies over a rendered tree: the time of
// each package's rule set over every object of each env, then OPA's
// expression profile (the costliest lines). A benchmark aid, not a check:
//
//	go run ./bench/checkprof -root /tmp/synth-500 [-top 30]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ecommerce-platform/gitops/internal/checker"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

func main() {
	root := flag.String("root", ".", "the repository whose rendered/<env> folders are profiled")
	top := flag.Int("top", 30, "how many expressions to list")
	flag.Parse()
	if err := run(*root, *top); err != nil {
		fmt.Fprintln(os.Stderr, "checkprof:", err)
		os.Exit(1)
	}
}

func run(root string, top int) error {
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
	start := time.Now()
	if _, err := c.Check(ctx, sets); err != nil {
		return err
	}
	fmt.Printf("Check (as render check runs it): %v\n\n", time.Since(start).Round(time.Millisecond))
	costs, exprs, err := c.Profile(ctx, sets, top)
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
