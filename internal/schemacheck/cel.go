package schemacheck

import (
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"

	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

// CRDs carry CEL rules (x-kubernetes-validations) that the structural schema
// cannot express; Crossplane marks most required parameters this way
// ("spec.forProvider.region is a required parameter"). They are evaluated
// with cel-go on the object after the schema's defaults are applied, as the
// API server does on create. Not evaluated: transition rules (oldSelf: there
// is no old object on create) and rules using the API server's own CEL
// libraries (quantity(), isURL(), ...), which cel-go alone does not define;
// Skipped counts those, and the e2e API-server test covers them.

// Path steps in a rule's schema location that match every element.
const (
	anyItem  = "[]"
	anyValue = "{}"
)

type celRule struct {
	at        []string // schema location: property names, anyItem, anyValue
	rule      string
	message   string
	fieldPath string
	program   cel.Program
}

type celRules struct {
	rules   []celRule
	Skipped []string // rules not evaluated, with the reason
}

var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("self", cel.DynType), ext.Strings(), ext.Sets(), ext.Lists())
})

// compileRules collects and compiles every x-kubernetes-validations rule of a
// CRD version's schema.
func compileRules(schema map[string]any) (*celRules, error) {
	env, err := celEnv()
	if err != nil {
		return nil, err
	}
	out := &celRules{}
	var walk func(s map[string]any, at []string)
	walk = func(s map[string]any, at []string) {
		if s == nil {
			return
		}
		rules, _ := s["x-kubernetes-validations"].([]any)
		for _, r := range rules {
			rm, _ := r.(map[string]any)
			rule, _ := rm["rule"].(string)
			if strings.Contains(rule, "oldSelf") {
				out.Skipped = append(out.Skipped, fmt.Sprintf("%s: transition rule %q", dotted(at), rule))
				continue
			}
			ast, iss := env.Compile(rule)
			if iss.Err() != nil {
				out.Skipped = append(out.Skipped, fmt.Sprintf("%s: rule %q: %v", dotted(at), rule, iss.Err()))
				continue
			}
			prg, err := env.Program(ast)
			if err != nil {
				out.Skipped = append(out.Skipped, fmt.Sprintf("%s: rule %q: %v", dotted(at), rule, err))
				continue
			}
			cr := celRule{at: append([]string(nil), at...), rule: rule, program: prg}
			cr.message, _ = rm["message"].(string)
			cr.fieldPath, _ = rm["fieldPath"].(string)
			out.rules = append(out.rules, cr)
		}
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			pm, _ := p.(map[string]any)
			walk(pm, append(at, name))
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(items, append(at, anyItem))
		}
		if ap, ok := s["additionalProperties"].(map[string]any); ok {
			walk(ap, append(at, anyValue))
		}
	}
	walk(schema, nil)
	return out, nil
}

// evaluate runs every rule on every value its location matches. Evaluation
// errors are reported only when the object otherwise matched its schema: on
// a mistyped object they would only repeat the type error.
func (r *celRules) evaluate(o *manifest.Object, env string, schema map[string]any, reportErrors bool) []finding.Finding {
	if r == nil || len(r.rules) == 0 {
		return nil
	}
	obj := applyDefaults(o.Object, schema).(map[string]any)
	var out []finding.Finding
	for _, rule := range r.rules {
		for _, m := range matches(obj, rule.at, nil) {
			res, _, err := rule.program.Eval(map[string]any{"self": m.value})
			path := dotted(m.path)
			if err != nil {
				if reportErrors {
					out = append(out, newFinding(o, env, path, m.path, o.LineOf(m.path...),
						prefixPath(path, fmt.Sprintf("validation rule %q cannot be evaluated: %v", rule.rule, err))))
				}
				continue
			}
			if res == types.True {
				continue
			}
			at := m.path
			if fp := strings.TrimPrefix(rule.fieldPath, "."); fp != "" {
				at = append(append([]string(nil), at...), strings.Split(fp, ".")...)
			}
			msg := rule.message
			if msg == "" {
				msg = fmt.Sprintf("failed rule: %s", rule.rule)
			}
			out = append(out, newFinding(o, env, dotted(at), at, o.LineOf(at...), prefixPath(dotted(at), msg)))
		}
	}
	return out
}

// prefixPath starts a message with the field path unless it already names it
// (Crossplane's messages read "spec.forProvider.region is a required parameter").
func prefixPath(path, msg string) string {
	if path == "" || strings.HasPrefix(msg, path) {
		return msg
	}
	return path + ": " + msg
}

func dotted(path []string) string { return strings.Join(path, ".") }

type match struct {
	path  []string
	value any
}

// matches finds the values at a schema location in an object.
func matches(v any, at, path []string) []match {
	if len(at) == 0 {
		return []match{{path: path, value: v}}
	}
	var out []match
	switch at[0] {
	case anyItem:
		list, _ := v.([]any)
		for i, item := range list {
			out = append(out, matches(item, at[1:], extend(path, fmt.Sprint(i)))...)
		}
	case anyValue:
		m, _ := v.(map[string]any)
		for k, item := range m {
			out = append(out, matches(item, at[1:], extend(path, k))...)
		}
	default:
		m, _ := v.(map[string]any)
		if item, ok := m[at[0]]; ok && item != nil {
			out = append(out, matches(item, at[1:], extend(path, at[0]))...)
		}
	}
	return out
}

// applyDefaults returns a copy of v with the schema's defaults filled in where
// fields are absent, as the API server defaults before it validates. v is not
// modified: objects are shared with other checks.
func applyDefaults(v any, s map[string]any) any {
	switch t := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		ap, _ := s["additionalProperties"].(map[string]any)
		out := make(map[string]any, len(t)+len(props))
		for k, x := range t {
			if ps, ok := props[k].(map[string]any); ok {
				out[k] = applyDefaults(x, ps)
			} else if ap != nil {
				out[k] = applyDefaults(x, ap)
			} else {
				out[k] = x
			}
		}
		for k, p := range props {
			if _, present := t[k]; present {
				continue
			}
			if d, ok := p.(map[string]any)["default"]; ok {
				out[k] = d
			}
		}
		return out
	case []any:
		items, _ := s["items"].(map[string]any)
		if items == nil {
			return t
		}
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = applyDefaults(x, items)
		}
		return out
	}
	return v
}
