package generator

import (
	"context"
	"fmt"
	"testing"

	"github.com/ecommerce-platform/gitops/internal/synth"
)

// BenchmarkRender is the whole pipeline for prod and dr, as `make render`
// runs it (without the process start and the write).
func BenchmarkRender(b *testing.B) {
	for b.Loop() {
		if _, err := Render(context.Background(), Options{Root: repoRoot}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStages splits one env's render into its stages.
func BenchmarkStages(b *testing.B) {
	opts, err := Options{Root: repoRoot}.normalise()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("evaluate", func(b *testing.B) {
		for b.Loop() {
			if _, err := evaluate(opts, "prod"); err != nil {
				b.Fatal(err)
			}
		}
	})
	v, err := evaluate(opts, "prod")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("extract", func(b *testing.B) {
		for b.Loop() {
			if _, err := extract(v, "prod"); err != nil {
				b.Fatal(err)
			}
		}
	})
	apps, err := extract(v, "prod")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serialise", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := serialise(apps, "prod"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRenderServices renders synthetic platforms of growing size:
// time should grow linearly with the number of services.
func BenchmarkRenderServices(b *testing.B) {
	for _, n := range []int{50, 200, 500} {
		root := b.TempDir()
		if err := synth.Write(repoRoot, root, n); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Render(context.Background(), Options{Root: root}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
