package generator

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"cuelang.org/go/cue"
)

// graphPath is where an env publishes its diagram: nodes and edges.
var graphPath = cue.ParsePath("output.graph")

// Graph is one env's diagram, as the CUE describes it.
type Graph struct {
	Env   string
	Nodes []Node
	Edges []Edge
}

// Node is a box of the diagram; Group clusters boxes together.
type Node struct {
	ID    string `json:"-"`
	Label string `json:"label"`
	Group string `json:"group"`
}

// Edge joins two nodes by ID.
type Edge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Label string `json:"label,omitempty"`
}

// Graphs evaluates the selected envs and reads their output.graph, nodes
// sorted by group then id, edges in the CUE's order. An edge to a node that
// does not exist is an error: the diagram would silently lose it.
func Graphs(ctx context.Context, opts Options) ([]Graph, error) {
	opts, err := opts.normalise()
	if err != nil {
		return nil, err
	}
	names, err := discover(opts)
	if err != nil {
		return nil, err
	}
	var out []Graph
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, err := evaluate(opts, name)
		if err != nil {
			return nil, err
		}
		g, err := readGraph(v, name)
		if err != nil {
			return nil, err
		}
		if g == nil {
			return nil, &InputError{Env: name, Msg: "the env has no output.graph"}
		}
		out = append(out, *g)
	}
	return out, nil
}

// readGraph reads one env's output.graph (nil when it has none), nodes
// sorted by group then id, edges in the CUE's order. An edge to a node that
// does not exist is an error: the diagram would silently lose it.
func readGraph(v cue.Value, name string) (*Graph, error) {
	gv := v.LookupPath(graphPath)
	if !gv.Exists() {
		return nil, nil
	}
	var raw struct {
		Nodes map[string]Node `json:"nodes"`
		Edges []Edge          `json:"edges"`
	}
	if err := gv.Decode(&raw); err != nil {
		return nil, &InputError{Env: name, Msg: fmt.Sprintf("output.graph: %v", err)}
	}
	g := Graph{Env: name, Edges: raw.Edges}
	for id, n := range raw.Nodes {
		n.ID = id
		g.Nodes = append(g.Nodes, n)
	}
	slices.SortFunc(g.Nodes, func(a, b Node) int { return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.ID, b.ID)) })
	for _, e := range g.Edges {
		for _, end := range []string{e.From, e.To} {
			if _, ok := raw.Nodes[end]; !ok {
				return nil, &InputError{Env: name, Msg: fmt.Sprintf("output.graph: edge %s -> %s names no node %q", e.From, e.To, end)}
			}
		}
	}
	return &g, nil
}
