package generator

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
)

// This file turns CUE's errors into what a person who edited envs/ needs:
// one first line with the env file and line they wrote (or must write), what
// is wrong and the fix. It knows nothing about the platform: the words come
// from the CUE (error() messages, field names, doc comments); what it adds
// is generic: input errors before the cascades they cause in derived values,
// env positions before schema ones, and, for a value nobody set, where the
// same value is set for the element's siblings (and the closest sibling name,
// for a misspelt key).

// problem is one CUE error, ranked positions first.
type problem struct {
	path      []string
	msg       string
	positions []token.Pos
	missing   bool // the value is not concrete: nobody set it
}

// explainer holds what explaining one env's errors needs.
type explainer struct {
	v          cue.Value
	root       string // repository root, to show positions relative to it
	envsPrefix string // <root>/<envs>/ with a trailing separator
	inputs     map[string]bool
}

func newExplainer(v cue.Value, opts Options) *explainer {
	x := &explainer{
		v:          v,
		root:       opts.Root,
		envsPrefix: filepath.Join(opts.Root, opts.EnvsDir) + string(filepath.Separator),
		inputs:     map[string]bool{},
	}
	// What an env sets: every top-level field except the output the
	// renderer reads. An error anywhere else (output., a template's let
	// binding, the diagram) is derived from them.
	if it, err := v.Fields(); err == nil {
		for it.Next() {
			if name := it.Selector().String(); name != outputRoot {
				x.inputs[name] = true
			}
		}
	}
	return x
}

// outputRoot is the top-level field the renderer reads (output.apps).
const outputRoot = "output"

// explain formats err, one problem per line (its other positions indented
// below it), the first line the most useful.
func (x *explainer) explain(errs []cueerrors.Error) string {
	var problems []problem
	seen := map[string]bool{}
	for _, e := range errs {
		format, args := e.Msg()
		p := problem{path: e.Path(), msg: fmt.Sprintf(format, args...), positions: cueerrors.Positions(e)}
		key := strings.Join(p.path, ".") + "\x00" + p.msg
		if seen[key] {
			continue
		}
		seen[key] = true
		problems = append(problems, p)
	}
	// Cascades are not shown: when the env's own values are in error, the
	// errors of what is derived from them say nothing new.
	var inputs []problem
	for _, p := range problems {
		if len(p.path) > 0 && x.inputs[p.path[0]] {
			inputs = append(inputs, p)
		}
	}
	if len(inputs) > 0 {
		problems = inputs
	}
	// Values nobody set are explained per element (one line for a
	// service that misses three fields), by where its siblings set them.
	var order []string
	byElem := map[string]*missingValue{}
	var plain []problem
	for _, p := range problems {
		val := x.v.LookupPath(pathOf(p.path))
		p.missing = val.Exists() && !val.IsConcrete() && val.IncompleteKind() != cue.StructKind ||
			strings.Contains(p.msg, "incomplete value") || strings.Contains(p.msg, "non-concrete value")
		if p.missing {
			if m, ok := x.locateMissing(p); ok {
				elem := strings.Join(m.elem, ".")
				if have := byElem[elem]; have != nil {
					if !slices.Contains(have.fields, m.fields[0]) {
						have.fields = append(have.fields, m.fields[0])
					}
				} else {
					byElem[elem] = &m
					order = append(order, elem)
				}
				continue
			}
		}
		plain = append(plain, p)
	}
	var lines []string
	for _, elem := range order {
		lines = append(lines, x.formatMissing(*byElem[elem]))
	}
	unset := slices.ContainsFunc(plain, isUnset)
	for _, p := range plain {
		// A value that fails because it uses a value nobody set (a default
		// computed from it) is a cascade of that one.
		if p.missing && !isUnset(p) && (unset || len(order) > 0) {
			continue
		}
		if isUnset(p) && len(order) > 0 {
			continue // explained by its element's line
		}
		lines = append(lines, x.format(p))
	}
	return strings.Join(lines, "\n")
}

// isUnset: nobody gave the value (as opposed to a value computed from one
// nobody gave).
func isUnset(p problem) bool {
	return p.missing && strings.HasPrefix(p.msg, "incomplete value")
}

