package generator

import (
	"path"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// TestKustomizeBuildsEveryApp: Argo CD builds each app folder with kustomize;
// it must see exactly the objects the folder's files hold, unchanged.
func TestKustomizeBuildsEveryApp(t *testing.T) {
	for _, env := range render(t, Options{Root: repoRoot}) {
		fs := filesys.MakeFsInMemory()
		want := map[string][]any{} // app -> objects from the files
		for _, f := range env.Files {
			if err := fs.WriteFile("/"+f.Path, f.Data); err != nil {
				t.Fatal(err)
			}
			app, name := path.Split(f.Path)
			if name == "kustomization.yaml" {
				continue
			}
			var obj any
			if err := yaml.Unmarshal(f.Data, &obj); err != nil {
				t.Fatalf("%s/%s: %v", env.Name, f.Path, err)
			}
			want[strings.TrimSuffix(app, "/")] = append(want[strings.TrimSuffix(app, "/")], obj)
		}
		k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
		for app, objs := range want {
			resMap, err := k.Run(fs, "/"+app)
			if err != nil {
				t.Fatalf("kustomize build %s/%s: %v", env.Name, app, err)
			}
			var got []any
			for _, r := range resMap.Resources() {
				data, err := r.AsYAML()
				if err != nil {
					t.Fatal(err)
				}
				var obj any
				if err := yaml.Unmarshal(data, &obj); err != nil {
					t.Fatal(err)
				}
				got = append(got, obj)
			}
			if diff := cmp.Diff(objs, got); diff != "" {
				t.Errorf("kustomize build %s/%s differs from its files (-files +kustomize):\n%s", env.Name, app, diff)
			}
		}
	}
}
