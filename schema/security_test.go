// Tests of the security model (schema/security_*.cue) on crafted inputs:
// how a service's env URLs become its dependencies.
package schema_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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

// TestNetworkEdgesGrowLinearly: the network edges cost the same per service
// at 400 services as at 100 (bytes allocated by CUE, not time). Each
// service's #ServiceURLs instance once copied the map of every service name,
// and the edges grew with the square of the services: at 400 services each
// service then cost about twice what it cost at 100.
func TestNetworkEdgesGrowLinearly(t *testing.T) {
	ctx, schema := schemaValue(t)
	alloc := func(n int) uint64 {
		var b strings.Builder
		b.WriteString(`(#NetworkEdges & {platform: {
	namespace: "shop"
	release: analysis: true
	zones: ["z-a", "z-b", "z-c"]
	aws: network: subnets: {for z in zones {(z): public: "10.0.0.0/24"}}
	databases: db: {engine: "postgres", port: 5432}
	services: {
`)
		for i := range n {
			fmt.Fprintf(&b, "\t\t\"s%d\": {port: 8080, database: \"db\", ingress: {}, env: {NEXT: \"http://s%d\", API: \"https://api.example.com\"}}\n", i, (i+1)%n)
		}
		b.WriteString("\t}\n}}).edges")
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v := ctx.CompileString(b.String(), cue.Scope(schema))
		if _, err := v.MarshalJSON(); err != nil {
			t.Fatalf("%d services: %v", n, err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := alloc(100), alloc(400)
	perSmall, perLarge := float64(small)/100, float64(large)/400
	t.Logf("per service: %.0f bytes at 100 services, %.0f at 400 (%.2fx)", perSmall, perLarge, perLarge/perSmall)
	if perLarge > 1.3*perSmall {
		t.Errorf("each service's network edges cost %.2fx more at 400 services than at 100: something per service grows with the number of services", perLarge/perSmall)
	}
}

// TestServiceNameMustBeADNSLabel: the service name check, a condition
// rather than a disjunction, still takes exactly the DNS labels: at most 63
// characters of lower-case letters, digits and '-', not at either end.
func TestServiceNameMustBeADNSLabel(t *testing.T) {
	ctx, schema := schemaValue(t)
	for name, ok := range map[string]bool{
		"cart":                  true,
		"a":                     true,
		"cart-2":                true,
		strings.Repeat("a", 63): true,
		strings.Repeat("a", 64): false,
		"Cart":                  false,
		"-cart":                 false,
		"cart-":                 false,
		"cart.shop":             false,
		"":                      false,
	} {
		v := ctx.CompileString(fmt.Sprintf(`(#Service & {name: %q}).name`, name), cue.Scope(schema))
		_, err := v.MarshalJSON()
		if ok && err != nil {
			t.Errorf("%q: refused: %v", name, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "a service name must be a DNS label")) {
			t.Errorf("%q: want the DNS label error, got %v", name, err)
		}
	}
}
