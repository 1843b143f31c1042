package checker

import (
	"github.com/open-policy-agent/opa/v1/ast"
)

// jsonValue returns v as it reads after a round trip through Go values
// (ast.JSON, then ast.InterfaceToValue), which is how the env_index values
// reached data.check: sets become arrays (in their order of iteration),
// object keys strings. What is JSON already (the objects of the env, which
// the tables hold) is returned itself instead of copied: the round trip
// converted every object of a table twice. An object with a key that is not
// a string takes the round trip itself.
func jsonValue(v ast.Value, memo map[ast.Value]ast.Value) (ast.Value, error) {
	switch x := v.(type) {
	case ast.Null, ast.Boolean, ast.Number, ast.String:
		return v, nil
	case *ast.Array, ast.Object, ast.Set:
		if out, ok := memo[v]; ok {
			return out, nil
		}
		out, err := jsonComposite(x, memo)
		if err != nil {
			return nil, err
		}
		memo[v] = out
		return out, nil
	default:
		return roundTrip(v)
	}
}

func jsonComposite(v ast.Value, memo map[ast.Value]ast.Value) (ast.Value, error) {
	switch x := v.(type) {
	case *ast.Array:
		elems := make([]*ast.Term, x.Len())
		same := true
		for i := range x.Len() {
			e := x.Elem(i)
			ev, err := jsonValue(e.Value, memo)
			if err != nil {
				return nil, err
			}
			if ev != e.Value {
				same = false
			}
			elems[i] = ast.NewTerm(ev)
		}
		if same {
			return v, nil
		}
		return ast.NewArray(elems...), nil
	case ast.Set:
		elems := make([]*ast.Term, 0, x.Len())
		err := x.Iter(func(e *ast.Term) error {
			ev, err := jsonValue(e.Value, memo)
			if err != nil {
				return err
			}
			elems = append(elems, ast.NewTerm(ev))
			return nil
		})
		if err != nil {
			return nil, err
		}
		return ast.NewArray(elems...), nil
	case ast.Object:
		pairs := make([][2]*ast.Term, 0, x.Len())
		same, stringKeys := true, true
		err := x.Iter(func(k, e *ast.Term) error {
			if _, ok := k.Value.(ast.String); !ok {
				stringKeys = false
				return nil
			}
			ev, err := jsonValue(e.Value, memo)
			if err != nil {
				return err
			}
			if ev != e.Value {
				same = false
			}
			pairs = append(pairs, [2]*ast.Term{k, ast.NewTerm(ev)})
			return nil
		})
		switch {
		case err != nil:
			return nil, err
		case !stringKeys:
			return roundTrip(v)
		case same:
			return v, nil
		}
		return ast.NewObject(pairs...), nil
	}
	return roundTrip(v)
}

func roundTrip(v ast.Value) (ast.Value, error) {
	x, err := ast.JSON(v)
	if err != nil {
		return nil, err
	}
	return ast.InterfaceToValue(x)
}
