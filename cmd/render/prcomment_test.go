package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/internal/diff"
)

// fixtureAsProd is a scratch repository whose envs are the golden fixture
// platform, under the names the policies have thresholds for (small as
// prod, small-dr as dr), so a change can introduce a deny.
func fixtureAsProd(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for src, dst := range map[string]string{
		"cue.mod": "cue.mod", "schema": "schema",
		"testdata/golden/envs/small": "envs/prod", "testdata/golden/envs/small-dr": "envs/dr", "testdata/golden/envs/shared": "envs/shared",
	} {
		if err := os.CopyFS(filepath.Join(root, dst), os.DirFS(filepath.Join("..", "..", src))); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// The pull-request comment a reviewer approves from: an added service shown
// by its key fields (and its YAML folded away), a changed list element
// diffed by its identity, each traced to the env line that caused it;
// --fail-on-deny fails on the deny the change introduces.
func TestDiffPRComment(t *testing.T) {
	root := fixtureAsProd(t)
	gitRepo(t, root)
	// A new service with a path, and the fixture's web floor lowered below
	// prod's minimum of 3.
	api := `package env

platform: services: api: {
	image: {repository: "small/api", digest: "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"}
	replicas: 3
	resources: {requests: {cpu: "100m", memory: "128Mi"}, limits: memory: "128Mi"}
	ingress: path: "/api/"
	credentials: API_KEY: {key: "api/vendor", property: "key"}
}
`
	write(t, filepath.Join(root, "envs/prod/api.cue"), api)
	platform := filepath.Join(root, "envs/prod/platform.cue")
	data, err := os.ReadFile(platform)
	if err != nil {
		t.Fatal(err)
	}
	// Found by meaning (web's replicas field, whatever the alignment).
	webAt := strings.Index(string(data), "web:")
	loc := regexp.MustCompile(`replicas:\s+3`).FindIndex(data[max(webAt, 0):])
	if webAt < 0 || loc == nil {
		t.Fatalf("fixture has no web replicas")
	}
	at, end := webAt+loc[0], webAt+loc[1]
	floorLine := strings.Count(string(data[:at]), "\n") + 1
	write(t, platform, string(data[:at])+"replicas: 1"+string(data[end:]))

	code, stdout, stderr := runCLI(t, "diff", "--root", root, "--env", "prod", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r diff.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	apiLine := func(text string) int {
		for i, l := range strings.Split(api, "\n") {
			if strings.Contains(l, text) {
				return i + 1
			}
		}
		t.Fatalf("no %q in api.cue", text)
		return 0
	}
	var sawRollout, sawBehaviour bool
	for _, o := range r.Objects {
		key := map[string]string{}
		for _, k := range o.Key {
			key[k.Label] = k.Value
		}
		switch {
		case o.Status == diff.Added && o.Kind == "Rollout" && o.Name == "api":
			sawRollout = true
			if !strings.HasSuffix(key["image"], "small/api@sha256:"+strings.Repeat("d", 64)) || key["replicas"] != "3" {
				t.Errorf("added Rollout: want its image by digest and replicas as key fields, got %v", o.Key)
			}
			if len(o.Source) == 0 || o.Source[0].File != "envs/prod/api.cue" {
				t.Errorf("added Rollout: want it traced to envs/prod/api.cue first, got %v", o.Source)
			}
		case o.Status == diff.Added && o.Kind == "HorizontalPodAutoscaler":
			if key["HPA min"] != "3" || key["HPA max"] != "9" {
				t.Errorf("added HPA: want its range as key fields, got %v", o.Key)
			}
		case o.Status == diff.Added && o.Kind == "Ingress":
			if key["ingress path"] != "/api/" {
				t.Errorf("added Ingress: want its path, got %v", o.Key)
			}
		case o.Status == diff.Added && o.Kind == "ExternalSecret":
			if key["secret key"] != "API_KEY" {
				t.Errorf("added ExternalSecret: want its keys, got %v", o.Key)
			}
		case o.Status == diff.Changed && o.Kind == "HorizontalPodAutoscaler" && o.Name == "web":
			// The floor is traced to its env line. (The ceiling, a schema
			// default computed from it, is traced to the schema: CUE keeps no
			// expression behind a chosen default.)
			for _, c := range o.Changes {
				if c.Path != "spec.minReplicas" {
					continue
				}
				if len(c.Source) == 0 || c.Source[0].File != "envs/prod/platform.cue" || c.Source[0].Line != floorLine {
					t.Errorf("HPA web %s: want it traced to envs/prod/platform.cue:%d (web's floor) first, got %v", c.Path, floorLine, c.Source)
				}
			}
		case o.Status == diff.Changed && o.Kind == "Distribution":
			for _, c := range o.Changes {
				// The path and what is under it, as the ALB reads a Prefix path.
				if c.Path != "spec.forProvider.orderedCacheBehavior[pathPattern=/api/*]" && c.Path != "spec.forProvider.orderedCacheBehavior[pathPattern=/api]" {
					t.Errorf("Distribution: want only the new behaviours, keyed by their pathPattern, got %s", c)
					continue
				}
				sawBehaviour = true
				if len(c.Source) == 0 || c.Source[0].File != "envs/prod/api.cue" || c.Source[0].Line != apiLine("ingress:") {
					t.Errorf("cache behaviour: want it traced to envs/prod/api.cue:%d (the path) first, got %v", apiLine("ingress:"), c.Source)
				}
			}
		}
	}
	if !sawRollout || !sawBehaviour {
		t.Errorf("want the added Rollout and the new cache behaviour, got %s", stdout)
	}

	code, md, stderr := runCLI(t, "diff", "--root", root, "--env", "prod", "--format", "markdown")
	if code != exitOK {
		t.Fatalf("markdown: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"| key field | value |", "| image |", "<details><summary>YAML</summary>", "replicas.min", "**deny**"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown has no %q:\n%s", want, md)
		}
	}

	if code, _, stderr := runCLI(t, "diff", "--root", root, "--env", "prod", "--fail-on-deny"); code != exitFindings {
		t.Errorf("--fail-on-deny with a new deny: exit %d, want %d (%s)", code, exitFindings, stderr)
	}
}
