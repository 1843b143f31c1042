// Package checker runs the Rego policies of policies/ over rendered objects
// with OPA's v1 Go API: the policies are compiled and the query prepared once,
// each object's input is converted to an AST value once, and objects are
// evaluated by a bounded worker pool. Cross-resource rules read the env's
// whole object set from data.check (see policies/lib.rego for its shape).
//
// The Go code knows nothing about Rollouts or Portworx: adding a rule is a
// Rego change. It only knows the result shape: every package's deny, warn
// and violation sets, whose members are strings (conftest style) or objects
// {"msg", "rule", "path"}.
package checker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"golang.org/x/sync/errgroup"

	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
	"github.com/ecommerce-platform/gitops/policies"
)

// Options configure a Checker. Zero values take the defaults.
type Options struct {
	// Policies holds the *.rego files, thresholds.rego among them (default:
	// the embedded policies.FS). *_test.rego files are skipped: they are for
	// the tester.
	Policies fs.FS
	// Workers bounds concurrent evaluations (default GOMAXPROCS).
	Workers int
}

// Checker evaluates the policies. Check may be called from several
// goroutines; calls are serialised because data.check holds one env at a time.
type Checker struct {
	query      rego.PreparedEvalQuery
	compiler   *ast.Compiler
	indexPkgs  []string // the packages that define env_index
	store      storage.Store
	rules      []ruleSet
	thresholds map[string]any
	docs       map[string]string
	workers    int
	guards     kindGuards            // per rule set, the kinds it can match (kinds.go); nil until the first Check
	byKind     map[string]*kindQuery // per kind (or nonStringKind), its query
	bySel      map[string]*kindQuery // per selection of rule sets, its query
	mu         sync.Mutex
}

// kindQuery is the query of the rule sets one kind needs: result i of the
// query is rule set sel[i].
type kindQuery struct {
	query rego.PreparedEvalQuery
	sel   []int
}

// ruleSet is one package's deny/warn/violation set, as queried.
type ruleSet struct {
	pkg      string // "zones"
	name     string // "deny"
	severity finding.Severity
}

// ref is the rule set's reference, data["zones"]["deny"].
func (r ruleSet) ref() string { return fmt.Sprintf("data[%q][%q]", r.pkg, r.name) }

// PolicyError is a broken policy: it fails to parse, compile or evaluate.
type PolicyError struct{ Err error }

func (e *PolicyError) Error() string { return "policy: " + e.Err.Error() }
func (e *PolicyError) Unwrap() error { return e.Err }

// New loads, compiles and prepares the policies once.
func New(ctx context.Context, opts Options) (*Checker, error) {
	fsys := opts.Policies
	if fsys == nil {
		fsys = policies.FS
	}
	modules, err := load(fsys)
	if err != nil {
		return nil, &PolicyError{err}
	}
	compiler := ast.NewCompiler().WithEnablePrintStatements(false)
	compiler.Compile(modules)
	if compiler.Failed() {
		return nil, &PolicyError{compiler.Errors}
	}
	rules := findRuleSets(compiler)
	if len(rules) == 0 {
		return nil, &PolicyError{fmt.Errorf("no deny, warn or violation rules found")}
	}
	thresholds, err := evalThresholds(ctx, compiler)
	if err != nil {
		return nil, &PolicyError{err}
	}
	docs, err := evalDocs(ctx, compiler, rules)
	if err != nil {
		return nil, &PolicyError{err}
	}
	// AST values on read: data.check is converted once per env on write,
	// not on every evaluation that reads it.
	store := inmem.NewWithOpts(inmem.OptReturnASTValuesOnRead(true))

	// One query returns every rule set: one evaluation per object.
	terms := make([]string, len(rules))
	for i, r := range rules {
		terms[i] = r.ref()
	}
	pq, err := prepareList(ctx, compiler, store, terms)
	if err != nil {
		return nil, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	c := &Checker{query: pq, compiler: compiler, store: store, rules: rules, thresholds: thresholds, docs: docs, workers: workers,
		byKind: map[string]*kindQuery{}, bySel: map[string]*kindQuery{}}
	c.indexPkgs = findEnvIndexes(compiler)
	return c, nil
}

// prepareList prepares one query whose result x is the list of terms'
// values, so one evaluation answers them all.
func prepareList(ctx context.Context, compiler *ast.Compiler, store storage.Store, terms []string) (rego.PreparedEvalQuery, error) {
	q, err := rego.New(
		rego.Query("x := ["+strings.Join(terms, ", ")+"]"),
		rego.Compiler(compiler),
		rego.Store(store),
	).PrepareForEval(ctx)
	if err != nil {
		return q, &PolicyError{err}
	}
	return q, nil
}

// findEnvIndexes lists the packages that define env_index: a document a
// package derives from the env's whole object set (objects keyed by a label,
// by the Secret they produce...). OPA caches a rule's value only within one
// evaluation, and every object is its own evaluation, so a rule that builds
// such a lookup table inline rebuilds it per object: quadratic in objects.
// The engine evaluates each env_index once per env, without input, and
// writes it to data.check.env_index[pkg], where the package reads it.
func findEnvIndexes(c *ast.Compiler) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range c.Modules {
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		for _, r := range m.Rules {
			if r.Head.Name.String() == "env_index" && !seen[pkg] {
				seen[pkg] = true
				out = append(out, pkg)
			}
		}
	}
	slices.Sort(out)
	return out
}

