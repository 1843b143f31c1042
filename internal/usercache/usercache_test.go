package usercache

import (
	"path/filepath"
	"testing"
)

func TestDirPrefersTheEnvironment(t *testing.T) {
	t.Setenv("USERCACHE_TEST_DIR", "/somewhere")
	if got := Dir("USERCACHE_TEST_DIR", "tool"); got != "/somewhere" {
		t.Errorf("Dir = %q, want the variable's value", got)
	}
	t.Setenv("USERCACHE_TEST_DIR", "")
	if got := Dir("USERCACHE_TEST_DIR", "tool"); filepath.Base(got) != "tool" {
		t.Errorf("Dir = %q, want a folder named tool", got)
	}
}
