package diagram

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/generator"
)

var small = []generator.Graph{{
	Env: "prod",
	Nodes: []generator.Node{
		{ID: "users", Label: "Users", Group: "edge"},
		{ID: "svc-cart", Label: `Rollout "cart"`, Group: "services"},
	},
	Edges: []generator.Edge{{From: "users", To: "svc-cart", Label: "HTTPS"}},
}}

func TestMermaid(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "mermaid", small); err != nil {
		t.Fatal(err)
	}
	want := `%% prod
flowchart LR
  subgraph prod_group_edge["prod: edge"]
    prod_users["Users"]
  end
  subgraph prod_group_services["prod: services"]
    prod_svc_cart["Rollout #quot;cart#quot;"]
  end
  prod_users -->|"HTTPS"| prod_svc_cart
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDot(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "dot", small); err != nil {
		t.Fatal(err)
	}
	want := `digraph "prod" {
  rankdir=LR;
  node [shape=box];
  subgraph "cluster_edge" {
    label="edge";
    "users" [label="Users"];
  }
  subgraph "cluster_services" {
    label="services";
    "svc-cart" [label="Rollout \"cart\""];
  }
  "users" -> "svc-cart" [label="HTTPS"];
}
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := Write(&b, "svg", small); err == nil {
		t.Error("unknown format accepted")
	}
}
