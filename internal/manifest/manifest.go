// Package manifest reads rendered Kubernetes YAML (files or directories,
// multi-document) into objects that remember where each field stands, so a
// finding can name the file and line of the offending field.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	yaml "go.yaml.in/yaml/v3"
)

// Object is one Kubernetes object read from a YAML document.
type Object struct {
	File   string         // path as given (or found under a given directory)
	Line   int            // line of the document's first key
	Object map[string]any // the decoded document
	node   *yaml.Node     // the document's mapping node, for field positions
}

// APIVersion, Kind, Namespace and Name read the object's identity.
func (o *Object) APIVersion() string { return str(o.Object["apiVersion"]) }
func (o *Object) Kind() string       { return str(o.Object["kind"]) }
func (o *Object) Namespace() string  { return str(o.meta()["namespace"]) }
func (o *Object) Name() string       { return str(o.meta()["name"]) }

// Annotation is the value of one metadata annotation, "" if absent.
func (o *Object) Annotation(key string) string {
	a, _ := o.meta()["annotations"].(map[string]any)
	return str(a[key])
}

func (o *Object) meta() map[string]any {
	m, _ := o.Object["metadata"].(map[string]any)
	return m
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// ID is apiVersion/kind/namespace/name, the identity Argo CD and kubectl use.
func (o *Object) ID() string {
	return o.APIVersion() + "/" + o.Kind() + "/" + o.Namespace() + "/" + o.Name()
}

// LineOf returns the line of the deepest field along path that exists in the
// document (keys, or decimal indices into sequences), else the object's line.
// A path that runs past what exists still points as close as it can.
func (o *Object) LineOf(path ...string) int {
	n := o.node
	line := o.Line
	if n == nil {
		return line
	}
	for _, p := range path {
		next, keyLine := child(n, p)
		if next == nil {
			break
		}
		n, line = next, keyLine
	}
	return line
}

// child finds p in a mapping (by key) or sequence (by index); the line returned
// is the key's line for mappings, the item's for sequences.
func child(n *yaml.Node, p string) (*yaml.Node, int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case yaml.SequenceNode:
		i, err := strconv.Atoi(p)
		if err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}

// Error is bad input: a file that cannot be read or parsed, or a document
// that is not a Kubernetes object. It always names the file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Parse reads every document of one YAML stream. Empty documents are skipped;
// a document must be a mapping with apiVersion, kind and metadata.name.
func Parse(file string, data []byte) (objs []*Object, err error) {
	defer func() {
		// yaml.v3 is known to panic on some malformed input; never crash on it.
		if r := recover(); r != nil {
			objs, err = nil, &Error{File: file, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, &Error{File: file, Line: yamlErrLine(err), Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		}
		if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
			continue
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			return nil, &Error{File: file, Line: root.Line, Msg: "document is not a mapping (want a Kubernetes object)"}
		}
		var m map[string]any
		if err := root.Decode(&m); err != nil {
			return nil, &Error{File: file, Line: root.Line, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		}
		o := &Object{File: file, Line: root.Line, Object: normalize(m).(map[string]any), node: root}
		for _, f := range []struct{ name, v string }{{"apiVersion", o.APIVersion()}, {"kind", o.Kind()}, {"metadata.name", o.Name()}} {
			if f.v == "" {
				return nil, &Error{File: file, Line: root.Line, Msg: "object has no " + f.name}
			}
		}
		objs = append(objs, o)
	}
}

// normalize turns yaml.v3's decoded values into JSON-shaped ones
// (map[string]any, []any, int64/float64), as OPA and JSON schema expect.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalize(x)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = normalize(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = normalize(x)
		}
		return t
	case int:
		return int64(t)
	default:
		return v
	}
}

func yamlErrLine(err error) int {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return 0
	}
	// yaml.v3 messages read "yaml: line N: ..."
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		rest := s[i+5:]
		j := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if j > 0 {
			n, _ := strconv.Atoi(rest[:j])
			return n
		}
	}
	return 0
}

// IsYAML reports whether a file name is one the loader reads.
func IsYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// Load reads every path: a file is read as given; a directory is walked for
// *.yaml / *.yml, skipping kustomization.yaml (kustomize's own file, not an
// object). Objects come back in path order, then document order.
func Load(paths ...string) ([]*Object, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, &Error{File: p, Msg: "cannot read: " + errors.Unwrap(err).Error()}
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && IsYAML(d.Name()) && !IsKustomization(d.Name()) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, &Error{File: p, Msg: err.Error()}
		}
	}
	slices.Sort(files)
	files = slices.Compact(files)
	// Files are parsed in parallel (at 500 services, 11,000 files: parsing
	// one after the other took a second); the objects and the error (that
	// of the first failing file) are those of reading them in order.
	type parsed struct {
		objs []*Object
		err  error
	}
	results := make([]parsed, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(files); i = int(next.Add(1) - 1) {
				f := files[i]
				data, err := os.ReadFile(f)
				if err != nil {
					results[i].err = &Error{File: f, Msg: "cannot read: " + err.Error()}
					continue
				}
				results[i].objs, results[i].err = Parse(f, data)
			}
		}()
	}
	wg.Wait()
	var objs []*Object
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		objs = append(objs, r.objs...)
	}
	return objs, nil
}

// IsKustomization reports whether name is a kustomize build file.
func IsKustomization(name string) bool {
	switch name {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}
