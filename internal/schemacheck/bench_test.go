package schemacheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ecommerce-platform/gitops/internal/manifest"
)

// metadataName matches a metadata.name line of the rendered files.
var metadataName = regexp.MustCompile(`(?m)^  name: (.*)$`)

// syntheticSet copies every rendered object `copies` times under new names:
// a large set with the real mix of kinds, as one multi-document file per copy.
func syntheticSet(b *testing.B, copies int) []*manifest.Object {
	b.Helper()
	var files []string
	for _, env := range []string{"prod", "dr"} {
		matches, err := filepath.Glob(filepath.Join("..", "..", "rendered", env, "*", "*.yaml"))
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, matches...)
	}
	var docs [][]byte
	for _, f := range files {
		if manifest.IsKustomization(filepath.Base(f)) {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, data)
	}
	var objs []*manifest.Object
	for i := range copies {
		var stream []byte
		for _, d := range docs {
			stream = append(stream, "---\n"...)
			stream = append(stream, metadataName.ReplaceAll(d, []byte(fmt.Sprintf("  name: ${1}-copy%d", i)))...)
		}
		got, err := manifest.Parse(fmt.Sprintf("copy-%d.yaml", i), stream)
		if err != nil {
			b.Fatal(err)
		}
		objs = append(objs, got...)
	}
	return objs
}

// BenchmarkValidate measures throughput on thousands of objects once schemas
// are compiled (compilation happens once per kind, in the first Validate).
// Run: go test ./internal/schemacheck -run '^$' -bench Validate
func BenchmarkValidate(b *testing.B) {
	v := validator(b)
	objs := syntheticSet(b, 40)
	if fs := v.Validate(objs, "bench"); len(fs) > 0 {
		b.Fatalf("synthetic set has %d findings, first: %s", len(fs), fs[0].Message)
	}
	b.ResetTimer()
	for b.Loop() {
		v.Validate(objs, "bench")
	}
	b.ReportMetric(float64(b.N*len(objs))/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(len(objs)), "objects")
}

// BenchmarkNewWarm measures start-up with a warm cache: CRD parsing and
// loading the cached built-in bundle.
func BenchmarkNewWarm(b *testing.B) {
	validator(b) // ensure the cache is warm
	for b.Loop() {
		if _, err := New(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateCached measures a warm verdict cache: every object's key
// computed and found, nothing compiled (the kinds were compiled for the
// first, cold, Validate only).
// Run: go test ./internal/schemacheck -run '^$' -bench ValidateCached
func BenchmarkValidateCached(b *testing.B) {
	saved := libraryVersion
	b.Cleanup(func() { libraryVersion = saved })
	libraryVersion = func() string { return "github.com/santhosh-tekuri/jsonschema/v6@bench" }
	v := validator(b)
	opts := v.opts
	opts.CacheDir, opts.Verdicts = b.TempDir(), "on"
	fresh := func() *Validator {
		return &Validator{opts: opts, builtin: v.builtin, crds: v.crds, builtGVs: v.builtGVs, embedded: v.embedded}
	}
	objs := syntheticSet(b, 40)
	if fs := fresh().Validate(objs, "bench"); len(fs) > 0 {
		b.Fatalf("synthetic set has %d findings, first: %s", len(fs), fs[0].Message)
	}
	b.ResetTimer()
	for b.Loop() {
		w := fresh()
		w.Validate(objs, "bench")
		if w.compiles.Load() != 0 {
			b.Fatal("a warm Validate compiled a schema")
		}
	}
	b.ReportMetric(float64(b.N*len(objs))/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(len(objs)), "objects")
}
