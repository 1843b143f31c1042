// Package testrepo gives tests a repository of their own to break: the
// repository's schema with the fixture envs of testdata/golden/envs as envs/,
// and a way to find and change an env value by its CUE path rather than by
// its text. Tests built on it do not depend on the live envs' values or
// layout, so a valid change to envs/ (or `cue fmt` realigning a block) never
// fails them.
package testrepo

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
)

// Root is the repository root (the folder holding cue.mod/), found from this
// source file so it works from any package's tests.
func Root(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testrepo: no caller information")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "cue.mod")); err != nil {
		t.Fatalf("testrepo: %s holds no cue.mod: %v", root, err)
	}
	return root
}

// FixtureEnvs is where the fixture envs live, relative to the root.
const FixtureEnvs = "testdata/golden/envs"

// Fixture copies cue.mod/ and schema/ of the repository and the fixture envs
// (testdata/golden/envs, as envs/) into a temporary repository and returns
// its root. The fixture has a primary env "small" and a standby "small-dr",
// and a catalogue envs/shared they both import, shaped like the live envs.
func Fixture(t testing.TB) string {
	t.Helper()
	src := Root(t)
	dst := t.TempDir()
	for from, to := range map[string]string{"cue.mod": "cue.mod", "schema": "schema", FixtureEnvs: "envs"} {
		if err := os.CopyFS(filepath.Join(dst, to), os.DirFS(filepath.Join(src, from))); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// Field is one field of a CUE file, found by its path.
type Field struct {
	File  string // as given to Find
	Label token.Position
	Value token.Position
	// start and end are the byte offsets of the value's text; declStart and
	// declEnd those of the whole field (label to value), for Delete.
	start, end         int
	declStart, declEnd int
	Text               string // the value as written
}

// Find locates the field at path (e.g. "platform", "services", "web",
// "replicas") in the CUE file, following nested structs whether they are
// written as `a: b: c: 1` or as `a: {b: {c: 1}}`. It fails the test when the
// file has no such field.
func Find(t testing.TB, file string, path ...string) Field {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(file, src, parser.ParseComments)
	if err != nil {
		t.Fatalf("testrepo: %v", err)
	}
	var found, decl *ast.Field
	// chain holds the fields walked from the file down, each with whether it
	// is a declaration of the file or of a braced struct (not the single
	// field of a short form `a: b: 1`).
	type link struct {
		field    *ast.Field
		declared bool
	}
	var chain []link
	var walk func(decls []ast.Decl, path []string, braced bool)
	walk = func(decls []ast.Decl, path []string, braced bool) {
		for _, d := range decls {
			fd, ok := d.(*ast.Field)
			if !ok {
				continue
			}
			name, _, err := ast.LabelName(fd.Label)
			if err != nil || name != path[0] {
				continue
			}
			chain = append(chain, link{fd, braced})
			if len(path) == 1 {
				if found == nil {
					found = fd
					// What Delete removes: the field, or for a short form the
					// nearest ancestor that holds nothing else.
					for i := len(chain) - 1; i >= 0; i-- {
						if decl = chain[i].field; chain[i].declared {
							break
						}
					}
				}
			} else {
				for _, s := range structsOf(fd.Value) {
					walk(s.Elts, path[1:], s.Lbrace.IsValid())
				}
			}
			chain = chain[:len(chain)-1]
		}
	}
	walk(f.Decls, path, true)
	if found == nil {
		t.Fatalf("testrepo: %s has no field %s", file, strings.Join(path, "."))
	}
	start, end := found.Value.Pos().Offset(), found.Value.End().Offset()
	return Field{
		File:  file,
		Label: found.Label.Pos().Position(),
		Value: found.Value.Pos().Position(),
		start: start, end: end,
		declStart: decl.Pos().Offset(), declEnd: decl.Value.End().Offset(),
		Text: string(src[start:end]),
	}
}

// structsOf is the struct literals a field value is made of: the value
// itself, or the operands of a unification (`#Def & {...}`).
func structsOf(x ast.Expr) []*ast.StructLit {
	switch v := x.(type) {
	case *ast.StructLit:
		return []*ast.StructLit{v}
	case *ast.BinaryExpr:
		if v.Op == token.AND {
			return append(structsOf(v.X), structsOf(v.Y)...)
		}
	case *ast.ParenExpr:
		return structsOf(v.X)
	}
	return nil
}

// Set replaces the field's value with text in its file and returns the field
// as it is afterwards.
func Set(t testing.TB, f Field, text string) Field {
	t.Helper()
	src := readUnchanged(t, f)
	out := string(src[:f.start]) + text + string(src[f.end:])
	if err := os.WriteFile(f.File, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	f.Text, f.end = text, f.start+len(text)
	return f
}

// Delete removes the whole field (label and value, and the line it leaves
// empty) from its file; a field written in short form (`a: b: 1`, found as
// a.b) goes with the labels that hold only it.
func Delete(t testing.TB, f Field) {
	t.Helper()
	src := readUnchanged(t, f)
	start, end := f.declStart, f.declEnd
	// Take the rest of the line and, when the field had its line to
	// itself, its indentation, so no blank line is left.
	for end < len(src) && (src[end] == ' ' || src[end] == '\t' || src[end] == ',') {
		end++
	}
	if end < len(src) && src[end] == '\n' {
		lineStart := start
		for lineStart > 0 && (src[lineStart-1] == ' ' || src[lineStart-1] == '\t') {
			lineStart--
		}
		if lineStart == 0 || src[lineStart-1] == '\n' {
			start, end = lineStart, end+1
		}
	}
	out := string(src[:start]) + string(src[end:])
	if _, err := parser.ParseFile(f.File, out); err != nil {
		t.Fatalf("testrepo: deleting %s leaves %s unparsable: %v", f.Text, f.File, err)
	}
	if err := os.WriteFile(f.File, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readUnchanged is the field's file, which must still hold the field as
// Find saw it.
func readUnchanged(t testing.TB, f Field) []byte {
	t.Helper()
	src, err := os.ReadFile(f.File)
	if err != nil {
		t.Fatal(err)
	}
	if f.end > len(src) || string(src[f.start:f.end]) != f.Text {
		t.Fatalf("testrepo: %s changed since the field was found", f.File)
	}
	return src
}

// At is "file:line:col" of a position, with the file relative to root, as
// the renderer prints positions.
func At(root string, p token.Position) string {
	rel, err := filepath.Rel(root, p.Filename)
	if err != nil {
		rel = p.Filename
	}
	return fmt.Sprintf("%s:%d:%d", filepath.ToSlash(rel), p.Line, p.Column)
}
