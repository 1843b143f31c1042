package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/ecommerce-platform/gitops/generator"
	"github.com/ecommerce-platform/gitops/internal/checker"
	"github.com/ecommerce-platform/gitops/internal/crdlock"
	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
	"github.com/ecommerce-platform/gitops/internal/report"
	"github.com/ecommerce-platform/gitops/internal/schemacheck"
)

func init() {
	subcommands["check"] = subcommand{
		summary: "schema validation and policies over rendered YAML (exit 1 on a deny)",
		run:     runCheck,
	}
}

// schemaValidator is what check needs from internal/schemacheck.
type schemaValidator interface {
	Validate(objs []*manifest.Object, env string) []finding.Finding
}

// newSchemaValidator builds the schema validator; tests swap it for a fake
// so they need neither the CRDs nor the Kubernetes OpenAPI documents.
var newSchemaValidator = func(crdDir, kubernetesVersion string) (schemaValidator, error) {
	// The CRDs of schema/crds.lock.yaml, verified: --crds (else $GITOPS_CRD_DIR)
	// checked against the lock, else the lock's cache, filled on first use.
	crds, err := crdlock.Dir(context.Background(), crdDir, false)
	if err != nil {
		return nil, err
	}
	return schemacheck.New(schemacheck.Options{CRDDir: crds.Dir, CRDSums: crds.SHA256, KubernetesVersion: kubernetesVersion})
}

// today is the date waivers expire against; tests pin it.
var today = func() time.Time { return time.Now().UTC() }

