package schemacheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// kubernetesModule ships the API server's OpenAPI v3 documents under openAPIDir.
const (
	kubernetesModule = "k8s.io/kubernetes"
	openAPIDir       = "api/openapi-spec/v3"
)

// bundleFormat is bumped when the cached file's layout changes. The cache
// holds the OpenAPI definitions as published (less descriptions), not their
// conversion, so a change to convert.go needs no bump.
const bundleFormat = 1

// builtinBundle is what the validator derives from the Kubernetes OpenAPI
// documents: every component schema, and which definition is the root of
// each served built-in apiVersion/kind. The definitions are kept as their
// JSON and converted on first use (defs): a check whose objects all have
// cached verdicts compiles nothing and needs none of them.
type builtinBundle struct {
	Format            int                        `json:"format"`
	KubernetesVersion string                     `json:"kubernetesVersion"`
	Kinds             map[string]string          `json:"kinds"`   // gvkKey -> definition name
	OpenAPI           map[string]json.RawMessage `json:"openAPI"` // as published, less descriptions
	// Sum is the sha256 of the cached file's bytes, what the definitions
	// come from (with the code): the verdict keys name the schemas by it.
	Sum string `json:"-"`
	// defs converts every definition once, with embedded.yaml's
	// constraints (set by New).
	defs func() (map[string]any, error)
}

// convertDef converts one definition from its OpenAPI JSON.
func convertDef(name string, data json.RawMessage) (any, error) {
	if o, ok := builtinOverrides[name]; ok {
		return o, nil
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("built-in definition %s: %w", name, err)
	}
	return convertOpenAPI(s, builtinDialect), nil
}

// convertDefs converts every definition.
func (b *builtinBundle) convertDefs() (map[string]any, error) {
	defs := make(map[string]any, len(b.OpenAPI))
	for name, data := range b.OpenAPI {
		d, err := convertDef(name, data)
		if err != nil {
			return nil, err
		}
		defs[name] = d
	}
	return defs, nil
}

// gvkKey is how kinds are indexed: "apps/v1 Deployment", "v1 Service".
func gvkKey(apiVersion, kind string) string { return apiVersion + " " + kind }

// loadBuiltin returns the converted built-in schemas of one Kubernetes
// version, from cacheDir when present, else from the k8s.io/kubernetes module
// (downloaded through the Go module proxy on a cold module cache).
func loadBuiltin(version, cacheDir string) (*builtinBundle, error) {
	cached := filepath.Join(cacheDir, version, fmt.Sprintf("builtin-v%d.json", bundleFormat))
	if data, err := os.ReadFile(cached); err == nil {
		var b builtinBundle
		if json.Unmarshal(data, &b) == nil && b.Format == bundleFormat && b.KubernetesVersion == version && len(b.Kinds) > 0 {
			b.Sum = sha256Hex(data)
			return &b, nil
		}
		// A corrupt or foreign cache file is rebuilt below.
	}
	dir, err := kubernetesModuleDir(version)
	if err != nil {
		return nil, err
	}
	b, err := buildBundle(filepath.Join(dir, openAPIDir), version)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	if err := writeBytesAtomic(cached, data); err != nil {
		return nil, fmt.Errorf("caching built-in schemas: %w", err)
	}
	b.Sum = sha256Hex(data) // the bytes the next run reads
	return b, nil
}

// kubernetesModuleDir asks the go command where k8s.io/kubernetes@version is
// extracted, downloading it through GOPROXY if needed. It runs outside any
// module so the project's go.mod is never touched.
func kubernetesModuleDir(version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", kubernetesModule+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	switch {
	case info.Error != "":
		return "", fmt.Errorf("fetching Kubernetes OpenAPI documents: go mod download %s@%s: %s", kubernetesModule, version, info.Error)
	case runErr != nil:
		return "", fmt.Errorf("fetching Kubernetes OpenAPI documents: go mod download %s@%s: %v: %s", kubernetesModule, version, runErr, strings.TrimSpace(stderr.String()))
	case info.Dir == "":
		return "", fmt.Errorf("fetching Kubernetes OpenAPI documents: go mod download %s@%s printed no Dir", kubernetesModule, version)
	}
	return info.Dir, nil
}

// buildBundle merges the component schemas of every OpenAPI v3 document in
// dir and converts them.
func buildBundle(dir, version string) (*builtinBundle, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_openapi.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no OpenAPI v3 documents in %s", dir)
	}
	b := &builtinBundle{Format: bundleFormat, KubernetesVersion: version, Kinds: map[string]string{}, OpenAPI: map[string]json.RawMessage{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Components struct {
				Schemas map[string]map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for name, s := range doc.Components.Schemas {
			if _, seen := b.OpenAPI[name]; seen {
				continue // every document carries the same shared definitions
			}
			if b.OpenAPI[name], err = json.Marshal(withoutDescriptions(s)); err != nil {
				return nil, err
			}
			// A definition naming exactly one GVK is that kind's root; the
			// ones naming many (DeleteOptions, WatchEvent) are not objects.
			gvks, _ := s["x-kubernetes-group-version-kind"].([]any)
			if len(gvks) != 1 {
				continue
			}
			g, _ := gvks[0].(map[string]any)
			group, _ := g["group"].(string)
			ver, _ := g["version"].(string)
			kind, _ := g["kind"].(string)
			apiVersion := ver
			if group != "" {
				apiVersion = group + "/" + ver
			}
			b.Kinds[gvkKey(apiVersion, kind)] = name
		}
	}
	if _, ok := b.OpenAPI[objectMetaDef]; !ok {
		return nil, fmt.Errorf("OpenAPI documents in %s define no %s", dir, objectMetaDef)
	}
	return b, nil
}

// withoutDescriptions drops the prose, most of the documents' size, which
// validation never reads. A property named "description" is kept.
func withoutDescriptions(s any) any {
	switch t := s.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			switch k {
			case "description":
				if _, isSchema := x.(map[string]any); !isSchema {
					continue
				}
			case "properties":
				props, _ := x.(map[string]any)
				kept := make(map[string]any, len(props))
				for name, p := range props {
					kept[name] = withoutDescriptions(p)
				}
				out[k] = kept
				continue
			}
			out[k] = withoutDescriptions(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = withoutDescriptions(x)
		}
		return out
	}
	return s
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func writeFileAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeBytesAtomic(path, data)
}

// writeBytesAtomic writes a temporary file and renames it, so a reader sees
// the old file or the new one, never part of one.
func writeBytesAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
