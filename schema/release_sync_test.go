// Tests of #PausesForPromotion (schema/argocd_app.cue) on crafted Rollouts:
// an app folder holding one gets no PruneLast=true, whose prune step after
// the last wave would hold the sync on the paused Rollout's health
// (releases.step-after-pause checks the render).
package schema_test

import (
	"testing"

	"cuelang.org/go/cue"
)

func TestPausesForPromotion(t *testing.T) {
	ctx, schema := schemaValue(t)
	for spec, want := range map[string]bool{
		`{strategy: blueGreen: {activeService: "a", autoPromotionEnabled: false}}`: true,
		`{strategy: blueGreen: {activeService: "a", autoPromotionEnabled: true}}`:  false,
		`{strategy: blueGreen: {activeService: "a"}}`:                              false, // Rollouts' default: true
		`{strategy: blueGreen: {activeService: "a", autoPromotionSeconds: 30}}`:    false, // a timed pause ends by itself
		`{strategy: canary: steps: [{setWeight: 20}, {pause: {}}]}`:                true,
		`{strategy: canary: steps: [{setWeight: 20}, {pause: {duration: "1m"}}]}`:  false,
		`{strategy: canary: {}}`: false,
		`{paused: true, strategy: blueGreen: {activeService: "a", autoPromotionEnabled: true}}`: true,
		`{paused: false, strategy: canary: steps: [{setWeight: 50}]}`:                           false,
	} {
		v := ctx.CompileString(`(#PausesForPromotion & {rollout: {kind: "Rollout", spec: `+spec+`}}).out`, cue.Scope(schema))
		got, err := v.Bool()
		if err != nil || got != want {
			t.Errorf("spec %s: got %v (%v), want %v", spec, got, err, want)
		}
	}
}
