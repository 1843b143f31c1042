package schemacheck

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
)

// Once its schemas are known to compile, most of a warm `render check`'s
// schema time is compiling them again: jsonschema/v6 cannot serialize a
// compiled schema. The objects, though, are mostly the same from one run to
// the next, so the verdict "this object has no finding" is cached: an object
// whose key was recorded valid is not validated again, and a kind none of
// whose objects needs validating is never compiled (compiled is only reached
// on a miss).
//
// The key (objectKey) is the sha256 of the kind's digest (kindDigest: this
// format, the jsonschema version and compiler settings, the build ID of the
// running executable, the Kubernetes version and the sha256 of the built-in
// bundle read, the embedded table, and the schema source: the built-in
// definition, or the CRD file's sha256, group, kind and version) and of the
// object's canonical encoding. The converted documents, the CEL rules and the
// embedded fields' schemas are functions of exactly those inputs and of the
// code, so any changed byte of object, schema, library or code is another
// key: never stale by construction, and deleting the cache costs one slow run.
// The env is not in it: it only labels findings.
//
// Only valid verdicts are recorded: an object with any finding (JSON schema,
// CEL rule, embedded core type, a schema that does not compile) is validated
// for real every time, so messages never come from the cache.
//
// Storage: one file per env (verdictFile), the set of keys found valid by
// the env's recent checks. One file per object was measured first: 11,000
// of them (500 services have 10,164 objects) took 0.07-0.1 s of wall time
// to read on two cores and 1-1.5 s to write; one file reads in about a
// millisecond.

// verdictFormat is bumped when what a verdict key covers, or the file
// layout, changes.
const verdictFormat = 1

// EnvVerdicts turns the verdict cache off ("off") or on ("on", the default).
const EnvVerdicts = "GITOPS_SCHEMA_VERDICTS"

// verdictGenerations is how many writing checks a key survives unused: a
// check of a subset of an env (PATH arguments) keeps the rest of the env's
// verdicts, and keys of objects that changed are dropped after a while.
const verdictGenerations = 8

// codeIdentity names the validator's code: the Go build ID of the running
// executable, which the go command derives from every input of the link
// (every package's source, the toolchain, the flags), for `go build`,
// `go run` and `go test` binaries alike. "" when it cannot be read: then
// nothing is cached. Tests replace it.
var codeIdentity = sync.OnceValue(func() string {
	exe := "/proc/self/exe" // the running file, even if the path was replaced since
	if runtime.GOOS != "linux" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return ""
		}
	}
	id, err := readBuildID(exe)
	if err != nil {
		return ""
	}
	return id
})

// readBuildID reads the Go build ID of an executable: the ELF note the
// linker writes, else the marker it puts at the start of the text (what
// `go tool buildid` reads on other formats), within the first 32 KiB.
func readBuildID(path string) (string, error) {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		if s := f.Section(".note.go.buildid"); s != nil {
			data, err := s.Data()
			if err != nil {
				return "", err
			}
			// namesz, descsz, type (4), "Go\x00\x00", the ID.
			if len(data) < 16 || string(data[12:16]) != "Go\x00\x00" {
				return "", fmt.Errorf("%s: malformed Go build ID note", path)
			}
			n := binary.LittleEndian.Uint32(data[4:8])
			if f.ByteOrder == binary.BigEndian {
				n = binary.BigEndian.Uint32(data[4:8])
			}
			if n == 0 || int(n) > len(data)-16 {
				return "", fmt.Errorf("%s: malformed Go build ID note", path)
			}
			return string(data[16 : 16+n]), nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 32<<10)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	const start, end = "\xff Go build ID: \"", "\"\n \xff"
	i := bytes.Index(head, []byte(start))
	if i < 0 {
		return "", fmt.Errorf("%s: no Go build ID", path)
	}
	rest := head[i+len(start):]
	j := bytes.Index(rest, []byte(end))
	if j <= 0 {
		return "", fmt.Errorf("%s: no Go build ID", path)
	}
	return string(rest[:j]), nil
}

