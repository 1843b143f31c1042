package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/internal/finding"
)

var traced = Result{Envs: []string{"prod"}, Findings: []finding.Finding{{
	Rule: "replicas.min", Severity: finding.Deny, Message: "Rollout cart runs 1 replica(s); prod needs at least 3",
	File: "rendered/prod/svc-cart/rollout-cart.yaml", Line: 13, Kind: "Rollout", Namespace: "shop", Name: "cart", Env: "prod",
	Path:   "spec.replicas",
	Source: []finding.Source{{File: "envs/prod/services.cue", Line: 7, Column: 8}, {File: "schema/platform.cue", Line: 84, Column: 15}},
}}}

// A finding traced to CUE is shown at the env line first in every format.
func TestSourcesInEveryFormat(t *testing.T) {
	gh := render(t, "github", traced)
	lines := strings.Split(strings.TrimSpace(gh), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "::error file=envs/prod/services.cue,line=7,col=8,title=replicas.min::") ||
		!strings.HasPrefix(lines[1], "::error file=rendered/prod/svc-cart/rollout-cart.yaml,line=13,") {
		t.Errorf("github annotations:\n%s", gh)
	}
	if text := render(t, "text", traced); !strings.Contains(text, "\n    from envs/prod/services.cue:7:8\n    from schema/platform.cue:84:15\n") {
		t.Errorf("text:\n%s", text)
	}
	var js struct{ Findings []finding.Finding }
	if err := json.Unmarshal([]byte(render(t, "json", traced)), &js); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(traced.Findings[0].Source, js.Findings[0].Source); diff != "" {
		t.Errorf("json source (-want +got):\n%s", diff)
	}

	var sarif struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
				RelatedLocations []struct {
					ID               int
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(render(t, "sarif", traced)), &sarif); err != nil {
		t.Fatal(err)
	}
	res := sarif.Runs[0].Results[0]
	if got := res.Locations[0].PhysicalLocation; got.ArtifactLocation.URI != "envs/prod/services.cue" || got.Region.StartLine != 7 {
		t.Errorf("sarif primary location: %+v", got)
	}
	var related []string
	for _, r := range res.RelatedLocations {
		related = append(related, r.PhysicalLocation.ArtifactLocation.URI)
		if r.ID == 0 {
			t.Errorf("related location without id: %+v", r)
		}
	}
	if diff := cmp.Diff([]string{"rendered/prod/svc-cart/rollout-cart.yaml", "schema/platform.cue"}, related); diff != "" {
		t.Errorf("sarif related locations (-want +got):\n%s", diff)
	}
}
