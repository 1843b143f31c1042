package schemacheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"
)

// crdCacheFormat is bumped when what is cached per CRD file changes.
const crdCacheFormat = 1

// crdKind is one group/kind defined by a CustomResourceDefinition. Its
// schemas are read on first use: parsing every CRD's YAML (about 10 MB for
// the platform) would dominate start-up, so New reads only a small index,
// cached per file content, and schemas come from a JSON cache of the file.
type crdKind struct {
	File     string
	Group    string
	Kind     string
	Versions map[string]crdVersion
	Served   []string // served version names, in CRD order
	file     *crdFile
}

type crdVersion struct {
	Served    bool
	HasSchema bool
}

// schema returns the openAPIV3Schema of one version.
func (k *crdKind) schema(version string) (map[string]any, error) {
	all, err := k.file.schemas()
	if err != nil {
		return nil, err
	}
	return all[k.Group+" "+k.Kind][version], nil
}

// servedList is how an unserved-version finding names the alternatives.
func (k *crdKind) servedList() string {
	if len(k.Served) == 0 {
		return "none"
	}
	return strings.Join(k.Served, ", ")
}

// crdFile is one file of the CRD directory and its cache entries.
type crdFile struct {
	path      string
	sum       string // sha256 of the file: what its schemas come from (with the code)
	cachePath string // JSON of every schema in the file, by "group Kind" and version
	schemas   func() (map[string]map[string]map[string]any, error)
}

// crdIndexEntry is what the per-file index cache holds for each kind.
type crdIndexEntry struct {
	Group, Kind string
	Versions    map[string]crdVersion
	Served      []string
}