// format is the default line: the most specific position first, the path,
// CUE's message, then the other positions indented.
func (x *explainer) format(p problem) string {
	positions := x.rank(p.positions)
	if !x.inEnvs(positions) {
		// No env position (a constraint on a key, a check on an element):
		// the nearest enclosing value an env file wrote.
		if pos, ok := x.enclosingEnvPos(p.path); ok {
			positions = append([]token.Pos{pos}, positions...)
		}
	}
	var b strings.Builder
	where := "(no position)"
	if len(positions) > 0 {
		where = x.pos(positions[0])
	}
	b.WriteString(where + ": ")
	if path := displayPath(p.path); path != "" {
		b.WriteString(path + ": ")
	}
	if isUnset(p) {
		// Nobody set it: say so, what it is, and what it may be.
		field := p.path[len(p.path)-1]
		fmt.Fprintf(&b, "%s is not set", field)
		if doc := docOf(x.v.LookupPath(pathOf(p.path))); doc != "" {
			fmt.Fprintf(&b, " (%s)", doc)
		}
		fmt.Fprintf(&b, ": add `%s: ...` here (%s)", field, strings.TrimPrefix(p.msg, "incomplete value "))
	} else {
		b.WriteString(p.msg)
	}
	if strings.HasPrefix(p.msg, "conflicting values") {
		var written []string
		for _, pos := range positions {
			if x.rankOf(pos) == 0 {
				written = append(written, x.pos(pos))
			}
		}
		if len(written) > 1 {
			b.WriteString(fmt.Sprintf(": it is set differently in %s; keep one", strings.Join(written, " and ")))
		}
	}
	for _, pos := range positions[min(1, len(positions)):] {
		// References in env files (platform: schema.#Platform & {...},
		// services: shared.services) say only that the env takes the value:
		// left out, so a mistake in a shared file reads the same in every env.
		if x.rankOf(pos) == 1 && x.inEnvs(positions) {
			continue
		}
		b.WriteString("\n    " + x.pos(pos))
	}
	return b.String()
}

// missingValue is an element (a service) with values nobody set, and where
// its siblings set them.
type missingValue struct {
	elem     []string    // the element's path
	fields   []string    // its fields that are not set, first level
	set      siblings    // the siblings that set the first field
	declared []token.Pos // where env files declare the element
	doc      string      // the first field's doc comment
}

// locateMissing finds the nearest enclosing element of a value nobody set
// whose siblings (the other services) set the same value in an env file.
func (x *explainer) locateMissing(p problem) (missingValue, bool) {
	for i := len(p.path) - 2; i >= 1; i-- {
		parent, key, rest := p.path[:i], p.path[i], p.path[i+1:]
		set := x.siblingsSetting(parent, key, rest)
		if len(set.positions) == 0 {
			continue
		}
		elem := append(slices.Clone(parent), key)
		return missingValue{
			elem:     elem,
			fields:   []string{rest[0]},
			set:      set,
			declared: x.envPositions(x.v.LookupPath(pathOf(elem))),
			doc:      docOf(x.v.LookupPath(pathOf(p.path))),
		}, true
	}
	return missingValue{}, false
}

// formatMissing says where to write what is missing. A key the env wrote
// that the file setting its siblings' values lacks, close to a sibling's
// name, is a typo: the line is the key's. Otherwise the line is where its
// siblings set the value: where it must be written.
func (x *explainer) formatMissing(m missingValue) string {
	key := m.elem[len(m.elem)-1]
	elem := strings.Join(m.elem, ".")
	want := m.set.usual()
	fields := strings.Join(m.fields, ", ")
	others := strings.Join(firstN(m.set.keys, 3), ", ")
	var b strings.Builder
	guess := closest(key, m.set.keys)
	if guess != "" {
		want = m.set.positions[slices.Index(m.set.keys, guess)]
	}
	if guess != "" && len(m.declared) > 0 && !sameFile(m.declared, want) {
		fmt.Fprintf(&b, "%s: %s: %q is not in %s, which sets %s for the others (%s): did you mean %q? Fix the name, or add %s there",
			x.pos(m.declared[0]), elem, key, x.file(want), fields, others, guess, key)
	} else {
		verb := "is"
		if len(m.fields) > 1 {
			verb = "are"
		}
		fmt.Fprintf(&b, "%s: %s: %s %s not set: the others (%s) set it in %s; add `%s: %s: ...` there",
			x.pos(want), elem, fields, verb, others, x.file(want), key, m.fields[0])
		if m.doc != "" && len(m.fields) == 1 {
			fmt.Fprintf(&b, " (%s)", m.doc)
		}
	}
	for _, pos := range m.declared {
		b.WriteString("\n    " + x.pos(pos))
	}
	return b.String()
}

type siblings struct {
	keys      []string    // siblings that set the value
	positions []token.Pos // where, in env files
}

// usual is a sibling's position in the file that sets the value for most
// siblings (the catalogue, not one env's exception).
func (s siblings) usual() token.Pos {
	count := map[string]int{}
	best := s.positions[0]
	for _, p := range s.positions {
		count[p.Filename()]++
		if count[p.Filename()] > count[best.Filename()] {
			best = p
		}
	}
	return best
}

// siblingsSetting lists the siblings of key under parent whose rest is
// concrete and set by an env file.
func (x *explainer) siblingsSetting(parent []string, key string, rest []string) siblings {
	var s siblings
	it, err := x.v.LookupPath(pathOf(parent)).Fields()
	if err != nil {
		return s
	}
	for it.Next() {
		k := it.Selector().Unquoted()
		if k == key {
			continue
		}
		val := it.Value().LookupPath(pathOf(rest))
		if !val.Exists() || !val.IsConcrete() {
			continue
		}
		if envs := x.envPositions(val); len(envs) > 0 {
			s.keys = append(s.keys, k)
			s.positions = append(s.positions, envs[0])
		}
	}
	return s
}

