package releases_test

import data.fixtures
import data.lib
import data.releases

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

# releases.step-after-pause: the folder rendered/prod/web holds the
# fixtures' Rollout (blue-green, autoPromotionEnabled false: it pauses for
# promotion) and the objects given; Application prod-web syncs it.
step_app(options) := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "prod-web", "namespace": "argocd"},
	"spec": {"source": {"path": "rendered/prod/web"}, "syncPolicy": {"syncOptions": options}},
}

# in_web(objs, app): the good set with objs in place of its objects of the
# same kind and name, app beside them, the Rollout and objs in the folder.
in_web(objs, app) := object.union(
	fixtures.check("prod", array.concat([o | some o in fixtures.good; not replaced(o, objs)], array.concat(objs, [app]))),
	{"files": files_of(array.concat([fixtures.rollout], objs))},
)

replaced(o, objs) if {
	some x in objs
	fixtures.same(o, x)
}

files_of(objs) := {k: {ns: names_in(objs, k, ns) | some x in objs; lib.key(x) == k; ns := lib.namespace(x)} |
	some y in objs
	k := lib.key(y)
}

names_in(objs, k, ns) := {o.metadata.name: sprintf("rendered/prod/web/%s.yaml", [o.metadata.name]) |
	some o in objs
	lib.key(o) == k
	lib.namespace(o) == ns
}

web_config(annotations) := {
	"apiVersion": "v1", "kind": "ConfigMap",
	"metadata": {"name": "web-later", "namespace": "shop", "annotations": annotations},
}

hook_job(annotations) := {
	"apiVersion": "batch/v1", "kind": "Job",
	"metadata": {"name": "web-hook", "namespace": "shop", "annotations": annotations},
	"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "check", "image": concat("", ["registry/check", fixtures.digest])}]}}},
}

plain_app := step_app(["ServerSideApply=true", "RespectIgnoreDifferences=true"])

held(obj, objs, app) if "releases.step-after-pause" in fixtures.denied(obj, in_web(objs, app))

test_step_after_pause_denied_for_a_later_wave if {
	fixtures.only("releases.step-after-pause", fixtures.rollout, in_web([web_config({"argocd.argoproj.io/sync-wave": "1"})], step_app([])))

	# gitops-engine's wave falls back to Helm's hook weight.
	held(fixtures.rollout, [web_config({"helm.sh/hook-weight": "2"})], plain_app)

	# A Rollout before wave 0 is followed by every object without a wave.
	early := fixtures.set(fixtures.rollout, "/metadata/annotations", {"argocd.argoproj.io/sync-wave": "-1"})
	held(early, [early, web_config({})], plain_app)
}

test_step_after_pause_message_names_the_step_and_the_fix if {
	some f in fixtures.results(fixtures.rollout, in_web([web_config({"argocd.argoproj.io/sync-wave": "1"})], plain_app)).deny
	f.rule == "releases.step-after-pause"
	f.path == ["metadata", "annotations", "argocd.argoproj.io/sync-wave"]
	contains(f.msg, "Argo CD Application prod-web syncs Rollout web, which pauses for promotion, and then ConfigMap web-later syncs in wave 1, after the Rollout's wave 0")
	contains(f.msg, "a revert cannot sync while the release is paused")
	contains(f.msg, "the object in the Rollout's wave or earlier")
}

test_step_after_pause_denied_for_a_post_sync_hook if {
	held(fixtures.rollout, [hook_job({"argocd.argoproj.io/hook": "PreSync, PostSync"})], plain_app)
	held(fixtures.rollout, [hook_job({"helm.sh/hook": "post-upgrade"})], plain_app)
}

test_step_after_pause_denied_for_a_sync_hook_not_before_the_rollout if {
	held(fixtures.rollout, [hook_job({"argocd.argoproj.io/hook": "Sync"})], plain_app)
	not held(fixtures.rollout, [hook_job({"argocd.argoproj.io/hook": "Sync", "argocd.argoproj.io/sync-wave": "-1"})], plain_app)
}

