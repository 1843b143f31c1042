package generator

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/testrepo"
)

func TestSourcesTraceFieldsToCUE(t *testing.T) {
	root := testrepo.Fixture(t)
	out := filepath.Join(root, "rendered")
	env := filepath.Join(root, "envs", "small", "platform.cue")
	replicas := testrepo.Find(t, env, "platform", "services", "web", "replicas")
	cpu := testrepo.Find(t, filepath.Join(root, "envs", "shared", "catalog.cue"), "web", "resources", "requests", "cpu")
	envs := render(t, Options{Root: root})
	if err := Write(out, envs, true); err != nil {
		t.Fatal(err)
	}
	idx, err := Sources(context.Background(), Options{Root: root}, out)
	if err != nil {
		t.Fatal(err)
	}
	rollout := filepath.Join(out, "small/svc-web/rollout-web.yaml")
	first := func(srcs []finding.Source) finding.Source {
		if len(srcs) == 0 {
			return finding.Source{}
		}
		return srcs[0]
	}

	// A value set in an env file points at that file and line first.
	got := idx.Lookup(rollout, []string{"spec", "replicas"})
	want := finding.Source{File: "envs/small/platform.cue", Line: replicas.Label.Line, Column: replicas.Label.Column}
	if diff := cmp.Diff(want, first(got)); diff != "" {
		t.Errorf("spec.replicas (-want +got):\n%s\nall: %v", diff, got)
	}
	// ...and keeps the schema lines it was unified with, after it.
	if len(got) < 2 || got[len(got)-1].File[:7] != "schema/" {
		t.Errorf("spec.replicas: want schema positions after the env one, got %v", got)
	}

	// A value from a schema default points at the schema.
	got = idx.Lookup(rollout, []string{"spec", "strategy", "blueGreen", "scaleDownDelaySeconds"})
	if f := first(got); f.File != "schema/platform.cue" {
		t.Errorf("scaleDownDelaySeconds: want the schema default first, got %v", got)
	}

	// A list index is followed too.
	got = idx.Lookup(rollout, []string{"spec", "template", "spec", "containers", "0", "resources", "requests", "cpu"})
	want = finding.Source{File: "envs/shared/catalog.cue", Line: cpu.Label.Line, Column: cpu.Label.Column}
	if diff := cmp.Diff(want, first(got)); diff != "" {
		t.Errorf("containers[0] cpu: want the catalogue line first (-want +got):\n%s\nall: %v", diff, got)
	}

	// A hand-edited file has no CUE behind it.
	data, err := os.ReadFile(rollout)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rollout, append(data, "# edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := idx.Lookup(rollout, []string{"spec", "replicas"}); got != nil {
		t.Errorf("hand-edited file: want no source, got %v", got)
	}
	// So has a file outside the output folder.
	if got := idx.Lookup(filepath.Join(root, "elsewhere.yaml"), []string{"spec"}); got != nil {
		t.Errorf("file outside rendered/: want no source, got %v", got)
	}
}
