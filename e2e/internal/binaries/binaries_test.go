package binaries

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeBinary(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// clearEnv unsets every variable Ensure reads, for this test only.
func clearEnv(t *testing.T) {
	for _, v := range []string{EnvKubeAPIServer, EnvEtcd, EnvKubebuilderAssets, EnvCacheDir, EnvNoBuild} {
		t.Setenv(v, "")
	}
}

func TestEnsurePrefersBinariesFromTheEnvironment(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	assets := filepath.Join(dir, "assets")
	fakeBinary(t, filepath.Join(assets, "kube-apiserver"))
	fakeBinary(t, filepath.Join(assets, "etcd"))
	ownEtcd := fakeBinary(t, filepath.Join(dir, "my-etcd"))
	t.Setenv(EnvKubebuilderAssets, assets)
	t.Setenv(EnvEtcd, ownEtcd)
	t.Setenv(EnvNoBuild, "1") // a build attempt would fail the test

	p, err := Ensure(t.Context(), Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	if p.KubeAPIServer != filepath.Join(assets, "kube-apiserver") || p.Etcd != ownEtcd {
		t.Errorf("got %+v", p)
	}
}

func TestEnsureRejectsAMissingBinaryFromTheEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvKubeAPIServer, filepath.Join(t.TempDir(), "nope"))
	if _, err := Ensure(t.Context(), Options{CacheDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "kube-apiserver") {
		t.Errorf("want an error naming kube-apiserver, got %v", err)
	}
}

func TestEnsureUsesTheCacheByVersion(t *testing.T) {
	clearEnv(t)
	cache := t.TempDir()
	api := fakeBinary(t, filepath.Join(cache, "kube-apiserver-"+KubernetesVersion))
	etcd := fakeBinary(t, filepath.Join(cache, "etcd-"+EtcdVersion))
	t.Setenv(EnvNoBuild, "1")
	t.Setenv(EnvCacheDir, cache)
	p, err := Ensure(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.KubeAPIServer != api || p.Etcd != etcd {
		t.Errorf("got %+v", p)
	}
}

func TestEnsureWithoutCacheAndNoBuildFails(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvNoBuild, "1")
	_, err := Ensure(t.Context(), Options{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), EnvNoBuild) {
		t.Errorf("want an error naming %s, got %v", EnvNoBuild, err)
	}
}

// TestKubernetesGoModPinsEveryStagingModule reads kubernetes' real go.mod
// (from the module cache or proxy, about 20 MB on first use).
func TestKubernetesGoModPinsEveryStagingModule(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads k8s.io/kubernetes")
	}
	goMod, err := kubernetesGoMod(t.Context(), os.Environ(), KubernetesVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"require k8s.io/kubernetes " + KubernetesVersion,
		"k8s.io/api => k8s.io/api v0.35.4",
		"k8s.io/apiserver => k8s.io/apiserver v0.35.4",
		"k8s.io/client-go => k8s.io/client-go v0.35.4",
	} {
		if !strings.Contains(goMod, want) {
			t.Errorf("go.mod lacks %q:\n%s", want, goMod)
		}
	}
	if strings.Contains(goMod, "./staging") {
		t.Errorf("go.mod still points at ./staging:\n%s", goMod)
	}
}

// A patched build is cached under a name of its own, which changes with the
// patches: a cache holding the unpatched build is not taken for it.
func TestCacheNameCarriesThePatches(t *testing.T) {
	plain := recipe{name: "argocd", version: "v3.6.1"}
	if got := plain.cacheName(); got != "argocd-v3.6.1" {
		t.Errorf("unpatched: %s", got)
	}
	a := argoCDRecipe()
	b := argoCDRecipe()
	b.patches = []sourcePatch{{module: "m", file: "f", old: "o", new: "n"}}
	if a.cacheName() == plain.cacheName() || a.cacheName() == b.cacheName() {
		t.Errorf("cache names do not tell the builds apart: %s, %s, %s", plain.cacheName(), a.cacheName(), b.cacheName())
	}
	if a.cacheName() != argoCDRecipe().cacheName() {
		t.Error("the same patches give different names")
	}
}