# A PreSync hook runs before, a SyncFail one only after a failure (the
# sync has ended by then), Skip is never synced: whatever their wave.
test_step_after_pause_passes_hooks_that_do_not_follow if {
	every hook in ["PreSync", "SyncFail", "Skip"] {
		not held(fixtures.rollout, [hook_job({"argocd.argoproj.io/hook": hook, "argocd.argoproj.io/sync-wave": "5"})], plain_app)
	}
	not held(fixtures.rollout, [hook_job({"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "5"})], plain_app)
}

test_step_after_pause_denied_for_prune_last_on_the_application if {
	chk := in_web([], step_app(["ServerSideApply=true", "PruneLast=true"]))
	fixtures.only("releases.step-after-pause", step_app(["ServerSideApply=true", "PruneLast=true"]), chk)
	some f in fixtures.results(step_app(["ServerSideApply=true", "PruneLast=true"]), chk).deny
	f.path == ["spec", "syncPolicy", "syncOptions", 1]
	contains(f.msg, "Argo CD Application prod-web sets PruneLast=true and syncs Rollout web, which pauses for promotion")
	not held(fixtures.rollout, [], step_app(["ServerSideApply=true", "PruneLast=true"]))
	not held(step_app(["ServerSideApply=true"]), [], step_app(["ServerSideApply=true"]))
}

test_step_after_pause_denied_for_prune_last_on_an_object if {
	held(fixtures.rollout, [web_config({"argocd.argoproj.io/sync-options": "Prune=false, PruneLast=true"})], plain_app)

	# On the Rollout itself: its prune leaves nothing to wait for.
	own := fixtures.set(fixtures.rollout, "/metadata/annotations", {"argocd.argoproj.io/sync-options": "PruneLast=true"})
	not held(own, [own], plain_app)
}

test_step_after_pause_for_each_way_a_rollout_pauses if {
	later := web_config({"argocd.argoproj.io/sync-wave": "1"})
	canary := fixtures.set(fixtures.rollout, "/spec/strategy", {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}})
	held(canary, [canary, later], plain_app)
	paused := fixtures.set(fixtures.set(fixtures.rollout, "/spec/strategy/blueGreen/autoPromotionEnabled", true), "/spec/paused", true)
	held(paused, [paused, later], plain_app)
}

test_step_after_pause_passes_rollouts_that_do_not_pause if {
	objs := [web_config({"argocd.argoproj.io/sync-wave": "1", "argocd.argoproj.io/sync-options": "PruneLast=true"}), hook_job({"argocd.argoproj.io/hook": "PostSync"})]
	app := step_app(["ServerSideApply=true", "PruneLast=true"])
	every r in [
		fixtures.set(fixtures.rollout, "/spec/strategy/blueGreen/autoPromotionEnabled", true),
		fixtures.without(fixtures.rollout, "/spec/strategy/blueGreen/autoPromotionEnabled"),
		fixtures.set(fixtures.rollout, "/spec/strategy", {"canary": {"steps": [{"setWeight": 20}, {"pause": {"duration": "1m"}}]}}),
		fixtures.set(fixtures.rollout, "/spec/strategy", {"canary": {}}),
	] {
		not held(r, array.concat([r], objs), app)
		not held(app, array.concat([r], objs), app)
	}
}

# No Application syncs the folder: nothing syncs in steps.
test_step_after_pause_passes_without_an_application if {
	other := json.patch(plain_app, [{"op": "replace", "path": "/spec/source/path", "value": "rendered/prod/other"}])
	not held(fixtures.rollout, [web_config({"argocd.argoproj.io/sync-wave": "1"})], other)
}

# The rules read the engine's env_index.
test_step_after_pause_reads_the_engine_env_index if {
	chk := in_web([web_config({"argocd.argoproj.io/sync-wave": "1"})], step_app(["PruneLast=true"]))
	derived := object.union(chk, {"env_index": {"releases": releases.env_index}}) with data.check as chk
	"releases.step-after-pause" in fixtures.denied(fixtures.rollout, derived)
	"releases.step-after-pause" in fixtures.denied(step_app(["PruneLast=true"]), derived)
	empty := object.union(chk, {"env_index": {"releases": {"paused_rollouts": {}, "paused_apps": {}}}})
	not "releases.step-after-pause" in fixtures.denied(fixtures.rollout, empty)
	not "releases.step-after-pause" in fixtures.denied(step_app(["PruneLast=true"]), empty)
}