func load(fsys fs.FS) (map[string]*ast.Module, error) {
	modules := map[string]*ast.Module{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		src, err := fs.ReadFile(fsys, p)
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
	return modules, err
}

// evalThresholds reads data.thresholds (thresholds.rego): its keys are the
// known envs.
func evalThresholds(ctx context.Context, c *ast.Compiler) (map[string]any, error) {
	rs, err := rego.New(rego.Query("x := data.thresholds"), rego.Compiler(c)).Eval(ctx)
	if err != nil {
		return nil, err
	}
	if len(rs) == 1 {
		if t, ok := rs[0].Bindings["x"].(map[string]any); ok && len(t) > 0 {
			return t, nil
		}
	}
	return nil, errors.New("data.thresholds is undefined or empty: no env is known")
}

// evalDocs reads each rule package's optional docs object (rule id ->
// description).
func evalDocs(ctx context.Context, c *ast.Compiler, rules []ruleSet) (map[string]string, error) {
	docs := map[string]string{
		RuleWaiverExpired: "A waiver in the waivers file is past its expiry date: it waives nothing and fails the check.",
		RuleWaiverUnused:  "Warning: a waiver matches no finding of the envs checked.",
	}
	for _, r := range rules {
		rs, err := rego.New(rego.Query(fmt.Sprintf("x := data[%q].docs", r.pkg)), rego.Compiler(c)).Eval(ctx)
		if err != nil {
			return nil, err
		}
		if len(rs) == 1 {
			m, _ := rs[0].Bindings["x"].(map[string]any)
			for id, d := range m {
				if s, ok := d.(string); ok {
					docs[id] = s
				}
			}
		}
	}
	return docs, nil
}

// RuleDocs returns rule id -> description for every documented rule,
// the waiver rules included.
func (c *Checker) RuleDocs() map[string]string { return maps.Clone(c.docs) }

// findRuleSets lists the packages that define deny, warn or violation, the
// rule names conftest reads with --all-namespaces.
func findRuleSets(c *ast.Compiler) []ruleSet {
	seen := map[string]bool{}
	var out []ruleSet
	for _, m := range c.Modules {
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		for _, r := range m.Rules {
			name := r.Head.Name.String()
			if len(r.Head.Reference) > 0 {
				name = r.Head.Reference[0].Value.(ast.Var).String()
			}
			var sev finding.Severity
			switch name {
			case "deny", "violation":
				sev = finding.Deny
			case "warn":
				sev = finding.Warn
			default:
				continue
			}
			if k := pkg + "." + name; !seen[k] {
				seen[k] = true
				out = append(out, ruleSet{pkg: pkg, name: name, severity: sev})
			}
		}
	}
	slices.SortFunc(out, func(a, b ruleSet) int { return strings.Compare(a.pkg+"."+a.name, b.pkg+"."+b.name) })
	return out
}

// Envs lists the envs that have thresholds, sorted.
func (c *Checker) Envs() []string {
	envs := make([]string, 0, len(c.thresholds))
	for e := range c.thresholds {
		envs = append(envs, e)
	}
	slices.Sort(envs)
	return envs
}

// HasEnv reports whether env has thresholds.
func (c *Checker) HasEnv(env string) bool {
	_, ok := c.thresholds[env]
	return ok
}

// Set is one env's objects.
type Set struct {
	Env     string
	Objects []*manifest.Object
}

// peers are the indexes of the other envs among the sets that env's
// thresholds name (data.check.peers[name].index).
func (c *Checker) peers(env string, indexes map[string]map[string]any) map[string]any {
	peers := map[string]any{}
	thresholds, _ := c.thresholds[env].(map[string]any)
	for _, v := range thresholds {
		if name, ok := v.(string); ok && name != env && indexes[name] != nil {
			peers[name] = map[string]any{"index": indexes[name]}
		}
	}
	return peers
}

// Check evaluates every object of every set and returns the findings sorted.
// The sets' env_index are evaluated at once; then the sets one after the
// other (data.check holds one env), the objects of a set in parallel. An env
// that names another in its thresholds (parity_peer, restore_source) is
// compared with it when it is among the sets.
func (c *Checker) Check(ctx context.Context, sets []Set) ([]finding.Finding, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range sets {
		if !c.HasEnv(s.Env) {
			return nil, fmt.Errorf("unknown env %q (known: %s)", s.Env, strings.Join(c.Envs(), ", "))
		}
	}
	// Every object converted to an AST value once: the same value is the
	// object in data.check.index (its env's and, for a peer, the other
	// env's) and the input of its evaluation.
	values, indexes, err := c.inputs(ctx, sets)
	if err != nil {
		return nil, err
	}
	// An env_index is one evaluation, on one core: evaluated one env after
	// the other, they left every other core idle for a fifth of the check
	// at 500 services.
	checks := make([]ast.Object, len(sets))
	err = c.parallel(ctx, len(sets), func(ctx context.Context, i int) error {
		check, err := c.checkValue(ctx, sets[i], indexes)
		checks[i] = check
		return err
	})
	if err != nil {
		return nil, err
	}
	var all []finding.Finding
	for i, s := range sets {
		if err := c.setCheck(ctx, checks[i]); err != nil {
			return nil, err
		}
		if err := c.prepareKinds(ctx, s.Objects); err != nil {
			return nil, err
		}
		fs, err := c.evalSet(ctx, s, values[i])
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
	}
	finding.Sort(all)
	return all, nil
}

// inputs converts every object of the sets to an AST value once and builds
// each env's data.check.index of those values.
func (c *Checker) inputs(ctx context.Context, sets []Set) ([][]ast.Value, map[string]map[string]any, error) {
	values, err := c.convert(ctx, sets)
	if err != nil {
		return nil, nil, err
	}
	indexes := map[string]map[string]any{}
	for i, s := range sets {
		indexes[s.Env] = index(s.Objects, func(j int) any { return values[i][j] })
	}
	return values, indexes, nil
}

// loadEnv writes data.check for set s (its index, files and peers) and its
// env_index (evaluated with opts), and prepares the queries of its kinds.
func (c *Checker) loadEnv(ctx context.Context, s Set, indexes map[string]map[string]any, opts ...rego.EvalOption) error {
	check, err := c.checkValue(ctx, s, indexes, opts...)
	if err != nil {
		return err
	}
	if err := c.setCheck(ctx, check); err != nil {
		return err
	}
	return c.prepareKinds(ctx, s.Objects)
}

// checkValue is data.check for set s, its env_index (evaluated with opts)
// included. It writes no store of c's, so the sets' are made at once.
func (c *Checker) checkValue(ctx context.Context, s Set, indexes map[string]map[string]any, opts ...rego.EvalOption) (ast.Object, error) {
	check, err := c.checkDoc(s, indexes)
	if err != nil {
		return nil, err
	}
	return check, c.addEnvIndex(ctx, check, opts...)
}

// checkDoc is data.check for set s, without its env_index: the env, its
// index and files, and the indexes of the peers its thresholds name.
func (c *Checker) checkDoc(s Set, indexes map[string]map[string]any) (ast.Object, error) {
	check := map[string]any{"env": s.Env, "index": indexes[s.Env], "files": Files(s.Objects)}
	if peers := c.peers(s.Env, indexes); len(peers) > 0 {
		check["peers"] = peers
	}
	v, err := ast.InterfaceToValue(check)
	if err != nil {
		return nil, err
	}
	return v.(ast.Object), nil
}

// ruleSetQuery prepares the query of rule set i alone.
func (c *Checker) ruleSetQuery(ctx context.Context, i int) (rego.PreparedEvalQuery, error) {
	return prepareList(ctx, c.compiler, c.store, []string{c.rules[i].ref()})
}

// setCheck replaces data.check in c's store with check.
func (c *Checker) setCheck(ctx context.Context, check ast.Object) error {
	return storage.Txn(ctx, c.store, storage.WriteParams, func(txn storage.Transaction) error {
		p := storage.MustParsePath("/check")
		if _, err := c.store.Read(ctx, txn, p); err == nil {
			if err := c.store.Write(ctx, txn, storage.RemoveOp, p, nil); err != nil {
				return err
			}
		}
		return c.store.Write(ctx, txn, storage.AddOp, p, check)
	})
}

// envIndexRef is the reference of package pkg's env_index.
func envIndexRef(pkg string) string { return fmt.Sprintf("data[%q].env_index", pkg) }

// addEnvIndex evaluates every package's env_index once for the env whose
// data.check is check (with opts) and adds them to it as env_index, when a
// package defines one. The evaluation reads check from a store of its own,
// so the envs' env_index are evaluated at once.
func (c *Checker) addEnvIndex(ctx context.Context, check ast.Object, opts ...rego.EvalOption) error {
	if len(c.indexPkgs) == 0 {
		return nil
	}
	store := inmem.NewWithOpts(inmem.OptReturnASTValuesOnRead(true))
	err := storage.Txn(ctx, store, storage.WriteParams, func(txn storage.Transaction) error {
		return store.Write(ctx, txn, storage.AddOp, storage.MustParsePath("/check"), check)
	})
	if err != nil {
		return err
	}
	terms := make([]string, len(c.indexPkgs))
	for i, pkg := range c.indexPkgs {
		terms[i] = envIndexRef(pkg)
	}
	q, err := prepareList(ctx, c.compiler, store, terms)
	if err != nil {
		return err
	}
	// The result as AST values, not Go values: the tables hold the env's
	// objects, which a conversion to Go and back would copy (jsonValue).
	asAST := rego.EvalGenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t.Value, nil })
	rs, err := q.Eval(ctx, append(opts, asAST)...)
	if err != nil {
		return &PolicyError{fmt.Errorf("evaluating env_index: %w", err)}
	}
	if len(rs) != 1 {
		return &PolicyError{fmt.Errorf("evaluating env_index: query returned %d results", len(rs))}
	}
	list, ok := rs[0].Bindings["x"].(*ast.Array)
	if !ok || list.Len() != len(c.indexPkgs) {
		return &PolicyError{fmt.Errorf("evaluating env_index: unexpected result %v", rs[0].Bindings["x"])}
	}
	derived := make([][2]*ast.Term, len(c.indexPkgs))
	memo := map[ast.Value]ast.Value{}
	for i, pkg := range c.indexPkgs {
		v, err := jsonValue(list.Elem(i).Value, memo)
		if err != nil {
			return &PolicyError{fmt.Errorf("evaluating env_index of %s: %w", pkg, err)}
		}
		derived[i] = [2]*ast.Term{ast.StringTerm(pkg), ast.NewTerm(v)}
	}
	check.Insert(ast.InternedTerm("env_index"), ast.NewTerm(ast.NewObject(derived...)))
	return nil
}

