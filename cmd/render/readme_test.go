package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/generator"
	"github.com/ecommerce-platform/gitops/internal/diagram"
	"github.com/ecommerce-platform/gitops/internal/testrepo"
)

// The README's diagram is written by render and checked by render --check:
// a stale one fails verify, naming README.md, until render rewrites it.
func TestStaleReadmeDiagramFailsVerify(t *testing.T) {
	root := testrepo.Fixture(t) // not rendered yet: each render here is one evaluation of both envs
	readme := filepath.Join(root, readmeFile)
	stale := "# Platform\n\nintro\n\n" + diagram.BeginMarker + "\n```mermaid\nflowchart LR\n  old --> gone\n```\n" + diagram.EndMarker + "\n\nafter\n"
	if err := os.WriteFile(readme, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCLI(t, "--root", root, "--check")
	if code != exitFindings || !strings.Contains(stderr, "the diagram in README.md differs") || !strings.Contains(stdout, "-  old --> gone") {
		t.Fatalf("--check with a stale diagram: exit %d, want %d naming README.md\nstdout:\n%s\nstderr:\n%s", code, exitFindings, stdout, stderr)
	}
	if data, _ := os.ReadFile(readme); string(data) != stale {
		t.Fatalf("--check rewrote the README:\n%s", data)
	}
	// The diagram is of every env: rendering one leaves it alone.
	if code, _, stderr := runCLI(t, "--root", root, "--env", "small"); code != exitOK {
		t.Fatalf("render --env small: exit %d: %s", code, stderr)
	}
	if data, _ := os.ReadFile(readme); string(data) != stale {
		t.Fatalf("render --env small rewrote the README:\n%s", data)
	}

	if code, _, stderr := runCLI(t, "--root", root); code != exitOK {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, want := range []string{"# Platform\n\nintro\n\n" + diagram.BeginMarker + "\n", "\n" + diagram.EndMarker + "\n\nafter\n", "**small**\n\n```mermaid\n%% small\nflowchart LR\n", "**small-dr**\n\n```mermaid\n%% small-dr\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered README lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old --> gone") {
		t.Errorf("the stale diagram is still there:\n%s", got)
	}
	if code, stdout, stderr := runCLI(t, "--root", root, "--check"); code != exitOK {
		t.Fatalf("--check after render: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// syncReadme on its own (no CUE evaluated): stale, written, clean; nothing
// to keep without markers; markers out of order are an error.
func TestSyncReadme(t *testing.T) {
	root := t.TempDir()
	readme := filepath.Join(root, readmeFile)
	doc := diagram.BeginMarker + "\nold\n" + diagram.EndMarker + "\n"
	if err := os.WriteFile(readme, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	envs := []generator.Env{{Name: "a", Graph: &generator.Graph{Env: "a", Nodes: []generator.Node{{ID: "x", Label: "X", Group: "g"}}}}}
	if stale, err := syncReadme(root, envs, true, io.Discard); err != nil || !stale {
		t.Fatalf("check of a stale diagram: stale %v, %v", stale, err)
	}
	if _, err := syncReadme(root, envs, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	if stale, err := syncReadme(root, envs, true, io.Discard); err != nil || stale {
		t.Fatalf("check after writing: stale %v, %v", stale, err)
	}
	// Without markers (or without a README) there is nothing to keep.
	if err := os.WriteFile(readme, []byte("# no diagram\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stale, err := syncReadme(root, envs, true, io.Discard); err != nil || stale {
		t.Errorf("README without markers: stale %v, %v", stale, err)
	}
	if err := os.WriteFile(readme, []byte(diagram.EndMarker+"\n"+diagram.BeginMarker+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := syncReadme(root, envs, false, io.Discard); err == nil || !strings.Contains(err.Error(), readmeFile) {
		t.Errorf("markers out of order: err = %v, want one naming %s", err, readmeFile)
	}
}

// The repository's README keeps the markers, so make verify checks its diagram.
func TestRepositoryReadmeHasTheDiagramMarkers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", readmeFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := diagram.Embed(data, ""); err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if !strings.Contains(string(data), "```mermaid\n%% prod\n") || !strings.Contains(string(data), "```mermaid\n%% dr\n") {
		t.Error("README.md shows no diagram of prod and dr (run make render)")
	}
}
