package checker

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// jsonValue reads as the round trip through Go values did, and shares what
// is JSON already.
func TestJSONValue(t *testing.T) {
	for _, src := range []string{
		`null`, `true`, `1.50`, `"s"`, `[]`, `{}`, `set()`,
		`{"a": [1, {"b": "c"}], "d": {"e": null}}`,
		`{"s": {3, 1, 2}, "t": {{"k": {"x"}}, {"k": {"y", "z"}}}}`,
		`{1: "one", "1": "string one", [1]: {"n": {2}}}`,
		`[{"a": 1}, {"z", "y"}, {true: false}]`,
		`{"big": 12345678901234567890, "f": 0.1e3}`,
	} {
		v := ast.MustParseTerm(src).Value
		want, err := roundTrip(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := jsonValue(v, map[ast.Value]ast.Value{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Compare(want) != 0 {
			t.Errorf("%s: got %v, the round trip %v", src, got, want)
		}
	}
	obj := ast.MustParseTerm(`{"metadata": {"name": "a"}, "spec": {"ports": [{"port": 80}]}}`).Value
	table := ast.NewObject([2]*ast.Term{ast.StringTerm("by_name"), ast.SetTerm(ast.NewTerm(obj))})
	got, err := jsonValue(table, map[ast.Value]ast.Value{})
	if err != nil {
		t.Fatal(err)
	}
	elem := got.(ast.Object).Get(ast.StringTerm("by_name")).Value.(*ast.Array).Elem(0).Value
	if elem != obj {
		t.Error("a JSON object inside a set was copied, not shared")
	}
}