// loadCRDs indexes every CustomResourceDefinition (apiextensions.k8s.io/v1)
// in the YAML/JSON files under dir. Other documents are ignored: a CRD
// directory may hold kustomizations or READMEs.
func loadCRDs(dir, cacheDir string, sums map[string]string) (map[string]*crdKind, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := filepath.Ext(path)
		if !d.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading CRD directory: %w", err)
	}
	slices.Sort(paths)
	perFile := make([][]*crdKind, len(paths))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range paths {
		g.Go(func() error {
			var sum string
			if rel, err := filepath.Rel(dir, p); err == nil {
				sum = sums[filepath.ToSlash(rel)]
			}
			kinds, err := indexCRDFile(p, filepath.Join(cacheDir, "crds"), sum)
			perFile[i] = kinds
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	kinds := map[string]*crdKind{}
	for _, ks := range perFile {
		for _, k := range ks {
			key := k.Group + " " + k.Kind
			if prev, dup := kinds[key]; dup {
				return nil, fmt.Errorf("%s: %s.%s is already defined by %s", k.File, k.Kind, k.Group, prev.File)
			}
			kinds[key] = k
		}
	}
	return kinds, nil
}

// indexCRDFile returns the kinds a file defines, from the cache when the
// file's content was seen before, else by parsing it (and caching the result).
// known is the file's sha256 when the caller verified it ("" if not): then a
// cached file is not read at all (10 MB for the platform's CRDs, hashed on
// every run before).
func indexCRDFile(path, cacheDir, known string) ([]*crdKind, error) {
	if len(known) == 2*sha256.Size {
		if kinds, ok := cachedIndex(path, cacheDir, known); ok {
			return kinds, nil
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Cheap pre-filter: skip files that cannot hold a CRD without parsing them.
	if !bytes.Contains(data, []byte("CustomResourceDefinition")) {
		return nil, nil
	}
	s := sha256.Sum256(data)
	sum := hex.EncodeToString(s[:])
	if kinds, ok := cachedIndex(path, cacheDir, sum); ok {
		return kinds, nil
	}
	base := crdCacheBase(cacheDir, sum)
	f := &crdFile{path: path, sum: sum, cachePath: base + ".schemas.json"}
	schemas, index, err := parseCRDFile(path, data)
	if err != nil {
		return nil, err
	}
	f.schemas = func() (map[string]map[string]map[string]any, error) { return schemas, nil }
	// A cache that cannot be written costs only speed next time.
	if writeFileAtomic(f.cachePath, schemas) == nil {
		_ = writeFileAtomic(base+".index.json", index)
	}
	return kindsOf(f, index), nil
}

// crdCacheBase is where the cache entries of a file's content begin: the
// first 128 bits of its sha256 (hex) name it.
func crdCacheBase(cacheDir, sum string) string {
	return filepath.Join(cacheDir, fmt.Sprintf("v%d-%s", crdCacheFormat, sum[:32]))
}

// cachedIndex is the kinds of the file whose content has sha256 sum, from
// the cache; false when the cache does not hold both its entries.
func cachedIndex(path, cacheDir, sum string) ([]*crdKind, bool) {
	base := crdCacheBase(cacheDir, sum)
	f := &crdFile{path: path, sum: sum, cachePath: base + ".schemas.json"}
	var index []crdIndexEntry
	raw, err := os.ReadFile(base + ".index.json")
	if err != nil || json.Unmarshal(raw, &index) != nil {
		return nil, false
	}
	if _, err := os.Stat(f.cachePath); err != nil {
		return nil, false
	}
	f.schemas = sync.OnceValues(f.loadCached)
	return kindsOf(f, index), true
}

func kindsOf(f *crdFile, index []crdIndexEntry) []*crdKind {
	out := make([]*crdKind, len(index))
	for i, e := range index {
		out[i] = &crdKind{File: f.path, Group: e.Group, Kind: e.Kind, Versions: e.Versions, Served: e.Served, file: f}
	}
	return out
}

func (f *crdFile) loadCached() (map[string]map[string]map[string]any, error) {
	raw, err := os.ReadFile(f.cachePath)
	if err != nil {
		return nil, fmt.Errorf("%s: cached schemas: %w", f.path, err)
	}
	var schemas map[string]map[string]map[string]any
	if err := json.Unmarshal(raw, &schemas); err != nil {
		return nil, fmt.Errorf("%s: cached schemas %s: %w (delete it to rebuild)", f.path, f.cachePath, err)
	}
	return schemas, nil
}

// parseCRDFile reads every CRD document of a file: the schemas by
// "group Kind" and version, and the index of kinds.
func parseCRDFile(file string, data []byte) (map[string]map[string]map[string]any, []crdIndexEntry, error) {
	schemas := map[string]map[string]map[string]any{}
	var index []crdIndexEntry
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return schemas, index, nil
			}
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		if doc["kind"] != "CustomResourceDefinition" {
			continue
		}
		if av, _ := doc["apiVersion"].(string); av != "apiextensions.k8s.io/v1" {
			return nil, nil, fmt.Errorf("%s: CustomResourceDefinition %s is not supported (want apiextensions.k8s.io/v1)", file, av)
		}
		spec, _ := doc["spec"].(map[string]any)
		names, _ := spec["names"].(map[string]any)
		e := crdIndexEntry{Versions: map[string]crdVersion{}}
		e.Group, _ = spec["group"].(string)
		e.Kind, _ = names["kind"].(string)
		if e.Group == "" || e.Kind == "" {
			return nil, nil, fmt.Errorf("%s: CustomResourceDefinition without spec.group or spec.names.kind", file)
		}
		byVersion := map[string]map[string]any{}
		versions, _ := spec["versions"].([]any)
		for _, v := range versions {
			vm, _ := v.(map[string]any)
			name, _ := vm["name"].(string)
			served, _ := vm["served"].(bool)
			schema, _ := vm["schema"].(map[string]any)
			s, _ := schema["openAPIV3Schema"].(map[string]any)
			e.Versions[name] = crdVersion{Served: served, HasSchema: s != nil}
			if served {
				e.Served = append(e.Served, name)
			}
			if s != nil {
				byVersion[name] = s
			}
		}
		schemas[e.Group+" "+e.Kind] = byVersion
		index = append(index, e)
	}
}
