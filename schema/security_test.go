// Tests of the security model (schema/security_*.cue) on crafted inputs:
// how a service's env URLs become its dependencies.
package schema_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"

	"github.com/ecommerce-platform/gitops/generator"
	"github.com/ecommerce-platform/gitops/internal/testrepo"
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
// forms name a host; external hosts do not.
func TestServiceURLsNameDependencies(t *testing.T) {
	ctx, schema := schemaValue(t)
	for env, want := range map[string]string{
		`{A: "http://catalog"}`: `{"A":"catalog"}`,
		`{A: "http://cart.shop.svc.cluster.local:80/v1", B: "https://catalog.shop"}`: `{"A":"cart","B":"catalog"}`,
		`{A: "https://api.stripe.com", B: "info", C: "http://cart.other"}`:           `{}`,
	} {
		v := ctx.CompileString(`(#ServiceURLs & {namespace: "shop", env: `+env+`}).hosts`, cue.Scope(schema))
		got, err := v.MarshalJSON()
		if err != nil || string(got) != want {
			t.Errorf("env %s: got %s (%v), want %s", env, got, err, want)
		}
	}
}

// TestUnknownServiceURLFails: an env URL naming a cluster-local host that no
// service has fails the render with the variable and the host (the
// dependency would be unreachable, and no NetworkPolicy would allow it).
func TestUnknownServiceURLFails(t *testing.T) {
	root := testrepo.Fixture(t)
	bad := "package env\n\nplatform: services: worker: env: ORDERS_URL: \"http://orders\"\n"
	if err := os.WriteFile(filepath.Join(root, "envs", "small", "orders.cue"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := generator.Render(context.Background(), generator.Options{Root: root, Envs: []string{"small"}})
	if err == nil || !strings.Contains(err.Error(), "env ORDERS_URL=http://orders names no service orders") {
		t.Fatalf("an undeclared service must fail with its name, got %v", err)
	}
	t.Logf("caught: %v", err)
}
