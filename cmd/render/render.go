package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"

	"github.com/ecommerce-platform/gitops/generator"
)

// runRender renders envs/ into rendered/, or with --check compares them.
func runRender(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var envs stringList
	fs.Var(&envs, "env", "render only this env (repeatable); default: every folder of envs/")
	check := fs.Bool("check", false, "render in memory and exit 1 with a diff if rendered/ differs")
	root := fs.String("root", ".", "the repository root (holds cue.mod/, envs/, schema/)")
	out := fs.String("out", "", "output folder (default <root>/rendered)")
	jobs := fs.Int("jobs", 0, "envs evaluated at once (default GOMAXPROCS, fewer when their estimated evaluations exceed 1 GiB; 1 bounds memory to one env's evaluation)")
	fs.Usage = func() {
		usage(stderr)
		fs.PrintDefaults()
	}
	if code, failed := parseFlags(fs, args); failed {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "render: unexpected argument %q (subcommands: run 'render help')\n", fs.Arg(0))
		return exitBadInput
	}
	rootDir, err := filepath.Abs(*root)
	if err != nil {
		fmt.Fprintf(stderr, "render: %v\n", err)
		return exitBadInput
	}
	outDir := *out
	if outDir == "" {
		outDir = filepath.Join(rootDir, "rendered")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := generator.Options{Root: rootDir, Envs: envs, Jobs: *jobs}
	// The heap kept near what the envs need (generator.MemoryLimit), unless
	// GOMEMLIMIT says otherwise.
	if os.Getenv("GOMEMLIMIT") == "" {
		if limit, err := generator.MemoryLimit(opts); err == nil {
			debug.SetMemoryLimit(limit)
		}
	}
	rendered, err := generator.Render(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "render: %v\n", err)
		return exitBadInput
	}
	all := len(envs) == 0
	if *check {
		diffs, err := generator.Compare(outDir, rendered, all)
		if err != nil {
			fmt.Fprintf(stderr, "render: %v\n", err)
			return exitBadInput
		}
		for _, d := range diffs {
			fmt.Fprint(stdout, d)
		}
		// The README's diagram is of every env: checked when all are rendered.
		staleReadme := false
		if all {
			if staleReadme, err = syncReadme(rootDir, rendered, true, stdout); err != nil {
				fmt.Fprintf(stderr, "render: %v\n", err)
				return exitBadInput
			}
		}
		if len(diffs) > 0 {
			fmt.Fprintf(stderr, "render: rendered/ differs from envs/ + schema/ in %d file(s); run 'make render' and commit the result\n", len(diffs))
		}
		if staleReadme {
			fmt.Fprintf(stderr, "render: the diagram in %s differs from envs/ + schema/; run 'make render' and commit the result\n", readmeFile)
		}
		if len(diffs) > 0 || staleReadme {
			return exitFindings
		}
		return exitOK
	}
	if err := generator.Write(outDir, rendered, all); err != nil {
		fmt.Fprintf(stderr, "render: %v (rendered/ is unchanged)\n", err)
		return exitBadInput
	}
	for _, env := range rendered {
		fmt.Fprintf(stderr, "rendered %s: %d files\n", env.Name, len(env.Files))
	}
	if all {
		if _, err := syncReadme(rootDir, rendered, false, stdout); err != nil {
			fmt.Fprintf(stderr, "render: %v\n", err)
			return exitBadInput
		}
	}
	return exitOK
}

// parseFlags parses a subcommand's flags; failed says to return code at once:
// exitOK after -h (the flag package printed the usage), exitBadInput after a
// bad flag (it printed why).
func parseFlags(fs *flag.FlagSet, args []string) (code int, failed bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return exitOK, false
	case errors.Is(err, flag.ErrHelp):
		return exitOK, true
	default:
		return exitBadInput, true
	}
}