// evalSet runs c.workers goroutines that take the objects in turn: a
// goroutine per object would start each evaluation on a small stack, and
// OPA's evaluator recurses deeply, so growing (copying) the stack again for
// every object took an eighth of the check's CPU at 100 services.
func (c *Checker) evalSet(ctx context.Context, s Set, values []ast.Value) ([]finding.Finding, error) {
	results := make([][]finding.Finding, len(s.Objects))
	err := c.parallel(ctx, len(s.Objects), func(ctx context.Context, i int) error {
		fs, err := c.evalObject(ctx, s.Objects[i], values[i], s.Env)
		results[i] = fs
		return err
	})
	if err != nil {
		return nil, err
	}
	return slices.Concat(results...), nil
}

// parallel runs f(0..n-1) on c.workers goroutines that take the indexes in
// turn; the first error stops them and is returned.
func (c *Checker) parallel(ctx context.Context, n int, f func(context.Context, int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range min(c.workers, n) {
		g.Go(func() error {
			for {
				if err := gctx.Err(); err != nil {
					return err // the first error is the one g.Wait returns
				}
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				if err := f(gctx, i); err != nil {
					return err
				}
			}
		})
	}
	return g.Wait()
}

// convert converts every object of the sets to an AST value, in parallel.
func (c *Checker) convert(ctx context.Context, sets []Set) ([][]ast.Value, error) {
	values := make([][]ast.Value, len(sets))
	for i, s := range sets {
		values[i] = make([]ast.Value, len(s.Objects))
		err := c.parallel(ctx, len(s.Objects), func(_ context.Context, j int) error {
			obj := s.Objects[j]
			v, err := ast.InterfaceToValue(obj.Object)
			if err != nil {
				return fmt.Errorf("%s:%d: %w", obj.File, obj.Line, err)
			}
			values[i][j] = v
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return values, nil
}

// evalObject evaluates the rule sets of obj's kind; input is obj as an AST
// value, shared by every rule of every package.
func (c *Checker) evalObject(ctx context.Context, obj *manifest.Object, input ast.Value, env string) ([]finding.Finding, error) {
	kq := c.byKind[kindOf(obj)]
	if len(kq.sel) == 0 {
		return nil, nil
	}
	rs, err := kq.query.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, &PolicyError{fmt.Errorf("evaluating %s:%d (%s %s): %w", obj.File, obj.Line, obj.Kind(), obj.Name(), err)}
	}
	if len(rs) != 1 {
		return nil, &PolicyError{fmt.Errorf("evaluating %s:%d: query returned %d results", obj.File, obj.Line, len(rs))}
	}
	sets, _ := rs[0].Bindings["x"].([]any)
	var out []finding.Finding
	for i, set := range sets {
		members, _ := set.([]any)
		for _, m := range members {
			f, err := c.toFinding(c.rules[kq.sel[i]], m, obj, env)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// nonStringKind stands for an object whose kind is absent or not a string:
// it matches no kind guard. A kind is never "" + NUL.
const nonStringKind = "\x00"

func kindOf(obj *manifest.Object) string {
	if k, ok := obj.Object["kind"].(string); ok {
		return k
	}
	return nonStringKind
}

// prepareKinds prepares the query of every kind among objs not yet seen:
// kinds that need the same rule sets share one query.
func (c *Checker) prepareKinds(ctx context.Context, objs []*manifest.Object) error {
	if c.guards == nil { // on the first Check: --schema-only needs none
		c.guards = findKindGuards(ctx, c.compiler, c.rules)
	}
	for _, o := range objs {
		kind := kindOf(o)
		if c.byKind[kind] != nil {
			continue
		}
		sel := c.guards.selection(kind)
		key := fmt.Sprint(sel)
		kq := c.bySel[key]
		if kq == nil {
			kq = &kindQuery{sel: sel}
			if len(sel) > 0 {
				terms := make([]string, len(sel))
				for i, r := range sel {
					terms[i] = c.rules[r].ref()
				}
				q, err := prepareList(ctx, c.compiler, c.store, terms)
				if err != nil {
					return err
				}
				kq.query = q
			}
			c.bySel[key] = kq
		}
		c.byKind[kind] = kq
	}
	return nil
}

// toFinding reads one member of a deny/warn set: a string (conftest's
// simplest form) or an object with msg and optional rule and path.
func (c *Checker) toFinding(r ruleSet, m any, obj *manifest.Object, env string) (finding.Finding, error) {
	f := finding.Finding{
		Rule:      r.pkg,
		Severity:  r.severity,
		File:      obj.File,
		Line:      obj.Line,
		Kind:      obj.Kind(),
		Namespace: obj.Namespace(),
		Name:      obj.Name(),
		Env:       env,
	}
	switch v := m.(type) {
	case string:
		f.Message = v
	case map[string]any:
		msg, ok := v["msg"].(string)
		if !ok {
			return f, &PolicyError{fmt.Errorf("data.%s.%s: a result has no string msg: %v", r.pkg, r.name, v)}
		}
		f.Message = msg
		if rule, ok := v["rule"].(string); ok && rule != "" {
			f.Rule = rule
		}
		if p, ok := v["path"].([]any); ok && len(p) > 0 {
			keys := make([]string, len(p))
			for i, k := range p {
				keys[i] = pathKey(k)
			}
			f.Line = obj.LineOf(keys...)
			f.Path = DottedPath(keys)
			f.Keys = keys
		}
	default:
		return f, &PolicyError{fmt.Errorf("data.%s.%s: a result is neither a string nor an object: %v", r.pkg, r.name, m)}
	}
	return f, nil
}

func pathKey(k any) string {
	switch v := k.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

// DottedPath writes a field path as spec.template.spec.containers[0].image.
func DottedPath(keys []string) string {
	var b strings.Builder
	for i, k := range keys {
		if _, err := strconv.Atoi(k); err == nil {
			b.WriteString("[" + k + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(k)
	}
	return b.String()
}

// Files builds data.check.files: key -> namespace -> name -> the file the
// object was read from (the first, if the same identity is in several).
func Files(objs []*manifest.Object) map[string]any {
	files := map[string]any{}
	for _, o := range objs {
		byNS, _ := files[indexKey(o)].(map[string]any)
		if byNS == nil {
			byNS = map[string]any{}
			files[indexKey(o)] = byNS
		}
		byName, _ := byNS[o.Namespace()].(map[string]any)
		if byName == nil {
			byName = map[string]any{}
			byNS[o.Namespace()] = byName
		}
		if _, ok := byName[o.Name()]; !ok {
			byName[o.Name()] = filepath.ToSlash(o.File)
		}
	}
	return files
}

// indexKey is Kind for the core group, else Kind.group.
func indexKey(o *manifest.Object) string {
	if g, _, ok := strings.Cut(o.APIVersion(), "/"); ok {
		return o.Kind() + "." + g
	}
	return o.Kind()
}

// index builds data.check.index: key (Kind, or Kind.group) -> namespace ->
// name -> objects, value(i) standing for objs[i]. Cluster-scoped objects
// have namespace "".
func index(objs []*manifest.Object, value func(int) any) map[string]any {
	idx := map[string]any{}
	for i, o := range objs {
		key := indexKey(o)
		byNS, _ := idx[key].(map[string]any)
		if byNS == nil {
			byNS = map[string]any{}
			idx[key] = byNS
		}
		byName, _ := byNS[o.Namespace()].(map[string]any)
		if byName == nil {
			byName = map[string]any{}
			byNS[o.Namespace()] = byName
		}
		list, _ := byName[o.Name()].([]any)
		byName[o.Name()] = append(list, value(i))
	}
	return idx
}