// embeddedSum is the sha256 of the embedded table (embedded.yaml).
var embeddedSum = sync.OnceValue(func() string { return sha256Hex(embeddedData) })

// verdictsOn says whether verdicts are cached for this validator.
func (v *Validator) verdictsOn() bool {
	return v.opts.Verdicts != "off" && libraryVersion() != "" && codeIdentity() != "" && v.builtin != nil && v.builtin.Sum != ""
}

// kindDigest is the part of the verdict key that says which schema, CEL
// rules and embedded schemas an object of src is judged by, and by which
// code. nil when the source cannot be keyed (nothing is cached then).
func (v *Validator) kindDigest(src source) []byte {
	e := v.entry(src.url)
	e.digestOnce.Do(func() {
		h := sha256.New()
		fmt.Fprintf(h, "schemacheck verdict v%d\nlibrary %s\nsettings %s\ncode %s\nkubernetes %s bundle %s\nembedded %s\nschema %s\n",
			verdictFormat, libraryVersion(), compilerSettings(), codeIdentity(),
			v.opts.KubernetesVersion, v.builtin.Sum, embeddedSum(), src.url)
		if src.crd != nil {
			if src.crd.file == nil || src.crd.file.sum == "" {
				return
			}
			fmt.Fprintf(h, "crd %s %s %s %s\n", src.crd.file.sum, src.crd.Group, src.crd.Kind, src.crdVersion)
		}
		e.digest = h.Sum(nil)
	})
	return e.digest
}

// verdictKey is the key of one object's verdict.
type verdictKey [sha256.Size]byte

// objectKey keys o under its kind's digest; false when o holds a value the
// canonical encoding does not know (then its verdict is not cached).
func objectKey(digest []byte, o map[string]any) (verdictKey, bool) {
	var k verdictKey
	enc := canonicalEncoder{h: sha256.New()}
	enc.h.Write(digest)
	if !enc.value(o) {
		return k, false
	}
	enc.flush()
	enc.h.Sum(k[:0])
	return k, true
}

// canonicalEncoder writes a decoded object so that two objects have the same
// bytes exactly when they are the same value with the same Go types: map
// keys sorted, strings length-prefixed, each value tagged with its type.
// JSON text would not do: int64 1 and float64 1 both print 1, and CEL types
// them as int and double, which rules can tell apart.
type canonicalEncoder struct {
	h   hash.Hash
	buf []byte
}

func (c *canonicalEncoder) flush() {
	c.h.Write(c.buf)
	c.buf = c.buf[:0]
}

func (c *canonicalEncoder) tag(t byte, n uint64) {
	c.buf = binary.AppendUvarint(append(c.buf, t), n)
	if len(c.buf) > 4096 {
		c.flush()
	}
}

func (c *canonicalEncoder) str(t byte, s string) {
	c.tag(t, uint64(len(s)))
	if len(s) > 4096 {
		c.flush()
		io.WriteString(c.h, s)
		return
	}
	c.buf = append(c.buf, s...)
}

func (c *canonicalEncoder) value(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		c.tag('{', uint64(len(keys)))
		for _, k := range keys {
			c.str('k', k)
			if !c.value(t[k]) {
				return false
			}
		}
	case []any:
		c.tag('[', uint64(len(t)))
		for _, x := range t {
			if !c.value(x) {
				return false
			}
		}
	case string:
		c.str('s', t)
	case int64:
		c.tag('i', uint64(t))
	case uint64:
		c.tag('u', t)
	case float64:
		c.tag('f', math.Float64bits(t))
	case bool:
		if t {
			c.tag('t', 0)
		} else {
			c.tag('F', 0)
		}
	case nil:
		c.tag('n', 0)
	default:
		return false
	}
	return true
}

// verdictFile is the cached set of valid keys of one env.
type verdictFile struct {
	path string
	env  string
	gen  uint32
	keys map[verdictKey]uint32 // key -> the generation that last found it valid
}

const verdictMagic = "schemacheck verdicts\n"

