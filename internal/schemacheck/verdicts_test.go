package schemacheck

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

// mixedSet has valid objects of a built-in kind, of a CRD kind with CEL rules
// and of a CRD kind with an embedded core type, an invalid object of each
// (schema, CEL rule, embedded template), a schemaless object and one of a
// kind known nowhere.
const mixedSet = validSet + `---
apiVersion: v1
kind: ConfigMap
metadata: {name: bad, namespace: shop}
data: {k: 1}
---
apiVersion: eks.aws.upbound.io/v1beta2
kind: NodeGroup
metadata: {name: missing}
spec:
  forProvider: {region: us-east-1}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: cart-bad, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  strategy:
    blueGreen: {activeService: cart, previewService: cart-preview}
  template:
    metadata: {labels: {app: cart}}
    spec:
      containers:
      - {name: cart, image: "cart:1", ports: [{containerPort: 70000}]}
---
apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata: {name: hourly}
policy: {anything: [goes]}
---
apiVersion: apps/v1
kind: Deploymnt
metadata: {name: web}
`

// validSet is every valid object of mixedSet, which begins with them.
const validSet = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec:
  minAvailable: 50%
  selector: {matchLabels: {app: web}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ok, namespace: shop}
data: {k: "1"}
---
apiVersion: eks.aws.upbound.io/v1beta2
kind: NodeGroup
metadata: {name: init}
spec:
  forProvider: {region: us-east-1}
  initProvider:
    scalingConfig: {desiredSize: 1, maxSize: 2, minSize: 1}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  strategy:
    blueGreen: {activeService: cart, previewService: cart-preview}
  template:
    metadata: {labels: {app: cart}}
    spec:
      containers:
      - {name: cart, image: "cart:1", ports: [{containerPort: 8080}]}
