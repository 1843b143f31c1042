package checker

import (
	"context"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Per-kind queries. Most rules test the object's kind (`input.kind ==
// "Rollout"`, `input.kind in pod_kinds`), and most rule sets hold no rule
// that can match a given kind; OPA still looks up and evaluates every rule
// set of the combined query for every object. The rule sets a kind needs are
// found statically, from the compiled rules' bodies, and each kind is
// evaluated by a query of only those: the same findings (a skipped rule set
// would have been empty), fewer rule sets evaluated per object.
//
// A rule is bound to kinds only by a body expression, neither negated nor
// modified by `with`, of the forms
//
//	input.kind == K        K == input.kind        input.kind = K
//	input.kind in S        (S a set or array of strings)
//
// where K and S are literals or references to rules whose value needs
// neither input nor data.check (a constant, such as lib.pod_kinds): such an
// expression fails for every other kind, so the rule produces nothing for
// it. Any other rule may match every kind. The Go code names no kind.

// kindGuards holds, per rule set (c.rules' order), the kinds its rules can
// match; nil when some rule may match any kind.
type kindGuards [][]string

// findKindGuards analyses every rule of every rule set.
func findKindGuards(ctx context.Context, compiler *ast.Compiler, rules []ruleSet) kindGuards {
	consts := &constResolver{ctx: ctx, compiler: compiler, independent: map[*ast.Rule]bool{}, values: map[string]*ast.Term{}}
	guards := make(kindGuards, len(rules))
	for i, rs := range rules {
		ref := ast.MustParseRef(rs.ref())
		kinds := map[string]bool{}
		exact := compiler.GetRulesExact(ref)
		anyKind := len(exact) == 0 // nothing to analyse: as before, every kind
		for _, r := range exact {
			ks := ruleKinds(r, consts)
			if ks == nil {
				anyKind = true
				break
			}
			for k := range ks {
				kinds[k] = true
			}
		}
		// Rules below the set's ref (deny.x contains ...) or defined
		// elsewhere: no analysis, every kind.
		if anyKind || len(compiler.GetRules(ref)) != len(exact) {
			continue
		}
		list := make([]string, 0, len(kinds))
		for k := range kinds {
			list = append(list, k)
		}
		slices.Sort(list)
		guards[i] = list
	}
	return guards
}

// selection lists the rule sets (indexes into c.rules) a kind needs.
func (g kindGuards) selection(kind string) []int {
	var sel []int
	for i, kinds := range g {
		if kinds == nil || kind != nonStringKind && slices.Contains(kinds, kind) {
			sel = append(sel, i)
		}
	}
	return sel
}

// ruleKinds returns the kinds rule r can match, nil for any. An empty set
// means none.
func ruleKinds(r *ast.Rule, consts *constResolver) map[string]bool {
	if r.Else != nil || r.Head.RuleKind() != ast.MultiValue {
		return nil
	}
	// The compiler binds operands to local variables (__local1__ =
	// input.kind; internal.member_2(__local1__, {...})): x = t in the body
	// means x equals t wherever the body succeeds.
	bound := map[ast.Var]*ast.Term{}
	for _, expr := range r.Body {
		if a, b, ok := guardOperands(expr, ast.Equality); ok {
			if v, ok := a.Value.(ast.Var); ok && bound[v] == nil {
				bound[v] = b
			} else if v, ok := b.Value.(ast.Var); ok && bound[v] == nil {
				bound[v] = a
			}
		}
	}
	resolve := func(t *ast.Term) *ast.Term {
		for range len(bound) + 1 { // a chain of bindings, never a cycle
			v, ok := t.Value.(ast.Var)
			if !ok || bound[v] == nil {
				break
			}
			t = bound[v]
		}
		return t
	}
	var kinds map[string]bool
	for _, expr := range r.Body {
		var set map[string]bool
		if a, b, ok := equalityOperands(expr); ok {
			a, b = resolve(a), resolve(b)
			switch {
			case isInputKind(a):
				set = consts.strings(b, false)
			case isInputKind(b):
				set = consts.strings(a, false)
			}
		} else if a, b, ok := guardOperands(expr, ast.Member); ok && isInputKind(resolve(a)) {
			set = consts.strings(resolve(b), true)
		}
		if set == nil {
			continue
		}
		if kinds == nil {
			kinds = set
			continue
		}
		for k := range kinds {
			if !set[k] {
				delete(kinds, k)
			}
		}
	}
	return kinds
}

// guardOperands returns the two operands of expr when it is a call of op,
// neither negated nor under with.
func guardOperands(expr *ast.Expr, op *ast.Builtin) (*ast.Term, *ast.Term, bool) {
	if expr.Negated || len(expr.With) > 0 || !expr.IsCall() || len(expr.Operands()) != 2 || !expr.Operator().Equal(op.Ref()) {
		return nil, nil, false
	}
	return expr.Operand(0), expr.Operand(1), true
}

// equalityOperands: expr is t1 == t2 or t1 = t2.
func equalityOperands(expr *ast.Expr) (*ast.Term, *ast.Term, bool) {
	if a, b, ok := guardOperands(expr, ast.Equal); ok {
		return a, b, true
	}
	return guardOperands(expr, ast.Equality)
}

// isInputKind: the term is input.kind.
func isInputKind(t *ast.Term) bool {
	ref, ok := t.Value.(ast.Ref)
	return ok && len(ref) == 2 && ref[0].Equal(ast.InputRootDocument) && ref[1].Equal(ast.InternedTerm("kind"))
}

// constResolver reads literal strings and sets, and the values of rules
// that depend on neither input nor data.check (evaluated once).
type constResolver struct {
	ctx         context.Context
	compiler    *ast.Compiler
	independent map[*ast.Rule]bool // memo; false while being visited
	values      map[string]*ast.Term
}

// strings returns the strings t denotes: a string when !collection, a set
// or array of strings when collection; nil when unknown.
func (c *constResolver) strings(t *ast.Term, collection bool) map[string]bool {
	if ref, ok := t.Value.(ast.Ref); ok {
		t = c.value(ref)
		if t == nil {
			return nil
		}
	}
	out := map[string]bool{}
	add := func(x *ast.Term) bool {
		s, ok := x.Value.(ast.String)
		if ok {
			out[string(s)] = true
		}
		return ok
	}
	switch v := t.Value.(type) {
	case ast.String:
		if collection {
			return nil
		}
		add(t)
	case ast.Set:
		if !collection {
			return nil
		}
		ok := true
		v.Foreach(func(x *ast.Term) { ok = ok && add(x) })
		if !ok {
			return nil
		}
	case *ast.Array:
		if !collection {
			return nil
		}
		for i := range v.Len() {
			if !add(v.Elem(i)) {
				return nil
			}
		}
	default:
		return nil
	}
	return out
}

// value evaluates ref when it is a ground reference to rules that need
// neither input nor data.check; nil otherwise.
func (c *constResolver) value(ref ast.Ref) *ast.Term {
	if !ref.IsGround() || !ref.HasPrefix(ast.DefaultRootRef) {
		return nil
	}
	key := ref.String()
	if v, ok := c.values[key]; ok {
		return v
	}
	c.values[key] = nil
	rules := c.compiler.GetRules(ref)
	if len(rules) == 0 {
		return nil // base data (data.check among it)
	}
	for _, r := range rules {
		if !c.isIndependent(r) {
			return nil
		}
	}
	rs, err := rego.New(rego.ParsedQuery(ast.NewBody(ast.Equality.Expr(ast.VarTerm("x"), ast.NewTerm(ref)))), rego.Compiler(c.compiler)).Eval(c.ctx)
	if err != nil {
		return nil // not a guard: the rules run, and fail, as without the analysis
	}
	if len(rs) != 1 {
		return nil // undefined
	}
	v, err := ast.InterfaceToValue(rs[0].Bindings["x"])
	if err != nil {
		return nil
	}
	c.values[key] = ast.NewTerm(v)
	return c.values[key]
}

// isIndependent: rule r, and every rule it refers to, reads neither input
// nor data.check and calls no non-deterministic built-in.
func (c *constResolver) isIndependent(r *ast.Rule) bool {
	if ind, ok := c.independent[r]; ok {
		return ind
	}
	c.independent[r] = false // a cycle is not proven independent
	ind := true
	ast.WalkRefs(r, func(ref ast.Ref) bool {
		if !ind {
			return true
		}
		switch {
		case ref[0].Equal(ast.InputRootDocument):
			ind = false
		case ref.HasPrefix(ast.DefaultRootRef):
			prefix := ref.GroundPrefix()
			if ast.MustParseRef("data.check").HasPrefix(prefix) || prefix.HasPrefix(ast.MustParseRef("data.check")) {
				ind = false
				return true
			}
			for _, dep := range c.compiler.GetRules(prefix) {
				if dep != r && !c.isIndependent(dep) {
					ind = false
					return true
				}
			}
		default:
			if b, ok := ast.BuiltinMap[strings.TrimSpace(ref.String())]; ok && b.Nondeterministic {
				ind = false
			}
		}
		return false
	})
	c.independent[r] = ind
	return ind
}
