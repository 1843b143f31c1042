// Tests of the failover runbook as far as it runs offline (schema/dr_app.cue,
// database_app.cue): a standby renders no database before a failover; with
// dr.restore.backupName set (the golden fixture small-dr) it renders the
// ApplicationRestore, nothing the restore brings back already exists in the
// render, and the database that mounts the restored claims syncs after it.
package schema_test

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ecommerce-platform/gitops/generator"
	"github.com/ecommerce-platform/gitops/internal/manifest"
	"github.com/ecommerce-platform/gitops/internal/testrepo"
)

// renderedEnv is one env's objects by app folder.
type renderedEnv map[string][]*manifest.Object

// renderEnvs renders the envs of envsDir: "envs" (the live ones) or
// testdata/golden/envs (the fixture, rendered in a copy laid out as a
// repository so its import of envs/shared is its own catalogue).
func renderEnvs(t *testing.T, envsDir string) map[string]renderedEnv {
	t.Helper()
	root := repoRoot
	if envsDir == testrepo.FixtureEnvs {
		root, envsDir = testrepo.Fixture(t), "envs"
	}
	envs, err := generator.Render(context.Background(), generator.Options{Root: root, EnvsDir: envsDir})
	if err != nil {
		t.Fatalf("render %s: %v", envsDir, err)
	}
	out := map[string]renderedEnv{}
	for _, env := range envs {
		apps := renderedEnv{}
		for _, f := range env.Files {
			if !manifest.IsYAML(f.Path) || manifest.IsKustomization(filepath.Base(f.Path)) {
				continue
			}
			objs, err := manifest.Parse(f.Path, f.Data)
			if err != nil {
				t.Fatalf("env %s: %v", env.Name, err)
			}
			app, _, _ := strings.Cut(filepath.ToSlash(f.Path), "/")
			apps[app] = append(apps[app], objs...)
		}
		out[env.Name] = apps
	}
	return out
}

// each yields every object of kind in the env with its app folder.
func (e renderedEnv) each(kind string, fn func(app string, o *manifest.Object)) {
	for app, objs := range e {
		for _, o := range objs {
			if o.Kind() == kind {
				fn(app, o)
			}
		}
	}
}

// wave is the sync wave of the Application that syncs app folder app.
func (e renderedEnv) wave(t *testing.T, env, app string) int {
	t.Helper()
	for _, o := range e["argocd"] {
		if o.Kind() != "Application" || str(o.Object, "metadata", "name") != env+"-"+app {
			continue
		}
		w, err := strconv.Atoi(str(o.Object, "metadata", "annotations", "argocd.argoproj.io/sync-wave"))
		if err != nil {
			t.Fatalf("Application %s-%s: sync wave: %v", env, app, err)
		}
		return w
	}
	t.Fatalf("no Application for app folder %s in env %s", app, env)
	return 0
}