// verdictPath is where an env's verdicts live: the file name is a digest of
// the env name, which may hold any character.
func (v *Validator) verdictPath(env string) string {
	s := sha256.Sum256([]byte(env))
	return filepath.Join(v.opts.CacheDir, "verdicts", "env-"+hex.EncodeToString(s[:16]))
}

// loadVerdicts reads an env's verdicts; a missing, truncated, corrupt or
// foreign file reads as empty (costs only speed). nil when caching is off.
func (v *Validator) loadVerdicts(env string) *verdictFile {
	if !v.verdictsOn() {
		return nil
	}
	f := &verdictFile{path: v.verdictPath(env), env: env, keys: map[verdictKey]uint32{}}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return f
	}
	f.gen, f.keys = decodeVerdicts(data, env)
	return f
}

// decodeVerdicts reads the layout encodeVerdicts writes. The checksum at the
// end covers every byte before it, so a truncated or damaged file is
// refused whole; the header names the format and the env, so a file that is
// not this env's (copied, renamed) is refused too.
func decodeVerdicts(data []byte, env string) (uint32, map[verdictKey]uint32) {
	empty := map[verdictKey]uint32{}
	if len(data) < sha256.Size {
		return 0, empty
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return 0, empty
	}
	r := body
	u32 := func() (uint32, bool) {
		if len(r) < 4 {
			return 0, false
		}
		x := binary.BigEndian.Uint32(r)
		r = r[4:]
		return x, true
	}
	if !bytes.HasPrefix(r, []byte(verdictMagic)) {
		return 0, empty
	}
	r = r[len(verdictMagic):]
	format, ok1 := u32()
	gen, ok2 := u32()
	n, ok3 := u32()
	if !ok1 || !ok2 || !ok3 || format != verdictFormat || uint64(len(r)) < uint64(n) || string(r[:n]) != env {
		return 0, empty
	}
	r = r[n:]
	count, ok := u32()
	const rec = sha256.Size + 4
	if !ok || uint64(len(r)) != uint64(count)*rec {
		return 0, empty
	}
	keys := make(map[verdictKey]uint32, count)
	for len(r) > 0 {
		keys[verdictKey(r[:sha256.Size])] = binary.BigEndian.Uint32(r[sha256.Size:rec])
		r = r[rec:]
	}
	return gen, keys
}

// encodeVerdicts lays keys out sorted, so equal sets are equal bytes.
func encodeVerdicts(env string, gen uint32, keys map[verdictKey]uint32) []byte {
	sorted := make([]verdictKey, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.SortFunc(sorted, func(a, b verdictKey) int { return bytes.Compare(a[:], b[:]) })
	out := make([]byte, 0, len(verdictMagic)+16+len(env)+len(sorted)*(sha256.Size+4)+sha256.Size)
	out = append(out, verdictMagic...)
	out = binary.BigEndian.AppendUint32(out, verdictFormat)
	out = binary.BigEndian.AppendUint32(out, gen)
	out = binary.BigEndian.AppendUint32(out, uint32(len(env)))
	out = append(out, env...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(sorted)))
	for _, k := range sorted {
		out = append(out, k[:]...)
		out = binary.BigEndian.AppendUint32(out, keys[k])
	}
	s := sha256.Sum256(out)
	return append(out, s[:]...)
}

func (f *verdictFile) has(k verdictKey) bool {
	_, ok := f.keys[k]
	return ok
}

// record writes the keys found valid by this check, with the ones of the
// last checks still recent enough; nothing when every one was there already,
// of the last generation (a warm check writes nothing). A cache that cannot
// be written costs only speed next time.
func (f *verdictFile) record(valid []verdictKey) {
	if f == nil || !slices.ContainsFunc(valid, func(k verdictKey) bool { g, ok := f.keys[k]; return !ok || g != f.gen }) {
		return
	}
	gen := f.gen + 1
	keys := make(map[verdictKey]uint32, len(f.keys)+len(valid))
	for k, g := range f.keys {
		if gen-g < verdictGenerations {
			keys[k] = g
		}
	}
	for _, k := range valid {
		keys[k] = gen
	}
	_ = writeBytesAtomic(f.path, encodeVerdicts(f.env, gen, keys))
}
