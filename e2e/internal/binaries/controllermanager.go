package binaries

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// EnvKubeControllerManager names a kube-controller-manager binary.
const EnvKubeControllerManager = "E2E_KUBE_CONTROLLER_MANAGER"

// EnsureControllerManager returns kube-controller-manager at opts.KubernetesVersion:
// from the environment (or KUBEBUILDER_ASSETS), else the cache, else built
// now from the same module graph as kube-apiserver (minutes; most packages
// are already in the Go build cache after kube-apiserver). The Argo CD test
// runs its garbage collector: Argo CD deletes with foreground propagation,
// which only the garbage collector completes.
func EnsureControllerManager(ctx context.Context, opts Options) (string, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	path := os.Getenv(EnvKubeControllerManager)
	if path == "" {
		if dir := os.Getenv(EnvKubebuilderAssets); dir != "" {
			if p := filepath.Join(dir, "kube-controller-manager"); executable(p) == nil {
				path = p
			}
		}
	}
	if path != "" {
		if err := executable(path); err != nil {
			return "", fmt.Errorf("kube-controller-manager from the environment: %w", err)
		}
		return path, nil
	}
	cache, unlock, err := lockedCache(opts.CacheDir)
	if err != nil {
		return "", err
	}
	defer unlock()
	return cached(ctx, opts.Log, cache, kubernetesRecipe("kube-controller-manager", opts.kubernetesVersion()))
}
