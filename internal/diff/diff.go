// Package diff compares two renders of the platform object by object, the
// way Argo CD will see the change: objects matched by group/kind/namespace/
// name (so moving or reordering a file is no change), and for each changed
// object the fields that changed, old -> new. Secret values never appear.
package diff

import (
	"cmp"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ecommerce-platform/gitops/generator"
	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

// Status of an object between base and head.
type Status string

const (
	Added   Status = "added"
	Removed Status = "removed"
	Changed Status = "changed"
)

// Change is one field that differs. Old or New is empty when the field was
// added or removed; both are shown as compact JSON.
type Change struct {
	Path string `json:"path"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
	// Keys is Path as map keys and list indices (in head, else base).
	Keys []string `json:"-"`
	// Source is the CUE behind the new value, env file first, when traced.
	Source []finding.Source `json:"source,omitempty"`
}

// Object is one object that was added, removed or changed.
type Object struct {
	Env        string   `json:"env"`
	App        string   `json:"app"`
	File       string   `json:"file"` // rendered/<env>/<app>/<file> in head (base when removed)
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Name       string   `json:"name"`
	Status     Status   `json:"status"`
	Changes    []Change `json:"changes,omitempty"`
	// Key is what a reviewer checks first in an added object (its image,
	// replicas, paths, secret keys...); see keyFields.
	Key []KeyField `json:"key,omitempty"`
	// Body is the object itself, secrets redacted, for added objects.
	Body map[string]any `json:"-"`
	// Source is the CUE behind an added object's key fields, env file first.
	Source []finding.Source `json:"source,omitempty"`
}

// AppSummary counts an app folder's object changes.
type AppSummary struct {
	Env     string `json:"env"`
	App     string `json:"app"`
	Added   int    `json:"added"`
	Changed int    `json:"changed"`
	Removed int    `json:"removed"`
}

// Report is the whole difference between two renders.
type Report struct {
	Base    string       `json:"base"`
	Summary []AppSummary `json:"summary"`
	Objects []Object     `json:"objects"`
	// Findings are the policy findings head has and base has not.
	Findings []finding.Finding `json:"findings"`
}

// Empty reports whether nothing changed.
func (r *Report) Empty() bool { return len(r.Objects) == 0 && len(r.Findings) == 0 }

type parsed struct {
	app, file                         string
	apiVersion, kind, namespace, name string
	body                              map[string]any
}

// identity ignores the version: v1beta1 -> v1beta2 of one kind is a change
// of that object, not a removal and an addition.
func (p parsed) identity() string {
	group := ""
	if g, _, ok := strings.Cut(p.apiVersion, "/"); ok {
		group = g
	}
	return group + "/" + p.kind + "/" + p.namespace + "/" + p.name
}

func parseEnv(env generator.Env) (map[string]parsed, error) {
	objs := map[string]parsed{}
	for _, f := range env.Files {
		app, name := path.Split(f.Path)
		if manifest.IsKustomization(name) || !manifest.IsYAML(name) {
			continue
		}
		file := path.Join("rendered", env.Name, f.Path)
		docs, err := manifest.Parse(file, f.Data)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			p := parsed{app: strings.TrimSuffix(app, "/"), file: file, apiVersion: d.APIVersion(), kind: d.Kind(),
				namespace: d.Namespace(), name: d.Name(), body: d.Object}
			objs[p.identity()] = p
		}
	}
	return objs, nil
}

// Compare diffs base and head, env by env (an env in only one of them is all
// added or all removed). Output is sorted: env, app, kind, namespace, name.
func Compare(base, head []generator.Env) (*Report, error) {
	byName := func(envs []generator.Env) map[string]generator.Env {
		m := map[string]generator.Env{}
		for _, e := range envs {
			m[e.Name] = e
		}
		return m
	}
	b, h := byName(base), byName(head)
	var names []string
	for n := range b {
		names = append(names, n)
	}
	for n := range h {
		if _, ok := b[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	r := &Report{Summary: []AppSummary{}, Objects: []Object{}, Findings: []finding.Finding{}}
	for _, env := range names {
		bo, err := parseEnv(b[env])
		if err != nil {
			return nil, err
		}
		ho, err := parseEnv(h[env])
		if err != nil {
			return nil, err
		}
		for id, hp := range ho {
			bp, ok := bo[id]
			switch {
			case !ok:
				o := object(env, hp, Added, nil)
				o.Key = Key(hp.kind, hp.body)
				o.Body, _ = Redact(hp.kind, "", hp.body).(map[string]any)
				r.Objects = append(r.Objects, o)
			default:
				if changes := Fields(hp.kind, bp.body, hp.body); len(changes) > 0 {
					r.Objects = append(r.Objects, object(env, hp, Changed, changes))
				}
			}
		}
		for id, bp := range bo {
			if _, ok := ho[id]; !ok {
				r.Objects = append(r.Objects, object(env, bp, Removed, nil))
			}
		}
	}
	slices.SortFunc(r.Objects, func(x, y Object) int {
		return cmp.Or(cmp.Compare(x.Env, y.Env), cmp.Compare(x.App, y.App), cmp.Compare(x.Kind, y.Kind),
			cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
	})
	for _, o := range r.Objects {
		n := len(r.Summary)
		if n == 0 || r.Summary[n-1].Env != o.Env || r.Summary[n-1].App != o.App {
			r.Summary = append(r.Summary, AppSummary{Env: o.Env, App: o.App})
			n++
		}
		switch o.Status {
		case Added:
			r.Summary[n-1].Added++
		case Changed:
			r.Summary[n-1].Changed++
		case Removed:
			r.Summary[n-1].Removed++
		}
	}
	return r, nil
}

func object(env string, p parsed, s Status, changes []Change) Object {
	return Object{Env: env, App: p.app, File: p.file, APIVersion: p.apiVersion, Kind: p.kind,
		Namespace: p.namespace, Name: p.name, Status: s, Changes: changes}
}

// Fields lists the fields that differ between two versions of one object,
// as YAML paths (spec.template.spec.containers[name=web].image), sorted.
// Lists whose items all have a unique identity (name, pathPattern, ...; see
// identityFields) are matched by it, so inserting a container, an env var
// or a cache behaviour shows as one addition, and a changed item as its
// changed fields.
func Fields(kind string, old, new map[string]any) []Change {
	var out []Change
	walk(kind, "", nil, old, new, &out)
	return out
}

func walk(kind, at string, keys []string, old, new any, out *[]Change) {
	if reflect.DeepEqual(old, new) {
		return
	}
	switch o := old.(type) {
	case map[string]any:
		if n, ok := new.(map[string]any); ok {
			fields := slices.Sorted(func(yield func(string) bool) {
				for k := range o {
					if !yield(k) {
						return
					}
				}
				for k := range n {
					if _, dup := o[k]; !dup && !yield(k) {
						return
					}
				}
			})
			for _, k := range fields {
				walk(kind, join(at, k), with(keys, k), o[k], n[k], out)
			}
			return
		}
	case []any:
		if n, ok := new.([]any); ok {
			if field, on, nn := byIdentity(o, n); field != "" {
				names := slices.Sorted(func(yield func(string) bool) {
					for k := range on {
						if !yield(k) {
							return
						}
					}
					for k := range nn {
						if _, dup := on[k]; !dup && !yield(k) {
							return
						}
					}
				})
				for _, k := range names {
					i := indexOf(n, field, k)
					if i < 0 {
						i = indexOf(o, field, k)
					}
					walk(kind, at+"["+field+"="+k+"]", with(keys, strconv.Itoa(i)), on[k], nn[k], out)
				}
				return
			}
			for i := range max(len(o), len(n)) {
				var ov, nv any
				if i < len(o) {
					ov = o[i]
				}
				if i < len(n) {
					nv = n[i]
				}
				walk(kind, at+"["+strconv.Itoa(i)+"]", with(keys, strconv.Itoa(i)), ov, nv, out)
			}
			return
		}
	}
	*out = append(*out, Change{Path: at, Old: show(kind, at, old), New: show(kind, at, new), Keys: keys})
}

// with returns keys plus one more, never sharing the backing array.
func with(keys []string, k string) []string {
	return append(slices.Clip(keys), k)
}

func indexOf(items []any, field, id string) int {
	for i, it := range items {
		if m, ok := it.(map[string]any); ok && m[field] == id {
			return i
		}
	}
	return -1
}

// identityFields are the fields that name a list item, in the order tried:
// a container or env var by name, a CloudFront cache behaviour by
// pathPattern, an ExternalSecret entry by secretKey, an Ingress path by path.
var identityFields = []string{"name", "pathPattern", "secretKey", "path", "key"}

// byIdentity indexes two lists by the first identity field that every item
// of both has, unique, as a string.
func byIdentity(a, b []any) (string, map[string]any, map[string]any) {
	index := func(field string, items []any) (map[string]any, bool) {
		m := map[string]any{}
		for _, it := range items {
			obj, ok := it.(map[string]any)
			if !ok {
				return nil, false
			}
			id, ok := obj[field].(string)
			if !ok {
				return nil, false
			}
			if _, dup := m[id]; dup {
				return nil, false
			}
			m[id] = it
		}
		return m, true
	}
	if len(a)+len(b) == 0 {
		return "", nil, nil
	}
	for _, field := range identityFields {
		am, ok1 := index(field, a)
		bm, ok2 := index(field, b)
		if ok1 && ok2 {
			return field, am, bm
		}
	}
	return "", nil, nil
}

// join appends a key to a YAML path, bracketing keys that are not plain.
func join(at, key string) string {
	plain := key != "" && strings.IndexFunc(key, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
	switch {
	case !plain:
		return at + "[" + strconv.Quote(key) + "]"
	case at == "":
		return key
	}
	return at + "." + key
}

// show renders a value for a reviewer: compact JSON, shortened, redacted
// when it may be a secret.
func show(kind, at string, v any) string {
	if v == nil {
		return ""
	}
	data, err := json.Marshal(Redact(kind, at, v))
	if err != nil {
		data, _ = yaml.Marshal(v)
	}
	s := string(data)
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

// String is the one-line form of a change, for text output.
func (c Change) String() string {
	switch {
	case c.Old == "":
		return fmt.Sprintf("%s: + %s", c.Path, c.New)
	case c.New == "":
		return fmt.Sprintf("%s: - %s", c.Path, c.Old)
	}
	return fmt.Sprintf("%s: %s -> %s", c.Path, c.Old, c.New)
}
