package twin_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
	"github.com/ecommerce-platform/gitops/e2e/internal/twin"
)

// TestRenderedNodeGroupsMakeTwinNodes runs without the twin: every rendered
// env's NodeGroups turn into Nodes with the instance table above, spread
// over at least two zones (a node group in one zone cannot survive its
// loss). A new instance type fails here first, asking for its row.
func TestRenderedNodeGroupsMakeTwinNodes(t *testing.T) {
	rendered := filepath.Join(testrepo.Root(t), "rendered")
	entries, err := os.ReadDir(rendered)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			nodes, err := twin.NodeGroupNodes(filepath.Join(rendered, e.Name()), instanceTypes)
			if err != nil {
				t.Fatal(err)
			}
			perGroupZones := map[string]map[string]int{}
			for _, n := range nodes {
				g := n.Labels["eks.amazonaws.com/nodegroup"]
				if perGroupZones[g] == nil {
					perGroupZones[g] = map[string]int{}
				}
				perGroupZones[g][n.Labels[twin.ZoneLabel]]++
			}
			for g, zones := range perGroupZones {
				if len(zones) < 2 {
					t.Errorf("node group %s has nodes in %d zone(s) %v", g, len(zones), zones)
				}
				t.Logf("node group %s: nodes per zone %v", g, zones)
			}
		})
	}
}
