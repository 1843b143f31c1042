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

// Versions of the twin's extra components (DESIGN.md section 9).
const (
	// KwokVersion simulates the nodes: Go 1.26, no replace directives.
	KwokVersion = "v0.8.0"
	// RolloutsVersion is Argo Rollouts' controller, the version the
	// platform's chart installs (schema/crds.lock.yaml, whose CRDs the twin
	// applies; TestTwinRunsTheLockedRollouts keeps them equal): the twin's
	// releases run the controller prod runs. Go 1.24.9, 34 replace
	// directives.
	RolloutsVersion = "v1.9.0"
	// DeschedulerVersion is the descheduler the rendered chart Application
	// runs (schema #DeschedulerImage; the twin checks they agree): Go 1.25,
	// one replace directive.
	DeschedulerVersion = "v0.35.1"
	// TwinEnv is the rendered env the twin runs; its kube-scheduler is built
	// at that env's Kubernetes release.
	TwinEnv = "prod"
)

// Environment variables that point the twin at binaries built elsewhere.
const (
	EnvKubeScheduler = "E2E_KUBE_SCHEDULER" // path of a kube-scheduler binary
	EnvKwok          = "E2E_KWOK"           // path of a kwok binary
	// EnvKwokStages is a folder holding kwok's Stage files (kwokStages).
	EnvKwokStages = "E2E_KWOK_STAGES"
	EnvRollouts   = "E2E_ROLLOUTS" // path of Argo Rollouts' rollouts-controller
	// EnvDescheduler is the path of a descheduler binary.
	EnvDescheduler = "E2E_DESCHEDULER"
)

// TwinPaths are the binaries the twin runs beside etcd, kube-apiserver and
// kube-controller-manager.
type TwinPaths struct {
	KubeScheduler string
	Kwok          string
	// KwokStages holds the Stage files of kwokStages, one per file: the
	// kwok binary has no built-in stages and is given them with --config.
	KwokStages string
	Rollouts   string
	// Descheduler is sigs.k8s.io/descheduler's command.
	Descheduler string
	// ESO is the External Secrets controller and the CRDs of its own
	// module it needs beyond the repository's lock (EnsureESO).
	ESO ESOPaths
}

// kwokStages are the Stage files shipped in kwok's module (its
// kustomize/stage folder) that make a node Ready and keep its lease, and
// make a bound pod Running and Ready, a finished one Succeeded, and a
// deleted one gone: what a kubelet would report.
var kwokStages = []string{
	"kustomize/stage/node/fast/node-initialize.yaml",
	"kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"kustomize/stage/pod/fast/pod-ready.yaml",
	"kustomize/stage/pod/fast/pod-complete.yaml",
	"kustomize/stage/pod/fast/pod-delete.yaml",
}

// EnsureTwin returns kube-scheduler, kwok (and its stages) and the Rollouts
// controller and External Secrets: from the environment, else the cache, else built now
// (kube-scheduler shares kube-apiserver's module graph and most of its
// build cache; kwok and Rollouts take a few minutes each).
func EnsureTwin(ctx context.Context, opts Options) (TwinPaths, error) {
	p, err := ensureTwinControllers(ctx, opts)
	if err != nil {
		return TwinPaths{}, err
	}
	if p.ESO, err = EnsureESO(ctx, opts); err != nil {
		return TwinPaths{}, err
	}
	return p, nil
}

// ensureTwinControllers is EnsureTwin but for External Secrets.
func ensureTwinControllers(ctx context.Context, opts Options) (TwinPaths, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	p := TwinPaths{
		KubeScheduler: os.Getenv(EnvKubeScheduler), Kwok: os.Getenv(EnvKwok),
		KwokStages: os.Getenv(EnvKwokStages), Rollouts: os.Getenv(EnvRollouts),
		Descheduler: os.Getenv(EnvDescheduler),
	}
	if p.KubeScheduler == "" {
		if dir := os.Getenv(EnvKubebuilderAssets); dir != "" {
			if path := filepath.Join(dir, "kube-scheduler"); executable(path) == nil {
				p.KubeScheduler = path
			}
		}
	}
	for name, path := range map[string]string{"kube-scheduler": p.KubeScheduler, "kwok": p.Kwok, "rollouts-controller": p.Rollouts, "descheduler": p.Descheduler} {
		if path == "" {
			continue
		}
		if err := executable(path); err != nil {
			return TwinPaths{}, fmt.Errorf("%s from the environment: %w", name, err)
		}
	}
	if p.KubeScheduler != "" && p.Kwok != "" && p.KwokStages != "" && p.Rollouts != "" && p.Descheduler != "" {
		return p, nil
	}
	cache, unlock, err := lockedCache(opts.CacheDir)
	if err != nil {
		return TwinPaths{}, err
	}
	defer unlock()
	if p.KubeScheduler == "" {
		if p.KubeScheduler, err = cached(ctx, opts.Log, cache, kubernetesRecipe("kube-scheduler", opts.kubernetesVersion())); err != nil {
			return TwinPaths{}, err
		}
	}
	if p.Kwok == "" {
		if p.Kwok, err = cached(ctx, opts.Log, cache, kwokRecipe()); err != nil {
			return TwinPaths{}, err
		}
	}
	if p.KwokStages == "" {
		if p.KwokStages, err = cachedKwokStages(ctx, cache); err != nil {
			return TwinPaths{}, fmt.Errorf("kwok's stages: %w", err)
		}
	}
	if p.Rollouts == "" {
		if p.Rollouts, err = cached(ctx, opts.Log, cache, rolloutsRecipe()); err != nil {
			return TwinPaths{}, err
		}
	}
	if p.Descheduler == "" {
		if p.Descheduler, err = cached(ctx, opts.Log, cache, deschedulerRecipe()); err != nil {
			return TwinPaths{}, err
		}
	}
	return p, nil
}