// envPositions are the env-file positions of what v was unified from,
// written values before references.
func (x *explainer) envPositions(v cue.Value) []token.Pos {
	if !v.Exists() {
		return nil
	}
	var out []token.Pos
	for _, p := range x.rank(trace(v, 0, map[token.Pos]bool{})) {
		if strings.HasPrefix(p.Filename(), x.envsPrefix) {
			out = append(out, p)
		}
	}
	return out
}

// enclosingEnvPos is the env position of the nearest enclosing value of path
// that an env file wrote.
// A value in the shared folder comes first: an element declared there
// (a service of the catalogue) and given a value in an env is the
// catalogue's.
func (x *explainer) enclosingEnvPos(path []string) (token.Pos, bool) {
	shared := x.envsPrefix + sharedDir + string(filepath.Separator)
	for i := len(path); i > 0; i-- {
		ps := x.envPositions(x.v.LookupPath(pathOf(path[:i])))
		if len(ps) == 0 || x.rankOf(ps[0]) != 0 {
			continue
		}
		for _, p := range ps {
			if x.rankOf(p) == 0 && strings.HasPrefix(p.Filename(), shared) {
				return p, true
			}
		}
		return ps[0], true
	}
	return token.NoPos, false
}

// rank orders positions: values written in env files, then references in
// them (services: shared.services, schema.#Platform & {...}), then the rest.
func (x *explainer) rank(ps []token.Pos) []token.Pos {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b token.Pos) int { return x.rankOf(a) - x.rankOf(b) })
	return out
}

func (x *explainer) rankOf(p token.Pos) int {
	switch {
	case !strings.HasPrefix(p.Filename(), x.envsPrefix):
		return 2
	case isReference(p):
		return 1
	}
	return 0
}

func (x *explainer) inEnvs(ps []token.Pos) bool {
	return len(ps) > 0 && x.rankOf(ps[0]) == 0
}

func (x *explainer) pos(p token.Pos) string {
	return fmt.Sprintf("%s:%d:%d", x.file(p), p.Line(), p.Column())
}

func (x *explainer) file(p token.Pos) string {
	file := p.Filename()
	if rel, err := filepath.Rel(x.root, file); err == nil && !strings.HasPrefix(rel, "..") {
		file = rel
	}
	return filepath.ToSlash(file)
}

func sameFile(ps []token.Pos, p token.Pos) bool {
	return slices.ContainsFunc(ps, func(q token.Pos) bool { return q.Filename() == p.Filename() })
}

// reference is a value that is only a reference: an identifier or a selector
// chain (shared.services, schema.#Platform), maybe followed by & {.
var reference = regexp.MustCompile(`^[A-Za-z_#$][\w#$]*(\.[\w#$"-]+)*\s*($|&|\||,|\})`)

// isReference reports whether the source at p is a reference to a value
// defined elsewhere rather than a value written there.
func isReference(p token.Pos) bool {
	data, err := os.ReadFile(p.Filename())
	if err != nil || p.Offset() >= len(data) {
		return false
	}
	rest := data[p.Offset():]
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	rest = bytes.TrimSpace(rest)
	if m := reference.Find(rest); m != nil {
		word := strings.TrimRight(string(m), " \t&|,}")
		return word != "true" && word != "false" && word != "null"
	}
	return false
}

// displayPath is the path a person wrote: a hidden check field (_name) is
// the schema's, not theirs.
func displayPath(labels []string) string {
	for len(labels) > 0 && strings.HasPrefix(labels[len(labels)-1], "_") {
		labels = labels[:len(labels)-1]
	}
	return strings.Join(labels, ".")
}

// pathOf makes a CUE path of raw labels (e.Path() gives them unquoted).
func pathOf(labels []string) cue.Path {
	sels := make([]cue.Selector, len(labels))
	for i, l := range labels {
		switch {
		case strings.HasPrefix(l, "#"):
			sels[i] = cue.Def(l)
		default:
			sels[i] = cue.Str(l)
		}
	}
	return cue.MakePath(sels...)
}

// docOf is the first sentence of a field's doc comment in the schema.
func docOf(v cue.Value) string {
	for _, d := range v.Doc() {
		text := strings.Join(strings.Fields(d.Text()), " ")
		if i := strings.Index(text, ". "); i >= 0 {
			text = text[:i+1]
		}
		if text != "" {
			return strings.TrimSuffix(text, ".")
		}
	}
	return ""
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(slices.Clone(s[:n]), "...")
	}
	return s
}

// closest is the name in names nearest to name when it is close enough to
// be a typo of it (an edit distance of at most a third of its length).
func closest(name string, names []string) string {
	best, bestD := "", len(name)/3+1
	for _, n := range names {
		if d := levenshtein(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
