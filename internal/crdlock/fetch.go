package crdlock

import (
	"archive/zip"
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
// files from the module's zip (verified by the go command against the
// checksum database). A module whose go.mod asks for a newer Go than this
// one (Argo CD v3.6 needs 1.27) is still downloaded: go mod download
// refuses only to extract it, and the files are data, not code to build.
func fetchModule(ctx context.Context, o Options, s Source, files []File) (map[string][]byte, error) {
	at := s.Module + "@" + s.Version
	cmd := exec.CommandContext(ctx, o.GoCommand, "mod", "download", "-json", at)
	cmd.Dir = os.TempDir() // outside any module: nothing's go.mod changes
	cmd.Env = append(os.Environ(), "GO111MODULE=on")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Zip, Error string }
	parseErr := json.Unmarshal(stdout.Bytes(), &info)
	newerGo := strings.Contains(info.Error, "requires go >=")
	if parseErr != nil || info.Zip == "" || (info.Error != "" || runErr != nil) && !newerGo {
		msg := strings.TrimSpace(info.Error)
		if msg == "" {
			msg = strings.TrimSpace(stderr.String())
		}
		if msg == "" && runErr != nil {
			msg = runErr.Error()
		}
		return nil, fmt.Errorf("%s: go mod download %s: %s", s.Name, at, msg)
	}
	zr, err := zip.OpenReader(info.Zip)
	if err != nil {
		return nil, fmt.Errorf("%s: go mod download %s: %w", s.Name, at, err)
	}
	defer zr.Close()
	// Every file of a module zip is under "<module>@<version>/".
	inZip := map[string]*zip.File{}
	for _, zf := range zr.File {
		inZip[strings.TrimPrefix(zf.Name, at+"/")] = zf
	}
	got := map[string][]byte{}
	var errs []error
	for _, f := range files {
		zf, ok := inZip[f.Path]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s has no %s", s.Local(f), at, f.Path))
			continue
		}
		data, err := readZipFile(zf)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %s: %v", s.Local(f), at, f.Path, err))
			continue
		}
		got[f.Path] = data
	}
	return got, errors.Join(errs...)
}

func readZipFile(zf *zip.File) ([]byte, error) {
	if zf.UncompressedSize64 > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	r, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, maxFileSize+1))
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
