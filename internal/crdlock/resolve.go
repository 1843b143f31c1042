package crdlock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ecommerce-platform/gitops/internal/usercache"
)

// Environment variables that override the defaults (flags override them).
const (
	// EnvDir names a CRD folder to verify and use instead of the cache.
	EnvDir = "GITOPS_CRD_DIR"
	// EnvCacheDir moves the cache (default os.UserCacheDir()/gitops-crds).
	EnvCacheDir = "GITOPS_CRD_CACHE"
	// EnvBaseURL replaces DefaultBaseURL (a mirror, or a test server).
	EnvBaseURL = "GITOPS_CRD_BASE_URL"
)

// DefaultBaseURL serves <owner>/<repo>/<version>/<path> of every GitHub
// repository: where sources without a module are fetched from.
const DefaultBaseURL = "https://raw.githubusercontent.com"

// Options say where the CRD files may come from.
type Options struct {
	// Dir is a folder to verify against the lock and use, offline: every
	// locked file must be there (<source name>/<file name>) with its sha256.
	// Empty: the cache, filled from Fallback or fetched.
	Dir string
	// Fallback is a folder whose files are taken when their sha256 matches
	// (the rest is fetched); it may be missing. Used only when Dir is empty.
	Fallback string
	// CacheDir holds the files by content (sha256/<hex>) and the verified
	// folders (trees/<lock digest>/). Safe to delete. Default $GITOPS_CRD_CACHE,
	// else os.UserCacheDir()/gitops-crds.
	CacheDir string
	// BaseURL replaces DefaultBaseURL (default $GITOPS_CRD_BASE_URL).
	BaseURL string
	// Offline refuses to fetch: what is neither cached nor in Fallback is an error.
	Offline bool
	// Client fetches URLs (default: a client with a 2 minute timeout).
	Client *http.Client
	// GoCommand runs go mod download (default "go"; its environment is this
	// process's, so GOPROXY, GOFLAGS and GOMODCACHE apply).
	GoCommand string
}

// Result is a verified CRD folder.
type Result struct {
	// Dir holds exactly the locked files, as <source name>/<file name>.
	Dir string
	// Fetched lists the files fetched this time (local names).
	Fetched []string
	// Unlocked lists .yaml files in a locked source's folder of Options.Dir
	// (or Fallback) that the lock does not name: not used.
	Unlocked []string
	// SHA256 is each file of Dir (slash-separated, relative to Dir) with
	// its sha256, the lock's: Dir is built from files verified against it,
	// so a reader need not hash them again (internal/schemacheck).
	SHA256 map[string]string
}

