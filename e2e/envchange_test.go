package e2e_test

import (
	"bytes"
	"fmt"
	envedit "github.com/ecommerce-platform/gitops/internal/testrepo"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
)

// TestEnvChangeUpdatesExactlyTheDiff renders prod twice from a copy of the
// repository's inputs, the second time with one replica count bumped, applies
// the first render and then the second, and checks that exactly the objects
// whose rendered content differs changed on the server: no more (a noisy
// render or apply would touch others), no fewer (the change must land).
func TestEnvChangeUpdatesExactlyTheDiff(t *testing.T) {
	const env = "prod"
	root := testrepo.Root(t)
	tmp := t.TempDir()
	render := testrepo.RenderCLI(t, root, tmp)

	base := filepath.Join(tmp, "base")
	changed := filepath.Join(tmp, "changed")
	for _, dst := range []string{base, changed} {
		for _, dir := range []string{"cue.mod", "envs", "schema"} {
			testrepo.CopyDir(t, filepath.Join(root, dir), filepath.Join(dst, dir))
		}
	}
	// The cart service's replica floor, found by its CUE path, not its text.
	services := filepath.Join(changed, "envs", env, "services.cue")
	field := envedit.Find(t, services, "platform", "services", "cart", "replicas")
	oldReplicas, err := strconv.Atoi(field.Text)
	if err != nil {
		t.Fatalf("%s: cart replicas %q: %v", services, field.Text, err)
	}
	newReplicas := oldReplicas + 1
	envedit.Set(t, field, strconv.Itoa(newReplicas))
	for _, dst := range []string{base, changed} {
		testrepo.Run(t, dst, render, "--root", dst, "--env", env)
	}
	files := changedFiles(t, filepath.Join(base, "rendered", env), filepath.Join(changed, "rendered", env))
	if len(files) == 0 {
		t.Fatalf("bumping cart replicas %d -> %d changed no rendered file", oldReplicas, newReplicas)
	}
	t.Logf("cart replicas %d -> %d changed %d rendered files: %s", oldReplicas, newReplicas, len(files), strings.Join(files, ", "))

	s := newServer(t, envVersion(t, testrepo.Root(t), env))
	before := s.sync(t, base, filepath.Join(base, "rendered", env))
	after := s.sync(t, changed, filepath.Join(changed, "rendered", env))
	if t.Failed() {
		return
	}

	// What the diff says: objects whose applied body differs (or is new).
	prev := before.ByID()
	var want []string
	for _, a := range after.Applied {
		if b, ok := prev[a.ID]; !ok || !bytes.Equal(a.Body, b.Body) {
			want = append(want, a.ID)
		}
	}
	next := after.ByID()
	for id := range prev {
		if _, ok := next[id]; !ok {
			t.Fatalf("%s is gone from the changed render; this test does not prune, so it cannot check removals", id)
		}
	}
	// What the server says: objects whose stored content moved, and the
	// subset whose generation (spec) moved.
	var gotContent, gotGen, rewritten []string
	for _, a := range after.Applied {
		b := prev[a.ID]
		switch {
		case !bytes.Equal(a.Live, b.Live):
			gotContent = append(gotContent, a.ID)
		case a.ResourceVersion != b.ResourceVersion:
			rewritten = append(rewritten, a.ID)
		}
		if a.Generation != b.Generation {
			gotGen = append(gotGen, a.ID)
		}
	}
	slices.Sort(want)
	slices.Sort(gotContent)
	slices.Sort(gotGen)
	want, gotContent, gotGen = slices.Compact(want), slices.Compact(gotContent), slices.Compact(gotGen)
	t.Logf("diff says %d objects change: %s", len(want), strings.Join(want, ", "))
	if !slices.Equal(want, gotContent) {
		t.Errorf("objects changed on the server differ from the diff:\n  diff:   %s\n  server: %s", strings.Join(want, ", "), strings.Join(gotContent, ", "))
	}
	for _, id := range gotGen {
		if !slices.Contains(want, id) {
			t.Errorf("%s changed generation but is not in the diff", id)
		}
	}
	if len(gotGen) == 0 {
		t.Errorf("a replica change moved no object's generation")
	}
	if len(rewritten) > 0 {
		t.Logf("the server rewrote %d objects with identical content (new resourceVersion only): %s", len(rewritten), strings.Join(rewritten, ", "))
	}

	// And the change itself landed where the render put it.
	var rollout *unstructured.Unstructured
	for _, a := range after.Applied {
		if strings.HasPrefix(a.ID, "Rollout.argoproj.io ") && a.Name == "cart" {
			rollout, err = s.applier.Client().Resource(a.GVR).Namespace(a.Namespace).Get(t.Context(), a.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if rollout == nil {
		t.Fatal("no cart Rollout in the render")
	}
	if got, _, _ := unstructured.NestedInt64(rollout.Object, "spec", "replicas"); got != int64(newReplicas) {
		t.Errorf("cart Rollout spec.replicas on the server = %d, want %d", got, newReplicas)
	}
}

// changedFiles lists the files that differ between two rendered env folders.
func changedFiles(t *testing.T, a, b string) []string {
	t.Helper()
	read := func(dir string) map[string][]byte {
		files := map[string][]byte{}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			files[rel], err = os.ReadFile(path)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	fa, fb := read(a), read(b)
	var out []string
	for name, data := range fb {
		if !bytes.Equal(fa[name], data) {
			out = append(out, name)
		}
	}
	for name := range fa {
		if _, ok := fb[name]; !ok {
			out = append(out, fmt.Sprintf("%s (removed)", name))
		}
	}
	slices.Sort(out)
	return out
}
