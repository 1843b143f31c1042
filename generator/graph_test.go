package generator

import (
	"context"
	"strings"
	"testing"
)

// TestGraphFollowsTheSeedPlan: the diagram is drawn from the model and
// shows the path a request takes and the path data takes, per env.
func TestGraphFollowsTheSeedPlan(t *testing.T) {
	graphs, err := Graphs(context.Background(), Options{Root: repoRoot})
	if err != nil {
		t.Fatal(err)
	}
	byEnv := map[string]Graph{}
	for _, g := range graphs {
		byEnv[g.Env] = g
	}
	paths := map[string][][]string{
		"prod": {
			{"users", "cloudfront", "route53", "alb", "az-us-east-1a", "svc-checkout", "db-orders-db", "portworx", "cloudsnap", "dr-region"},
			{"alb", "az-us-east-1c", "svc-storefront"},
			{"shipper", "logs", "firehose", "lake", "emr", "processed", "athena", "quicksight"},
			{"scheduler", "emr"},
			{"processed", "redshift"},
			{"lake", "athena"},
		},
		"dr": {
			{"users", "cloudfront", "route53", "alb", "az-us-west-2b", "svc-catalog", "db-orders-db", "portworx", "cloudsnap", "dr-restore"},
		},
	}
	for env, want := range paths {
		g, ok := byEnv[env]
		if !ok {
			t.Fatalf("no graph for %s", env)
		}
		edges := map[string]bool{}
		for _, e := range g.Edges {
			edges[e.From+">"+e.To] = true
		}
		for _, path := range want {
			for i := 1; i < len(path); i++ {
				if !edges[path[i-1]+">"+path[i]] {
					t.Errorf("%s: no edge %s -> %s (path %s)", env, path[i-1], path[i], strings.Join(path, " -> "))
				}
			}
		}
	}
	for _, n := range byEnv["dr"].Nodes {
		if n.Group == "analytics" {
			t.Errorf("dr draws the analytics pipeline (%s), which runs beside the primary only", n.ID)
		}
	}
}