// runCheck implements
//
//	render check [--env NAME] [--format text|json|sarif|junit|github] [PATH...]
//
// PATHs default to rendered/<env> for every env folder under rendered/ (or
// just --env's). --env picks the thresholds for PATHs given explicitly
// (default prod, the strictest). Schema validation runs first; the policies
// run only on a schema-valid set, since rules reading mistyped fields would
// report noise.
func runCheck(args []string, stdout, stderr io.Writer) int {
	gcForCheck()
	fs := flag.NewFlagSet("render check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := fs.String("env", "", "env whose thresholds apply to every PATH (default: a PATH under rendered/<env>/ takes that env, any other prod; no PATH: every env folder of rendered/)")
	format := fs.String("format", "text", "output format: "+strings.Join(report.Formats, ", "))
	waiversFile := fs.String("waivers", "policies/waivers.yaml", "waivers file (missing: no waivers)")
	schemaOnly := fs.Bool("schema-only", false, "run schema validation only, not the policies")
	crds := fs.String("crds", "", "folder of the CRDs of schema/crds.lock.yaml, verified against it and used offline (default $"+schemacheck.EnvCRDDir+", else the verified cache: render crds fetch)")
	workers := fs.Int("workers", 0, "concurrent policy evaluations (default GOMAXPROCS)")
	policyDir := fs.String("policies", "", policiesUsage)
	kubeVersion := fs.String("kubernetes-version", "", "Kubernetes release (k8s.io/kubernetes module version, e.g. v1.35.4) to validate built-in kinds against (default: what the objects declare with "+schemacheck.KubernetesVersionAnnotation+", else $"+schemacheck.EnvKubernetesVersion+", else "+schemacheck.DefaultKubernetesVersion+")")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: render check [--env NAME] [--format text|json|sarif|junit|github] [PATH...]")
		fs.PrintDefaults()
	}
	if code, failed := parseFlags(fs, args); failed {
		return code
	}
	if !slices.Contains(report.Formats, *format) {
		fmt.Fprintf(stderr, "render check: unknown format %q (want one of %s)\n", *format, strings.Join(report.Formats, ", "))
		return exitBadInput
	}
	bad := func(err error) int {
		fmt.Fprintf(stderr, "render check: %v\n", err)
		return exitBadInput
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// Compiled even for --schema-only: the thresholds name the known envs.
	// The policies compile while the manifests load and the schemas
	// validate, which need no policy (unless PATHs are given: their envs
	// need the thresholds); the outcomes are then taken in the order of
	// one step after the other, so the errors and messages are the same.
	type newChecker struct {
		chk *checker.Checker
		err error
	}
	compiled := make(chan newChecker, 1)
	go func() {
		chk, err := checker.New(ctx, checker.Options{Workers: *workers, Policies: policiesFS(*policyDir)})
		compiled <- newChecker{chk, err}
	}()
	var chk *checker.Checker
	waitChecker := func() error {
		if chk == nil {
			c := <-compiled
			if c.err != nil {
				return c.err
			}
			chk = c.chk
		}
		return nil
	}

	// Which envs, over which paths.
	type envPaths struct {
		env   string
		paths []string
	}
	var plan []envPaths
	var planErr error
	switch {
	case fs.NArg() > 0:
		if err := waitChecker(); err != nil {
			return bad(err)
		}
		// Without --env, a PATH under rendered/<env>/ takes that env's
		// thresholds (so `check rendered/prod rendered/dr` checks two envs,
		// parity included); any other PATH takes prod's, the strictest.
		at := map[string]int{}
		for _, p := range fs.Args() {
			e := cmp.Or(*env, envOfPath(p, chk.HasEnv), "prod")
			if i, ok := at[e]; ok {
				plan[i].paths = append(plan[i].paths, p)
				continue
			}
			at[e] = len(plan)
			plan = append(plan, envPaths{e, []string{p}})
		}
	case *env != "":
		plan = []envPaths{{*env, []string{filepath.Join("rendered", *env)}}}
	default:
		entries, err := os.ReadDir("rendered")
		if err != nil {
			planErr = fmt.Errorf("no PATH given and no rendered/ folder here: %v", err)
			break
		}
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				plan = append(plan, envPaths{e.Name(), []string{filepath.Join("rendered", e.Name())}})
			}
		}
		if len(plan) == 0 {
			planErr = errors.New("rendered/ holds no env folder")
		}
	}

	// Loading, then schema validation, each env in turn, up to the first
	// error; what is printed and returned is replayed below, in order.
	type envSchema struct {
		objs         []*manifest.Object
		loadErr      error
		versionErr   error
		validator    schemaValidator
		validatorErr error
		findings     []finding.Finding
	}
	prepared := make([]envSchema, len(plan))
	loaded := 0
	for i, p := range plan {
		if planErr != nil {
			break
		}
		e := &prepared[i]
		if e.objs, e.loadErr = manifest.Load(p.paths...); e.loadErr != nil {
			break
		}
		loaded++
	}
	validators := map[string]schemaValidator{}
	for i := range plan {
		if loaded < len(plan) {
			break // a load failed: the schemas are not reached
		}
		e := &prepared[i]
		version := *kubeVersion
		if version == "" {
			if version, e.versionErr = schemacheck.TargetVersion(e.objs); e.versionErr != nil {
				break
			}
		}
		if e.validator = validators[version]; e.validator == nil {
			if e.validator, e.validatorErr = newSchemaValidator(*crds, version); e.validatorErr != nil {
				break
			}
			validators[version] = e.validator
		}
		e.findings = e.validator.Validate(e.objs, plan[i].env)
	}

	if err := waitChecker(); err != nil {
		return bad(err)
	}
	if planErr != nil {
		return bad(planErr)
	}
	var sets []checker.Set
	res := report.Result{Rules: chk.RuleDocs()}
	res.Rules[schemacheck.Rule] = "Objects match the OpenAPI schema of their apiVersion/kind (Kubernetes built-ins and the CRDs in --crds)."
	for i, p := range plan {
		if !chk.HasEnv(p.env) {
			return bad(fmt.Errorf("unknown env %q (known: %s)", p.env, strings.Join(chk.Envs(), ", ")))
		}
		if err := prepared[i].loadErr; err != nil {
			return bad(err)
		}
		objs := prepared[i].objs
		sets = append(sets, checker.Set{Env: p.env, Objects: objs})
		res.Envs = append(res.Envs, p.env)
		for _, o := range objs {
			res.Objects = append(res.Objects, report.Object{Env: p.env, File: o.File, Line: o.Line, Kind: o.Kind(), Namespace: o.Namespace(), Name: o.Name()})
		}
	}

	// Schema first, each env against the Kubernetes release its cluster
	// runs (declared by the objects), one validator per release.
	var v schemaValidator
	var all []*manifest.Object
	for i, s := range sets {
		e := prepared[i]
		if e.versionErr != nil {
			return bad(fmt.Errorf("env %s: %w", s.Env, e.versionErr))
		}
		if e.validatorErr != nil {
			return bad(fmt.Errorf("schema validation: %w", e.validatorErr))
		}
		v = e.validator
		if k, ok := v.(interface{ KubernetesVersion() string }); ok {
			fmt.Fprintf(stderr, "%s: built-in kinds validated against Kubernetes %s\n", s.Env, k.KubernetesVersion())
		}
		res.Findings = append(res.Findings, e.findings...)
		all = append(all, s.Objects...)
	}
	// Say which kinds only CUE validates (schemaless upstream), on stderr so
	// the machine formats on stdout stay clean.
	if c, ok := v.(interface {
		Coverage([]*manifest.Object) schemacheck.Coverage
	}); ok {
		fmt.Fprintln(stderr, c.Coverage(all))
	}
	ws, err := checker.LoadWaivers(*waiversFile)
	if err != nil {
		return bad(err)
	}
	schemaDenied := slices.ContainsFunc(res.Findings, func(f finding.Finding) bool {
		return f.Severity == finding.Deny && !checker.Waives(ws, f, today())
	})
	switch {
	case *schemaOnly:
	case schemaDenied:
		fmt.Fprintln(stderr, "render check: schema validation failed; policies not run (fix the schema errors first)")
	default:
		fs, err := chk.Check(ctx, sets)
		if err != nil {
			return bad(err)
		}
		res.Findings = append(res.Findings, fs...)
	}
	res.Findings = checker.ApplyWaivers(res.Findings, ws, res.Envs, today())
	attachSources(ctx, ".", res.Findings)
	if err := report.Write(stdout, *format, res); err != nil {
		return bad(err)
	}
	if finding.Denied(res.Findings) {
		return exitFindings
	}
	return exitOK
}

