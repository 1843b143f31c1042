// Package schemacheck validates rendered Kubernetes objects against the
// OpenAPI v3 schema of their apiVersion/kind, offline: built-in kinds from the
// OpenAPI documents shipped in the k8s.io/kubernetes module (fetched through
// the Go module proxy and cached), custom kinds from the CRD files in a
// directory. Kinds declared schemaless (Stork, Portworx) are counted, not
// checked: their CUE definitions are their only schema.
//
// Validation is JSON Schema 2020-12 by github.com/santhosh-tekuri/jsonschema/v6
// on schemas converted from Kubernetes' OpenAPI flavour (see convert.go).
package schemacheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ecommerce-platform/gitops/internal/crdlock"
	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
	"github.com/ecommerce-platform/gitops/internal/usercache"
)

// Rule is the rule name every schema finding carries.
const Rule = "schema"

// DefaultKubernetesVersion is the k8s.io/kubernetes module version whose
// OpenAPI documents define the built-in kinds.
const DefaultKubernetesVersion = "v1.37.2"

// Environment variables that override the defaults (flags override them).
const (
	EnvCRDDir            = crdlock.EnvDir
	EnvKubernetesVersion = "GITOPS_KUBERNETES_VERSION"
	EnvCacheDir          = "GITOPS_SCHEMA_CACHE"
)

// Options configure a Validator. Zero values take the defaults.
type Options struct {
	// CRDDir holds CustomResourceDefinition YAML files (searched recursively).
	// Default: $GITOPS_CRD_DIR verified against crds.lock.yaml, else the
	// lock's verified cache (internal/crdlock).
	CRDDir string
	// CRDSums is the sha256 of CRDDir's files (slash-separated paths
	// relative to it) when the caller has verified them (crdlock.Result):
	// a file listed whose index is cached is not read to be hashed.
	CRDSums map[string]string
	// KubernetesVersion is the k8s.io/kubernetes module version.
	// Default: $GITOPS_KUBERNETES_VERSION, else DefaultKubernetesVersion.
	KubernetesVersion string
	// CacheDir holds the schemas derived from the Kubernetes module.
	// Default: $GITOPS_SCHEMA_CACHE, else os.UserCacheDir()/gitops-schemacheck
	// (os.TempDir() when there is no user cache directory).
	CacheDir string
	// Verdicts is "off" to validate every object for real, "on" to cache
	// the objects found valid (verdicts.go). Default: $GITOPS_SCHEMA_VERDICTS,
	// else "on".
	Verdicts string
}

// Validator checks objects against their schemas. It is safe for concurrent
// use: each kind's schema is compiled once, on first use, and compiled
// schemas and CEL programs are immutable.
type Validator struct {
	opts     Options
	builtin  *builtinBundle
	crds     map[string]*crdKind        // "group Kind"
	builtGVs map[string]bool            // built-in apiVersions, to tell an unknown kind from an unknown API
	embedded map[string][]embeddedField // "group Kind" -> fields holding a core type (embedded.yaml)

	mu      sync.Mutex        // guards entries
	entries map[string]*entry // by schema URL

	compiles atomic.Int64 // schemas compiled, for the tests of the verdict cache
}

// entry is the compiled schema of one apiVersion/kind.
type entry struct {
	once   sync.Once
	schema *jsonschema.Schema
	rules  *celRules      // CRD kinds only
	raw    map[string]any // CRD kinds only: the openAPIV3Schema, for defaults
	err    error

	digestOnce sync.Once
	digest     []byte // kindDigest, nil when not cacheable
}

