package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/ecommerce-platform/gitops/generator"
	"github.com/ecommerce-platform/gitops/internal/diagram"
)

// readmeFile holds the platform diagram between diagram.BeginMarker and
// diagram.EndMarker; render writes it and render --check compares it.
const readmeFile = "README.md"

// syncReadme writes (or with check, compares) the diagram of the rendered
// envs into root's README.md. A root without a README, or a README without
// the markers, has no diagram to keep: nothing happens. It returns whether
// the committed diagram is stale (check only).
func syncReadme(root string, envs []generator.Env, check bool, stdout io.Writer) (stale bool, err error) {
	file := filepath.Join(root, readmeFile)
	doc, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !bytes.Contains(doc, []byte(diagram.BeginMarker)) {
		return false, nil
	}
	var graphs []generator.Graph
	for _, e := range envs {
		if e.Graph != nil {
			graphs = append(graphs, *e.Graph)
		}
	}
	fresh, err := diagram.Embed(doc, diagram.Markdown(graphs))
	if err != nil {
		return false, fmt.Errorf("%s: %v", readmeFile, err)
	}
	if bytes.Equal(doc, fresh) {
		return false, nil
	}
	if check {
		text, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A:        strings.SplitAfter(string(doc), "\n"),
			B:        strings.SplitAfter(string(fresh), "\n"),
			FromFile: readmeFile + " (committed)",
			ToFile:   readmeFile + " (fresh render)",
			Context:  3,
		})
		fmt.Fprint(stdout, text)
		return true, nil
	}
	// Through a rename, so an interrupted write never leaves half a README.
	tmp := file + ".render-tmp"
	if err := os.WriteFile(tmp, fresh, 0o644); err != nil {
		return false, err
	}
	return false, os.Rename(tmp, file)
}
