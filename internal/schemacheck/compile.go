package schemacheck

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Compiling a kind's schema is most of `render check`'s schema time, and
// most of the compile is jsonschema/v6 validating the document against the
// 2020-12 metaschema: roots.addRoot does it for every document whose URL is
// not under json-schema.org (the metaschemas themselves), and the library
// has no option to skip it. The documents are the same from one run to the
// next, so the verdict is cached: a document that passed the metaschema once
// is recorded in the cache under the sha256 of its bytes, the library's
// version and the compiler's settings (verifiedKey). A recorded document is
// compiled under a json-schema.org URL, which skips the check; any other is
// compiled with it and, when it passes, recorded. A changed byte is another
// key, so the cache is never stale, and deleting it costs one slow run.
// TestVerifiedSchemaURLSkipsMetaschema pins the library behaviour relied on.

// verifiedFormat is bumped when what a verified key covers changes.
const verifiedFormat = 1

// verifiedURL is where a document already known to be a valid schema is
// compiled: a json-schema.org URL that names no metaschema.
const verifiedURL = "https://json-schema.org/schemacheck/verified"

// checkedURL is where any other document is compiled, metaschema checked.
const checkedURL = "urn:schemacheck:kind"

// compilerSettings is the part of the key that says how documents are
// compiled: a metaschema verdict under other settings is not reused.
var compilerSettings = sync.OnceValue(func() string {
	names := make([]string, 0, len(formats))
	for _, f := range formats {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return fmt.Sprintf("v%d draft2020-12 assert-format formats=%s", verifiedFormat, strings.Join(names, ","))
})

// libraryVersion is the jsonschema module version built in, or "" when the
// binary carries no module information (then nothing is cached: an upgrade
// of the library would go unnoticed).
var libraryVersion = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/santhosh-tekuri/jsonschema/v6" {
			if d.Replace != nil {
				d = d.Replace
			}
			if d.Version == "" || d.Version == "(devel)" {
				return ""
			}
			return d.Path + "@" + d.Version + " " + d.Sum
		}
	}
	return ""
})

// verifiedKey is the cache key of a schema document: the sha256 of its JSON
// (encoding/json writes map keys sorted, so equal documents are equal bytes),
// the library version and the compiler settings. "" when it cannot be keyed.
func verifiedKey(doc map[string]any, library string) string {
	if library == "" {
		return ""
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", library, compilerSettings())
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// compileDoc compiles one kind's self-contained document, skipping the
// metaschema check when the cache says the same bytes passed it before.
func (v *Validator) compileDoc(doc map[string]any) (*jsonschema.Schema, error) {
	key := verifiedKey(doc, libraryVersion())
	marker := ""
	if key != "" {
		marker = filepath.Join(v.opts.CacheDir, "verified-schemas", key)
		if _, err := os.Stat(marker); err == nil {
			return compileAt(verifiedURL, doc)
		}
	}
	s, err := compileAt(checkedURL, doc)
	if err == nil && marker != "" {
		// A cache that cannot be written costs only speed next time.
		_ = writeFileAtomic(marker, map[string]string{"library": libraryVersion(), "settings": compilerSettings()})
	}
	return s, err
}

// compileAt compiles doc as the resource url. One compiler per kind: a
// Compiler is not safe for concurrent use, and separate ones let kinds
// compile in parallel.
func compileAt(url string, doc map[string]any) (*jsonschema.Schema, error) {
	c := newCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}
