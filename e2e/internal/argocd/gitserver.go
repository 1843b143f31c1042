package argocd

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
)

// GitServer serves one repository over git's smart HTTP protocol, with TLS,
// on 127.0.0.1, through git's own `git http-backend` CGI program: Argo CD's
// repo-server fetches from it exactly as from a hosted git server. (TLS
// because the platform schema only accepts https://, ssh:// or git@ URLs.)
type GitServer struct {
	// URL of the repository, e.g. https://127.0.0.1:41234/gitops.git.
	URL string
	// Host is the URL's host without port, the name Argo CD files the
	// server's certificate under (argocd-tls-certs-cm).
	Host string
	// CertPEM is the server's self-signed certificate, which clients trust.
	CertPEM []byte
	srv     *httptest.Server
}

// ServeGit serves the repository whose .git folder is gitDir as /<name>.
func ServeGit(gitDir, name string) (*GitServer, error) {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("git --exec-path: %w", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	h := &cgi.Handler{
		Path: backend,
		// http-backend maps PATH_INFO under GIT_PROJECT_ROOT; the prefix is
		// stripped below so /<name>/info/refs reaches <gitDir>/info/refs.
		Env: []string{
			"GIT_PROJECT_ROOT=" + gitDir,
			"GIT_HTTP_EXPORT_ALL=1",
		},
	}
	prefix := "/" + name
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	// Binds 127.0.0.1 only; the certificate is Go's test certificate for
	// 127.0.0.1, self-signed.
	srv := httptest.NewTLSServer(mux)
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return &GitServer{URL: srv.URL + prefix, Host: "127.0.0.1", CertPEM: cert, srv: srv}, nil
}

// Close stops the server and waits for its handlers.
func (g *GitServer) Close() { g.srv.Close() }
