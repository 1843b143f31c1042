package generator

import (
	"context"
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/internal/testrepo"
)

// TestGraphFollowsTheSeedPlan: the diagram is drawn from the model and
// shows the path a request takes and the path data takes, per env (the
// fixture envs: a primary with analytics and its standby).
func TestGraphFollowsTheSeedPlan(t *testing.T) {
	graphs, err := Graphs(context.Background(), Options{Root: testrepo.Fixture(t)})
	if err != nil {
		t.Fatal(err)
	}
	byEnv := map[string]Graph{}
	for _, g := range graphs {
		byEnv[g.Env] = g
	}
	paths := map[string][][]string{
		"small": {
			{"users", "cloudfront", "route53", "alb", "az-eu-west-1a", "svc-web", "db-db", "portworx", "cloudsnap", "dr-region"},
			{"alb", "az-eu-west-1c", "svc-web"},
			{"shipper", "logs", "firehose", "lake", "emr", "processed", "athena", "quicksight"},
			{"scheduler", "emr"},
			{"processed", "redshift"},
			{"lake", "athena"},
		},
		"small-dr": {
			{"users", "cloudfront", "route53", "alb", "az-eu-central-1b", "svc-web", "db-db", "portworx", "cloudsnap", "dr-restore"},
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
	for _, n := range byEnv["small-dr"].Nodes {
		if n.Group == "analytics" {
			t.Errorf("dr draws the analytics pipeline (%s), which runs beside the primary only", n.ID)
		}
	}
}
