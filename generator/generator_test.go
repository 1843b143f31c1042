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

	"github.com/ecommerce-platform/gitops/internal/testrepo"
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
	// Rendered in a copy laid out as a repository (fixture envs as envs/), so
	// the fixture's import of envs/shared is its own catalogue.
	envs := render(t, Options{Root: testrepo.Fixture(t)})
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
	root := testrepo.Fixture(t)
	envs := render(t, Options{Root: root, Envs: []string{"small", "small"}})
	if len(envs) != 1 || envs[0].Name != "small" {
		t.Fatalf("selected small, got %d envs", len(envs))
	}
	_, err := Render(context.Background(), Options{Root: root, Envs: []string{"staging"}})
	if err == nil || !strings.Contains(err.Error(), `unknown env "staging"`) {
		t.Fatalf("want unknown env error, got %v", err)
	}
	_, err = Render(context.Background(), Options{Root: root, Envs: []string{"shared"}})
	if err == nil {
		t.Fatal("envs/shared holds common values and must not render as an env")
	}
}

// TestBadInput: each kind of mistake a pull request can make fails with the
// env file, line and column, and the field. It breaks a copy of the fixture
// envs (internal/testrepo), never the live ones.
func TestBadInput(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0", 64)
	cases := []struct {
		name string
		file string // under envs/small/: written with body
		body string // the whole file
		// set, if given, changes an existing value by its CUE path instead;
		// the error must then point at that value.
		set   func(t *testing.T, root string) string
		wants []string // substrings of the error
	}{{
		name:  "syntax error",
		file:  "broken.cue",
		body:  "package env\nplatform: services: web: replicas: 3 +\n",
		wants: []string{"envs/small/broken.cue:2:40", "expected operand"},
	}, {
		name:  "unknown field",
		file:  "typo.cue",
		body:  "package env\nplatform: services: web: replicaz: 3\n",
		wants: []string{"envs/small/typo.cue:2:26", "platform.services.web.replicaz", "field not allowed"},
	}, {
		name:  "wrong type",
		file:  "type.cue",
		body:  "package env\nplatform: services: web: replicas: \"three\"\n",
		wants: []string{"envs/small/type.cue:2:36", "platform.services.web.replicas", "conflicting values"},
	}, {
		name: "out of range",
		set: func(t *testing.T, root string) string {
			f := testrepo.Find(t, filepath.Join(root, "envs/small/platform.cue"), "platform", "services", "web", "replicas")
			return testrepo.At(root, testrepo.Set(t, f, "0").Value)
		},
		wants: []string{"platform.services.web.replicas", "invalid value 0 (out of bound >=1)"},
	}, {
		name:  "zone outside the region",
		file:  "zone.cue",
		body:  "package env\nplatform: zones: [\"eu-west-1a\", \"eu-west-1b\", \"us-east-1c\"]\n",
		wants: []string{"envs/small/zone.cue:2:", "platform.zones.2", "us-east-1c"},
	}, {
		name: "duplicate service name",
		file: "dup.cue",
		body: "package env\nplatform: services: web: {image: digest: \"" + digest +
			"\", resources: {requests: {cpu: \"1\", memory: \"1Gi\"}, limits: memory: \"1Gi\"}}\n",
		wants: []string{"envs/small/dup.cue:2:", "platform.services.web.image.digest", "conflicting values", "envs/small/platform.cue"},
	}, {
		name:  "duplicate value in the shared catalogue",
		file:  "cpu.cue",
		body:  "package env\nplatform: services: web: resources: requests: cpu: \"2\"\n",
		wants: []string{"envs/small/cpu.cue:2:", "platform.services.web.resources.requests.cpu", "conflicting values", "envs/shared/catalog.cue"},
	}, {
		name: "object rendered twice",
		file: "twice.cue",
		body: "package env\nplatform: databases: web: {engine: \"postgres\", replicas: 1, size: \"1Gi\", config: {}, " +
			"image: {repository: \"pg\", digest: \"" + digest + "\"}, " +
			"resources: {requests: {cpu: \"1\", memory: \"1Gi\"}, limits: memory: \"1Gi\"}}\n",
		wants: []string{`ExternalSecret "web-credentials" is rendered twice`, "svc-web", "db-web"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := testrepo.Fixture(t)
			wants := tc.wants
			if tc.set != nil {
				// The error names the changed value's own position.
				wants = append(wants, tc.set(t, root))
			} else if err := os.WriteFile(filepath.Join(root, "envs", "small", tc.file), []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Render(context.Background(), Options{Root: root})
			if err == nil {
				t.Fatal("render succeeded; want an error")
			}
			if _, ok := err.(*InputError); !ok {
				t.Errorf("error is %T, want *InputError (exit 2)", err)
			}
			for _, want := range wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not mention %q:\n%v", want, err)
				}
			}
		})
	}
}

