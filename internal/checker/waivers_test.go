package checker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

const waiversYAML = `# comment
waivers:
- rule: zones.lb-cross-zone
  object: Ingress/shop/web
  env: prod
  reason: ALB target groups set cross-zone on the AWS side until INC-42 lands
  owner: team-edge
  expires: 2026-12-31
- rule: zones.portworx-repl
  object: StorageClass/px
  reason: migration
  owner: team-storage
  expires: 2026-01-31
- rule: replicas.min
  object: Deployment/shop/gone
  reason: old
  owner: team-x
  expires: 2027-01-01
- rule: replicas.min
  object: Deployment/shop/other-env
  env: dr
  reason: dr only
  owner: team-x
  expires: 2027-01-01
`

func TestWaivers(t *testing.T) {
	ws, err := ParseWaivers("policies/waivers.yaml", []byte(waiversYAML))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 4 || ws[0].Line != 3 || ws[1].Line != 9 {
		t.Fatalf("parsed %d waivers, lines %d %d; want 4 at lines 3 and 9", len(ws), ws[0].Line, ws[1].Line)
	}
	fs := []finding.Finding{
		{Rule: "zones.lb-cross-zone", Severity: finding.Deny, File: "rendered/prod/i.yaml", Line: 5, Kind: "Ingress", Namespace: "shop", Name: "web", Env: "prod"},
		{Rule: "zones.lb-cross-zone", Severity: finding.Deny, File: "rendered/dr/i.yaml", Line: 5, Kind: "Ingress", Namespace: "shop", Name: "web", Env: "dr"},
		{Rule: "zones.portworx-repl", Severity: finding.Deny, File: "rendered/prod/sc.yaml", Line: 9, Kind: "StorageClass", Name: "px", Env: "prod"},
	}
	today := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	got := ApplyWaivers(fs, ws, []string{"prod", "dr"}, today)

	// Sorted by env (waivers for every env first), file, line.
	want := []finding.Finding{
		// The expired waiver is a deny of its own and waives nothing.
		{Rule: RuleWaiverExpired, Severity: finding.Deny, File: "policies/waivers.yaml", Line: 9, Kind: "Waiver", Name: "StorageClass/px",
			Message: "waiver of zones.portworx-repl on StorageClass/px (owner team-storage) expired on 2026-01-31: fix the finding or renew the waiver"},
		// Unused waivers are warnings at their own line; the dr-only one too, since dr was checked.
		{Rule: RuleWaiverUnused, Severity: finding.Warn, File: "policies/waivers.yaml", Line: 14, Kind: "Waiver", Name: "Deployment/shop/gone",
			Message: "waiver of replicas.min on Deployment/shop/gone (owner team-x) matches no finding: remove it"},
		{Rule: RuleWaiverUnused, Severity: finding.Warn, File: "policies/waivers.yaml", Line: 19, Kind: "Waiver", Name: "Deployment/shop/other-env", Env: "dr",
			Message: "waiver of replicas.min on Deployment/shop/other-env (owner team-x) matches no finding: remove it"},
		// The prod-scoped waiver leaves dr failing.
		{Rule: "zones.lb-cross-zone", Severity: finding.Deny, File: "rendered/dr/i.yaml", Line: 5, Kind: "Ingress", Namespace: "shop", Name: "web", Env: "dr"},
		{Rule: "zones.lb-cross-zone", Severity: finding.Deny, File: "rendered/prod/i.yaml", Line: 5, Kind: "Ingress", Namespace: "shop", Name: "web", Env: "prod",
			Waived: "ALB target groups set cross-zone on the AWS side until INC-42 lands (owner team-edge, until 2026-12-31)"},
		{Rule: "zones.portworx-repl", Severity: finding.Deny, File: "rendered/prod/sc.yaml", Line: 9, Kind: "StorageClass", Name: "px", Env: "prod"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !finding.Denied(got) {
		t.Error("an expired waiver must fail the check")
	}

	// Waived findings alone do not fail; the last day still waives.
	only := ApplyWaivers([]finding.Finding{fs[0]}, ws[:1], []string{"prod"}, time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC))
	if finding.Denied(only) || only[0].Waived == "" {
		t.Errorf("on its last day the waiver still waives: %+v", only)
	}
	// A waiver for an env not checked is neither used nor unused.
	if got := ApplyWaivers(nil, ws[3:], []string{"prod"}, today); len(got) != 0 {
		t.Errorf("dr waiver while checking prod only: %+v", got)
	}
}

func TestWaiverErrors(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"no reason":   {"waivers:\n- rule: r\n  object: A/b\n  owner: o\n  expires: 2026-01-01\n", "waivers.yaml:2: waiver has no reason"},
		"bad date":    {"waivers:\n- rule: r\n  object: A/b\n  owner: o\n  reason: x\n  expires: soon\n", `waivers.yaml:2: waiver expires "soon": want YYYY-MM-DD`},
		"bad object":  {"waivers:\n- rule: r\n  object: web\n  owner: o\n  reason: x\n  expires: 2026-01-01\n", `waiver object "web"`},
		"not a list":  {"waivers: {a: b}\n", "waivers.yaml: invalid waivers"},
		"bad yaml":    {"waivers: [\n", "waivers.yaml:"},
		"wrong field": {"waivers:\n- rule: [a]\n", "waivers.yaml:2: invalid waiver"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseWaivers("waivers.yaml", []byte(tc.src))
			var me *manifest.Error
			if !errors.As(err, &me) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want a manifest.Error containing %q", err, tc.want)
			}
		})
	}
	if ws, err := ParseWaivers("w.yaml", nil); err != nil || len(ws) != 0 {
		t.Errorf("empty file: %v %v", ws, err)
	}
}

func TestLoadWaivers(t *testing.T) {
	dir := t.TempDir()
	if ws, err := LoadWaivers(filepath.Join(dir, "missing.yaml")); err != nil || ws != nil {
		t.Errorf("missing file: %v %v, want no waivers", ws, err)
	}
	p := filepath.Join(dir, "w.yaml")
	if err := os.WriteFile(p, []byte(waiversYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	ws, err := LoadWaivers(p)
	if err != nil || len(ws) != 4 || ws[0].File != p {
		t.Errorf("LoadWaivers = %d waivers, %v", len(ws), err)
	}
	if _, err := LoadWaivers(dir); err == nil {
		t.Error("a directory is not a waivers file")
	}
}

func TestWaives(t *testing.T) {
	ws, err := ParseWaivers("w.yaml", []byte(waiversYAML))
	if err != nil {
		t.Fatal(err)
	}
	f := finding.Finding{Rule: "zones.lb-cross-zone", Kind: "Ingress", Namespace: "shop", Name: "web", Env: "prod"}
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	if !Waives(ws, f, day) {
		t.Error("live waiver does not waive")
	}
	if Waives(ws, f, day.AddDate(1, 0, 0)) {
		t.Error("expired waiver waives")
	}
	f.Env = "dr"
	if Waives(ws, f, day) {
		t.Error("prod waiver waives dr")
	}
}
