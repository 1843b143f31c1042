package generator

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/token"

	"github.com/ecommerce-platform/gitops/internal/finding"
)

// SourceIndex traces rendered fields back to the CUE that produced them, so
// a finding on rendered/prod/svc-cart/rollout-cart.yaml spec.replicas can
// point at the line of envs/prod/services.cue a pull request changed.
//
// It is recomputed on demand from the CUE (one evaluation per env, the cost
// of a render) rather than kept in a sidecar under rendered/: nothing extra
// is committed, nothing extra can go stale, and Argo CD never sees it.
type SourceIndex struct {
	root, envsDir, outDir string
	envs                  map[string]*envSources
	rendered              []Env
}

// Rendered is the render the index traces, as Render returns it.
func (s *SourceIndex) Rendered() []Env { return s.rendered }

type envSources struct {
	files  map[string][]byte    // app/file -> fresh bytes
	values map[string]cue.Value // app/file -> the object's CUE value
	mu     sync.Mutex           // cue values are not safe for concurrent use
}

// Sources evaluates the selected envs for tracing; outDir is where their
// rendered files are (normally <root>/rendered).
func Sources(ctx context.Context, opts Options, outDir string) (*SourceIndex, error) {
	results, opts, err := renderAll(ctx, opts, true)
	if err != nil {
		return nil, err
	}
	if outDir, err = filepath.Abs(outDir); err != nil {
		return nil, err
	}
	idx := &SourceIndex{root: opts.Root, envsDir: opts.EnvsDir, outDir: outDir, envs: map[string]*envSources{}}
	for _, r := range results {
		es := &envSources{files: map[string][]byte{}, values: r.values}
		for _, f := range r.env.Files {
			es.files[f.Path] = f.Data
		}
		idx.envs[r.env.Name] = es
		idx.rendered = append(idx.rendered, r.env)
	}
	return idx, nil
}

// Lookup returns the CUE positions behind the field at keys (map keys, or
// decimal list indices) of the object in file, most specific first: env
// files, then the schema. A file that is not exactly what the CUE renders
// (hand-edited, stale, or not under the output folder) has no CUE behind it
// and gets none.
func (s *SourceIndex) Lookup(file string, keys []string) []finding.Source {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil
	}
	rel, err := filepath.Rel(s.outDir, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return nil
	}
	envName, appFile, ok := strings.Cut(filepath.ToSlash(rel), "/")
	if !ok {
		return nil
	}
	es := s.envs[envName]
	if es == nil {
		return nil
	}
	onDisk, err := os.ReadFile(abs)
	if err != nil || !bytes.Equal(onDisk, es.files[appFile]) {
		return nil
	}
	return s.LookupRendered(envName, appFile, keys)
}