`

// pinLibrary gives the test binary a jsonschema version (test binaries carry
// no module versions, which turns both caches off).
func pinLibrary(t *testing.T) {
	t.Helper()
	saved := libraryVersion
	t.Cleanup(func() { libraryVersion = saved })
	libraryVersion = func() string { return "github.com/santhosh-tekuri/jsonschema/v6@test" }
}

// cachedValidator is the shared validator's schemas (no CRD parsing again)
// with a verdict cache of its own under cacheDir and nothing compiled yet.
func cachedValidator(t *testing.T, cacheDir, verdicts string) *Validator {
	t.Helper()
	v := validator(t)
	opts := v.opts
	opts.CacheDir, opts.Verdicts = cacheDir, verdicts
	return &Validator{opts: opts, builtin: v.builtin, crds: v.crds, builtGVs: v.builtGVs, embedded: v.embedded}
}

// validatorIn is New with its own CRD folder and cache, the built-in bundle
// copied from the shared validator's cache (so no module is read).
func validatorIn(t *testing.T, crdDir, cacheDir string) *Validator {
	t.Helper()
	shared := validator(t)
	bundle := filepath.Join(cacheDir, shared.KubernetesVersion(), "builtin-v1.json")
	if _, err := os.Stat(bundle); err != nil {
		data, err := os.ReadFile(filepath.Join(shared.opts.CacheDir, shared.KubernetesVersion(), "builtin-v1.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := writeBytesAtomic(bundle, data); err != nil {
			t.Fatal(err)
		}
	}
	v, err := New(Options{CRDDir: crdDir, CacheDir: cacheDir, KubernetesVersion: shared.KubernetesVersion(), Verdicts: "on"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func compiledURL(v *Validator, apiVersion, kind string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.entries[v.lookup(apiVersion, kind).url]
	return e != nil && e.schema != nil
}

func messages(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name+": "+f.Message)
	}
	return out
}

// A warm run finds what a cold one and one with the cache off find, at any
// GOMAXPROCS; an invalid object is never cached and still reported; only
// the kinds of objects validated for real are compiled.
func TestVerdictsWarmEqualsColdAndOff(t *testing.T) {
	pinLibrary(t)
	if codeIdentity() == "" {
		t.Fatal("the test binary has no readable build ID: nothing would be cached")
	}
	objs := parse(t, "mixed.yaml", mixedSet)
	off := cachedValidator(t, t.TempDir(), "off").Validate(objs, "prod")
	wantNames := []string{"bad", "missing", "cart-bad", "web"}
	var names []string
	for _, f := range off {
		names = append(names, f.Name)
	}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("cache off: findings of %v, want one each of %v:\n%s", names, wantNames, dump(off))
	}

	cache := t.TempDir()
	cold := cachedValidator(t, cache, "on")
	if got := cold.Validate(objs, "prod"); !reflect.DeepEqual(got, off) {
		t.Fatalf("cold:\n%s\nwant (cache off):\n%s", dump(got), dump(off))
	}
	if !compiledURL(cold, "policy/v1", "PodDisruptionBudget") {
		t.Fatal("cold run: PodDisruptionBudget not compiled")
	}
	gen, keys := readVerdicts(t, cold, "prod")
	if gen != 1 || len(keys) != 4 {
		t.Fatalf("after the cold run: generation %d, %d keys, want 1 and 4 (the valid objects)", gen, len(keys))
	}
	for _, procs := range []int{1, 2, 7} {
		prev := runtime.GOMAXPROCS(procs)
		warm := cachedValidator(t, cache, "on")
		got := warm.Validate(objs, "prod")
		runtime.GOMAXPROCS(prev)
		if !reflect.DeepEqual(got, off) {
			t.Fatalf("warm, GOMAXPROCS %d:\n%s\nwant (cache off):\n%s", procs, dump(got), dump(off))
		}
		// Compiled: the kinds of the invalid objects (and the Rollout's
		// embedded PodTemplateSpec); not the PodDisruptionBudget.
		if compiledURL(warm, "policy/v1", "PodDisruptionBudget") {
			t.Errorf("warm, GOMAXPROCS %d: PodDisruptionBudget compiled, all its objects are cached", procs)
		}
		if !compiledURL(warm, "v1", "ConfigMap") || !compiledURL(warm, "argoproj.io/v1alpha1", "Rollout") {
			t.Errorf("warm, GOMAXPROCS %d: the kinds of the invalid objects not compiled", procs)
		}
		if n := warm.compiles.Load(); n != 4 {
			t.Errorf("warm, GOMAXPROCS %d: %d schemas compiled, want 4 (ConfigMap, NodeGroup, Rollout, PodTemplateSpec)", procs, n)
		}
	}
	if gen2, keys2 := readVerdicts(t, cold, "prod"); gen2 != 1 || !reflect.DeepEqual(keys2, keys) {
		t.Errorf("a warm run with nothing new rewrote the verdicts: generation %d, %d keys", gen2, len(keys2))
	}
	// Another env has its own file: cold again, same findings but for Env.
	dr := cachedValidator(t, cache, "on")
	got := dr.Validate(objs, "dr")
	if !reflect.DeepEqual(messages(got), messages(off)) || dr.compiles.Load() <= 4 {
		t.Errorf("dr: %d compiles, findings\n%s", dr.compiles.Load(), dump(got))
	}
}

func readVerdicts(t *testing.T, v *Validator, env string) (uint32, map[verdictKey]uint32) {
	t.Helper()
	data, err := os.ReadFile(v.verdictPath(env))
	if err != nil {
		t.Fatal(err)
	}
	return decodeVerdicts(data, env)
}

// With every object of a set cached, no schema is compiled at all.
func TestCachedKindsAreNotCompiled(t *testing.T) {
	pinLibrary(t)
	objs := parse(t, "valid.yaml", validSet)
	cache := t.TempDir()
	cold := cachedValidator(t, cache, "on")
	if fs := cold.Validate(objs, "prod"); len(fs) > 0 {
		t.Fatalf("valid set:\n%s", dump(fs))
	}
	if cold.compiles.Load() == 0 {
		t.Fatal("cold run compiled nothing")
	}
	warm := cachedValidator(t, cache, "on")
	if fs := warm.Validate(objs, "prod"); len(fs) > 0 {
		t.Fatalf("warm:\n%s", dump(fs))
	}
	if n := warm.compiles.Load(); n != 0 {
		t.Errorf("warm run compiled %d schemas, want 0", n)
	}
	// Off: every object validated again.
	off := cachedValidator(t, cache, "off")
	off.Validate(objs, "prod")
	if off.compiles.Load() == 0 {
		t.Error("cache off: nothing compiled")
	}
}

// Each part of the key is needed: an object recorded valid, then changed in
// one part of its key so that the real check finds something, must be
// checked for real (a key that left that part out would hit and report
// nothing). Parts that cannot make a valid object invalid in a test (the
// library and the code) are shown by the compile they cause.
func TestVerdictKeyCoversObjectSchemaLibraryAndCode(t *testing.T) {
	pinLibrary(t)
	record := func(t *testing.T, v *Validator, doc string) {
		t.Helper()
		if fs := v.Validate(parse(t, "x.yaml", doc), "prod"); len(fs) > 0 {
			t.Fatalf("recording a valid object:\n%s", dump(fs))
		}
	}
	t.Run("a changed object byte", func(t *testing.T) {
		cache := t.TempDir()
		record(t, cachedValidator(t, cache, "on"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: \"1\"}\n")
		got := cachedValidator(t, cache, "on").Validate(parse(t, "x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: 1}\n"), "prod")
		if len(got) != 1 || got[0].Path != "data.k" {
			t.Errorf("\"1\" -> 1: got\n%s want the finding at data.k", dump(got))
		}
	})
	t.Run("an int and a float of the same value", func(t *testing.T) {
		// JSON prints both as 1; the schema's "integer" tells them apart
		// only by value, CEL by type: the key must too.
		a, okA := objectKey([]byte("d"), map[string]any{"n": int64(1)})
		b, okB := objectKey([]byte("d"), map[string]any{"n": float64(1)})
		c, _ := objectKey([]byte("d"), map[string]any{"n": "1"})
		if !okA || !okB || a == b || a == c {
			t.Error("1, 1.0 and \"1\" do not have three keys")
		}
		if _, ok := objectKey([]byte("d"), map[string]any{"n": struct{}{}}); ok {
			t.Error("a value the encoding does not know was keyed")
		}
		x, _ := objectKey([]byte("d"), map[string]any{"a": "b", "c": []any{nil, true}})
		y, _ := objectKey([]byte("d"), map[string]any{"c": []any{nil, true}, "a": "b"})
		z, _ := objectKey([]byte("e"), map[string]any{"c": []any{nil, true}, "a": "b"})
		if x != y || x == z {
			t.Error("the key follows map order, or ignores the kind digest")
		}
	})
	obj := "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\nspec: {size: 8}\n"
	crd := widgetCRD
	for _, tc := range []struct {
		name, before, after, objAfter, want string
	}{
		{"a changed CRD schema", crd("10", "self.size <= 10"), crd("5", "self.size <= 10"), obj, "spec.size: maximum: got 8, want 5"},
		{"a changed CEL rule", crd("10", "self.size <= 10"), crd("10", "self.size <= 5"), obj, "spec: too big for the rule"},
		// 8 and 8.0 are the same JSON and both integers to the schema, but
		// CEL has no int + double: the key must tell them apart.
		{"the same number as a float", crd("10", "self.size + 1 <= 11"), crd("10", "self.size + 1 <= 11"), strings.Replace(obj, "8", "8.0", 1),
			`spec: validation rule "self.size + 1 <= 11" cannot be evaluated: no such overload`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crds, cache := t.TempDir(), t.TempDir()
			file := filepath.Join(crds, "widget.yaml")
			if err := os.WriteFile(file, []byte(tc.before), 0o644); err != nil {
				t.Fatal(err)
			}
			record(t, validatorIn(t, crds, cache), obj)
			if warm := validatorIn(t, crds, cache); len(warm.Validate(parse(t, "x.yaml", obj), "prod")) != 0 || warm.compiles.Load() != 0 {
				t.Fatal("the unchanged CRD: not a hit")
			}
			if err := os.WriteFile(file, []byte(tc.after), 0o644); err != nil {
				t.Fatal(err)
			}
			got := validatorIn(t, crds, cache).Validate(parse(t, "x.yaml", tc.objAfter), "prod")
			if len(got) != 1 || got[0].Message != tc.want {
				t.Errorf("got\n%s want %q", dump(got), tc.want)
			}
		})
	}
	t.Run("a changed built-in schema", func(t *testing.T) {
		crds, cache := t.TempDir(), t.TempDir()
		cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: long value}\n"
		record(t, validatorIn(t, crds, cache), cm)
		// The cached bundle with ConfigMap's data values limited to 3 characters.
		path := filepath.Join(cache, validator(t).KubernetesVersion(), "builtin-v1.json")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var b builtinBundle
		if err := json.Unmarshal(data, &b); err != nil {
			t.Fatal(err)
		}
		var cmDef map[string]any
		if err := json.Unmarshal(b.OpenAPI["io.k8s.api.core.v1.ConfigMap"], &cmDef); err != nil {
			t.Fatal(err)
		}
		cmDef["properties"].(map[string]any)["data"].(map[string]any)["additionalProperties"] = map[string]any{"type": "string", "maxLength": 3}
		if b.OpenAPI["io.k8s.api.core.v1.ConfigMap"], err = json.Marshal(cmDef); err != nil {
			t.Fatal(err)
		}
		if data, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
		if err := writeBytesAtomic(path, data); err != nil {
			t.Fatal(err)
		}
		got := validatorIn(t, crds, cache).Validate(parse(t, "x.yaml", cm), "prod")
		if len(got) != 1 || got[0].Path != "data.k" {
			t.Errorf("got\n%s want the finding at data.k", dump(got))
		}
	})
	t.Run("another Kubernetes release", func(t *testing.T) {
		// PodSpec.schedulingGroup is in v1.37, not in v1.35.
		doc := `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      schedulingGroup: {podGroupName: api}
      containers: [{name: api, image: api}]
