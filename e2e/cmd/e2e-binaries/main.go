// Command e2e-binaries builds (or finds) the kube-apiserver and etcd the
// end-to-end tests run, of every Kubernetes release rendered/ declares, and
// with -argocd also kube-controller-manager, Argo CD and kustomize (with
// -twin those and the twin's binaries), and prints their paths. Run it ahead of the tests to warm the cache, e.g. in CI
// before the test timeout starts counting.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"

	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
)

func main() {
	argocd := flag.Bool("argocd", false, "also build kube-controller-manager, Argo CD "+binaries.ArgoCDVersion+" and kustomize "+binaries.KustomizeVersion)
	twin := flag.Bool("twin", false, "also build kube-controller-manager, Argo CD and the twin's kube-scheduler, kwok "+binaries.KwokVersion+", Argo Rollouts "+binaries.RolloutsVersion+", the descheduler "+binaries.DeschedulerVersion+" and External Secrets "+binaries.ESOVersion)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	versions, err := kubernetesVersions()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e-binaries:", err)
		os.Exit(1)
	}
	for _, version := range versions {
		opts := binaries.Options{Log: os.Stderr, KubernetesVersion: version}
		p, err := binaries.Ensure(ctx, opts)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e-binaries:", err)
			os.Exit(1)
		}
		fmt.Printf("KUBE_APISERVER=%s\nETCD=%s\n", p.KubeAPIServer, p.Etcd)
		if *argocd || *twin {
			kcm, err := binaries.EnsureControllerManager(ctx, opts)
			if err != nil {
				fmt.Fprintln(os.Stderr, "e2e-binaries:", err)
				os.Exit(1)
			}
			fmt.Printf("KUBE_CONTROLLER_MANAGER=%s\n", kcm)
		}
	}
	if *twin {
		// kube-scheduler at the release of the env the twin runs.
		version, err := twinKubernetesVersion()
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e-binaries:", err)
			os.Exit(1)
		}
		tw, err := binaries.EnsureTwin(ctx, binaries.Options{Log: os.Stderr, KubernetesVersion: version})
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e-binaries:", err)
			os.Exit(1)
		}
		fmt.Printf("KUBE_SCHEDULER=%s\nKWOK=%s\nKWOK_STAGES=%s\nROLLOUTS=%s\nDESCHEDULER=%s\nEXTERNAL_SECRETS=%s\nEXTERNAL_SECRETS_CRDS=%s\n", tw.KubeScheduler, tw.Kwok, tw.KwokStages, tw.Rollouts, tw.Descheduler, tw.ESO.Controller, tw.ESO.CRDs)
	}
	if *argocd || *twin {
		a, err := binaries.EnsureArgoCD(ctx, binaries.Options{Log: os.Stderr})
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e-binaries:", err)
			os.Exit(1)
		}
		fmt.Printf("ARGOCD=%s\nKUSTOMIZE=%s\nARGOCD_SCRIPTS=%s\n", a.ArgoCD, a.Kustomize, a.Scripts)
	}
}

// kubernetesVersions is binaries.KubernetesVersion and every release a
// rendered env declares (its cluster's), each once: the tests run each env
// against its own.
func kubernetesVersions() ([]string, error) {
	versions := []string{binaries.KubernetesVersion}
	root, err := testrepo.FindRoot()
	if err != nil {
		return nil, err
	}
	envs, err := filepath.Glob(filepath.Join(root, "rendered", "*", "argocd"))
	if err != nil {
		return nil, err
	}
	for _, dir := range envs {
		v, err := testrepo.KubernetesVersion(root, filepath.Base(filepath.Dir(dir)))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(versions, v) {
			versions = append(versions, v)
		}
	}
	return versions, nil
}

// twinKubernetesVersion is the release of the env the twin runs (e2e/twin).
func twinKubernetesVersion() (string, error) {
	root, err := testrepo.FindRoot()
	if err != nil {
		return "", err
	}
	return testrepo.KubernetesVersion(root, binaries.TwinEnv)
}