// claimsMounted are the claims a StatefulSet's pods mount by name.
func claimsMounted(o *manifest.Object) []string {
	var out []string
	for _, v := range list(o.Object, "spec", "template", "spec", "volumes") {
		if m, ok := v.(map[string]any); ok {
			if c := str(m, "persistentVolumeClaim", "claimName"); c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}

// claimsCreated are the claims an object makes: a PVC, or a StatefulSet's
// claim templates (<template>-<set>-<ordinal>).
func claimsCreated(o *manifest.Object) []string {
	ns := str(o.Object, "metadata", "namespace")
	switch o.Kind() {
	case "PersistentVolumeClaim":
		return []string{path.Join(ns, str(o.Object, "metadata", "name"))}
	case "StatefulSet":
		var out []string
		replicas := 1
		switch r := o.Object["spec"].(map[string]any)["replicas"].(type) {
		case int:
			replicas = r
		case float64:
			replicas = int(r)
		}
		for _, tpl := range list(o.Object, "spec", "volumeClaimTemplates") {
			for i := range replicas {
				name := str(tpl.(map[string]any), "metadata", "name") + "-" + str(o.Object, "metadata", "name") + "-" + strconv.Itoa(i)
				out = append(out, path.Join(ns, name))
			}
		}
		return out
	}
	return nil
}

func TestStandbyRestoresBeforeTheDatabaseStarts(t *testing.T) {
	env := "small-dr"
	// The fixture envs import their shared catalogue as envs/shared: render
	// them from a module root where they are envs/.
	e := renderEnvs(t, testrepo.FixtureEnvs)[env]

	var restores []*manifest.Object
	restoreApp := ""
	e.each("ApplicationRestore", func(app string, o *manifest.Object) {
		restores = append(restores, o)
		restoreApp = app
	})
	if len(restores) != 1 {
		t.Fatalf("%s sets dr.restore.backupName: want one ApplicationRestore, got %d", env, len(restores))
	}
	r := restores[0]
	if got := str(r.Object, "spec", "backupName"); got != "shop-cloudsnap-2026-11-01-000000" {
		t.Errorf("ApplicationRestore restores backup %q, want the fixture's dr.restore.backupName", got)
	}
	// Retain skips claims that exist (Stork skipVolumesFromRestoreList); with
	// nothing pre-created (below) it restores them all, and a re-applied
	// restore leaves the running database's volumes alone.
	if got := str(r.Object, "spec", "replacePolicy"); got != "Retain" {
		t.Errorf("replacePolicy %q, want Retain", got)
	}

	// What the restore brings back: the listed claims.
	var restored []string
	for _, item := range list(r.Object, "spec", "includeResources") {
		m := item.(map[string]any)
		if str(m, "kind") != "PersistentVolumeClaim" || str(m, "group") != "core" {
			t.Errorf("includeResources lists %v: want only the databases' claims (group core)", m)
			continue
		}
		restored = append(restored, path.Join(str(m, "namespace"), str(m, "name")))
	}
	if len(restored) == 0 {
		t.Fatal("the ApplicationRestore lists no claims (includeResources): it would restore the whole namespace over what git applies")
	}

	// Nothing it restores pre-exists in the render.
	for app, objs := range e {
		for _, o := range objs {
			for _, c := range claimsCreated(o) {
				if slices.Contains(restored, c) {
					t.Errorf("%s/%s %s creates claim %s, which the restore must bring back: Stork would skip it (Retained)", app, o.Kind(), str(o.Object, "metadata", "name"), c)
				}
			}
		}
	}

	// Each restored claim is mounted by a database that syncs after the restore.
	restoreWave := e.wave(t, env, restoreApp)
	mounted := map[string]bool{}
	e.each("StatefulSet", func(app string, o *manifest.Object) {
		for _, c := range claimsMounted(o) {
			c = path.Join(str(o.Object, "metadata", "namespace"), c)
			if !slices.Contains(restored, c) {
				continue
			}
			mounted[c] = true
			if w := e.wave(t, env, app); w <= restoreWave {
				t.Errorf("StatefulSet %s (app %s, wave %d) mounts restored claim %s but does not sync after the restore (app %s, wave %d)", str(o.Object, "metadata", "name"), app, w, c, restoreApp, restoreWave)
			}
		}
	})
	for _, c := range restored {
		if !mounted[c] {
			t.Errorf("no StatefulSet mounts restored claim %s: the restore brings back a volume nothing uses", c)
		}
	}
}

// Before a failover (envs/dr sets no restore) the standby runs no database
// and holds no claim: nothing a later restore would find in its way.
func TestStandbyRunsNoDatabaseBeforeFailover(t *testing.T) {
	e := renderEnvs(t, "envs")["dr"]
	if e == nil {
		t.Fatal("envs/dr did not render")
	}
	e.each("ApplicationRestore", func(app string, o *manifest.Object) {
		t.Errorf("envs/dr renders ApplicationRestore %s (app %s) without a failover: set dr.restore only in the failover runbook", str(o.Object, "metadata", "name"), app)
	})
	for _, kind := range []string{"StatefulSet", "PersistentVolumeClaim"} {
		e.each(kind, func(app string, o *manifest.Object) {
			t.Errorf("standby dr renders %s %s (app %s) before any failover: the restore would skip or delete it", kind, str(o.Object, "metadata", "name"), app)
		})
	}
}

// fixtureModule is a module root holding cue.mod, schema and the golden
// fixture envs (small, small-dr) under envs/, with files added or edited:
// edit maps a path to a function of its content ("" for a new file).
func fixtureModule(t *testing.T, edit map[string]func(string) string) string {
	t.Helper()
	root := t.TempDir()
	copyTree := func(from, to string) {
		err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(from, p)
			dst := filepath.Join(root, to, rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			if strings.HasSuffix(p, ".go") {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	copyTree(filepath.Join(repoRoot, "cue.mod"), "cue.mod")
	copyTree(filepath.Join(repoRoot, "schema"), "schema")
	copyTree(filepath.Join(repoRoot, "testdata", "golden", "envs"), "envs")
	for rel, fn := range edit {
		p := filepath.Join(root, rel)
		old, _ := os.ReadFile(p)
		if err := os.WriteFile(p, []byte(fn(string(old))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func replaceOnce(t *testing.T, old, new string) func(string) string {
	return func(src string) string {
		if !strings.Contains(src, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(src, old, new, 1)
	}
}

// The failover commit moves the writer: the standby's record takes the
// weight and its database runs; the old primary is fenced (record weight 0,
// no database pod, backups suspended), so a recovering primary neither takes
// users back nor writes its stale copy. Each env's record changes only its
// weight: each region's Crossplane applies its own record alone, so a change
// Route 53 could refuse until the other region's applied (a failover type
// swapped, a set identifier moved) would never apply.
func TestFailoverFencesThePrimary(t *testing.T) {
	root := fixtureModule(t, map[string]func(string) string{
		// small (the primary) after the failover commit: small-dr writes.
		"envs/small/failover.cue": func(string) string {
			return "package env\n\nplatform: dr: writer: \"small-dr\"\n"
		},
	})
	objs := renderAll(t, root, "envs")
	find := func(env, kind, name string) *manifest.Object {
		for _, o := range objs[env] {
			if o.Kind() == kind && o.Name() == name {
				return o
			}
		}
		t.Fatalf("%s renders no %s %s", env, kind, name)
		return nil
	}
	before := renderAll(t, fixtureModule(t, nil), "envs")
	for env, want := range map[string]string{"small": "0", "small-dr": "255"} {
		r := find(env, "Record", "origin-"+env)
		fp := r.Object["spec"].(map[string]any)["forProvider"].(map[string]any)
		if got := fmt.Sprint(value(fp, "weightedRoutingPolicy", "weight")); got != want {
			t.Errorf("%s origin record weighs %v after the failover, want %v", env, got, want)
		}
		var was map[string]any
		for _, o := range before[env] {
			if o.Kind() == "Record" && o.Name() == "origin-"+env {
				was = o.Object["spec"].(map[string]any)["forProvider"].(map[string]any)
			}
		}
		if was == nil {
			t.Fatalf("%s renders no origin record before the failover", env)
		}
		if diff := cmp.Diff(was, fp, cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "weight" })); diff != "" {
			t.Errorf("%s origin record changes more than its weight in the failover (-before +after):\n%s", env, diff)
		}
	}
	for env, want := range map[string]string{"small": "0", "small-dr": "1"} {
		s := find(env, "StatefulSet", "db")
		if got := fmt.Sprint(s.Object["spec"].(map[string]any)["replicas"]); got != want {
			t.Errorf("%s database runs %v replicas, want %v", env, got, want)
		}
	}
	sched := find("small", "ApplicationBackupSchedule", "shop-cloudsnap")
	if got, _ := sched.Object["spec"].(map[string]any)["suspend"].(bool); !got {
		t.Error("the fenced primary's backup schedule is not suspended")
	}
}

// A standby cannot take the writes without restoring the data: CUE refuses
// that half of the failover commit.
func TestFailoverWriterNeedsTheRestore(t *testing.T) {
	root := fixtureModule(t, map[string]func(string) string{
		"envs/small-dr/platform.cue": replaceOnce(t, "\t\trestore: backupName: \"shop-cloudsnap-2026-11-01-000000\"\n", ""),
	})
	_, err := generator.Render(context.Background(), generator.Options{Root: root, EnvsDir: "envs", Envs: []string{"small-dr"}})
	if err == nil || !strings.Contains(err.Error(), "restore.backupName") {
		t.Fatalf("rendered a standby writer without a restore: err %v", err)
	}
}