`
		cache := t.TempDir()
		record(t, cachedValidator(t, cache, "on"), doc) // v1.37.2
		v135, err := New(Options{KubernetesVersion: "v1.35.4"})
		if err != nil {
			t.Fatal(err)
		}
		v135.opts.CacheDir, v135.opts.Verdicts = cache, "on"
		got := v135.Validate(parse(t, "x.yaml", doc), "prod")
		if len(got) != 1 || got[0].Path != "spec.template.spec.schedulingGroup" {
			t.Errorf("v1.35.4: got\n%s want schedulingGroup unknown", dump(got))
		}
	})
	for _, tc := range []struct {
		name string
		swap func()
	}{
		{"another library version", func() {
			libraryVersion = func() string { return "github.com/santhosh-tekuri/jsonschema/v6@other" }
		}},
		{"another build of the code", func() { codeIdentity = func() string { return "another/build/id" } }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			savedL, savedC := libraryVersion, codeIdentity
			t.Cleanup(func() { libraryVersion, codeIdentity = savedL, savedC })
			cache := t.TempDir()
			objs := parse(t, "valid.yaml", validSet)
			cachedValidator(t, cache, "on").Validate(objs, "prod")
			if v := cachedValidator(t, cache, "on"); len(v.Validate(objs, "prod")) != 0 || v.compiles.Load() != 0 {
				t.Fatal("same identity: not a hit")
			}
			tc.swap()
			v := cachedValidator(t, cache, "on")
			if fs := v.Validate(objs, "prod"); len(fs) > 0 {
				t.Fatal(dump(fs))
			}
			if v.compiles.Load() == 0 {
				t.Error("a hit: the key does not cover it")
			}
		})
	}
	t.Run("no identity, no cache", func(t *testing.T) {
		savedC := codeIdentity
		t.Cleanup(func() { codeIdentity = savedC })
		codeIdentity = func() string { return "" }
		cache := t.TempDir()
		cachedValidator(t, cache, "on").Validate(parse(t, "valid.yaml", validSet), "prod")
		if _, err := os.Stat(filepath.Join(cache, "verdicts")); err == nil {
			t.Error("verdicts written without a code identity")
		}
	})
}

// A damaged, truncated or foreign verdict file is ignored: every object is
// validated for real. Each file below holds the invalid object's key (a
// forged verdict): read, it would hide the finding, as the control shows.
func TestBadVerdictFileIsIgnored(t *testing.T) {
	pinLibrary(t)
	objs := parse(t, "mixed.yaml", mixedSet)
	want := cachedValidator(t, t.TempDir(), "off").Validate(objs, "prod")
	bad := objs[slices.IndexFunc(objs, func(o *manifest.Object) bool { return o.Name() == "bad" })]
	v := cachedValidator(t, t.TempDir(), "on")
	badKey, ok := objectKey(v.kindDigest(v.lookup("v1", "ConfigMap")), bad.Object)
	if !ok {
		t.Fatal("no key")
	}
	forged := encodeVerdicts("prod", 1, map[verdictKey]uint32{badKey: 1})
	for _, tc := range []struct {
		name   string
		data   []byte
		hidden bool // the control: a well-formed file is read
	}{
		{"well-formed (control)", forged, true},
		{"a changed byte", func() []byte {
			d := append([]byte(nil), forged...)
			d[len(verdictMagic)+7] ^= 1 // the generation: the key still reads
			return d
		}(), false},
		{"a changed checksum", func() []byte {
			d := append([]byte(nil), forged...)
			d[len(d)-1] ^= 1
			return d
		}(), false},
		{"truncated", forged[:len(forged)-7], false},
		{"empty", nil, false},
		{"another env's file", encodeVerdicts("dr", 1, map[verdictKey]uint32{badKey: 1}), false},
		{"another format", func() []byte {
			d := encodeVerdicts("prod", 1, map[verdictKey]uint32{badKey: 1})
			d = d[:len(d)-32]
			d[len(verdictMagic)+3]++
			return encodeTail(d)
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			w := cachedValidator(t, cache, "on")
			if err := writeBytesAtomic(w.verdictPath("prod"), tc.data); err != nil {
				t.Fatal(err)
			}
			got := w.Validate(objs, "prod")
			hidden := !reflect.DeepEqual(got, want)
			if hidden != tc.hidden {
				t.Errorf("finding hidden %v, want %v; got\n%s", hidden, tc.hidden, dump(got))
			}
			if !tc.hidden {
				// Rewritten whole: the next run reads the valid objects.
				if gen, keys := readVerdicts(t, w, "prod"); gen != 1 || len(keys) != 4 {
					t.Errorf("rewritten: generation %d, %d keys, want 1 and 4", gen, len(keys))
				}
			}
		})
	}
}

// encodeTail appends the checksum to a body, as encodeVerdicts does.
func encodeTail(body []byte) []byte {
	s := sha256.Sum256(body)
	return append(body, s[:]...)
}

// A check of part of an env keeps the rest of its verdicts: keys are
// dropped only when verdictGenerations writing checks in a row did not use
// them; a check that uses an older key refreshes it.
func TestVerdictGenerations(t *testing.T) {
	pinLibrary(t)
	cache := t.TempDir()
	all := parse(t, "valid.yaml", validSet)
	v := cachedValidator(t, cache, "on")
	v.Validate(all, "prod")
	_, first := readVerdicts(t, v, "prod")
	n := 0
	partial := func() { // a writing check of one new ConfigMap
		n++
		one := parse(t, "one.yaml", fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n%d}\n", n))
		cachedValidator(t, cache, "on").Validate(one, "prod")
	}
	kept := func() bool {
		_, keys := readVerdicts(t, v, "prod")
		for k := range first {
			if _, ok := keys[k]; !ok {
				return false
			}
		}
		return true
	}
	for range 2 * verdictGenerations {
		partial()
		w := cachedValidator(t, cache, "on")
		w.Validate(all, "prod")
		if w.compiles.Load() != 0 || !kept() {
			t.Fatalf("after %d partial checks, each followed by a whole one: the whole set not cached", n)
		}
	}
	for i := range verdictGenerations {
		partial()
		if want := i+1 < verdictGenerations; kept() != want {
			t.Fatalf("after %d partial checks in a row: the whole set kept %v, want %v", i+1, !want, want)
		}
	}
	w := cachedValidator(t, cache, "on")
	w.Validate(all, "prod")
	if w.compiles.Load() == 0 {
		t.Error("dropped keys still hit")
	}
}

// Off by the environment, and a value that is neither on nor off refused.
func TestVerdictsSetting(t *testing.T) {
	for _, tc := range []struct{ env, want, err string }{
		{"", "on", ""}, {"on", "on", ""}, {"off", "off", ""}, {"no", "", "want on or off"},
	} {
		t.Setenv(EnvVerdicts, tc.env)
		o, err := withDefaults(Options{CRDDir: t.TempDir(), CacheDir: t.TempDir()})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), EnvVerdicts) {
				t.Errorf("%s=%q: err %v, want %q naming the variable", EnvVerdicts, tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || o.Verdicts != tc.want {
			t.Errorf("%s=%q: %q, %v; want %q", EnvVerdicts, tc.env, o.Verdicts, err, tc.want)
		}
	}
}

// The code identity is the Go build ID, as the go command reads it.
func TestCodeIdentityIsTheBuildID(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(goCmd, "tool", "buildid", exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := codeIdentity(), strings.TrimSpace(string(out)); got != want {
		t.Errorf("codeIdentity() = %q, go tool buildid says %q", got, want)
	}
	if _, err := readBuildID(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing file has a build ID")
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("not a binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readBuildID(empty); err == nil {
		t.Error("a text file has a build ID")
	}
}

// CRD files whose sha256 the caller vouches for (crdlock verified them) are
// not read while their index is cached: the cache of that content answers.
// Without the sums, or with a sum the cache does not know, the file is read.
func TestVouchedCRDSumsSkipReading(t *testing.T) {
	crds, cache := t.TempDir(), t.TempDir()
	file := filepath.Join(crds, "widget.yaml")
	crd := func(max string) []byte { return []byte(widgetCRD(max, "")) }
	obj := parse(t, "w.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\nspec: {size: 8}\n")
	if err := os.WriteFile(file, crd("10"), 0o644); err != nil {
		t.Fatal(err)
	}
	vouched := map[string]string{"widget.yaml": sha256Hex(crd("10"))}
	validate := func(sums map[string]string) []finding.Finding {
		t.Helper()
		validatorIn(t, crds, cache) // the built-in bundle in the cache
		v, err := New(Options{CRDDir: crds, CRDSums: sums, CacheDir: cache, KubernetesVersion: validator(t).KubernetesVersion(), Verdicts: "off"})
		if err != nil {
			t.Fatal(err)
		}
		return v.Validate(obj, "prod")
	}
	if fs := validate(vouched); len(fs) != 0 {
		t.Fatalf("maximum 10: %s", dump(fs))
	}
	// The file changes behind the caller's back: with its vouched sum the
	// file is not read, so the cached schema of that content answers.
	if err := os.WriteFile(file, crd("5"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fs := validate(vouched); len(fs) != 0 {
		t.Errorf("vouched sum: the file was read: %s", dump(fs))
	}
	for name, sums := range map[string]map[string]string{
		"no sums":         nil,
		"an unknown sum":  {"widget.yaml": strings.Repeat("0", 64)},
		"a malformed sum": {"widget.yaml": "abc"},
	} {
		if fs := validate(sums); len(fs) != 1 || fs[0].Message != "spec.size: maximum: got 8, want 5" {
			t.Errorf("%s: the file was not read: %s", name, dump(fs))
		}
	}
}

// widgetCRD is a one-kind CRD whose spec.size has a maximum and, unless rule
// is empty, a CEL rule on spec.
func widgetCRD(max, rule string) string {
	validations := ""
	if rule != "" {
		validations = "            x-kubernetes-validations:\n            - rule: \"" + rule + "\"\n              message: too big for the rule\n"
	}
	return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
` + validations + `            properties:
              size: {type: integer, maximum: ` + max + `}
`
}