// New loads every schema source once: the Kubernetes OpenAPI documents
// (downloading the module through the proxy on a cold cache) and every CRD
// under CRDDir. Schemas are compiled lazily, per kind, on first use.
func New(opts Options) (*Validator, error) {
	opts, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(opts.CRDDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("CRD directory %s: not a readable directory (pass render check --crds or set %s)", opts.CRDDir, EnvCRDDir)
	}
	v := &Validator{opts: opts, builtGVs: map[string]bool{}, entries: map[string]*entry{}}
	var crdErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // CRD parsing and the built-in bundle are independent
		defer wg.Done()
		v.crds, crdErr = loadCRDs(opts.CRDDir, opts.CacheDir, opts.CRDSums)
	}()
	v.builtin, err = loadBuiltin(opts.KubernetesVersion, opts.CacheDir)
	wg.Wait()
	if err := errors.Join(err, crdErr); err != nil {
		return nil, err
	}
	for key := range v.builtin.Kinds {
		v.builtGVs[key[:strings.IndexByte(key, ' ')]] = true
	}
	table, err := parseEmbedded(embeddedData)
	if err != nil {
		return nil, err
	}
	// The table is checked now against the definitions it names; all of
	// them are converted, with its constraints, when a schema is compiled.
	named := map[string]any{}
	for def := range table.Validation {
		if data, ok := v.builtin.OpenAPI[def]; ok {
			if named[def], err = convertDef(def, data); err != nil {
				return nil, err
			}
		}
	}
	if err := withValidation(named, table.Validation); err != nil {
		return nil, err
	}
	b := v.builtin
	b.defs = sync.OnceValues(func() (map[string]any, error) {
		defs, err := b.convertDefs()
		if err == nil {
			err = withValidation(defs, table.Validation)
		}
		return defs, err
	})
	v.embedded = map[string][]embeddedField{}
	for _, f := range table.Embedded {
		if _, ok := v.builtin.OpenAPI[f.Type]; !ok {
			return nil, fmt.Errorf("embedded.yaml: %s %s embeds %s, which Kubernetes %s does not define", f.Group, f.Kind, f.Type, opts.KubernetesVersion)
		}
		v.embedded[f.Group+" "+f.Kind] = append(v.embedded[f.Group+" "+f.Kind], f)
	}
	return v, nil
}

// noNetwork refuses every schema URL not added as a resource: validation
// never reaches the network.
type noNetwork struct{}

func (noNetwork) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not available offline", url)
}

func withDefaults(o Options) (Options, error) {
	if o.KubernetesVersion == "" {
		o.KubernetesVersion = os.Getenv(EnvKubernetesVersion)
	}
	if o.KubernetesVersion == "" {
		o.KubernetesVersion = DefaultKubernetesVersion
	}
	if o.CacheDir == "" {
		o.CacheDir = usercache.Dir(EnvCacheDir, "gitops-schemacheck")
	}
	if o.Verdicts == "" {
		o.Verdicts = os.Getenv(EnvVerdicts)
	}
	switch o.Verdicts {
	case "":
		o.Verdicts = "on"
	case "on", "off":
	default:
		return o, fmt.Errorf("schema verdict cache %q: want on or off ($%s)", o.Verdicts, EnvVerdicts)
	}
	if o.CRDDir == "" {
		// $GITOPS_CRD_DIR verified against crds.lock.yaml, else the lock's
		// verified cache (internal/crdlock). An explicit CRDDir is used as is.
		res, err := crdlock.Dir(context.Background(), "", false)
		if err != nil {
			return o, err
		}
		o.CRDDir = res.Dir
	}
	return o, nil
}

// KubernetesVersion is the Kubernetes version the built-in schemas come from.
func (v *Validator) KubernetesVersion() string { return v.opts.KubernetesVersion }

// CRDDir is the directory the CRD schemas were read from.
func (v *Validator) CRDDir() string { return v.opts.CRDDir }

// source says where the schema of one apiVersion/kind comes from.
type source struct {
	url        string // compiler URL, when there is a schema
	crd        *crdKind
	crdVersion string
	schemaless string // reason, when declared schemaless
	problem    string // why the object cannot be validated, when it cannot
}

func (v *Validator) lookup(apiVersion, kind string) source {
	group, version := splitAPIVersion(apiVersion)
	if k, ok := v.crds[group+" "+kind]; ok {
		ver, ok := k.Versions[version]
		switch {
		case !ok:
			return source{problem: fmt.Sprintf("%s has no version %s in %s (served: %s)", kind+"."+group, version, k.File, k.servedList())}
		case !ver.Served:
			return source{problem: fmt.Sprintf("%s version %s is not served (served: %s; %s)", kind+"."+group, version, k.servedList(), k.File)}
		case !ver.HasSchema:
			return source{problem: fmt.Sprintf("%s version %s has no openAPIV3Schema in %s", kind+"."+group, version, k.File)}
		}
		return source{url: "urn:schemacheck:crd:" + apiVersion + "/" + kind, crd: k, crdVersion: version}
	}
	if def, ok := v.builtin.Kinds[gvkKey(apiVersion, kind)]; ok {
		return source{url: builtinResource + "#/$defs/" + def}
	}
	if reason, ok := schemalessReason(apiVersion, kind); ok {
		return source{schemaless: reason}
	}
	if v.builtGVs[apiVersion] {
		return source{problem: fmt.Sprintf("kind %s does not exist in %s (Kubernetes %s)", kind, apiVersion, v.opts.KubernetesVersion)}
	}
	for _, k := range v.crds {
		if k.Group == group {
			return source{problem: fmt.Sprintf("kind %s is not defined for group %s by any CRD in %s", kind, group, v.opts.CRDDir)}
		}
	}
	return source{problem: fmt.Sprintf("no schema for %s %s: not a Kubernetes %s built-in, no CRD in %s, not declared schemaless",
		apiVersion, kind, v.opts.KubernetesVersion, v.opts.CRDDir)}
}

