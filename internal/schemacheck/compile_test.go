package schemacheck

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The library behaviour the verdict cache relies on: a document compiled
// under verifiedURL is not validated against the metaschema, one under
// checkedURL is. If an upgrade changes either, this fails.
func TestVerifiedSchemaURLSkipsMetaschema(t *testing.T) {
	// "title" must be a string (2020-12 meta-data vocabulary); the compiler
	// itself ignores it, so only the metaschema check can object.
	doc := func() map[string]any {
		return map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "title": 5}
	}
	_, err := compileAt(checkedURL, doc())
	var serr *jsonschema.SchemaValidationError
	if !errors.As(err, &serr) {
		t.Fatalf("compiled at %s: err = %v, want a metaschema SchemaValidationError", checkedURL, err)
	}
	if _, err := compileAt(verifiedURL, doc()); err != nil {
		t.Fatalf("compiled at %s: %v, want the metaschema check skipped", verifiedURL, err)
	}
}

// A cached verdict is keyed by the document's bytes: one changed byte is
// another key, so a changed schema is checked again.
func TestVerifiedKeyFollowsContent(t *testing.T) {
	doc := map[string]any{"type": []any{"string", "null"}, "maxLength": 63}
	changed := map[string]any{"type": []any{"string", "null"}, "maxLength": 64}
	reordered := map[string]any{"maxLength": 63, "type": []any{"string", "null"}}
	k := verifiedKey(doc, "lib@v1")
	switch {
	case k == "":
		t.Fatal("no key")
	case verifiedKey(changed, "lib@v1") == k:
		t.Error("maxLength 63 -> 64: same key")
	case verifiedKey(doc, "lib@v2") == k:
		t.Error("another library version: same key")
	case verifiedKey(reordered, "lib@v1") != k:
		t.Error("the same document built in another order: another key")
	case verifiedKey(doc, "") != "":
		t.Error("no library version: want no key (nothing cached)")
	}
}

// End to end: the first compile checks the metaschema and records the
// document; a document the metaschema rejects is never recorded, so it keeps
// failing; a changed document is checked again; a deleted cache only costs
// the check.
func TestVerdictCache(t *testing.T) {
	// Test binaries may carry no module versions: pin one.
	saved := libraryVersion
	t.Cleanup(func() { libraryVersion = saved })
	libraryVersion = func() string { return "github.com/santhosh-tekuri/jsonschema/v6@test" }
	v := &Validator{opts: Options{CacheDir: t.TempDir()}}
	dir := filepath.Join(v.opts.CacheDir, "verified-schemas")
	good := map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}
	bad := map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "title": 5}
	markers := func() int {
		entries, _ := os.ReadDir(dir)
		return len(entries)
	}
	if _, err := v.compileDoc(good); err != nil {
		t.Fatal(err)
	}
	if markers() != 1 {
		t.Fatalf("%d verdicts recorded after one valid document, want 1", markers())
	}
	if _, err := os.Stat(filepath.Join(dir, verifiedKey(good, libraryVersion()))); err != nil {
		t.Fatalf("verdict not under the document's key: %v", err)
	}
	for range 2 {
		if _, err := v.compileDoc(bad); err == nil {
			t.Fatal("a document the metaschema rejects compiled")
		}
	}
	if markers() != 1 {
		t.Fatalf("%d verdicts recorded, want 1: a rejected document must never be recorded", markers())
	}
	// The same bytes as bad with the offending byte changed: a new key.
	bad["title"] = "5"
	if _, err := v.compileDoc(bad); err != nil {
		t.Fatal(err)
	}
	if markers() != 2 {
		t.Fatalf("%d verdicts, want 2", markers())
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := v.compileDoc(good); err != nil || markers() != 1 {
		t.Fatalf("after deleting the cache: err %v, %d verdicts, want nil and 1", err, markers())
	}
}