// envOfPath returns the env of a path inside rendered/<env>/, if known.
func envOfPath(p string, known func(string) bool) string {
	parts := strings.Split(filepath.ToSlash(filepath.Clean(p)), "/")
	for i := len(parts) - 2; i >= 0; i-- {
		if parts[i] == "rendered" && known(parts[i+1]) {
			return parts[i+1]
		}
	}
	return ""
}

// attachSources points each finding about a rendered field at the CUE lines
// that produced it (env file first), so a reviewer sees the line the pull
// request changed. The CUE is evaluated only when there is a finding to
// trace; findings on files with no CUE behind them (hand-edited, or outside
// rendered/) keep only their rendered location.
func attachSources(ctx context.Context, root string, fs []finding.Finding) {
	var envs []string
	for _, f := range fs {
		if len(f.Keys) > 0 && !slices.Contains(envs, f.Env) {
			if _, err := os.Stat(filepath.Join(root, "envs", f.Env)); err == nil {
				envs = append(envs, f.Env)
			}
		}
	}
	if len(envs) == 0 {
		return
	}
	idx, err := generator.Sources(ctx, generator.Options{Root: root, Envs: envs}, filepath.Join(root, "rendered"))
	if err != nil {
		return // CUE that does not evaluate: `render` reports that itself
	}
	for i := range fs {
		if len(fs[i].Keys) > 0 {
			fs[i].Source = idx.Lookup(fs[i].File, fs[i].Keys)
		}
	}
}

// gcForCheck trades memory for time: check allocates a few hundred MB of
// short-lived values (schema compilation, Rego evaluation), and at the
// default GOGC=100 the collector took about a quarter of its CPU. GOGC=400
// with a soft limit of 1 GiB keeps that off while the heap is small and
// brings the collector back near the limit. GOGC or GOMEMLIMIT set in the
// environment win.
func gcForCheck() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

const policiesUsage = "folder of *.rego policies (thresholds.rego among them) to run instead of the ones built into render (policies/)"

// policiesFS is the policy folder given with --policies, or nil for the
// built-in policies.
func policiesFS(dir string) fs.FS {
	if dir == "" {
		return nil
	}
	return os.DirFS(dir)
}
