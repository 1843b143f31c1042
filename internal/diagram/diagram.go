// Package diagram draws the platform's graph (generator.Graph) as Mermaid
// (GitHub renders it in Markdown) or Graphviz DOT.
package diagram

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/ecommerce-platform/gitops/generator"
)

// Formats are the diagram languages Write knows.
var Formats = []string{"mermaid", "dot"}

// Write draws the graphs in format, one diagram per env.
func Write(w io.Writer, format string, graphs []generator.Graph) error {
	var b strings.Builder
	switch format {
	case "mermaid":
		for _, g := range graphs {
			mermaid(&b, g)
		}
	case "dot":
		for _, g := range graphs {
			dot(&b, g)
		}
	default:
		return fmt.Errorf("unknown diagram format %q (want %s)", format, strings.Join(Formats, " or "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// unsafeID matches what neither Mermaid nor DOT accepts in a bare id.
var unsafeID = regexp.MustCompile(`[^A-Za-z0-9_]`)

func id(env, node string) string { return unsafeID.ReplaceAllString(env+"_"+node, "_") }

// groups returns group names in node order, each once.
func groups(g generator.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		if len(out) == 0 || out[len(out)-1] != n.Group {
			out = append(out, n.Group)
		}
	}
	return out
}

func mermaid(b *strings.Builder, g generator.Graph) {
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"` }
	fmt.Fprintf(b, "%%%% %s\nflowchart LR\n", g.Env)
	for _, grp := range groups(g) {
		fmt.Fprintf(b, "  subgraph %s[%s]\n", id(g.Env, "group_"+grp), quote(g.Env+": "+grp))
		for _, n := range g.Nodes {
			if n.Group == grp {
				fmt.Fprintf(b, "    %s[%s]\n", id(g.Env, n.ID), quote(n.Label))
			}
		}
		b.WriteString("  end\n")
	}
	for _, e := range g.Edges {
		if e.Label != "" {
			fmt.Fprintf(b, "  %s -->|%s| %s\n", id(g.Env, e.From), quote(e.Label), id(g.Env, e.To))
		} else {
			fmt.Fprintf(b, "  %s --> %s\n", id(g.Env, e.From), id(g.Env, e.To))
		}
	}
}

func dot(b *strings.Builder, g generator.Graph) {
	quote := func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }
	fmt.Fprintf(b, "digraph %s {\n  rankdir=LR;\n  node [shape=box];\n", quote(g.Env))
	for _, grp := range groups(g) {
		fmt.Fprintf(b, "  subgraph %s {\n    label=%s;\n", quote("cluster_"+grp), quote(grp))
		for _, n := range g.Nodes {
			if n.Group == grp {
				fmt.Fprintf(b, "    %s [label=%s];\n", quote(n.ID), quote(n.Label))
			}
		}
		b.WriteString("  }\n")
	}
	for _, e := range g.Edges {
		if e.Label != "" {
			fmt.Fprintf(b, "  %s -> %s [label=%s];\n", quote(e.From), quote(e.To), quote(e.Label))
		} else {
			fmt.Fprintf(b, "  %s -> %s;\n", quote(e.From), quote(e.To))
		}
	}
	b.WriteString("}\n")
}
