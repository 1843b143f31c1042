package manifest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Seeds beyond testdata/fuzz/: real shapes and the malformed inputs yaml
// parsers are known to trip on.
var fuzzSeeds = []string{
	"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n",
	"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, namespace: b}\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: c\n        image: x\n",
	"---\n---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: B\nmetadata: {name: b}\n",
	"a: &x [*x]\n",
	"a: &a [*a, *a]\nb: &b [*a, *a]\nc: [*b, *b]\n",
	"- a\n- b\n",
	"apiVersion: v1\nkind: A\nmetadata:\n  name: [unclosed\n",
	"apiVersion: v1\nkind: A\nmetadata: {name: a}\n<<: {x: 1}\n",
	"? [a, b]\n: c\napiVersion: v1\nkind: A\nmetadata: {name: a}\n",
	"apiVersion: v1\nkind: A\nmetadata: {name: a}\nx: .nan\ny: 2026-01-01\nz: !!binary aGk=\n",
	"\t- bad indent",
	"apiVersion: v1\nkind: A\nmetadata: {name: a}\n1: int key\n",
	"%YAML 1.1\n---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n",
	"\xff\xfe",
	"",
}

// FuzzParse: any input either parses into objects with an identity, or is an
// *Error that names the file; it never panics.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "rendered/prod/x.yaml"
		objs, err := Parse(file, data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != file || !strings.HasPrefix(err.Error(), file) {
				t.Fatalf("error %q (%T) does not name the file", err, err)
			}
			if objs != nil {
				t.Fatal("objects returned with an error")
			}
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, o := range objs {
			if o.APIVersion() == "" || o.Kind() == "" || o.Name() == "" || o.File != file {
				t.Fatalf("object without identity: %+v", o.Object)
			}
			if o.Line < 1 || o.Line > lines {
				t.Fatalf("object line %d outside 1..%d", o.Line, lines)
			}
		}
	})
}

// FuzzLineOf: for any document and any field path, LineOf returns a line of
// the document (never panics, never 0), and a path to an existing top-level
// key points at a line that holds that key.
func FuzzLineOf(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), "spec/template/spec/containers/0/image")
	}
	f.Add([]byte(fuzzSeeds[1]), "spec/replicas")
	f.Add([]byte(fuzzSeeds[1]), "metadata/-1")
	f.Add([]byte(fuzzSeeds[1]), "spec/template/spec/containers/99999999999999999999")
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		objs, err := Parse("f.yaml", data)
		if err != nil {
			return
		}
		docLines := strings.Split(string(data), "\n")
		keys := strings.Split(path, "/")
		for _, o := range objs {
			line := o.LineOf(keys...)
			if line < 1 || line > len(docLines) {
				t.Fatalf("LineOf(%q) = %d outside 1..%d", path, line, len(docLines))
			}
			if line < o.Line {
				t.Fatalf("LineOf(%q) = %d before the object's line %d", path, line, o.Line)
			}
			// A plain top-level key is found where it is written (a key that
			// only a merge (<<) brings in falls back to the object's line).
			if k := keys[0]; k != "" && strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == "" {
				if _, ok := o.Object[k]; ok {
					if l := o.LineOf(k); l != o.Line && !strings.Contains(docLines[l-1], k) {
						t.Fatalf("LineOf(%q) = %d, but that line is %q", k, l, docLines[l-1])
					}
				}
			}
		}
	})
}
