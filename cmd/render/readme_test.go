package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/internal/diagram"
)

// The README's diagram is written by render and checked by render --check:
// a stale one fails verify, naming README.md, until render rewrites it.
func TestStaleReadmeDiagramFailsVerify(t *testing.T) {
	root := scratchRepo(t)
	readme := filepath.Join(root, readmeFile)
	stale := "# Platform\n\nintro\n\n" + diagram.BeginMarker + "\n```mermaid\nflowchart LR\n  old --> gone\n```\n" + diagram.EndMarker + "\n\nafter\n"
	if err := os.WriteFile(readme, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCLI(t, "--root", root, "--check")
	if code != exitFindings || !strings.Contains(stderr, "the diagram in README.md differs") || !strings.Contains(stdout, "-  old --> gone") {
		t.Fatalf("--check with a stale diagram: exit %d, want %d naming README.md\nstdout:\n%s\nstderr:\n%s", code, exitFindings, stdout, stderr)
	}
	// Rendering one env leaves the diagram of all alone.
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
