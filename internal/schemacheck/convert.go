package schemacheck

import (
	"strings"
)

// dialect says which API-server semantics a converted schema follows: built-in
// types are decoded by Go structs, CRDs by the structural-schema rules.
type dialect int

const (
	builtinDialect dialect = iota
	crdDialect
)

// builtinResource names the converted Kubernetes definitions in references
// (CRD metadata points at ObjectMeta); standalone() resolves them into each
// kind's own document.
const builtinResource = "urn:schemacheck:builtin"

const objectMetaDef = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

// Definitions whose OpenAPI form does not say what the API server accepts.
var builtinOverrides = map[string]map[string]any{
	// oneOf string/number in the document; the server parses the string.
	"io.k8s.apimachinery.pkg.api.resource.Quantity":   {"type": []any{"string", "number", "null"}, "format": "quantity"},
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": []any{"integer", "string", "null"}},
}

// Formats the validator asserts (see formats.go). Any other format is ignored,
// as the API server ignores formats it does not know. Built-in int32/int64
// are enforced by the server's Go decoder; CRD int32/int64 are not checked.
var keptFormats = map[dialect]map[string]bool{
	builtinDialect: {"int32": true, "int64": true, "byte": true, "date-time": true, "quantity": true},
	crdDialect: {"byte": true, "date-time": true, "datetime": true, "date": true, "duration": true,
		"uri": true, "email": true, "hostname": true, "ipv4": true, "ipv6": true, "cidr": true,
		"mac": true, "uuid": true, "uuid3": true, "uuid4": true, "uuid5": true},
}

// convertOpenAPI turns one OpenAPI v3 schema (Kubernetes flavour) into JSON
// Schema 2020-12 as the API server applies it:
//   - $ref to #/components/schemas/X points at #/$defs/X (built-in) or into
//     the built-in resource (CRD metadata);
//   - single-$ref allOf wrappers collapse to the $ref;
//   - x-kubernetes-int-or-string and format int-or-string accept integer or string;
//   - objects with declared properties reject unknown fields unless
//     x-kubernetes-preserve-unknown-fields; structural CRD objects with no
//     properties accept nothing (the server prunes, strict validation rejects);
//   - null is accepted everywhere: the server drops nulls (CRDs) or decodes
//     them to the zero value (built-ins);
//   - OpenAPI 3.0's boolean exclusiveMinimum/Maximum become 2020-12 numbers;
//   - x-kubernetes-list-type: set requires unique items;
//   - descriptions, defaults and other annotations are dropped.
func convertOpenAPI(s map[string]any, d dialect) map[string]any {
	if s == nil {
		return map[string]any{}
	}
	if ref, ok := s["$ref"].(string); ok {
		return map[string]any{"$ref": refTarget(ref, d)}
	}
	out := map[string]any{}
	intOrString := s["x-kubernetes-int-or-string"] == true || s["format"] == "int-or-string"
	preserve := s["x-kubernetes-preserve-unknown-fields"] == true

	if intOrString {
		out["type"] = []any{"integer", "string", "null"}
	} else if t, ok := s["type"].(string); ok {
		out["type"] = []any{t, "null"}
	}
	if !intOrString {
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			items, ok := s[k].([]any)
			if !ok {
				continue
			}
			conv := make([]any, 0, len(items))
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					conv = append(conv, convertOpenAPI(m, d))
				}
			}
			if k == "allOf" && len(conv) == 1 && onlyAnnotationsBesides(s, "allOf") {
				// allOf: [{$ref}] next to description/default only: the ref itself.
				return conv[0].(map[string]any)
			}
			out[k] = conv
		}
	}
	if not, ok := s["not"].(map[string]any); ok {
		out["not"] = convertOpenAPI(not, d)
	}

	props, hasProps := s["properties"].(map[string]any)
	if hasProps {
		conv := make(map[string]any, len(props))
		for name, p := range props {
			pm, _ := p.(map[string]any)
			conv[name] = convertOpenAPI(pm, d)
		}
		out["properties"] = conv
	}
	if req, ok := s["required"].([]any); ok && len(req) > 0 {
		out["required"] = req
	}
	switch ap := s["additionalProperties"].(type) {
	case bool:
		out["additionalProperties"] = ap
	case map[string]any:
		out["additionalProperties"] = convertOpenAPI(ap, d)
	case nil:
		isObject := s["type"] == "object" || hasProps
		switch {
		case preserve || !isObject:
		case hasProps:
			out["additionalProperties"] = false
		case d == crdDialect && s["x-kubernetes-embedded-resource"] != true:
			out["additionalProperties"] = false
		}
	}
	if s["x-kubernetes-embedded-resource"] == true {
		// An embedded object always carries its own type and metadata.
		p, _ := out["properties"].(map[string]any)
		if p == nil {
			p = map[string]any{}
			out["properties"] = p
		}
		for _, k := range []string{"apiVersion", "kind"} {
			if _, ok := p[k]; !ok {
				p[k] = map[string]any{"type": []any{"string", "null"}}
			}
		}
		if _, ok := p["metadata"]; !ok {
			p["metadata"] = map[string]any{"type": []any{"object", "null"}}
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		out["items"] = convertOpenAPI(items, d)
	}
	if enum, ok := s["enum"].([]any); ok {
		out["enum"] = append(append([]any{}, enum...), nil)
	}
	if f, ok := s["format"].(string); ok && keptFormats[d][f] {
		out["format"] = f
	}
	for _, k := range []string{"pattern", "maxLength", "minLength", "maxItems", "minItems",
		"maxProperties", "minProperties", "multipleOf", "uniqueItems"} {
		if v, ok := s[k]; ok {
			out[k] = v
		}
	}
	for _, b := range [][2]string{{"minimum", "exclusiveMinimum"}, {"maximum", "exclusiveMaximum"}} {
		v, ok := s[b[0]]
		if !ok {
			continue
		}
		if s[b[1]] == true {
			out[b[1]] = v
		} else {
			out[b[0]] = v
		}
	}
	if s["x-kubernetes-list-type"] == "set" {
		out["uniqueItems"] = true
	}
	return out
}

// onlyAnnotationsBesides reports whether s has, apart from key, only keys that
// do not validate anything.
func onlyAnnotationsBesides(s map[string]any, key string) bool {
	for k := range s {
		switch k {
		case key, "description", "default", "example", "title":
		default:
			if !strings.HasPrefix(k, "x-kubernetes-patch") {
				return false
			}
		}
	}
	return true
}

func refTarget(ref string, d dialect) string {
	name := strings.TrimPrefix(ref, "#/components/schemas/")
	if d == crdDialect {
		return builtinResource + "#/$defs/" + name
	}
	return "#/$defs/" + name
}

// convertCRDRoot converts a CRD version's openAPIV3Schema; metadata is checked
// against the built-in ObjectMeta, as the API server does for every object.
func convertCRDRoot(s map[string]any) map[string]any {
	root := convertOpenAPI(s, crdDialect)
	props, _ := root["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		root["properties"] = props
	}
	props["metadata"] = map[string]any{"$ref": builtinResource + "#/$defs/" + objectMetaDef}
	for _, k := range []string{"apiVersion", "kind"} {
		if _, ok := props[k]; !ok {
			props[k] = map[string]any{"type": []any{"string", "null"}}
		}
	}
	return root
}
