// Tests of the security model (schema/security_*.cue) on crafted inputs:
// how a service's env URLs become its dependencies.
package schema_test

import (
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"
)

// schemaValue loads package schema itself, so tests can use its definitions.
func schemaValue(t *testing.T) (*cue.Context, cue.Value) {
	t.Helper()
	insts := load.Instances([]string{"."}, &load.Config{Dir: "."})
	ctx := cuecontext.New()
	if err := insts[0].Err; err != nil {
		t.Fatal(err)
	}
	// Not v.Err(): definitions evaluated without a platform are incomplete.
	return ctx, ctx.BuildInstance(insts[0])
}

// TestServiceURLsNameDependencies: http(s)://<service> and its cluster-local
// forms are dependencies; external hosts are not; a cluster-local name no
// service has is an error (the dependency would be unreachable).
func TestServiceURLsNameDependencies(t *testing.T) {
	ctx, schema := schemaValue(t)
	eval := func(env string) (string, error) {
		v := ctx.CompileString(`(#ServiceURLs & {known: {catalog: "catalog", cart: "cart"}, namespace: "shop", env: `+env+`}).out`, cue.Scope(schema))
		b, err := v.MarshalJSON()
		return string(b), err
	}
	for env, want := range map[string]string{
		`{A: "http://catalog"}`: `["catalog"]`,
		`{A: "http://cart.shop.svc.cluster.local:80/v1", B: "https://catalog.shop"}`: `["cart","catalog"]`,
		`{A: "https://api.stripe.com", B: "info", C: "http://cart.other"}`:           `[]`,
	} {
		got, err := eval(env)
		if err != nil || got != want {
			t.Errorf("env %s: got %s (%v), want %s", env, got, err, want)
		}
	}
	_, err := eval(`{ORDERS_URL: "http://orders"}`)
	if err == nil || !strings.Contains(err.Error(), "env ORDERS_URL=http://orders names no service orders") {
		t.Errorf("an undeclared service must fail with its name, got %v", err)
	}
}
