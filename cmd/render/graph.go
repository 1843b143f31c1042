package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ecommerce-platform/gitops/generator"
	"github.com/ecommerce-platform/gitops/internal/diagram"
)

func init() {
	subcommands["graph"] = subcommand{
		summary: "the platform as a diagram, generated from the model (mermaid or dot)",
		run:     runGraph,
	}
}

// runGraph implements render graph [--env NAME]... [--format mermaid|dot].
func runGraph(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var envs stringList
	fs.Var(&envs, "env", "draw only this env (repeatable)")
	format := fs.String("format", "mermaid", "diagram format: "+strings.Join(diagram.Formats, " or "))
	root := fs.String("root", ".", "the repository root")
	if code, failed := parseFlags(fs, args); failed {
		return code
	}
	if !slices.Contains(diagram.Formats, *format) || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "render graph: want --format %s and no arguments\n", strings.Join(diagram.Formats, " or "))
		return exitBadInput
	}
	rootDir, err := filepath.Abs(*root)
	if err != nil {
		fmt.Fprintf(stderr, "render graph: %v\n", err)
		return exitBadInput
	}
	graphs, err := generator.Graphs(context.Background(), generator.Options{Root: rootDir, Envs: envs})
	if err != nil {
		fmt.Fprintf(stderr, "render graph: %v\n", err)
		return exitBadInput
	}
	if err := diagram.Write(stdout, *format, graphs); err != nil {
		fmt.Fprintf(stderr, "render graph: %v\n", err)
		return exitBadInput
	}
	return exitOK
}