func deschedulerRecipe() recipe {
	const mod = "sigs.k8s.io/descheduler"
	return recipe{
		name:    "descheduler",
		version: DeschedulerVersion,
		goMod: func(ctx context.Context, env []string) (string, error) {
			name, data, err := upstreamGoMod(ctx, env, mod, DeschedulerVersion)
			if err != nil {
				return "", err
			}
			return goModWithReplaces("platform-e2e/descheduler", mod, DeschedulerVersion, "1.26.0", name, data)
		},
		files: map[string]string{
			"tools.go": "//go:build tools\n\npackage tools\n\nimport _ \"" + mod + "/cmd/descheduler\"\n",
		},
		pkg: mod + "/cmd/descheduler",
		// As its Makefile stamps it (LDFLAG_LOCATION).
		ldflags: "-X " + mod + "/pkg/version.version=" + DeschedulerVersion,
		env:     []string{"CGO_ENABLED=0"},
	}
}

func kwokRecipe() recipe {
	const mod = "sigs.k8s.io/kwok"
	return recipe{
		name:    "kwok",
		version: KwokVersion,
		goMod: func(context.Context, []string) (string, error) {
			return "module platform-e2e/kwok\n\ngo 1.26.0\n\nrequire " + mod + " " + KwokVersion + "\n", nil
		},
		files: map[string]string{
			"tools.go": "//go:build tools\n\npackage tools\n\nimport _ \"" + mod + "/cmd/kwok\"\n",
		},
		pkg: mod + "/cmd/kwok",
		// As kwok's release script stamps it (hack/releases.sh).
		ldflags: "-X " + mod + "/pkg/consts.Version=" + strings.TrimPrefix(KwokVersion, "v"),
		env:     []string{"CGO_ENABLED=0"},
	}
}

// cachedKwokStages copies kwokStages from kwok's module into the cache.
func cachedKwokStages(ctx context.Context, cache string) (string, error) {
	return cachedModuleFiles(ctx, cache, "kwok-"+KwokVersion+"-stages", "sigs.k8s.io/kwok@"+KwokVersion, kwokStages)
}

// moduleDir downloads module@version into the module cache and returns its folder.
func moduleDir(ctx context.Context, moduleAtVersion string, extraEnv []string) (string, error) {
	env := append(os.Environ(), "GOWORK=off", "GO111MODULE=on")
	out, err := run(ctx, "", append(env, extraEnv...), io.Discard, "go", "mod", "download", "-json", moduleAtVersion)
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
	return info.Dir, nil
}

func rolloutsRecipe() recipe {
	const mod = "github.com/argoproj/argo-rollouts"
	return recipe{
		name:    "rollouts-controller",
		version: RolloutsVersion,
		goMod: func(ctx context.Context, env []string) (string, error) {
			name, data, err := upstreamGoMod(ctx, env, mod, RolloutsVersion)
			if err != nil {
				return "", err
			}
			return goModWithReplaces("platform-e2e/rollouts", mod, RolloutsVersion, "1.26.0", name, data)
		},
		files: map[string]string{
			"tools.go": "//go:build tools\n\npackage tools\n\nimport _ \"" + mod + "/cmd/rollouts-controller\"\n",
		},
		pkg:     mod + "/cmd/rollouts-controller",
		ldflags: "-X " + mod + "/utils/version.version=" + RolloutsVersion,
		env:     []string{"CGO_ENABLED=0"},
		// The controller serves health and metrics on every interface
		// (controller/controller.go: listenAddr, a constant, no flag); the
		// twin's processes bind loopback only.
		patches: []sourcePatch{{
			module: mod, file: "controller/controller.go",
			old: `listenAddr                         = "0.0.0.0:%d"`,
			new: `listenAddr                         = "127.0.0.1:%d"`,
		}},
	}
}

// upstreamGoMod downloads mod@version and returns its go.mod's path and text.
func upstreamGoMod(ctx context.Context, env []string, mod, version string) (string, []byte, error) {
	out, err := run(ctx, "", env, io.Discard, "go", "mod", "download", "-json", mod+"@"+version)
	if err != nil {
		return "", nil, err
	}
	var info struct{ GoMod, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", nil, fmt.Errorf("go mod download %s: %w", mod, err)
	}
	if info.Error != "" {
		return "", nil, fmt.Errorf("go mod download %s: %s", mod, info.Error)
	}
	data, err := os.ReadFile(info.GoMod)
	return info.GoMod, data, err
}

// goModWithReplaces writes a throwaway go.mod requiring mod at version and
// copying the replace directives of mod's own go.mod (data), which a
// dependent module does not inherit; local-folder replaces are dropped
// (absent from the module zip).
func goModWithReplaces(module, mod, version, goVersion, name string, data []byte) (string, error) {
	// Parse, not ParseLax: ParseLax drops replace directives.
	upstream, err := modfile.Parse(name, data, nil)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "module %s\n\ngo %s\n\nrequire %s %s\n\nreplace (\n", module, goVersion, mod, version)
	n := 0
	for _, r := range upstream.Replace {
		if r.New.Version == "" {
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
