package schemacheck

import (
	"fmt"
	"strings"
)

// StandaloneSchema returns the converted JSON Schema (2020-12) of one
// apiVersion/kind as a self-contained document: every definition it refers
// to is copied under $defs. It is what the validator checks against, for
// tools that want schema files (bench/schema feeds it to kubeconform).
// CEL rules are not part of it.
func (v *Validator) StandaloneSchema(apiVersion, kind string) (map[string]any, error) {
	src := v.lookup(apiVersion, kind)
	switch {
	case src.problem != "":
		return nil, fmt.Errorf("%s", src.problem)
	case src.schemaless != "":
		return nil, fmt.Errorf("%s %s is schemaless: %s", apiVersion, kind, src.schemaless)
	}
	doc, _, err := v.standalone(src)
	return doc, err
}

// standalone builds the self-contained schema document of a source, and
// returns the raw CRD schema too (nil for built-ins) for CEL rules and
// defaults. Each kind is compiled from its own document: kinds then compile
// in parallel, and only the definitions a kind uses are compiled.
func (v *Validator) standalone(src source) (doc, raw map[string]any, err error) {
	var root any
	if src.crd != nil {
		raw, err = src.crd.schema(src.crdVersion)
		if err != nil {
			return nil, nil, err
		}
		root = convertCRDRoot(raw)
	} else {
		root = map[string]any{"$ref": strings.TrimPrefix(src.url, builtinResource)}
	}
	defs := map[string]any{}
	var queue []string
	rewrite := func(ref string) string {
		_, name, ok := strings.Cut(ref, "#/$defs/")
		if !ok {
			return ref
		}
		if _, seen := defs[name]; !seen {
			defs[name] = nil
			queue = append(queue, name)
		}
		return "#/$defs/" + name
	}
	doc = relinked(root, rewrite).(map[string]any)
	var builtinDefs map[string]any
	if len(queue) > 0 {
		if builtinDefs, err = v.builtin.defs(); err != nil {
			return nil, nil, err
		}
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		def, ok := builtinDefs[name]
		if !ok {
			return nil, nil, fmt.Errorf("schema refers to %s, which Kubernetes %s does not define", name, v.opts.KubernetesVersion)
		}
		defs[name] = relinked(def, rewrite)
	}
	doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	if len(defs) > 0 {
		doc["$defs"] = defs
	}
	return doc, raw, nil
}

// relinked copies a schema with every $ref passed through rewrite.
func relinked(s any, rewrite func(string) string) any {
	switch t := s.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			if ref, ok := x.(string); ok && k == "$ref" {
				out[k] = rewrite(ref)
			} else {
				out[k] = relinked(x, rewrite)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = relinked(x, rewrite)
		}
		return out
	}
	return s
}
