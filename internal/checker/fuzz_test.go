package checker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/internal/manifest"
)

// FuzzCheck: whatever parses is checked without a panic, and an error from
// the engine names the file (render check turns it into exit 2).
func FuzzCheck(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "rendered", "prod", "*", "*.yaml"))
	for i, p := range seeds {
		if i%4 == 0 { // a sample of real objects is enough to mutate from
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte(badRollout))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: .nan}\n"))
	c := newChecker(f, Options{Workers: 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "rendered/prod/x.yaml"
		objs, err := manifest.Parse(file, data)
		if err != nil {
			return // FuzzParse covers parse errors
		}
		for _, env := range []string{"prod", "dr"} {
			_, err := c.Check(context.Background(), []Set{{env, objs}})
			var pe *PolicyError
			if err != nil && (errors.As(err, &pe) || !strings.Contains(err.Error(), file)) {
				t.Fatalf("%s: %v (%T): a document must not break the policies, and errors name the file", env, err, err)
			}
		}
	})
}
