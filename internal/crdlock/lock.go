// Package crdlock pins the upstream CustomResourceDefinitions the tools
// validate against (crds.lock.yaml: per upstream source its repository,
// version and files, each with its path upstream and sha256), fetches them
// into a content-addressed cache, and verifies a folder given instead (such
// as ../shared/crds) against the lock. Resolve returns a folder holding
// exactly the locked files, every one verified, laid out as
// <source name>/<file name>: what internal/schemacheck reads and the e2e
// tests install.
package crdlock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// FileName is the lock's name; it sits in the model's folder (LockPath from
// the repository root), so every copy of schema/ (test fixtures, synthetic
// platforms) carries it.
const FileName = "crds.lock.yaml"

// LockPath is where the lock is, relative to the repository root.
const LockPath = "schema/" + FileName

// Lock is crds.lock.yaml.
type Lock struct {
	Sources []Source `json:"sources"`
	// File is where the lock was read from (error messages name it).
	File string `json:"-"`
}

// Source is one upstream project at one version.
type Source struct {
	// Name is the folder its files sit in, locally.
	Name string `json:"name"`
	// Repository is github.com/<owner>/<repo>.
	Repository string `json:"repository"`
	// Version is the git tag (or commit) the files are taken from.
	Version string `json:"version"`
	// Module, when set, is the Go module (at Version) whose zip carries the
	// files: they are fetched with go mod download. Otherwise by URL.
	Module string `json:"module,omitempty"`
	// Chart, when set, is the chart of #AddonCharts that installs this
	// controller (a schema test keeps the two equal).
	Chart *Chart `json:"chart,omitempty"`
	Files []File `json:"files"`
}

// Chart names a Helm chart at a version.
type Chart struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// File is one CRD file: its path in the repository and its sha256.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Local is the file's path in a CRD folder: <source name>/<file name>.
func (s Source) Local(f File) string { return s.Name + "/" + path.Base(f.Path) }

// describe names a file's origin for error messages.
func (s Source) describe(f File) string {
	return fmt.Sprintf("%s %s %s", s.Repository, s.Version, f.Path)
}

var (
	hexSHA256  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	githubRepo = regexp.MustCompile(`^github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	localName  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// Load reads and checks a lock file. Unknown fields are errors, so a typo
// cannot silently drop a pin.
func Load(file string) (*Lock, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data)
}

// Parse checks a lock's content; file names it in errors.
func Parse(file string, data []byte) (*Lock, error) {
	l := &Lock{File: file}
	if err := yaml.UnmarshalStrict(data, l); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Lock) check() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{l.File}, args...)...))
	}
	if len(l.Sources) == 0 {
		bad("no sources")
	}
	names := map[string]bool{}
	locals := map[string]bool{}
	for i, s := range l.Sources {
		where := fmt.Sprintf("source %d (%s)", i+1, s.Name)
		switch {
		case !localName.MatchString(s.Name):
			bad("%s: name %q is not a folder name", where, s.Name)
		case names[s.Name]:
			bad("%s: name %q appears twice", where, s.Name)
		}
		names[s.Name] = true
		if !githubRepo.MatchString(s.Repository) {
			bad("%s: repository %q: want github.com/<owner>/<repo>", where, s.Repository)
		}
		if s.Version == "" || strings.ContainsAny(s.Version, "/ ") {
			bad("%s: version %q: want a tag or commit", where, s.Version)
		}
		if s.Chart != nil && (s.Chart.Name == "" || s.Chart.Version == "") {
			bad("%s: chart needs a name and a version", where)
		}
		if len(s.Files) == 0 {
			bad("%s: no files", where)
		}
		for _, f := range s.Files {
			clean := path.Clean(f.Path)
			if f.Path == "" || clean != f.Path || path.IsAbs(f.Path) || strings.HasPrefix(clean, "../") || !strings.HasSuffix(f.Path, ".yaml") {
				bad("%s: path %q: want a relative path to a .yaml file", where, f.Path)
				continue
			}
			if !hexSHA256.MatchString(f.SHA256) {
				bad("%s: %s: sha256 %q: want 64 lower-case hex digits", where, f.Path, f.SHA256)
			}
			if locals[s.Local(f)] {
				bad("%s: %s appears twice", where, s.Local(f))
			}
			locals[s.Local(f)] = true
		}
	}
	return errors.Join(errs...)
}

// Digest identifies the locked set: the same files give the same digest.
func (l *Lock) Digest() string {
	h := sha256.New()
	for _, s := range l.Sources {
		for _, f := range s.Files {
			fmt.Fprintf(h, "%s %s\n", s.Local(f), f.SHA256)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Find returns the lock of the nearest repository root at or above dir
// (the root holds schema/crds.lock.yaml; seen from a package folder, the
// e2e module or a scratch copy of the repository).
func Find(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		candidate := filepath.Join(d, filepath.FromSlash(LockPath))
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s in %s or above it (run inside the repository)", LockPath, dir)
		}
	}
}

// Root is the repository root of a lock found by Find.
func Root(lockFile string) string {
	return filepath.Dir(filepath.Dir(filepath.FromSlash(lockFile)))
}
