// Package usercache names the per-user cache folders the tools keep (derived
// schemas, verified CRDs): safe to delete, rebuilt on the next run.
package usercache

import (
	"os"
	"path/filepath"
)

// Dir is $env when set, else <user cache dir>/name; without a home (some CI
// runners) a folder under the temp dir, a cache that may not last.
func Dir(env, name string) string {
	if dir := os.Getenv(env); dir != "" {
		return dir
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, name)
}
