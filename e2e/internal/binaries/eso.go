package binaries

import (
	"context"
	"io"
	"os"
	"path/filepath"
)

// External Secrets: v0.16.2 is the newest release the module proxy builds
// (DESIGN.md section 9: v1.x and v2.x need submodules the proxy refuses).
// Its go.mod asks for Go 1.24.2 and has one replace directive (sprig), which
// the throwaway module copies.
const (
	ESOVersion = "v0.16.2"
	esoModule  = "github.com/external-secrets/external-secrets"
)

// EnvESO points the twin at an external-secrets binary built elsewhere;
// EnvESOCRDs at a folder holding esoCRDs.
const (
	EnvESO     = "E2E_EXTERNAL_SECRETS"
	EnvESOCRDs = "E2E_EXTERNAL_SECRETS_CRDS"
)

// esoCRDs are CRDs of ESO's own module (config/crds/bases) that the
// repository's CRD lock does not carry but the controller needs: v0.16.2
// always starts a GeneratorState reconciler (cmd/controller/root.go) and its
// informer fails without the kind.
var esoCRDs = []string{
	"config/crds/bases/generators.external-secrets.io_generatorstates.yaml",
}

// ESOPaths are the External Secrets controller and the folder of esoCRDs.
type ESOPaths struct {
	Controller string
	CRDs       string
}

// EnsureESO returns the External Secrets controller and its extra CRDs: from
// the environment, else the cache, else built now (about 2.5 GB of modules).
func EnsureESO(ctx context.Context, opts Options) (ESOPaths, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	p := ESOPaths{Controller: os.Getenv(EnvESO), CRDs: os.Getenv(EnvESOCRDs)}
	if p.Controller != "" {
		if err := executable(p.Controller); err != nil {
			return ESOPaths{}, err
		}
	}
	if p.Controller != "" && p.CRDs != "" {
		return p, nil
	}
	cache, unlock, err := lockedCache(opts.CacheDir)
	if err != nil {
		return ESOPaths{}, err
	}
	defer unlock()
	if p.Controller == "" {
		if p.Controller, err = cached(ctx, opts.Log, cache, esoRecipe()); err != nil {
			return ESOPaths{}, err
		}
	}
	if p.CRDs == "" {
		if p.CRDs, err = cachedModuleFiles(ctx, cache, "external-secrets-"+ESOVersion+"-crds", esoModule+"@"+ESOVersion, esoCRDs); err != nil {
			return ESOPaths{}, err
		}
	}
	return p, nil
}

func esoRecipe() recipe {
	return recipe{
		name:    "external-secrets",
		version: ESOVersion,
		goMod: func(ctx context.Context, env []string) (string, error) {
			goModPath, data, err := upstreamGoMod(ctx, env, esoModule, ESOVersion)
			if err != nil {
				return "", err
			}
			return goModWithReplaces("platform-e2e/external-secrets", esoModule, ESOVersion, "1.24.2", goModPath, data)
		},
		files: map[string]string{
			// The module's root package is its main (main.go).
			"tools.go": "//go:build tools\n\npackage tools\n\nimport _ \"" + esoModule + "\"\n",
		},
		pkg: esoModule,
		env: []string{"CGO_ENABLED=0"},
	}
}

// cachedModuleFiles copies files (paths in the module) of moduleAtVersion
// into cache/name, flat, and returns that folder.
func cachedModuleFiles(ctx context.Context, cache, name, moduleAtVersion string, files []string) (string, error) {
	dir := filepath.Join(cache, name)
	last := filepath.Join(dir, filepath.Base(files[len(files)-1]))
	if _, err := os.Stat(last); err == nil {
		return dir, nil
	}
	moduleDir, err := moduleDir(ctx, moduleAtVersion, nil)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// The last one written is the one checked above: a half-copied folder is
	// copied again.
	for _, rel := range files {
		data, err := os.ReadFile(filepath.Join(moduleDir, filepath.FromSlash(rel)))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(rel)), data, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}
