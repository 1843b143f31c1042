package generator

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden from a fresh render")

// repoRoot is the CUE module root, seen from this package's folder.
const repoRoot = ".."

func render(t *testing.T, opts Options) []Env {
	t.Helper()
	envs, err := Render(context.Background(), opts)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return envs
}

// TestGolden renders the small fixture platform and compares every file
// byte for byte with testdata/golden/rendered. Regenerate on purpose with
// `make golden` (go test ./generator -run TestGolden -update).
func TestGolden(t *testing.T) {
	envs := render(t, Options{Root: repoRoot, EnvsDir: "testdata/golden/envs"})
	goldenDir := filepath.Join(repoRoot, "testdata", "golden", "rendered")
	if *update {
		if err := Write(goldenDir, envs, true); err != nil {
			t.Fatal(err)
		}
		t.Log("golden files rewritten")
	}
	for _, env := range envs {
		want, err := readTree(filepath.Join(goldenDir, env.Name))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range env.Files {
			got[f.Path] = string(f.Data)
		}
		wantS := map[string]string{}
		for p, d := range want {
			wantS[p] = string(d)
		}
		if diff := cmp.Diff(wantS, got); diff != "" {
			t.Errorf("env %s differs from its golden files (-golden +render); if the change is intended run `make golden`:\n%s", env.Name, diff)
		}
	}
}

// TestCommittedRenderIsFresh: rendered/ is exactly what envs/ + schema/ say,
// so what Argo CD applies is what was reviewed.
func TestCommittedRenderIsFresh(t *testing.T) {
	envs := render(t, Options{Root: repoRoot})
	diffs, err := Compare(filepath.Join(repoRoot, "rendered"), envs, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("rendered/ is not a fresh render (run `make render`): %s", d)
	}
}

// TestDeterministic: same input, same bytes, whatever GOMAXPROCS.
func TestDeterministic(t *testing.T) {
	var first []Env
	for _, procs := range []int{1, 4, 1, runtime.NumCPU()} {
		prev := runtime.GOMAXPROCS(procs)
		envs := render(t, Options{Root: repoRoot})
		runtime.GOMAXPROCS(prev)
		if first == nil {
			first = envs
			continue
		}
		if diff := cmp.Diff(first, envs); diff != "" {
			t.Fatalf("render with GOMAXPROCS=%d differs from the first render:\n%s", procs, diff)
		}
	}
}

func TestSelectEnvs(t *testing.T) {
	envs := render(t, Options{Root: repoRoot, Envs: []string{"prod", "prod"}})
	if len(envs) != 1 || envs[0].Name != "prod" {
		t.Fatalf("selected prod, got %d envs", len(envs))
	}
	_, err := Render(context.Background(), Options{Root: repoRoot, Envs: []string{"staging"}})
	if err == nil || !strings.Contains(err.Error(), `unknown env "staging"`) {
		t.Fatalf("want unknown env error, got %v", err)
	}
	_, err = Render(context.Background(), Options{Root: repoRoot, Envs: []string{"shared"}})
	if err == nil {
		t.Fatal("envs/shared holds common values and must not render as an env")
	}
}

// copyRepo copies what a render reads (cue.mod, schema, envs) into a
// temporary root that a test may break.
func copyRepo(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for _, dir := range []string{"cue.mod", "schema", "envs"} {
		if err := os.CopyFS(filepath.Join(dst, dir), os.DirFS(filepath.Join(repoRoot, dir))); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestBadInput: each kind of mistake a pull request can make fails with the
// env file, line and column, and the field.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name  string
		file  string    // under envs/prod/: written with body, or changed by edit
		body  string    // the whole file
		edit  [2]string // replace edit[0] with edit[1] in an existing file
		wants []string  // substrings of the error
	}{{
		name:  "syntax error",
		file:  "broken.cue",
		body:  "package env\nplatform: services: cart: replicas: 3 +\n",
		wants: []string{"envs/prod/broken.cue:2:41", "expected operand"},
	}, {
		name:  "unknown field",
		file:  "typo.cue",
		body:  "package env\nplatform: services: cart: replicaz: 3\n",
		wants: []string{"envs/prod/typo.cue:2:27", "platform.services.cart.replicaz", "field not allowed"},
	}, {
		name:  "wrong type",
		file:  "type.cue",
		body:  "package env\nplatform: services: cart: replicas: \"three\"\n",
		wants: []string{"envs/prod/type.cue:2:37", "platform.services.cart.replicas", "conflicting values"},
	}, {
		name:  "out of range",
		file:  "services.cue",
		edit:  [2]string{"checkout: replicas:   3", "checkout: replicas:   0"},
		wants: []string{"envs/prod/services.cue:8:24", "platform.services.checkout.replicas", "invalid value 0 (out of bound >=1)"},
	}, {
		name:  "zone outside the region",
		file:  "zone.cue",
		body:  "package env\nplatform: zones: [\"us-east-1a\", \"us-east-1b\", \"eu-west-1c\"]\n",
		wants: []string{"envs/prod/zone.cue:2:", "platform.zones.2", "eu-west-1c"},
	}, {
		name: "duplicate service name",
		file: "dup.cue",
		body: "package env\nplatform: services: cart: {image: digest: \"sha256:" + strings.Repeat("0", 64) +
			"\", resources: {requests: {cpu: \"1\", memory: \"1Gi\"}, limits: memory: \"1Gi\"}}\n",
		wants: []string{"envs/prod/dup.cue:2:", "platform.services.cart.image.digest", "conflicting values", "envs/shared/catalog.cue"},
	}, {
		name: "object rendered twice",
		file: "twice.cue",
		body: "package env\nplatform: databases: cart: {engine: \"postgres\", replicas: 1, size: \"1Gi\", config: {}, " +
			"image: {repository: \"pg\", digest: \"sha256:" + strings.Repeat("0", 64) + "\"}, " +
			"resources: {requests: {cpu: \"1\", memory: \"1Gi\"}, limits: memory: \"1Gi\"}}\n",
		wants: []string{`ExternalSecret "cart-credentials" is rendered twice`, "svc-cart", "db-cart"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := copyRepo(t)
			path := filepath.Join(root, "envs", "prod", tc.file)
			body := []byte(tc.body)
			if tc.edit[0] != "" {
				old, err := os.ReadFile(path)
				if err != nil || !strings.Contains(string(old), tc.edit[0]) {
					t.Fatalf("%s does not contain %q (%v)", path, tc.edit[0], err)
				}
				body = []byte(strings.Replace(string(old), tc.edit[0], tc.edit[1], 1))
			}
			if err := os.WriteFile(path, body, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Render(context.Background(), Options{Root: root})
			if err == nil {
				t.Fatal("render succeeded; want an error")
			}
			if _, ok := err.(*InputError); !ok {
				t.Errorf("error is %T, want *InputError (exit 2)", err)
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not mention %q:\n%v", want, err)
				}
			}
		})
	}
}
