// Package binaries finds or builds the kube-apiserver and etcd the end-to-end
// tests run. Both are built from the Go module proxy in throwaway modules (no
// vendored Kubernetes source in the repository) and cached by version, so only
// the first run on a machine pays for the build.
package binaries

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Versions the tests are written against. The staging modules of Kubernetes
// (k8s.io/api, k8s.io/apiserver, ...) carry the matching v0 version.
// KubernetesVersion is only the default: each env's tests run the release its
// cluster runs (Options.KubernetesVersion, from the rendered env).
const (
	KubernetesVersion = "v1.35.4"
	EtcdVersion       = "v3.6.16"
)

// Environment variables that point the tests at binaries built elsewhere.
const (
	EnvKubeAPIServer     = "E2E_KUBE_APISERVER" // path of a kube-apiserver binary
	EnvEtcd              = "E2E_ETCD"           // path of an etcd binary
	EnvKubebuilderAssets = "KUBEBUILDER_ASSETS" // folder holding kube-apiserver and etcd (envtest layout)
	EnvCacheDir          = "E2E_CACHE_DIR"      // where built binaries are cached
	EnvNoBuild           = "E2E_NO_BUILD"       // "1": fail instead of building what is missing
)

// Paths are the two binaries a test cluster needs.
type Paths struct {
	KubeAPIServer string
	Etcd          string
}

// Options tune Ensure; the zero value reads the environment and builds into
// the user cache dir.
type Options struct {
	// CacheDir holds the built binaries; default $E2E_CACHE_DIR, else
	// <os.UserCacheDir()>/platform-e2e.
	CacheDir string
	// Log receives progress lines (the cold build takes minutes); nil discards.
	Log io.Writer
	// KubernetesVersion is the k8s.io/kubernetes release of kube-apiserver,
	// kube-controller-manager and kube-scheduler; default KubernetesVersion.
	KubernetesVersion string
}

func (o Options) kubernetesVersion() string {
	if o.KubernetesVersion != "" {
		return o.KubernetesVersion
	}
	return KubernetesVersion
}

// Ensure returns usable binaries: the ones named by the environment, else the
// cached builds, else it builds them now (kube-apiserver takes 10-20 minutes
// and about 2.5 GB of memory on 2 cores; etcd about a minute).
func Ensure(ctx context.Context, opts Options) (Paths, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	var p Paths
	if dir := os.Getenv(EnvKubebuilderAssets); dir != "" {
		p.KubeAPIServer = filepath.Join(dir, "kube-apiserver")
		p.Etcd = filepath.Join(dir, "etcd")
	}
	if v := os.Getenv(EnvKubeAPIServer); v != "" {
		p.KubeAPIServer = v
	}
	if v := os.Getenv(EnvEtcd); v != "" {
		p.Etcd = v
	}
	for name, path := range map[string]string{"kube-apiserver": p.KubeAPIServer, "etcd": p.Etcd} {
		if path == "" {
			continue
		}
		if err := executable(path); err != nil {
			return Paths{}, fmt.Errorf("%s from the environment: %w", name, err)
		}
	}
	if p.KubeAPIServer != "" && p.Etcd != "" {
		return p, nil
	}

	cache, unlock, err := lockedCache(opts.CacheDir)
	if err != nil {
		return Paths{}, err
	}
	defer unlock()

	if p.Etcd == "" {
		if p.Etcd, err = cached(ctx, opts.Log, cache, etcdRecipe()); err != nil {
			return Paths{}, err
		}
	}
	if p.KubeAPIServer == "" {
		if p.KubeAPIServer, err = cached(ctx, opts.Log, cache, kubernetesRecipe("kube-apiserver", opts.kubernetesVersion())); err != nil {
			return Paths{}, err
		}
	}
	return p, nil
}

// lockedCache creates the cache folder and holds its lock until unlock: two
// test runs on one machine must not build the same binary twice at once; the
// second waits for the first and then finds the cache filled.
func lockedCache(dir string) (cache string, unlock func(), err error) {
	if cache, err = cacheDir(dir); err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", nil, err
	}
	if unlock, err = lockFile(filepath.Join(cache, ".lock")); err != nil {
		return "", nil, err
	}
	return cache, unlock, nil
}

func cacheDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if dir = os.Getenv(EnvCacheDir); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache dir for the e2e binaries (set %s): %w", EnvCacheDir, err)
	}
	return filepath.Join(base, "platform-e2e"), nil
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// recipe is one binary to build from the module proxy.
type recipe struct {
	name    string // binary name, also the cache file prefix
	version string
	// goMod returns the throwaway module's go.mod; files are its other files.
	goMod   func(ctx context.Context, env []string) (string, error)
	files   map[string]string
	pkg     string // what go build builds
	ldflags string
	// env is added to the go commands' environment, e.g. GOTOOLCHAIN for a
	// module that needs a newer Go than the one running the tests.
	env []string
	// patches change upstream source for this build only (a patched copy
	// of the module), e.g. a listen address with no flag.
	patches []sourcePatch
}

// sourcePatch replaces old, which must occur exactly once, by new in one
// file of a module of the build: a new upstream version that moved the text
// fails the build instead of silently building unpatched.
type sourcePatch struct {
	module, file, old, new string
}

// patchModules copies each patched module out of the module cache into src
// (go build -overlay refuses files of the module cache), applies the
// patches there and points the throwaway module at the copy (replace).
func patchModules(ctx context.Context, src string, env []string, patches []sourcePatch) error {
	copies := map[string]string{} // module -> folder under src
	for _, p := range patches {
		dst, ok := copies[p.module]
		if !ok {
			out, err := run(ctx, src, env, io.Discard, "go", "list", "-m", "-f", "{{.Dir}}", p.module)
			if err != nil {
				return err
			}
			dst = filepath.Join(src, "patched", strconv.Itoa(len(copies)))
			if err := os.CopyFS(dst, os.DirFS(strings.TrimSpace(string(out)))); err != nil {
				return fmt.Errorf("copy %s: %w", p.module, err)
			}
			if _, err := run(ctx, src, env, io.Discard, "go", "mod", "edit", "-replace", p.module+"=./"+filepath.ToSlash(must(filepath.Rel(src, dst)))); err != nil {
				return err
			}
			copies[p.module] = dst
		}
		path := filepath.Join(dst, filepath.FromSlash(p.file))
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if n := bytes.Count(data, []byte(p.old)); n != 1 {
			return fmt.Errorf("patch %s/%s: %q occurs %d times, want once", p.module, p.file, p.old, n)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(path, bytes.Replace(data, []byte(p.old), []byte(p.new), 1), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// cacheName names the cached binary: a patched build carries a digest of
// its patches, so a cache holding an unpatched (or differently patched)
// build of the same version is not taken for it.
func (r recipe) cacheName() string {
	name := r.name + "-" + r.version
	if len(r.patches) == 0 {
		return name
	}
	h := sha256.New()
	for _, p := range r.patches {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", p.module, p.file, p.old, p.new)
	}
	return fmt.Sprintf("%s-patched-%x", name, h.Sum(nil)[:4])
}

func etcdRecipe() recipe {
	return recipe{
		name:    "etcd",
		version: EtcdVersion,
		goMod: func(context.Context, []string) (string, error) {
			return "module platform-e2e/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 " + EtcdVersion + "\n", nil
		},
		files: map[string]string{
			"main.go": "// Command etcd is etcd's own main, built from the module proxy.\npackage main\n\nimport (\n\t\"os\"\n\n\t\"go.etcd.io/etcd/server/v3/etcdmain\"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n",
		},
		pkg: ".",
	}
}

// kubernetesRecipe builds k8s.io/kubernetes/cmd/<name> at version.
func kubernetesRecipe(name, version string) recipe {
	minor := strings.Split(strings.TrimPrefix(version, "v"), ".")[1]
	return recipe{
		name:    name,
		version: version,
		goMod: func(ctx context.Context, env []string) (string, error) {
			return kubernetesGoMod(ctx, env, version)
		},
		files: map[string]string{
			// The build tag keeps the import out of any build; go mod tidy
			// still sees it and records every module the command needs.
			"tools.go": "//go:build tools\n\npackage tools\n\nimport _ \"k8s.io/kubernetes/cmd/" + name + "\"\n",
		},
		pkg: "k8s.io/kubernetes/cmd/" + name,
		// Without a version stamp the server reports v0.0.0-master and clients
		// such as kubectl refuse to parse it.
		ldflags: "-X k8s.io/component-base/version.gitVersion=" + version +
			" -X k8s.io/component-base/version.gitMajor=1" +
			" -X k8s.io/component-base/version.gitMinor=" + minor,
	}
}

// stagingReplace matches kubernetes' own replaces of its staging modules,
// e.g. "k8s.io/api => ./staging/src/k8s.io/api".
var stagingReplace = regexp.MustCompile(`(?m)^\s*(?:replace\s+)?(k8s\.io/\S+)\s+=>\s+\./staging/`)

// kubernetesGoMod requires k8s.io/kubernetes and pins each staging module
// to its published v0 release, as kubernetes' go.mod points them at
// ./staging, which does not exist outside its repository.
func kubernetesGoMod(ctx context.Context, env []string, version string) (string, error) {
	out, err := run(ctx, "", env, io.Discard, "go", "mod", "download", "-json", "k8s.io/kubernetes@"+version)
	if err != nil {
		return "", err
	}
	var info struct{ GoMod, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download k8s.io/kubernetes: %w", err)
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download k8s.io/kubernetes: %s", info.Error)
	}
	data, err := os.ReadFile(info.GoMod)
	if err != nil {
		return "", err
	}
	stagingVersion := "v0." + strings.SplitN(strings.TrimPrefix(version, "v"), ".", 2)[1]
	var b strings.Builder
	fmt.Fprintf(&b, "module platform-e2e/kubernetes\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n", version)
	n := 0
	for _, m := range stagingReplace.FindAllSubmatch(data, -1) {
		fmt.Fprintf(&b, "\t%s => %s %s\n", m[1], m[1], stagingVersion)
		n++
	}
	b.WriteString(")\n")
	if n == 0 {
		return "", fmt.Errorf("no ./staging replaces found in %s", info.GoMod)
	}
	return b.String(), nil
}

// cached returns the cached binary of r, building it first if missing.
func cached(ctx context.Context, log io.Writer, cache string, r recipe) (string, error) {
	bin := filepath.Join(cache, r.cacheName())
	if executable(bin) == nil {
		return bin, nil
	}
	if os.Getenv(EnvNoBuild) == "1" {
		return "", fmt.Errorf("%s not in %s and %s=1", r.cacheName(), cache, EnvNoBuild)
	}
	start := time.Now()
	fmt.Fprintf(log, "e2e: building %s %s from the module proxy (first run on this machine; cached in %s)\n", r.name, r.version, cache)
	if err := build(ctx, log, cache, bin, r); err != nil {
		return "", fmt.Errorf("build %s %s: %w", r.name, r.version, err)
	}
	fmt.Fprintf(log, "e2e: built %s in %s\n", bin, time.Since(start).Round(time.Second))
	return bin, nil
}

func build(ctx context.Context, log io.Writer, cache, bin string, r recipe) error {
	src, err := os.MkdirTemp(cache, "src-"+r.name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	// GOWORK=off: a go.work up the tree must not pull the throwaway module in.
	// GOFLAGS=-mod=mod lets tidy and build record what they resolve.
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GO111MODULE=on")
	env = append(env, r.env...)
	goMod, err := r.goMod(ctx, env)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(goMod), 0o644); err != nil {
		return err
	}
	for name, text := range r.files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	if _, err := run(ctx, src, env, log, nice("go", "mod", "tidy")...); err != nil {
		return err
	}
	// Build next to the final path and rename, so an interrupted build never
	// leaves a truncated binary that a later run would take for the cache.
	tmp := bin + ".tmp"
	defer os.Remove(tmp)
	// -trimpath: no local paths in the binary; -s -w: no symbol tables
	// (the apiserver is 119 MB without them).
	if err := patchModules(ctx, src, env, r.patches); err != nil {
		return err
	}
	args := nice("go", "build", "-trimpath", "-ldflags", strings.TrimSpace("-s -w "+r.ldflags), "-o", tmp, r.pkg)
	if _, err := run(ctx, src, env, log, args...); err != nil {
		return err
	}
	return os.Rename(tmp, bin)
}

// nice lowers the build's priority when nice exists: the build saturates
// every core for minutes and other work on the machine should stay responsive.
func nice(args ...string) []string {
	if path, err := exec.LookPath("nice"); err == nil {
		return append([]string{path, "-n", "19"}, args...)
	}
	return args
}

// run runs a command and returns its stdout; stderr goes to log and, on
// failure, into the error.
func run(ctx context.Context, dir string, env []string, log io.Writer, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(&stderr, log)
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 4000 {
			msg = "..." + msg[len(msg)-4000:]
		}
		return nil, errors.Join(fmt.Errorf("%s: %w", strings.Join(args, " "), err), errors.New(msg))
	}
	return stdout.Bytes(), nil
}
