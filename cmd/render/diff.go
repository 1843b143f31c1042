package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ecommerce-platform/gitops/generator"
	"github.com/ecommerce-platform/gitops/internal/checker"
	"github.com/ecommerce-platform/gitops/internal/diff"
	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/gitref"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

func init() {
	subcommands["diff"] = subcommand{
		summary: "what Argo CD will change: the working tree's render against a base git ref",
		run:     runDiff,
	}
}

// renderInputs are what a render reads; only they are taken from the base.
var renderInputs = []string{"cue.mod", "schema", "envs"}

// runDiff implements
//
//	render diff [--base REF] [--env NAME] [--format text|markdown|json] [--fail-on-deny]
//
// Both sides are rendered in memory from CUE (the committed rendered/ is not
// trusted: it may be stale on either side), compared object by object, and
// the policy findings the change introduces are listed.
func runDiff(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("base", "", "git ref to compare with (default: the merge base of HEAD and main)")
	var envs stringList
	fs.Var(&envs, "env", "compare only this env (repeatable)")
	format := fs.String("format", "text", "output format: text, markdown or json")
	root := fs.String("root", ".", "the repository root")
	failOnDeny := fs.Bool("fail-on-deny", false, "exit 1 when the change introduces a policy deny (the report is written either way)")
	policyDir := fs.String("policies", "", policiesUsage)
	if code, failed := parseFlags(fs, args); failed {
		return code
	}
	write, ok := map[string]func(io.Writer, *diff.Report) error{
		"text": diff.WriteText, "markdown": diff.WriteMarkdown, "json": diff.WriteJSON,
	}[*format]
	if !ok || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "render diff: want --format text, markdown or json and no arguments\n")
		return exitBadInput
	}
	bad := func(err error) int {
		fmt.Fprintf(stderr, "render diff: %v\n", err)
		return exitBadInput
	}
	rootDir, err := filepath.Abs(*root)
	if err != nil {
		return bad(err)
	}
	ref := *base
	if ref == "" {
		if ref, err = gitref.MergeBase(rootDir, "main", "origin/main"); err != nil {
			return bad(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	// The working tree's render, kept traceable to the CUE lines behind it.
	sources, err := generator.Sources(ctx, generator.Options{Root: rootDir, Envs: envs}, filepath.Join(rootDir, "rendered"))
	if err != nil {
		return bad(fmt.Errorf("working tree: %w", err))
	}
	head := sources.Rendered()
	baseDir, err := os.MkdirTemp("", "render-diff-base-")
	if err != nil {
		return bad(err)
	}
	defer os.RemoveAll(baseDir)
	if err := gitref.Extract(rootDir, ref, renderInputs, baseDir); err != nil {
		return bad(err)
	}
	// A base without envs (or without a selected env) renders as empty:
	// everything in head is then added.
	var baseEnvs []generator.Env
	if sel, any := existing(baseDir, envs); any {
		baseEnvs, err = generator.Render(ctx, generator.Options{Root: baseDir, Envs: sel})
		if err != nil {
			return bad(fmt.Errorf("base %s: %w", ref, err))
		}
	}

	report, err := diff.Compare(baseEnvs, head)
	if err != nil {
		return bad(err)
	}
	for i := range report.Objects {
		o := &report.Objects[i]
		appFile := strings.TrimPrefix(o.File, "rendered/"+o.Env+"/")
		switch o.Status {
		case diff.Changed:
			for j := range o.Changes {
				if o.Changes[j].New != "" {
					o.Changes[j].Source = sources.LookupRendered(o.Env, appFile, o.Changes[j].Keys)
				}
			}
		case diff.Added:
			// An added object comes from the env (or catalogue) line of
			// its first key field that one sets: the new service's image.
			for _, k := range o.Key {
				if srcs := sources.LookupRendered(o.Env, appFile, k.Keys); len(srcs) > 0 && strings.HasPrefix(srcs[0].File, "envs/") {
					o.Source = srcs
					break
				}
			}
		}
	}
	report.Base = ref
	if len(ref) == 40 {
		report.Base = ref[:12]
	}
	// One compiled policy set serves both sides.
	chk, err := checker.New(ctx, checker.Options{Policies: policiesFS(*policyDir)})
	if err != nil {
		return bad(err)
	}
	baseFindings, err := policyFindings(ctx, chk, baseEnvs)
	if err != nil {
		return bad(fmt.Errorf("base %s: %w", ref, err))
	}
	headFindings, err := policyFindings(ctx, chk, head)
	if err != nil {
		return bad(err)
	}
	report.Findings = diff.NewFindings(baseFindings, headFindings)
	for i := range report.Findings {
		f := &report.Findings[i]
		if len(f.Keys) > 0 {
			f.Source = sources.LookupRendered(f.Env, strings.TrimPrefix(f.File, "rendered/"+f.Env+"/"), f.Keys)
		}
	}
	if err := write(stdout, report); err != nil {
		return bad(err)
	}
	if *failOnDeny && slices.ContainsFunc(report.Findings, func(f finding.Finding) bool { return f.Severity == finding.Deny }) {
		fmt.Fprintf(stderr, "render diff: the change introduces a policy deny\n")
		return exitFindings
	}
	return exitOK
}

// existing keeps the selected envs the base has (none selected: all), and
// says whether there is anything to render.
func existing(root string, envs []string) ([]string, bool) {
	if _, err := os.Stat(filepath.Join(root, "envs")); err != nil {
		return nil, false
	}
	if len(envs) == 0 {
		return nil, true
	}
	var out []string
	for _, e := range envs {
		if _, err := os.Stat(filepath.Join(root, "envs", e)); err == nil {
			out = append(out, e)
		}
	}
	return out, len(out) > 0
}

// policyFindings runs the policies over rendered envs held in memory.
func policyFindings(ctx context.Context, chk *checker.Checker, envs []generator.Env) ([]finding.Finding, error) {
	if len(envs) == 0 {
		return nil, nil
	}
	var sets []checker.Set
	for _, env := range envs {
		if !chk.HasEnv(env.Name) {
			continue // an env the policies have no thresholds for is not checked
		}
		var objs []*manifest.Object
		for _, f := range env.Files {
			name := path.Base(f.Path)
			if manifest.IsKustomization(name) {
				continue
			}
			got, err := manifest.Parse(path.Join("rendered", env.Name, f.Path), f.Data)
			if err != nil {
				return nil, err
			}
			objs = append(objs, got...)
		}
		sets = append(sets, checker.Set{Env: env.Name, Objects: objs})
	}
	return chk.Check(ctx, sets)
}