func splitAPIVersion(apiVersion string) (group, version string) {
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i], apiVersion[i+1:]
	}
	return "", apiVersion
}

// entry is the entry of one schema URL, made on first use.
func (v *Validator) entry(url string) *entry {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil {
		v.entries = map[string]*entry{}
	}
	e, ok := v.entries[url]
	if !ok {
		e = &entry{}
		v.entries[url] = e
	}
	return e
}

// compiled returns the compiled schema for src, compiling it on first use.
func (v *Validator) compiled(src source) (*entry, error) {
	e := v.entry(src.url)
	e.once.Do(func() {
		v.compiles.Add(1)
		doc, raw, err := v.standalone(src)
		if err != nil {
			e.err = err
			return
		}
		if raw != nil {
			e.raw = raw
			if e.rules, e.err = compileRules(raw); e.err != nil {
				return
			}
		}
		e.schema, e.err = v.compileDoc(doc) // compile.go
	})
	return e, e.err
}

func newCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, f := range formats {
		c.RegisterFormat(f)
	}
	c.UseLoader(noNetwork{})
	return c
}

// Validate reports every schema violation of every object as a deny finding
// with rule "schema", in object order. Objects of a schemaless kind are
// skipped (see Coverage); an apiVersion/kind known nowhere is a finding.
// An object found valid before, under the same schema and code, is not
// validated again (verdicts.go): the findings are the same either way.
func (v *Validator) Validate(objs []*manifest.Object, env string) []finding.Finding {
	verdicts := v.loadVerdicts(env)
	perObj := make([][]finding.Finding, len(objs))
	valid := make([]bool, len(objs))
	keys := make([]verdictKey, len(objs))
	workers := min(runtime.GOMAXPROCS(0), len(objs))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(objs); i += workers {
				perObj[i], keys[i], valid[i] = v.validateCached(objs[i], env, verdicts)
			}
		}()
	}
	wg.Wait()
	var out []finding.Finding
	var validKeys []verdictKey
	for i, fs := range perObj {
		out = append(out, fs...)
		if valid[i] {
			validKeys = append(validKeys, keys[i])
		}
	}
	verdicts.record(validKeys)
	return out
}

// validateCached validates o unless verdicts holds its key; valid says
// that key may be recorded: o has no finding and could be keyed.
func (v *Validator) validateCached(o *manifest.Object, env string, verdicts *verdictFile) (fs []finding.Finding, key verdictKey, valid bool) {
	src := v.lookup(o.APIVersion(), o.Kind())
	keyed := false
	if verdicts != nil && src.url != "" {
		if digest := v.kindDigest(src); digest != nil {
			key, keyed = objectKey(digest, o.Object)
		}
	}
	if keyed && verdicts.has(key) {
		return nil, key, true
	}
	fs = v.validateObject(o, env, src)
	return fs, key, keyed && len(fs) == 0
}

func (v *Validator) validateObject(o *manifest.Object, env string, src source) []finding.Finding {
	switch {
	case src.schemaless != "":
		return nil
	case src.problem != "":
		return []finding.Finding{newFinding(o, env, "", nil, o.Line, src.problem)}
	}
	e, err := v.compiled(src)
	if err != nil {
		return []finding.Finding{newFinding(o, env, "", nil, o.Line, fmt.Sprintf("schema of %s %s does not compile: %v", o.APIVersion(), o.Kind(), err))}
	}
	var out []finding.Finding
	err = e.schema.Validate(o.Object)
	var verr *jsonschema.ValidationError
	switch {
	case err == nil:
	case errors.As(err, &verr):
		out = violations(o, env, verr)
	default:
		out = []finding.Finding{newFinding(o, env, "", nil, o.Line, err.Error())}
	}
	if src.crd != nil {
		out = append(out, e.rules.evaluate(o, env, e.raw, err == nil)...)
		// A field the CRD schema already faults is not reported twice.
		seen := map[string]bool{}
		for _, f := range out {
			seen[f.Path] = true
		}
		for _, f := range v.validateEmbedded(o, env) {
			if !seen[f.Path] {
				out = append(out, f)
			}
		}
	}
	return out
}

