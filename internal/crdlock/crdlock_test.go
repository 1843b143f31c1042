package crdlock

import (
	"archive/zip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The committed lock parses, and the team's ../shared/crds (where this
// machine has it) holds exactly what it pins of the sources fetched by URL,
// which no test machine reaches: the default needs no network but the Go
// module proxy. Module sources may be newer than the team's copy (Argo CD
// is): they come from the proxy.
func TestRepositoryLock(t *testing.T) {
	file, err := Find(".")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	shared := SharedDir(file)
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("no %s here: nothing to compare", shared)
	}
	byURL := &Lock{File: lock.File}
	for _, src := range lock.Sources {
		if src.Module == "" {
			byURL.Sources = append(byURL.Sources, src)
		}
	}
	if len(byURL.Sources) == 0 {
		t.Fatal("the lock has no source fetched by URL: nothing to compare")
	}
	res, err := byURL.Resolve(context.Background(), Options{Dir: shared, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unlocked) > 0 {
		t.Errorf("files of %s in locked folders that the lock does not name: %v", shared, res.Unlocked)
	}
}

// fixture is a lock of two sources, one fetched by URL and one from a
// module, with the files' content.
type fixture struct {
	lock  *Lock
	files map[string]string // local name -> content
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	files := map[string]string{
		"tools/widgets.yaml": "kind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n",
		"tools/gadgets.yaml": "kind: CustomResourceDefinition\nmetadata: {name: gadgets.example.com}\n",
		"mods/things.yaml":   "kind: CustomResourceDefinition\nmetadata: {name: things.example.com}\n",
	}
	sum := func(local string) string { return hashBytes([]byte(files[local])) }
	text := fmt.Sprintf(`sources:
  - name: tools
    repository: github.com/example/tools
    version: v1.2.3
    files:
      - {path: config/crds/widgets.yaml, sha256: %s}
      - {path: config/crds/gadgets.yaml, sha256: %s}
  - name: mods
    repository: github.com/example/mods
    version: v1.0.0
    module: example.com/mods
    files:
      - {path: manifests/crds/things.yaml, sha256: %s}
`, sum("tools/widgets.yaml"), sum("tools/gadgets.yaml"), sum("mods/things.yaml"))
	lock, err := Parse("test.lock.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return fixture{lock, files}
}

// folder writes the fixture's files as a CRD folder.
func (f fixture) folder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for local, content := range f.files {
		writeFile(t, filepath.Join(dir, local), content)
	}
	return dir
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// treeFiles lists a verified folder: local name -> content.
func treeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == completeMark {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameFiles(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("verified folder has %d files, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("verified folder: %s = %q, want %q", k, got[k], v)
		}
	}
}

func wantError(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not name %q:\n%v", p, err)
		}
	}
}

