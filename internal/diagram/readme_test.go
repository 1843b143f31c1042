package diagram

import (
	"strings"
	"testing"

	"github.com/ecommerce-platform/gitops/generator"
)

func TestEmbedReplacesOnlyBetweenTheMarkers(t *testing.T) {
	doc := "a\n" + BeginMarker + "\nold\nlines\n" + EndMarker + "\nb\n"
	got, err := Embed([]byte(doc), "new\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\n" + BeginMarker + "\nnew\n" + EndMarker + "\nb\n"; string(got) != want {
		t.Fatalf("Embed = %q, want %q", got, want)
	}
	again, err := Embed(got, "new\n")
	if err != nil || string(again) != string(got) {
		t.Errorf("Embed is not idempotent: %q, %v", again, err)
	}
	empty, err := Embed([]byte(BeginMarker+"\n"+EndMarker+"\n"), "x")
	if err != nil || string(empty) != BeginMarker+"\nx\n"+EndMarker+"\n" {
		t.Errorf("Embed into an empty section = %q, %v", empty, err)
	}
}

func TestEmbedRejectsBadMarkers(t *testing.T) {
	for name, doc := range map[string]string{
		"none":         "a\n",
		"no end":       BeginMarker + "\n",
		"twice":        BeginMarker + "\n" + EndMarker + "\n" + BeginMarker + "\n" + EndMarker + "\n",
		"out of order": EndMarker + "\n" + BeginMarker + "\n",
		"same line":    "x " + BeginMarker + EndMarker + "\n",
	} {
		if _, err := Embed([]byte(doc), "x\n"); err == nil || !strings.Contains(err.Error(), BeginMarker) {
			t.Errorf("%s: err = %v, want one naming the markers", name, err)
		}
	}
}

// One Mermaid block per env: GitHub draws one diagram per block.
func TestMarkdownHasABlockPerEnv(t *testing.T) {
	md := Markdown([]generator.Graph{
		{Env: "prod", Nodes: []generator.Node{{ID: "a", Label: "A", Group: "g"}}},
		{Env: "dr", Nodes: []generator.Node{{ID: "a", Label: "A", Group: "g"}}},
	})
	if n := strings.Count(md, "```mermaid\n"); n != 2 {
		t.Fatalf("%d mermaid blocks, want 2:\n%s", n, md)
	}
	if !strings.Contains(md, "**prod**\n\n```mermaid\n%% prod\nflowchart LR\n") || !strings.Contains(md, "**dr**\n\n```mermaid\n%% dr\nflowchart LR\n") {
		t.Errorf("unexpected section:\n%s", md)
	}
}