func (o Options) withDefaults() Options {
	if o.CacheDir == "" {
		o.CacheDir = usercache.Dir(EnvCacheDir, "gitops-crds")
	}
	if o.BaseURL == "" {
		o.BaseURL = os.Getenv(EnvBaseURL)
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/")
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	if o.GoCommand == "" {
		o.GoCommand = "go"
	}
	return o
}

// Dir resolves the CRD folder the tools use: given (a --crds flag), else
// $GITOPS_CRD_DIR, verified against the lock; else the cache, filled from
// ../shared/crds beside the repository root where its files match the lock,
// the rest fetched. The lock is the nearest schema/crds.lock.yaml at or
// above the working directory.
func Dir(ctx context.Context, given string, offline bool) (Result, error) {
	file, err := Find(".")
	if err != nil {
		return Result{}, err
	}
	lock, err := Load(file)
	if err != nil {
		return Result{}, err
	}
	if given == "" {
		given = os.Getenv(EnvDir)
	}
	return lock.Resolve(ctx, Options{Dir: given, Fallback: SharedDir(file), Offline: offline})
}

// SharedDir is ../shared/crds beside the repository that holds lockFile:
// the team's copy of the upstream files, used when it matches the lock.
func SharedDir(lockFile string) string {
	return filepath.Join(Root(lockFile), "..", "shared", "crds")
}

// Resolve returns a folder holding exactly the locked files, each verified.
func (l *Lock) Resolve(ctx context.Context, o Options) (Result, error) {
	o = o.withDefaults()
	tree := filepath.Join(o.CacheDir, "trees", l.Digest()[:24])
	res := Result{SHA256: map[string]string{}}
	for _, s := range l.Sources {
		for _, f := range s.Files {
			res.SHA256[s.Local(f)] = f.SHA256
		}
	}
	if o.Dir != "" {
		if err := l.verifyDir(o); err != nil {
			return res, err
		}
		res.Unlocked = l.unlocked(o.Dir)
	} else {
		if complete(tree) {
			res.Dir = tree
			return res, nil
		}
		fetched, err := l.fill(ctx, o)
		res.Fetched = fetched
		if err != nil {
			return res, err
		}
		if o.Fallback != "" {
			res.Unlocked = l.unlocked(o.Fallback)
		}
	}
	if err := l.buildTree(o, tree); err != nil {
		return res, err
	}
	res.Dir = tree
	return res, nil
}

// completeMark is written last into a tree: a tree without it is unfinished.
const completeMark = ".complete"

func complete(tree string) bool {
	_, err := os.Stat(filepath.Join(tree, completeMark))
	return err == nil
}

func (l *Lock) blob(o Options, sum string) string {
	return filepath.Join(o.CacheDir, "sha256", sum)
}

// verifyDir checks every locked file of o.Dir and puts it in the cache.
// Hashing about 14 MB costs tens of milliseconds per run, so a file whose
// size and modification time are those recorded when it last verified
// (stamps, per folder, in the cache) is not read again.
func (l *Lock) verifyDir(o Options) error {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("CRD folder %s: not a readable directory (given with --crds or $%s; leave both unset to use the cache of %s)", dir, EnvDir, FileName)
	}
	stampFile := filepath.Join(o.CacheDir, "verified", hashString(dir)[:24]+".json")
	old := readStamps(stampFile)
	stamps := map[string]stamp{}
	var errs []error
	for _, s := range l.Sources {
		for _, f := range s.Files {
			local := filepath.Join(dir, filepath.FromSlash(s.Local(f)))
			st, err := os.Stat(local)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: missing (%s locks %s: %s)", local, l.File, s.Local(f), s.describe(f)))
				continue
			}
			now := stamp{Size: st.Size(), ModTime: st.ModTime().UnixNano(), SHA256: f.SHA256}
			if old[s.Local(f)] == now && fileExists(l.blob(o, f.SHA256)) {
				stamps[s.Local(f)] = now
				continue
			}
			data, err := os.ReadFile(local)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", local, err))
				continue
			}
			if got := hashBytes(data); got != f.SHA256 {
				errs = append(errs, fmt.Errorf("%s: sha256 %s, but %s wants %s (%s)", local, got, l.File, f.SHA256, s.describe(f)))
				continue
			}
			if err := writeBlob(l.blob(o, f.SHA256), data); err != nil {
				return err
			}
			stamps[s.Local(f)] = now
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("CRD folder %s does not match %s:\n%w", dir, l.File, errors.Join(errs...))
	}
	writeStamps(stampFile, stamps) // best effort: without it the next run hashes again
	return nil
}