func newFinding(o *manifest.Object, env, path string, keys []string, line int, msg string) finding.Finding {
	return finding.Finding{
		Rule:      Rule,
		Severity:  finding.Deny,
		Message:   msg,
		File:      o.File,
		Line:      line,
		Kind:      o.Kind(),
		Namespace: o.Namespace(),
		Name:      o.Name(),
		Env:       env,
		Path:      path,
		Keys:      keys,
	}
}

// Coverage says how objects were (or would be) checked: the CLI prints it so
// a user sees which kinds are validated by CUE only.
type Coverage struct {
	KubernetesVersion string
	BuiltIn           int // objects checked against Kubernetes built-in schemas
	CRD               int // objects checked against CRD schemas
	Unknown           int // objects with no schema anywhere (each is a finding)
	Schemaless        []SchemalessCount
}

// SchemalessCount is how many objects of one schemaless kind were skipped.
type SchemalessCount struct {
	APIVersion, Kind string
	Objects          int
	Reason           string
}

// Coverage classifies objects by schema source without validating them.
func (v *Validator) Coverage(objs []*manifest.Object) Coverage {
	c := Coverage{KubernetesVersion: v.opts.KubernetesVersion}
	skipped := map[[2]string]*SchemalessCount{}
	for _, o := range objs {
		src := v.lookup(o.APIVersion(), o.Kind())
		switch {
		case src.schemaless != "":
			k := [2]string{o.APIVersion(), o.Kind()}
			if skipped[k] == nil {
				skipped[k] = &SchemalessCount{APIVersion: k[0], Kind: k[1], Reason: src.schemaless}
			}
			skipped[k].Objects++
		case src.problem != "":
			c.Unknown++
		case src.crd != nil:
			c.CRD++
		default:
			c.BuiltIn++
		}
	}
	for _, s := range skipped {
		c.Schemaless = append(c.Schemaless, *s)
	}
	sort.Slice(c.Schemaless, func(i, j int) bool {
		a, b := c.Schemaless[i], c.Schemaless[j]
		return a.APIVersion+" "+a.Kind < b.APIVersion+" "+b.Kind
	})
	return c
}

// String is the summary line(s) the CLI prints.
func (c Coverage) String() string {
	var b strings.Builder
	n := 0
	for _, s := range c.Schemaless {
		n += s.Objects
	}
	fmt.Fprintf(&b, "schema: %d objects checked (%d Kubernetes %s built-in, %d CRD), %d schemaless, %d unknown",
		c.BuiltIn+c.CRD, c.BuiltIn, c.KubernetesVersion, c.CRD, n, c.Unknown)
	for _, s := range c.Schemaless {
		fmt.Fprintf(&b, "\nschemaless: validated by CUE only: %s %s (%d)", s.APIVersion, s.Kind, s.Objects)
	}
	return b.String()
}

// KubernetesVersionAnnotation, on any object of a set, names the Kubernetes
// release (a k8s.io/kubernetes module version such as v1.35.4) the set's
// cluster runs: its built-in kinds are validated against that release's API,
// so a field newer than the cluster is a finding.
const KubernetesVersionAnnotation = "platform.shop/kubernetes-version"

// TargetVersion is the release the objects declare with
// KubernetesVersionAnnotation, or "" when none does. Two different
// declarations in one set are an error naming both files.
func TargetVersion(objs []*manifest.Object) (string, error) {
	var version, from string
	for _, o := range objs {
		v := o.Annotation(KubernetesVersionAnnotation)
		switch {
		case v == "" || v == version:
		case version != "":
			return "", fmt.Errorf("%s: %s %s says %s, %s says %s", KubernetesVersionAnnotation, o.Kind(), o.File, v, from, version)
		case !strings.HasPrefix(v, "v"):
			return "", fmt.Errorf("%s:%d: %s %q is not a Kubernetes release such as v1.35.4", o.File, o.Line, KubernetesVersionAnnotation, v)
		default:
			version, from = v, o.File
		}
	}
	return version, nil
}
