package generator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureRepo copies what a render reads into a temporary root, with the
// golden fixture platform (testdata/golden/envs: small and its standby
// small-dr) as its envs/. Tests break that copy, never the live envs/.
func fixtureRepo(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for src, to := range map[string]string{"cue.mod": "cue.mod", "schema": "schema", "testdata/golden/envs": "envs"} {
		if err := os.CopyFS(filepath.Join(dst, to), os.DirFS(filepath.Join(repoRoot, src))); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// sharedCatalogue gives the fixture the live layout: a service api in
// envs/shared/catalog.cue that both envs take, each env giving it a
// replica floor in its own services.cue.
const sharedCatalogue = `package shared

services: api: {
	image: {repository: "small/api", digest: "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"}
	port: 8081
	resources: {requests: {cpu: "100m", memory: "128Mi"}, limits: memory: "128Mi"}
	ingress: path: "/api"
	database: "db"
}
`

func withShared(t *testing.T, root, catalogue string, floors map[string]int) {
	t.Helper()
	// The fixture's own catalogue stays, after the test's (whose lines the
	// expected messages name).
	fixture, err := os.ReadFile(filepath.Join(root, "envs/shared/catalog.cue"))
	if err != nil {
		t.Fatal(err)
	}
	_, own, _ := strings.Cut(string(fixture), "package shared\n")
	write(t, root, "envs/shared/catalog.cue", catalogue+own)
	for _, env := range []string{"small", "small-dr"} {
		body := "package env\n\nimport \"github.com/ecommerce-platform/gitops/envs/shared\"\n\nplatform: services: shared.services\n"
		if n, ok := floors[env]; ok {
			body += fmt.Sprintf("\nplatform: services: api: replicas: %d\n", n)
		}
		write(t, root, "envs/"+env+"/services.cue", body)
	}
}

func write(t *testing.T, root, rel, body string) {
	t.Helper()
	path := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lineOf is the 1-based line of the first line of root/rel containing
// text after the first line containing after (found by meaning, not by a
// hard-coded number).
func lineOf(t *testing.T, root, rel, after, text string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	seen := after == ""
	for i, l := range strings.Split(string(data), "\n") {
		if !seen && strings.Contains(l, after) {
			seen = true
		}
		if seen && strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q after %q", rel, text, after)
	return 0
}

// TestMistakesNameTheEnvLine: for each mistake a person makes in envs/,
// the first line of the error names the env file and line they wrote (or
// must write), says what is wrong and the fix; cascades from output. and
// the diagram are not shown.
func TestMistakesNameTheEnvLine(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, root string)
		// first returns the expected start of the first line.
		first func(t *testing.T, root string) string
		wants []string // substrings of the first line
		once  string   // appears exactly once in the whole error
	}{{
		name: "a replica floor missing in one env",
		setup: func(t *testing.T, root string) {
			withShared(t, root, sharedCatalogue, map[string]int{"small": 3})
		},
		// Where it must be written: beside small-dr's other floors.
		first: func(t *testing.T, root string) string {
			return fmt.Sprintf("env small-dr: envs/small-dr/platform.cue:%d:", lineOf(t, root, "envs/small-dr/platform.cue", "web:", "replicas:"))
		},
		wants: []string{"platform.services.api: replicas is not set", "add `api: replicas: ...` there", "autoscaler's floor"},
	}, {
		name: "a service the catalogue lacks (misspelt)",
		setup: func(t *testing.T, root string) {
			withShared(t, root, sharedCatalogue, map[string]int{"small": 3, "small-dr": 2})
			write(t, root, "envs/small-dr/typo.cue", "package env\n\nplatform: services: apu: replicas: 2\n")
		},
		first: func(t *testing.T, root string) string { return "env small-dr: envs/small-dr/typo.cue:3:" },
		wants: []string{`platform.services.apu: "apu" is not in envs/shared/catalog.cue`, `did you mean "api"?`},
	}, {
		name: "a database the env lacks (misspelt)",
		setup: func(t *testing.T, root string) {
			write(t, root, "envs/small-dr/typo.cue", "package env\n\nplatform: databases: dbb: {size: \"10Gi\"}\n")
		},
		first: func(t *testing.T, root string) string { return "env small-dr: envs/small-dr/typo.cue:3:" },
		wants: []string{`platform.databases.dbb: "dbb" is not in envs/small-dr/platform.cue`, `did you mean "db"?`},
	}, {
		name: "a database that does not exist, named in the catalogue",
		setup: func(t *testing.T, root string) {
			withShared(t, root, strings.Replace(sharedCatalogue, `database: "db"`, `database: "wishlist-db"`, 1),
				map[string]int{"small": 3, "small-dr": 2})
		},
		// A mistake in envs/shared: reported once, at the shared file, for both envs.
		first: func(t *testing.T, root string) string {
			return fmt.Sprintf("env small, small-dr: envs/shared/catalog.cue:%d:", lineOf(t, root, "envs/shared/catalog.cue", "", "wishlist-db"))
		},
		wants: []string{"platform.services.api.database: no database of this env has that name (it has: db)", "fix the name, or add the database"},
		once:  "envs/shared/catalog.cue",
	}, {
		name: "a service name that is not a DNS label",
		setup: func(t *testing.T, root string) {
			withShared(t, root, strings.Replace(sharedCatalogue, "services: api:", "services: Api:", 1), nil)
		},
		first: func(t *testing.T, root string) string {
			return fmt.Sprintf("env small, small-dr: envs/shared/catalog.cue:%d:", lineOf(t, root, "envs/shared/catalog.cue", "", "Api:"))
		},
		wants: []string{"platform.services.Api.name: a service name must be a DNS label", "rename it"},
		once:  "envs/shared/catalog.cue",
	}, {
		name: "a value set twice, differently",
		setup: func(t *testing.T, root string) {
			withShared(t, root, sharedCatalogue, map[string]int{"small": 3, "small-dr": 2})
			write(t, root, "envs/small-dr/dup.cue", "package env\n\nplatform: services: api: port: 9090\n")
		},
		first: func(t *testing.T, root string) string { return "env small-dr: envs/" },
		wants: []string{"platform.services.api.port: conflicting values", "envs/small-dr/dup.cue:3:", "envs/shared/catalog.cue:", "keep one"},
	}, {
		name: "a misspelt top-level field",
		setup: func(t *testing.T, root string) {
			write(t, root, "envs/small/typo.cue", "package env\n\nplatfrom: services: web: replicas: 4\n")
		},
		first: func(t *testing.T, root string) string { return "env small: envs/small/typo.cue:3:1: platfrom:" },
		wants: []string{"an env sets only platform, output", `did you mean "platform"?`},
	}, {
		name: "two services on one ingress path",
		setup: func(t *testing.T, root string) {
			withShared(t, root, strings.Replace(sharedCatalogue, `path: "/api"`, `path: "/"`, 1), map[string]int{"small": 3, "small-dr": 2})
		},
		first: func(t *testing.T, root string) string { return "env small: envs/small/platform.cue:" },
		wants: []string{"platform.services.web: ingress path / is claimed by web and api", "give each service its own ingress path"},
	}, {
		name: "an ingress path over another service's asset folder",
		setup: func(t *testing.T, root string) {
			withShared(t, root, strings.Replace(sharedCatalogue, `path: "/api"`, `path: "/static/"`, 1), map[string]int{"small": 3, "small-dr": 2})
		},
		// Only small's web declares the folder /static/ (its cache behaviour).
		first: func(t *testing.T, root string) string { return "env small: envs/small/platform.cue:" },
		wants: []string{"asset folder /static/ of web is under api's ingress path /static/: the ALB sends it to api"},
	}, {
		name: "a shared path that reads the session",
		setup: func(t *testing.T, root string) {
			withShared(t, root, strings.Replace(sharedCatalogue, `ingress: path: "/api"`, `ingress: {path: "/api", cache: {shared: true, session: cookies: ["session"]}}`, 1), map[string]int{"small": 3, "small-dr": 2})
		},
		first: func(t *testing.T, root string) string { return "env small, small-dr: envs/shared/catalog.cue:" },
		wants: []string{"a shared path reads no session (session: session)", "make the path personal (shared: false) or drop the session"},
	}, {
		name: "a CachePolicy id for a path that is not shared",
		setup: func(t *testing.T, root string) {
			write(t, root, "envs/small/cache.cue", "package env\n\nplatform: aws: edge: cdn: cachePolicyIds: web: \"0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e\"\n")
		},
		// Located at the env's aws block (CUE keeps no position for a map key).
		first: func(t *testing.T, root string) string { return "env small: envs/small/" },
		wants: []string{"aws.edge.cdn.cachePolicyIds.web: web has no shared ingress path, so it has no CachePolicy: remove the id"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := fixtureRepo(t)
			tc.setup(t, root)
			_, err := Render(context.Background(), Options{Root: root})
			if err == nil {
				t.Fatal("render succeeded; want an error")
			}
			if _, ok := err.(*InputError); !ok {
				t.Errorf("error is %T, want *InputError (exit 2)", err)
			}
			msg := err.Error()
			first, _, _ := strings.Cut(msg, "\n")
			if want := tc.first(t, root); !strings.HasPrefix(first, want) {
				t.Errorf("first line does not start with %q:\n%s", want, msg)
			}
			for _, want := range tc.wants {
				if !strings.Contains(first, want) {
					t.Errorf("first line does not say %q:\n%s", want, msg)
				}
			}
			for _, cascade := range []string{"output.", "schema/graph.cue", "diagram.", "(no position)"} {
				if strings.Contains(msg, cascade) {
					t.Errorf("error shows a cascade (%q):\n%s", cascade, msg)
				}
			}
			if tc.once != "" && strings.Count(msg, "\nenv ") > 0 {
				t.Errorf("a mistake in a shared file is reported once, got one per env:\n%s", msg)
			}
		})
	}
}

func TestClosest(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"storefrnt", "storefront"}, {"platfrom", "platform"}, {"wishlist", ""}, {"cart", "cart"},
	} {
		if got := closest(tc.name, []string{"storefront", "catalog", "cart", "platform", "output"}); got != tc.want {
			t.Errorf("closest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