// LookupRendered is Lookup for a file of the index's own render (env, and
// app/file under rendered/<env>/), whatever is on disk: render diff traces
// the working tree's render before it is written.
func (s *SourceIndex) LookupRendered(envName, appFile string, keys []string) (sources []finding.Source) {
	es := s.envs[envName]
	if es == nil {
		return nil
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	// Tracing is best effort: CUE v0.17 has panicked ("vertex not
	// initialized") in Value.Expr on a template value, once in several
	// runs; a field without a source is then shown without one.
	defer func() {
		if recover() != nil {
			sources = nil
		}
	}()
	v, ok := es.values[appFile]
	if !ok {
		return nil
	}
	// The deepest field that exists: a finding about a missing field
	// points at its parent.
	for _, k := range keys {
		next := v.LookupPath(cue.MakePath(selector(v, k)))
		if !next.Exists() {
			break
		}
		v = next
	}
	seen := map[token.Pos]bool{}
	srcs := s.rank(trace(v, 0, seen))
	if len(srcs) > 0 && !s.isEnv(srcs[0]) {
		// A whole struct made by a template (a cache behaviour for each
		// service's path) is positioned at the template; the env line that
		// caused it is in one of its fields (pathPattern: "\(path)*").
		if inner := s.rank(traceFields(v, 2, seen)); len(inner) > 0 && s.isEnv(inner[0]) {
			srcs = slices.Concat(envOnly(s, inner), srcs)
		}
	}
	return srcs
}

// traceFields traces the fields of a struct or list, depth levels down.
func traceFields(v cue.Value, depth int, seen map[token.Pos]bool) []token.Pos {
	if depth == 0 {
		return nil
	}
	var out []token.Pos
	var it *cue.Iterator
	var err error
	switch v.IncompleteKind() {
	case cue.StructKind:
		it, err = v.Fields()
	case cue.ListKind:
		var l cue.Iterator
		l, err = v.List()
		it = &l
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	for it.Next() {
		out = append(out, trace(it.Value(), 0, seen)...)
		out = append(out, traceFields(it.Value(), depth-1, seen)...)
	}
	return out
}

func (s *SourceIndex) isEnv(src finding.Source) bool {
	return strings.HasPrefix(src.File, filepath.ToSlash(s.envsDir)+"/")
}

func envOnly(s *SourceIndex, srcs []finding.Source) []finding.Source {
	var out []finding.Source
	for _, src := range srcs {
		if s.isEnv(src) {
			out = append(out, src)
		}
	}
	return out
}

func selector(v cue.Value, key string) cue.Selector {
	if n, err := strconv.Atoi(key); err == nil && v.IncompleteKind() == cue.ListKind {
		return cue.Index(n)
	}
	return cue.Str(key)
}

// maxDepth bounds how far references are followed.
const maxDepth = 12

// trace collects the positions of a value's conjuncts, following the
// references a template makes (S.replicas) to the values they select,
// so a rendered field leads to the env line that set it.
func trace(v cue.Value, depth int, seen map[token.Pos]bool) []token.Pos {
	if depth > maxDepth {
		return nil
	}
	var out []token.Pos
	add := func(p token.Pos) {
		if p.IsValid() && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	op, args := v.Expr()
	switch op {
	case cue.SelectorOp:
		// A reference into another value: what it selects is more specific
		// than the template line that selects it.
		if sel, err := args[1].String(); err == nil {
			if target := args[0].LookupPath(cue.MakePath(cue.Str(sel))); target.Exists() {
				out = append(out, trace(target, depth+1, seen)...)
			}
		}
		add(v.Pos())
	case cue.AndOp, cue.OrOp, cue.InterpolationOp:
		for _, a := range args {
			out = append(out, trace(a, depth+1, seen)...)
		}
	case cue.NoOp:
		add(v.Pos())
	default:
		// Arithmetic and calls: the values they compute from come before
		// the line that computes. (A default that was chosen,
		// maxReplicas: *(replicas * 3), has no expression left: NoOp.)
		for _, a := range args {
			out = append(out, trace(a, depth+1, seen)...)
		}
		add(v.Pos())
	}
	return out
}

// rank keeps positions in the repository, env files first, one per line.
func (s *SourceIndex) rank(ps []token.Pos) []finding.Source {
	envsPrefix := filepath.Join(s.root, s.envsDir) + string(filepath.Separator)
	var envSrc, other []finding.Source
	seen := map[string]bool{}
	for _, p := range ps {
		rel, err := filepath.Rel(s.root, p.Filename())
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // CUE's own builtins, or another module
		}
		src := finding.Source{File: filepath.ToSlash(rel), Line: p.Line(), Column: p.Column()}
		key := src.File + ":" + strconv.Itoa(src.Line)
		if seen[key] {
			continue
		}
		seen[key] = true
		if strings.HasPrefix(p.Filename(), envsPrefix) {
			envSrc = append(envSrc, src)
		} else {
			other = append(other, src)
		}
	}
	return slices.Concat(envSrc, other)
}
