package binaries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
)

// Argo CD and the kustomize it runs. v3.6 is the supported line; it needs Go
// 1.27, which the go command fetches for these two builds only (GOTOOLCHAIN in
// their environment), so the tests themselves stay on the repository's Go.
// Argo CD v3.6.1 ships kustomize v5.8.3 (hack/tool-versions.sh), but that
// release's module graph names a kube-openapi pseudo-version the module proxy
// refuses (403), so the previous release, which builds on Go 1.26.
const (
	ArgoCDVersion    = "v3.6.1"
	KustomizeVersion = "v5.8.1"
	// ArgoCDToolchain is the Go release the two builds run under.
	ArgoCDToolchain = "go1.27.3"
)

// Environment variables that point the Argo CD tests at binaries built elsewhere.
const (
	EnvArgoCD    = "E2E_ARGOCD"    // path of Argo CD's multi-call binary (cmd/main.go)
	EnvKustomize = "E2E_KUSTOMIZE" // path of a kustomize binary
	// EnvArgoCDScripts is a folder holding Argo CD's git-verify-wrapper.sh
	// and gpg-wrapper.sh (default: copied from the argo-cd module).
	EnvArgoCDScripts = "E2E_ARGOCD_SCRIPTS"
)

// ArgoCDPaths are the binaries an Argo CD test needs beside the control plane.
type ArgoCDPaths struct {
	// ArgoCD is Argo CD's multi-call binary: it runs as the component named by
	// argv[0] or ARGOCD_BINARY_NAME (argocd-repo-server, ...).
	ArgoCD string
	// Kustomize is what argocd-repo-server executes to build each app folder.
	Kustomize string
	// Scripts holds the shell scripts of Argo CD's hack/ folder that its
	// image installs on PATH beside the binary (the repo-server runs
	// git-verify-wrapper.sh on every revision it reads).
	Scripts string
}

// argoCDScripts are the scripts Argo CD's Dockerfile copies to /usr/local/bin.
var argoCDScripts = []string{"git-verify-wrapper.sh", "gpg-wrapper.sh"}

// EnsureArgoCD returns Argo CD and kustomize: from the environment, else the
// cache, else built now (Argo CD: about 10-20 minutes and a few GB of memory
// on 2 cores; kustomize: about a minute).
func EnsureArgoCD(ctx context.Context, opts Options) (ArgoCDPaths, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	p := ArgoCDPaths{ArgoCD: os.Getenv(EnvArgoCD), Kustomize: os.Getenv(EnvKustomize), Scripts: os.Getenv(EnvArgoCDScripts)}
	for name, path := range map[string]string{"argocd": p.ArgoCD, "kustomize": p.Kustomize} {
		if path == "" {
			continue
		}
		if err := executable(path); err != nil {
			return ArgoCDPaths{}, fmt.Errorf("%s from the environment: %w", name, err)
		}
	}
	if p.ArgoCD != "" && p.Kustomize != "" && p.Scripts != "" {
		return p, nil
	}
	cache, unlock, err := lockedCache(opts.CacheDir)
	if err != nil {
		return ArgoCDPaths{}, err
	}
	defer unlock()
	if p.Kustomize == "" {
		if p.Kustomize, err = cached(ctx, opts.Log, cache, kustomizeRecipe()); err != nil {
			return ArgoCDPaths{}, err
		}
	}
	if p.ArgoCD == "" {
		if p.ArgoCD, err = cached(ctx, opts.Log, cache, argoCDRecipe()); err != nil {
			return ArgoCDPaths{}, err
		}
	}
	if p.Scripts == "" {
		if p.Scripts, err = cachedScripts(ctx, cache); err != nil {
			return ArgoCDPaths{}, fmt.Errorf("Argo CD's scripts: %w", err)
		}
	}
	return p, nil
}

