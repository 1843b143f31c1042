package argocd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), extraEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

var extraEnv []string

// The server must speak git's smart HTTP protocol well enough to clone and
// to see a later commit, which is all the repo-server does with it.
func TestServeGitClonesAndFetches(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "init", "-q", "-b", "main")
	commit := func(content string) string {
		if err := os.WriteFile(filepath.Join(repo, "f"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		git(t, repo, "add", "-A")
		git(t, repo, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", content)
		return git(t, repo, "rev-parse", "HEAD")
	}
	first := commit("one")
	srv, err := ServeGit(filepath.Join(repo, ".git"), "r.git")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %s: want https on loopback", srv.URL)
	}
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	// The environment variable, not http.sslCAInfo: it overrides the config
	// and may already be set to the system bundle.
	extraEnv = []string{"GIT_SSL_CAINFO=" + ca}
	defer func() { extraEnv = nil }()
	clone := filepath.Join(dir, "clone")
	git(t, dir, "clone", "-q", srv.URL, clone)
	if got := git(t, clone, "rev-parse", "HEAD"); got != first {
		t.Fatalf("cloned HEAD %s, want %s", got, first)
	}
	second := commit("two")
	if got := git(t, dir, "ls-remote", srv.URL, "refs/heads/main"); !strings.HasPrefix(got, second) {
		t.Fatalf("ls-remote: %q, want %s", got, second)
	}
}
