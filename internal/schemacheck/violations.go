package schemacheck

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

var printer = message.NewPrinter(language.English)

// violations flattens the library's error tree into one finding per bad
// field: unknown fields and missing required fields one by one, each at the
// line of the field (or of its parent when it is missing).
func violations(o *manifest.Object, env string, verr *jsonschema.ValidationError) []finding.Finding {
	return violationsAt(o, env, nil, "", verr)
}

// violationsAt is violations for a value validated on its own, found at
// path at of the object (an embedded field); note ends every message.
func violationsAt(o *manifest.Object, env string, at []string, note string, verr *jsonschema.ValidationError) []finding.Finding {
	var out []finding.Finding
	seen := map[string]bool{}
	add := func(path []string, msg string) {
		p := strings.Join(path, ".")
		full := msg + note
		if p != "" {
			full = p + ": " + full
		}
		if seen[full] {
			return
		}
		seen[full] = true
		out = append(out, newFinding(o, env, p, path, o.LineOf(path...), full))
	}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		loc := append(slices.Clone(at), e.InstanceLocation...)
		switch k := e.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				add(extend(loc, p), "unknown field")
			}
			return
		case *kind.Required:
			for _, p := range k.Missing {
				add(extend(loc, p), "required field missing")
			}
			return
		case *kind.Type:
			want := slices.DeleteFunc(slices.Clone(k.Want), func(s string) bool { return s == "null" })
			add(loc, fmt.Sprintf("expected %s, got %s", strings.Join(want, " or "), describe(valueAt(o.Object, loc), k.Got)))
			return
		case *kind.Enum:
			var want []string
			for _, w := range k.Want {
				if w != nil {
					want = append(want, fmt.Sprint(w))
				}
			}
			add(loc, fmt.Sprintf("%s is not one of [%s]", literal(k.Got), strings.Join(want, " ")))
			return
		case *kind.Format:
			add(loc, fmt.Sprintf("%s is not a valid %s: %v", literal(k.Got), k.Want, k.Err))
			return
		case *kind.AnyOf, *kind.OneOf:
			// Each alternative failed for its own reason; listing them all
			// reads as noise, so name the field and the first reason.
			msg := "matches none of the allowed shapes"
			if k, ok := k.(*kind.OneOf); ok && len(k.Subschemas) > 1 {
				msg = "matches more than one of the allowed shapes (oneOf)"
			} else if len(e.Causes) > 0 {
				msg += " (" + firstLeaf(e.Causes[0]) + ")"
			}
			add(loc, msg)
			return
		}
		if len(e.Causes) == 0 {
			add(loc, e.ErrorKind.LocalizedString(printer))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(verr)
	return out
}

// asValidationError returns err as a *jsonschema.ValidationError, or nil.
func asValidationError(err error) *jsonschema.ValidationError {
	var verr *jsonschema.ValidationError
	if errors.As(err, &verr) {
		return verr
	}
	return nil
}

func firstLeaf(e *jsonschema.ValidationError) string {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	return e.ErrorKind.LocalizedString(printer)
}

func extend(loc []string, p string) []string {
	return append(slices.Clone(loc), p)
}

// valueAt reads the value at a JSON-pointer-like location in an object.
func valueAt(v any, loc []string) any {
	for _, p := range loc {
		switch t := v.(type) {
		case map[string]any:
			v = t[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

// describe names a value's JSON type and, for scalars, shows it.
func describe(v any, typ string) string {
	switch v.(type) {
	case map[string]any, []any, nil:
		return typ
	}
	return typ + " " + literal(v)
}

func literal(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
