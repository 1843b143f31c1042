package releases_test

import data.fixtures

prod_with(obj) := fixtures.check("prod", fixtures.swap(fixtures.good, obj))

test_auto_promotion_without_analysis_denied_in_prod if {
	r := fixtures.without(fixtures.without(fixtures.rollout, "/spec/strategy/blueGreen/autoPromotionEnabled"), "/spec/strategy/blueGreen/prePromotionAnalysis")
	fixtures.only("releases.promotion-gate", r, fixtures.prod)
}

test_auto_promotion_allowed_in_dr if {
	r := fixtures.without(fixtures.set(fixtures.rollout, "/spec/strategy/blueGreen/autoPromotionEnabled", true), "/spec/strategy/blueGreen/prePromotionAnalysis")
	count(fixtures.denied(r, fixtures.dr)) == 0
}

test_auto_promotion_with_analysis_passes if {
	r := fixtures.set(fixtures.rollout, "/spec/strategy/blueGreen/autoPromotionEnabled", true)
	count(fixtures.denied(r, fixtures.prod)) == 0
}

test_manual_promotion_without_analysis_passes if {
	r := fixtures.without(fixtures.rollout, "/spec/strategy/blueGreen/prePromotionAnalysis")
	count(fixtures.denied(r, fixtures.prod)) == 0
}

test_active_service_missing if {
	objs := fixtures.drop(fixtures.good, fixtures.service("web"))
	fixtures.only("releases.rollout-services", fixtures.rollout, fixtures.check("prod", objs))
}

test_preview_service_selects_other_pods if {
	svc := fixtures.set(fixtures.service("web-preview"), "/spec/selector", {"app": "api"})
	fixtures.only("releases.rollout-services", fixtures.rollout, prod_with(svc))
}

test_service_without_selector if {
	svc := fixtures.without(fixtures.service("web"), "/spec/selector")
	fixtures.only("releases.rollout-services", fixtures.rollout, prod_with(svc))
}

test_analysis_template_missing if {
	objs := fixtures.drop(fixtures.good, fixtures.analysis)
	fixtures.only("releases.analysis-template", fixtures.rollout, fixtures.check("prod", objs))
}

test_cluster_analysis_template if {
	r := fixtures.set(fixtures.rollout, "/spec/strategy/blueGreen/prePromotionAnalysis/templates/0/clusterScope", true)
	fixtures.only("releases.analysis-template", r, fixtures.prod)
	cat := {"apiVersion": "argoproj.io/v1alpha1", "kind": "ClusterAnalysisTemplate", "metadata": {"name": "web-smoke"}}
	count(fixtures.denied(r, fixtures.check("prod", array.concat(fixtures.good, [cat])))) == 0
}

test_image_tag_denied if {
	r := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/image", "registry/web:1.2.3")
	fixtures.only("releases.image-digest", r, fixtures.prod)
}

test_image_latest_in_pod_denied if {
	p := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "shop"}, "spec": {"containers": [{"name": "sh", "image": "busybox"}]}}
	fixtures.only("releases.image-digest", p, fixtures.prod)
}

selector_app(ignore, options) := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "prod-web", "namespace": "argocd"},
	"spec": {
		"source": {"path": "rendered/prod/web"},
		"ignoreDifferences": ignore,
		"syncPolicy": {"syncOptions": options},
	},
}

# The engine tells which file each object came from.
with_selector_app(a) := object.union(
	fixtures.check("prod", array.concat(fixtures.good, [a])),
	{"files": {"Rollout.argoproj.io": {"shop": {"web": "rendered/prod/web/rollout-web.yaml"}}}},
)

ignore_hash := [{"group": "", "kind": "Service", "jsonPointers": ["/spec/selector/rollouts-pod-template-hash"]}]

test_selector_hash_denied_when_server_side_apply_drops_it if {
	"releases.selector-hash" in fixtures.denied(fixtures.rollout, with_selector_app(selector_app([], ["ServerSideApply=true"])))
	"releases.selector-hash" in fixtures.denied(fixtures.rollout, with_selector_app(selector_app(ignore_hash, ["ServerSideApply=true"])))
}

test_selector_hash_passes_when_ignored_and_respected_or_client_side if {
	not "releases.selector-hash" in fixtures.denied(fixtures.rollout, with_selector_app(selector_app(ignore_hash, ["ServerSideApply=true", "RespectIgnoreDifferences=true"])))
	not "releases.selector-hash" in fixtures.denied(fixtures.rollout, with_selector_app(selector_app([], [])))
}
