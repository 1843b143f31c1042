package crdlock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// maxFileSize bounds one fetched file (the largest upstream CRD, Argo
// Rollouts', is about 600 KB).
const maxFileSize = 64 << 20

// fetchSource fetches files of one source, returning what it got by path
// and an error naming each file it could not get.
func fetchSource(ctx context.Context, o Options, s Source, files []File) (map[string][]byte, error) {
	if s.Module != "" {
		return fetchModule(ctx, o, s, files)
	}
	return fetchURLs(ctx, o, s, files)
}

// fetchModule downloads the source's module through the Go module proxy,
// as schemacheck does for the Kubernetes OpenAPI documents, and reads the
// files from the extracted module.
func fetchModule(ctx context.Context, o Options, s Source, files []File) (map[string][]byte, error) {
	at := s.Module + "@" + s.Version
	cmd := exec.CommandContext(ctx, o.GoCommand, "mod", "download", "-json", at)
	cmd.Dir = os.TempDir() // outside any module: nothing's go.mod changes
	cmd.Env = append(os.Environ(), "GO111MODULE=on")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || info.Error != "" || runErr != nil || info.Dir == "" {
		msg := strings.TrimSpace(info.Error)
		if msg == "" {
			msg = strings.TrimSpace(stderr.String())
		}
		if msg == "" && runErr != nil {
			msg = runErr.Error()
		}
		return nil, fmt.Errorf("%s: go mod download %s: %s", s.Name, at, msg)
	}
	got := map[string][]byte{}
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(info.Dir, filepath.FromSlash(f.Path)))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s has no %s: %v", s.Local(f), at, f.Path, err))
			continue
		}
		got[f.Path] = data
	}
	return got, errors.Join(errs...)
}

// fetchURLs gets each file from <base>/<owner>/<repo>/<version>/<path>.
func fetchURLs(ctx context.Context, o Options, s Source, files []File) (map[string][]byte, error) {
	repo := strings.TrimPrefix(s.Repository, "github.com/")
	got := map[string][]byte{}
	var errs []error
	for i, f := range files {
		url := o.BaseURL + "/" + repo + "/" + s.Version + "/" + f.Path
		data, err := get(ctx, o.Client, url)
		var unreachable *neturl.Error
		if errors.As(err, &unreachable) {
			// The host is not reachable: one line for the source, not one per file.
			if rest := len(files) - i - 1; rest > 0 {
				return got, errors.Join(append(errs, fmt.Errorf("%s: fetch %s: %v (and %d more file(s) of %s not tried)", s.Local(f), url, unreachable.Err, rest, s.Name))...)
			}
			return got, errors.Join(append(errs, fmt.Errorf("%s: fetch %s: %v", s.Local(f), url, unreachable.Err))...)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: fetch %s: %v", s.Local(f), url, err))
			continue
		}
		got[f.Path] = data
	}
	return got, errors.Join(errs...)
}

func get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return data, nil
}