// Render keeps no CUE value of an env once its files are serialised (the
// evaluation is most of the memory); Sources, which traces files back to
// the CUE, keeps one per file.
func TestRenderReleasesEvaluations(t *testing.T) {
	root := testrepo.Fixture(t)
	for _, keep := range []bool{false, true} {
		results, _, err := renderAll(context.Background(), Options{Root: root, Envs: []string{"small"}}, keep)
		if err != nil {
			t.Fatal(err)
		}
		if len(results) != 1 || len(results[0].env.Files) == 0 {
			t.Fatalf("keepValues %v: %d envs rendered", keep, len(results))
		}
		if got := len(results[0].values); keep != (got > 0) {
			t.Errorf("keepValues %v: %d CUE values kept", keep, got)
		}
	}
}

// TestDefaultJobsBoundedByMemory: small envs evaluate in parallel; envs whose
// estimated evaluation does not fit twice in evalBudget, one at a time.
func TestDefaultJobsBoundedByMemory(t *testing.T) {
	root, write := smallEnvs(t)
	opts := Options{Root: root, EnvsDir: "envs"}
	names := []string{"dr", "prod"}
	if got, want := defaultJobs(opts, names), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("small envs: %d jobs, want GOMAXPROCS (%d)", got, want)
	}
	write("shared/synthetic.cue", 150000) // about 500 services
	if got := defaultJobs(opts, names); got != 1 {
		t.Errorf("large envs: %d jobs, want 1", got)
	}
}

// TestMemoryLimitFollowsTheEstimate: small envs get the floor; large ones
// their estimated peak plus the headroom, once per env evaluated at once.
func TestMemoryLimitFollowsTheEstimate(t *testing.T) {
	root, write := smallEnvs(t)
	limit := func(jobs int) int64 {
		t.Helper()
		got, err := MemoryLimit(Options{Root: root, Jobs: jobs})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := limit(0); got != memoryLimitFloor {
		t.Errorf("small envs: limit %d, want the floor %d", got, memoryLimitFloor)
	}
	write("shared/synthetic.cue", 200000) // about 650 services: one env at a time
	peak := int64(209000 * liveBytesPerInputByte)
	if got, want := limit(0), peak+peak*headroomPercent/100; got != want {
		t.Errorf("large envs: limit %d, want %d (the estimate plus headroom)", got, want)
	}
	if got, want := limit(2), 2*(peak+peak*headroomPercent/100); got != want {
		t.Errorf("large envs, --jobs 2: limit %d, want %d (both envs' estimates)", got, want)
	}
	if _, err := MemoryLimit(Options{Root: root, Envs: []string{"nosuch"}}); err == nil {
		t.Error("an unknown env: no error")
	}
}

// smallEnvs is a repository of two envs the size of the real platform's;
// write(rel, size) adds or replaces a file of envs/.
func smallEnvs(t *testing.T) (root string, write func(rel string, size int)) {
	root = t.TempDir()
	write = func(rel string, size int) { writeSized(t, filepath.Join(root, "envs", rel), size) }
	write("prod/prod.cue", 5000)
	write("dr/dr.cue", 5000)
	write("shared/catalog.cue", 4000)
	return root, write
}

// writeSized writes size bytes to path, creating its folder: an env of a
// given size for the memory estimates.
func writeSized(t *testing.T, path string, size int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("x", size)), 0o644); err != nil {
		t.Fatal(err)
	}
}