// cachedScripts copies argoCDScripts from the argo-cd module into the cache.
func cachedScripts(ctx context.Context, cache string) (string, error) {
	dir := filepath.Join(cache, "argocd-"+ArgoCDVersion+"-scripts")
	if executable(filepath.Join(dir, argoCDScripts[len(argoCDScripts)-1])) == nil {
		return dir, nil
	}
	env := append(os.Environ(), "GOWORK=off", "GO111MODULE=on")
	out, err := run(ctx, "", append(env, newGoEnv...), io.Discard, "go", "mod", "download", "-json", "github.com/argoproj/argo-cd/v3@"+ArgoCDVersion)
	if err != nil {
		return "", err
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", err
	}
	if info.Error != "" {
		return "", errors.New(info.Error)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// The last one written is the one checked above: a half-copied folder is
	// copied again.
	for _, name := range argoCDScripts {
		data, err := os.ReadFile(filepath.Join(info.Dir, "hack", name))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// newGoEnv runs the build under Go 1.27; CGO off as in Argo CD's release
// images, so the binaries need no C toolchain.
var newGoEnv = []string{"GOTOOLCHAIN=" + ArgoCDToolchain, "CGO_ENABLED=0"}

func kustomizeRecipe() recipe {
	const mod = "sigs.k8s.io/kustomize/kustomize/v5"
	return recipe{
		name:    "kustomize",
		version: KustomizeVersion,
		goMod: func(context.Context, []string) (string, error) {
			return "module platform-e2e/kustomize\n\ngo 1.26.0\n\nrequire " + mod + " " + KustomizeVersion + "\n", nil
		},
		files: map[string]string{
			"tools.go": "//go:build tools\n\npackage tools\n\nimport _ \"" + mod + "\"\n",
		},
		pkg: mod,
		// Argo CD reads `kustomize version` into its cache keys and logs.
		ldflags: "-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/" + KustomizeVersion,
		env:     []string{"CGO_ENABLED=0"},
	}
}

func argoCDRecipe() recipe {
	const mod = "github.com/argoproj/argo-cd/v3"
	return recipe{
		name:    "argocd",
		version: ArgoCDVersion,
		goMod:   argoCDGoMod,
		files: map[string]string{
			"tools.go": "//go:build tools\n\npackage tools\n\nimport _ \"" + mod + "/cmd\"\n",
		},
		pkg:     mod + "/cmd",
		ldflags: "-X " + mod + "/common.version=" + strings.TrimPrefix(ArgoCDVersion, "v"),
		env:     newGoEnv,
		// The application controller serves metrics on every interface
		// (controller/appcontroller.go: metricsAddr; --metrics-port has no
		// address beside it); test processes bind loopback only.
		patches: []sourcePatch{{
			module: mod, file: "controller/appcontroller.go",
			old: `metricsAddr := fmt.Sprintf("0.0.0.0:%d", metricsPort)`,
			new: `metricsAddr := fmt.Sprintf("127.0.0.1:%d", metricsPort)`,
		}},
	}
}

// argoCDGoMod requires argo-cd and copies its replace directives, which a
// dependent module does not inherit (Kubernetes modules pinned to one
// release, old protobuf and grpc-gateway). Its one local replace, of the
// gitops-engine folder, is dropped: gitops-engine is published as its own
// module at the same version, which argo-cd's go.mod requires.
func argoCDGoMod(ctx context.Context, env []string) (string, error) {
	const mod = "github.com/argoproj/argo-cd/v3"
	out, err := run(ctx, "", env, io.Discard, "go", "mod", "download", "-json", mod+"@"+ArgoCDVersion)
	if err != nil {
		return "", err
	}
	var info struct{ GoMod, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", mod, info.Error)
	}
	data, err := os.ReadFile(info.GoMod)
	if err != nil {
		return "", err
	}
	return argoCDGoModFrom(info.GoMod, data)
}

// argoCDGoModFrom writes the throwaway go.mod from argo-cd's own.
func argoCDGoModFrom(name string, data []byte) (string, error) {
	const mod = "github.com/argoproj/argo-cd/v3"
	// Parse, not ParseLax: ParseLax drops replace directives.
	upstream, err := modfile.Parse(name, data, nil)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "module platform-e2e/argocd\n\ngo 1.27.0\n\nrequire %s %s\n\nreplace (\n", mod, ArgoCDVersion)
	n := 0
	for _, r := range upstream.Replace {
		if r.New.Version == "" { // a local folder, absent from the module zip
			continue
		}
		old := r.Old.Path
		if r.Old.Version != "" {
			old += " " + r.Old.Version
		}
		fmt.Fprintf(&b, "\t%s => %s %s\n", old, r.New.Path, r.New.Version)
		n++
	}
	b.WriteString(")\n")
	if n == 0 {
		return "", fmt.Errorf("no replace directives found in %s", name)
	}
	return b.String(), nil
}