// stamp is what a verified file looked like.
type stamp struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"modTime"`
	SHA256  string `json:"sha256"`
}

func readStamps(file string) map[string]stamp {
	out := map[string]stamp{}
	if data, err := os.ReadFile(file); err == nil {
		_ = json.Unmarshal(data, &out) // a damaged stamp file means: hash again
	}
	return out
}

func writeStamps(file string, stamps map[string]stamp) {
	data, err := json.Marshal(stamps)
	if err == nil {
		_ = writeAtomic(file, data)
	}
}

// fill puts every locked file in the cache: from o.Fallback when it
// matches, else fetched. Every failure is reported, not just the first.
func (l *Lock) fill(ctx context.Context, o Options) ([]string, error) {
	var fetched []string
	var errs []error
	for _, s := range l.Sources {
		var missing []File
		for _, f := range s.Files {
			if fileExists(l.blob(o, f.SHA256)) {
				continue
			}
			if o.Fallback != "" {
				if data, err := os.ReadFile(filepath.Join(o.Fallback, filepath.FromSlash(s.Local(f)))); err == nil && hashBytes(data) == f.SHA256 {
					if err := writeBlob(l.blob(o, f.SHA256), data); err != nil {
						return fetched, err
					}
					continue
				}
			}
			missing = append(missing, f)
		}
		if len(missing) == 0 {
			continue
		}
		if o.Offline {
			for _, f := range missing {
				errs = append(errs, fmt.Errorf("%s (%s): not in the cache %s and offline (run render crds fetch)", s.Local(f), s.describe(f), o.CacheDir))
			}
			continue
		}
		got, err := fetchSource(ctx, o, s, missing)
		for _, f := range missing {
			data, ok := got[f.Path]
			if !ok {
				continue
			}
			if sum := hashBytes(data); sum != f.SHA256 {
				errs = append(errs, fmt.Errorf("%s: fetched %s: sha256 %s, but %s wants %s", s.Local(f), s.describe(f), sum, l.File, f.SHA256))
				continue
			}
			if err := writeBlob(l.blob(o, f.SHA256), data); err != nil {
				return fetched, err
			}
			fetched = append(fetched, s.Local(f))
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fetched, fmt.Errorf("the CRDs of %s (or give a folder of them with --crds or $%s):\n%w", l.File, EnvDir, errors.Join(errs...))
	}
	return fetched, nil
}

// buildTree lays out the verified folder from the cache: hard links to the
// blobs (copies where links fail), built aside and renamed into place, so a
// tree that exists is complete.
func (l *Lock) buildTree(o Options, tree string) error {
	if complete(tree) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(tree), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(tree), ".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, s := range l.Sources {
		if err := os.MkdirAll(filepath.Join(tmp, s.Name), 0o755); err != nil {
			return err
		}
		for _, f := range s.Files {
			blob := l.blob(o, f.SHA256)
			dst := filepath.Join(tmp, filepath.FromSlash(s.Local(f)))
			// The blob was verified when written; check again, cheaply
			// compared with what a wrong schema costs.
			data, err := os.ReadFile(blob)
			if err != nil {
				return fmt.Errorf("%s: %v", s.Local(f), err)
			}
			if got := hashBytes(data); got != f.SHA256 {
				os.Remove(blob)
				return fmt.Errorf("cache file %s: sha256 %s, want %s (removed; run again)", blob, got, f.SHA256)
			}
			if os.Link(blob, dst) != nil {
				if err := os.WriteFile(dst, data, 0o644); err != nil {
					return err
				}
			}
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, completeMark), []byte(l.Digest()+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, tree); err != nil && !complete(tree) {
		return err // a concurrent run that finished first is fine
	}
	return nil
}

// unlocked lists the .yaml files in dir's folders of locked sources that
// the lock does not name.
func (l *Lock) unlocked(dir string) []string {
	locked := map[string]bool{}
	for _, s := range l.Sources {
		for _, f := range s.Files {
			locked[s.Local(f)] = true
		}
	}
	var out []string
	for _, s := range l.Sources {
		_ = filepath.WalkDir(filepath.Join(dir, s.Name), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			if !locked[filepath.ToSlash(rel)] {
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
	}
	slices.Sort(out)
	return out
}

func hashBytes(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func hashString(s string) string { return hashBytes([]byte(s)) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func writeBlob(file string, data []byte) error {
	if fileExists(file) {
		return nil
	}
	return writeAtomic(file, data)
}

// writeAtomic writes through a temporary file and a rename, so concurrent
// runs (go test runs packages in parallel) never read half a file.
func writeAtomic(file string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
