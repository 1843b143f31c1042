package crdlock

import (
	"context"
	"os"
	"testing"
)

// What resolving the CRDs adds to every render check, warm: the cache's
// verified folder (default), and a folder given with --crds (../shared/crds,
// unchanged since its last verification: stamps, no hashing).
func BenchmarkResolveWarm(b *testing.B) {
	file, err := Find(".")
	if err != nil {
		b.Fatal(err)
	}
	shared := SharedDir(file)
	if _, err := os.Stat(shared); err != nil {
		b.Skipf("no %s", shared)
	}
	cache := b.TempDir()
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"cache", Options{Fallback: shared, CacheDir: cache, Offline: true}},
		{"given-folder", Options{Dir: shared, CacheDir: cache, Offline: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				lock, err := Load(file)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := lock.Resolve(context.Background(), bc.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