// A folder given (--crds) is verified and its locked files, only those,
// make the verified folder; an extra file in a locked folder is reported.
func TestGivenFolderIsVerifiedAndUsed(t *testing.T) {
	f := newFixture(t)
	dir := f.folder(t)
	writeFile(t, filepath.Join(dir, "tools", "unlocked.yaml"), "kind: CustomResourceDefinition\n")
	writeFile(t, filepath.Join(dir, "elsewhere", "other.yaml"), "kind: CustomResourceDefinition\n")
	res, err := f.lock.Resolve(context.Background(), Options{Dir: dir, CacheDir: t.TempDir(), Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	sameFiles(t, treeFiles(t, res.Dir), f.files)
	if !slices.Equal(res.Unlocked, []string{"tools/unlocked.yaml"}) {
		t.Errorf("unlocked = %v, want [tools/unlocked.yaml]", res.Unlocked)
	}
	sumsOfTree(t, res)
}

// sumsOfTree checks Result.SHA256: every file of the folder, its content's
// sha256, and nothing else.
func sumsOfTree(t *testing.T, res Result) {
	t.Helper()
	files := treeFiles(t, res.Dir)
	if len(res.SHA256) != len(files) {
		t.Errorf("SHA256 has %d files, the folder %d", len(res.SHA256), len(files))
	}
	for name, content := range files {
		if got, want := res.SHA256[name], hashBytes([]byte(content)); got != want {
			t.Errorf("SHA256[%s] = %q, the file's is %s", name, got, want)
		}
	}
}

func TestGivenFolderMissingFile(t *testing.T) {
	f := newFixture(t)
	dir := f.folder(t)
	os.Remove(filepath.Join(dir, "tools", "gadgets.yaml"))
	_, err := f.lock.Resolve(context.Background(), Options{Dir: dir, CacheDir: t.TempDir()})
	wantError(t, err, filepath.Join(dir, "tools", "gadgets.yaml")+": missing", "test.lock.yaml", "github.com/example/tools v1.2.3 config/crds/gadgets.yaml")
}

func TestGivenFolderHashMismatch(t *testing.T) {
	f := newFixture(t)
	dir := f.folder(t)
	changed := f.files["tools/widgets.yaml"] + "# edited\n"
	writeFile(t, filepath.Join(dir, "tools", "widgets.yaml"), changed)
	_, err := f.lock.Resolve(context.Background(), Options{Dir: dir, CacheDir: t.TempDir()})
	wantError(t, err, filepath.Join(dir, "tools", "widgets.yaml"), hashBytes([]byte(changed)), hashBytes([]byte(f.files["tools/widgets.yaml"])), "test.lock.yaml wants")
}

func TestGivenFolderThatIsNotThere(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := newFixture(t).lock.Resolve(context.Background(), Options{Dir: missing, CacheDir: t.TempDir()})
	wantError(t, err, missing, "not a readable directory", EnvDir)
}

// The verification stamps skip re-hashing unchanged files, never a change:
// an edit after a successful run fails the next one.
func TestStampsDoNotHideAnEdit(t *testing.T) {
	f := newFixture(t)
	dir := f.folder(t)
	cache := t.TempDir()
	if _, err := f.lock.Resolve(context.Background(), Options{Dir: dir, CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "mods", "things.yaml")
	writeFile(t, file, strings.Replace(f.files["mods/things.yaml"], "things", "thinks", 1)) // same size
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(file, later, later); err != nil {
		t.Fatal(err)
	}
	_, err := f.lock.Resolve(context.Background(), Options{Dir: dir, CacheDir: cache})
	wantError(t, err, file, "sha256")
}

// upstream serves the fixture's URL files as raw.githubusercontent.com
// does (<owner>/<repo>/<version>/<path>), counting requests.
func upstream(t *testing.T, f fixture, serve map[string]string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	if serve == nil {
		serve = map[string]string{
			"/example/tools/v1.2.3/config/crds/widgets.yaml": f.files["tools/widgets.yaml"],
			"/example/tools/v1.2.3/config/crds/gadgets.yaml": f.files["tools/gadgets.yaml"],
		}
	}
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, ok := serve[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// goProxy lays out a GOPROXY=file:// module proxy with one module version
// carrying files (a go.mod among them, else one naming only the module), and points the go command at it with its own module cache.
func goProxy(t *testing.T, module, version string, files map[string]string) {
	t.Helper()
	root := t.TempDir()
	vdir := filepath.Join(root, filepath.FromSlash(module), "@v")
	writeFile(t, filepath.Join(vdir, "list"), version+"\n")
	writeFile(t, filepath.Join(vdir, version+".info"), fmt.Sprintf(`{"Version":%q,"Time":"2026-01-01T00:00:00Z"}`, version))
	if files["go.mod"] == "" {
		files["go.mod"] = "module " + module + "\n"
	}
	writeFile(t, filepath.Join(vdir, version+".mod"), files["go.mod"])
	zf, err := os.Create(filepath.Join(vdir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	for name, content := range files {
		w, err := zw.Create(module + "@" + version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(w, content)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zf.Close()
	t.Setenv("GOPROXY", "file://"+filepath.ToSlash(root))
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOFLAGS", "-modcacherw") // so t.TempDir can remove the module cache
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GONOSUMDB", "")
	t.Setenv("GOPRIVATE", "")
	t.Setenv("GONOPROXY", "")
	t.Setenv("GOTOOLCHAIN", "local")
}

// With no folder given, the cache is filled: URL sources from the base URL
// (a local server standing in for raw.githubusercontent.com), module
// sources with go mod download (a file:// module proxy standing in for the
// Go module proxy). The next run reads the cache and fetches nothing.
func TestFetchFillsTheCache(t *testing.T) {
	f := newFixture(t)
	srv, hits := upstream(t, f, nil)
	goProxy(t, "example.com/mods", "v1.0.0", map[string]string{"manifests/crds/things.yaml": f.files["mods/things.yaml"]})
	cache := t.TempDir()
	opts := Options{CacheDir: cache, BaseURL: srv.URL + "/"}
	res, err := f.lock.Resolve(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	sameFiles(t, treeFiles(t, res.Dir), f.files)
	sumsOfTree(t, res)
	slices.Sort(res.Fetched)
	if want := []string{"mods/things.yaml", "tools/gadgets.yaml", "tools/widgets.yaml"}; !slices.Equal(res.Fetched, want) {
		t.Errorf("fetched %v, want %v", res.Fetched, want)
	}
	if _, err := os.Stat(filepath.Join(cache, "sha256", f.lock.Sources[0].Files[0].SHA256)); err != nil {
		t.Errorf("the cache is not by content: %v", err)
	}
	before := hits.Load()
	opts.Offline = true
	again, err := f.lock.Resolve(context.Background(), opts)
	if err != nil || again.Dir != res.Dir || len(again.Fetched) > 0 || hits.Load() != before {
		t.Errorf("second run: %+v, %v, %d more requests; want the same folder from the cache", again, err, hits.Load()-before)
	}
	// Deleting the cache is safe: the next run fetches again.
	if err := os.RemoveAll(cache); err != nil {
		t.Fatal(err)
	}
	opts.Offline = false
	if _, err := f.lock.Resolve(context.Background(), opts); err != nil {
		t.Fatalf("after deleting the cache: %v", err)
	}
}

// A module whose go.mod needs a newer Go than the one running (Argo CD v3.6
// needs 1.27) is read all the same: its files are data, and the go command
// downloads it before it refuses to extract it.
func TestFetchReadsAModuleThatNeedsANewerGo(t *testing.T) {
	f := newFixture(t)
	srv, _ := upstream(t, f, nil)
	goProxy(t, "example.com/mods", "v1.0.0", map[string]string{
		"go.mod":                     "module example.com/mods\n\ngo 1.999\n",
		"manifests/crds/things.yaml": f.files["mods/things.yaml"],
	})
	res, err := f.lock.Resolve(context.Background(), Options{CacheDir: t.TempDir(), BaseURL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	sameFiles(t, treeFiles(t, res.Dir), f.files)
}

// The base URL comes from $GITOPS_CRD_BASE_URL when Options leave it empty.
func TestBaseURLFromEnvironment(t *testing.T) {
	f := newFixture(t)
	f.lock.Sources = f.lock.Sources[:1]
	srv, _ := upstream(t, f, nil)
	t.Setenv(EnvBaseURL, srv.URL)
	if _, err := f.lock.Resolve(context.Background(), Options{CacheDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
}

func TestFetchFailureNamesTheFileAndURL(t *testing.T) {
	f := newFixture(t)
	f.lock.Sources = f.lock.Sources[:1]
	srv, _ := upstream(t, f, map[string]string{
		"/example/tools/v1.2.3/config/crds/widgets.yaml": f.files["tools/widgets.yaml"],
	})
	_, err := f.lock.Resolve(context.Background(), Options{CacheDir: t.TempDir(), BaseURL: srv.URL})
	wantError(t, err, "tools/gadgets.yaml", srv.URL+"/example/tools/v1.2.3/config/crds/gadgets.yaml", "404 Not Found")
	if strings.Contains(err.Error(), "widgets") {
		t.Errorf("the file that was served is reported: %v", err)
	}
}

func TestFetchedContentMismatch(t *testing.T) {
	f := newFixture(t)
	f.lock.Sources = f.lock.Sources[:1]
	tampered := "kind: Tampered\n"
	srv, _ := upstream(t, f, map[string]string{
		"/example/tools/v1.2.3/config/crds/widgets.yaml": tampered,
		"/example/tools/v1.2.3/config/crds/gadgets.yaml": f.files["tools/gadgets.yaml"],
	})
	cache := t.TempDir()
	_, err := f.lock.Resolve(context.Background(), Options{CacheDir: cache, BaseURL: srv.URL})
	wantError(t, err, "tools/widgets.yaml", hashBytes([]byte(tampered)), f.lock.Sources[0].Files[0].SHA256)
	if _, statErr := os.Stat(filepath.Join(cache, "sha256", hashBytes([]byte(tampered)))); statErr == nil {
		t.Error("a file that failed verification is in the cache")
	}
}

func TestModuleFetchFailure(t *testing.T) {
	f := newFixture(t)
	f.lock.Sources = f.lock.Sources[1:]
	goProxy(t, "example.com/mods", "v0.9.0", map[string]string{}) // not the locked version
	_, err := f.lock.Resolve(context.Background(), Options{CacheDir: t.TempDir()})
	wantError(t, err, "go mod download example.com/mods@v1.0.0")
}

func TestModuleWithoutTheFile(t *testing.T) {
	f := newFixture(t)
	f.lock.Sources = f.lock.Sources[1:]
	goProxy(t, "example.com/mods", "v1.0.0", map[string]string{"README.md": "no CRDs here\n"})
	_, err := f.lock.Resolve(context.Background(), Options{CacheDir: t.TempDir()})
	wantError(t, err, "mods/things.yaml", "example.com/mods@v1.0.0 has no manifests/crds/things.yaml")
}

// Fallback files (../shared/crds) are taken where they match; a stale one
// is not an error but is fetched instead.
func TestFallbackUsedWhereItMatches(t *testing.T) {
	f := newFixture(t)
	f.lock.Sources = f.lock.Sources[:1]
	dir := f.folder(t)
	writeFile(t, filepath.Join(dir, "tools", "gadgets.yaml"), "stale\n")
	srv, hits := upstream(t, f, nil)
	res, err := f.lock.Resolve(context.Background(), Options{CacheDir: t.TempDir(), Fallback: dir, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Fetched, []string{"tools/gadgets.yaml"}) || hits.Load() != 1 {
		t.Errorf("fetched %v in %d requests, want only the stale file", res.Fetched, hits.Load())
	}
	if got := treeFiles(t, res.Dir)["tools/gadgets.yaml"]; got != f.files["tools/gadgets.yaml"] {
		t.Errorf("the stale fallback file was used: %q", got)
	}
}

func TestOfflineWithoutCache(t *testing.T) {
	f := newFixture(t)
	_, err := f.lock.Resolve(context.Background(), Options{CacheDir: t.TempDir(), Offline: true})
	wantError(t, err, "tools/widgets.yaml", "offline", "render crds fetch")
}

// Parallel runs (go test runs packages at once) share the cache safely.
func TestConcurrentResolve(t *testing.T) {
	f := newFixture(t)
	dir := f.folder(t)
	cache := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = f.lock.Resolve(context.Background(), Options{Fallback: dir, CacheDir: cache, Offline: true})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// Lock entries the tools do not understand are errors, never skipped.
func TestBadLockEntries(t *testing.T) {
	const sum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	entry := func(extra string) string {
		return "sources:\n  - name: tools\n    repository: github.com/example/tools\n    version: v1\n" + extra
	}
	files := "    files:\n      - {path: crds/a.yaml, sha256: " + sum + "}\n"
	for _, tc := range []struct{ name, text, want string }{
		{"unknown field", entry("    mirror: somewhere\n" + files), `unknown field "mirror"`},
		{"unknown file field", entry("    files:\n      - {path: crds/a.yaml, sha256: " + sum + ", sha1: x}\n"), `unknown field "sha1"`},
		{"no sources", "sources: []\n", "no sources"},
		{"no files", entry(""), "no files"},
		{"short sha256", entry("    files:\n      - {path: crds/a.yaml, sha256: abc}\n"), `sha256 "abc"`},
		{"path outside", entry("    files:\n      - {path: ../a.yaml, sha256: " + sum + "}\n"), `path "../a.yaml"`},
		{"not yaml", entry("    files:\n      - {path: crds/a.json, sha256: " + sum + "}\n"), `path "crds/a.json"`},
		{"same file twice", entry("    files:\n      - {path: crds/a.yaml, sha256: " + sum + "}\n      - {path: other/a.yaml, sha256: " + sum + "}\n"), "tools/a.yaml appears twice"},
		{"not github", strings.Replace(entry(files), "github.com/example/tools", "gitlab.com/example/tools", 1), `repository "gitlab.com/example/tools"`},
		{"no version", strings.Replace(entry(files), "version: v1", "version: ''", 1), `version ""`},
		{"same source twice", entry(files) + strings.TrimPrefix(entry(files), "sources:\n"), `name "tools" appears twice`},
		{"chart without version", entry("    chart: {name: tools}\n" + files), "chart needs a name and a version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.lock.yaml", []byte(tc.text))
			wantError(t, err, "bad.lock.yaml", tc.want)
		})
	}
}

func TestFindWalksUp(t *testing.T) {
	root := t.TempDir()
	lock := filepath.Join(root, "schema", FileName)
	writeFile(t, lock, "")
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Find(deep); err != nil || got != lock || Root(got) != root {
		t.Errorf("Find = %q (root %s), %v; want %s", got, Root(got), err, lock)
	}
	if _, err := Find(t.TempDir()); err == nil || !strings.Contains(err.Error(), FileName) {
		t.Errorf("Find without a lock: %v", err)
	}
}

// A cache file damaged after it was verified is found when a folder is laid
// out from it, removed, and fetched again on the next run.
func TestDamagedCacheFile(t *testing.T) {
	f := newFixture(t)
	dir := f.folder(t)
	cache := t.TempDir()
	opts := Options{Fallback: dir, CacheDir: cache, Offline: true}
	res, err := f.lock.Resolve(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Dir(res.Dir)); err != nil { // the verified folders
		t.Fatal(err)
	}
	blob := filepath.Join(cache, "sha256", f.lock.Sources[0].Files[0].SHA256)
	writeFile(t, blob, "damaged\n")
	_, err = f.lock.Resolve(context.Background(), opts)
	wantError(t, err, blob, "removed")
	if _, err := f.lock.Resolve(context.Background(), opts); err != nil {
		t.Fatalf("the run after: %v", err)
	}
}

// An unreachable host is one error per source, not one per file.
func TestUnreachableHostIsOneErrorPerSource(t *testing.T) {
	f := newFixture(t)
	f.lock.Sources = f.lock.Sources[:1]
	srv, _ := upstream(t, f, nil)
	base := srv.URL
	srv.Close() // nothing listens there any more
	_, err := f.lock.Resolve(context.Background(), Options{CacheDir: t.TempDir(), BaseURL: base})
	wantError(t, err, "tools/widgets.yaml: fetch "+base+"/example/tools/v1.2.3/config/crds/widgets.yaml", "and 1 more file(s) of tools not tried")
	if n := strings.Count(err.Error(), "\n"); n != 1 {
		t.Errorf("%d lines, want 2 (the lock, the source):\n%v", n+1, err)
	}
}
