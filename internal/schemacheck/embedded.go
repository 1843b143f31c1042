package schemacheck

import (
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

// embeddedData is the table of embedded core types and of API-server
// constraints missing from the OpenAPI documents (see the file).
//
//go:embed embedded.yaml
var embeddedData []byte

// embeddedField is one field of a custom resource that holds a core type.
type embeddedField struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Path    string `json:"path"`
	Type    string `json:"type"`
	Becomes string `json:"becomes"`
}

type embeddedTable struct {
	Embedded   []embeddedField                      `json:"embedded"`
	Validation map[string]map[string]map[string]any `json:"validation"`
}

// parseEmbedded reads the table; its errors are programming errors in the
// embedded file, caught by the tests.
func parseEmbedded(data []byte) (embeddedTable, error) {
	var t embeddedTable
	if err := yaml.UnmarshalStrict(data, &t); err != nil {
		return t, fmt.Errorf("embedded.yaml: %w", err)
	}
	for _, e := range t.Embedded {
		if e.Group == "" || e.Kind == "" || e.Path == "" || e.Type == "" {
			return t, fmt.Errorf("embedded.yaml: entry %+v needs group, kind, path and type", e)
		}
	}
	return t, nil
}

// withValidation adds the table's constraints to the converted definitions.
// A definition or property the table names that the documents lack is an
// error: the table must follow the Kubernetes version.
func withValidation(defs map[string]any, v map[string]map[string]map[string]any) error {
	for def, props := range v {
		d, ok := defs[def].(map[string]any)
		if !ok {
			return fmt.Errorf("embedded.yaml: validation names %s, which the OpenAPI documents do not define", def)
		}
		properties, _ := d["properties"].(map[string]any)
		for name, constraints := range props {
			p, ok := properties[name].(map[string]any)
			if !ok {
				return fmt.Errorf("embedded.yaml: validation names %s.%s, which the OpenAPI documents do not define", def, name)
			}
			p = maps.Clone(p)
			for k, c := range constraints {
				if k == "enum" {
					// null is accepted everywhere (decoded to the zero value).
					c = append(slices.Clone(c.([]any)), nil)
				}
				p[k] = c
			}
			properties[name] = p
		}
	}
	return nil
}

// embeddedIn lists the fields of the table that exist in o, each with its
// path, e.g. [spec metrics 0 provider job spec].
func embeddedIn(o *manifest.Object, fields []embeddedField) [][]string {
	var out [][]string
	for _, f := range fields {
		at := [][]string{nil}
		for _, part := range strings.Split(f.Path, ".") {
			name, each := strings.CutSuffix(part, "[]")
			var next [][]string
			for _, p := range at {
				v := valueAt(o.Object, append(slices.Clone(p), name))
				if v == nil {
					continue
				}
				if !each {
					next = append(next, append(slices.Clone(p), name))
					continue
				}
				list, _ := v.([]any)
				for i := range list {
					next = append(next, append(slices.Clone(p), name, strconv.Itoa(i)))
				}
			}
			at = next
		}
		out = append(out, at...)
	}
	return out
}

// validateEmbedded validates each embedded field of o as its core type.
func (v *Validator) validateEmbedded(o *manifest.Object, env string) []finding.Finding {
	group, _ := splitAPIVersion(o.APIVersion())
	fields := v.embedded[group+" "+o.Kind()]
	var out []finding.Finding
	for _, f := range fields {
		e, err := v.compiled(source{url: builtinResource + "#/$defs/" + f.Type})
		if err != nil {
			out = append(out, newFinding(o, env, "", nil, o.Line, fmt.Sprintf("schema of %s (embedded at %s) does not compile: %v", f.Type, f.Path, err)))
			continue
		}
		for _, at := range embeddedIn(o, []embeddedField{f}) {
			verr := asValidationError(e.schema.Validate(valueAt(o.Object, at)))
			if verr == nil {
				continue
			}
			note := fmt.Sprintf(" (checked as %s: %s)", f.Type[strings.LastIndexByte(f.Type, '.')+1:], f.Becomes)
			out = append(out, violationsAt(o, env, at, note, verr)...)
		}
	}
	return out
}
