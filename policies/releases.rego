# Releases: blue-green Rollouts that cannot ship an untested or unknown build.
package releases

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"releases.promotion-gate": "In prod, blue-green Rollouts do not auto-promote without a prePromotionAnalysis.",
	"releases.rollout-services": "A blue-green Rollout's active and preview Services exist and select its pods.",
	"releases.analysis-template": "The AnalysisTemplates a Rollout's prePromotionAnalysis names are in the set.",
	"releases.image-digest": "Every container image is pinned by @sha256 digest.",
	"releases.selector-hash": "An Argo CD Application that syncs a blue-green Rollout with ServerSideApply=true ignores its Services' /spec/selector/rollouts-pod-template-hash with RespectIgnoreDifferences=true: a server-side apply replaces the atomic selector and drops the key the Rollouts controller adds, which switches traffic without analysis or promotion.",
}

# releases.promotion-gate: in an env that requires a gate (prod), a blue-green
# Rollout promotes on its own (autoPromotionEnabled defaults to true) without
# a prePromotionAnalysis to stop a bad build.
deny contains lib.finding("releases.promotion-gate", msg, ["spec", "strategy", "blueGreen"]) if {
	input.kind == "Rollout"
	lib.thresholds.require_promotion_gate
	bg := input.spec.strategy.blueGreen
	object.get(bg, ["autoPromotionEnabled"], true) != false
	count(object.get(bg, ["prePromotionAnalysis", "templates"], [])) == 0
	msg := concat("", [sprintf("Rollout %s auto-promotes without prePromotionAnalysis: %s needs autoPromotionEnabled false or an analysis gate (platform: release: in envs/%s/platform.cue)", [input.metadata.name, lib.env, lib.env]), lib.threshold_note("require_promotion_gate")])
}

# releases.rollout-services: the active and preview Services of a blue-green
# Rollout must exist and select its pods, or traffic never reaches them.
deny contains lib.finding("releases.rollout-services", msg, ["spec", "strategy", "blueGreen", field]) if {
	lib.has_inventory
	input.kind == "Rollout"
	some field in ["activeService", "previewService"]
	name := input.spec.strategy.blueGreen[field]
	not lib.exists("Service", lib.namespace(input), name)
	msg := sprintf("Rollout %s names %s %q, which is not in namespace %q", [input.metadata.name, field, name, lib.namespace(input)])
}

deny contains lib.finding("releases.rollout-services", msg, ["spec", "strategy", "blueGreen", field]) if {
	lib.has_inventory
	input.kind == "Rollout"
	some field in ["activeService", "previewService"]
	name := input.spec.strategy.blueGreen[field]
	some svc in lib.index.Service[lib.namespace(input)][name]
	not selects_pods(svc, lib.pod_labels(input))
	msg := sprintf("Rollout %s uses %s %q, whose selector %v does not select its pods", [input.metadata.name, field, name, object.get(svc, ["spec", "selector"], {})])
}

# releases.selector-hash: Argo Rollouts adds rollouts-pod-template-hash to
# the selector of a blue-green Rollout's active and preview Services.
# Service.spec.selector is an atomic map, so a server-side apply replaces it
# whole: the sync drops the key, both Services select every version's pods,
# and the controller, finding no active selector, takes the next release for
# an initial deploy and switches traffic without analysis or promotion (found
# by the twin's release through Argo CD). Ignored with
# RespectIgnoreDifferences=true, Argo CD applies the live key back.
deny contains lib.finding("releases.selector-hash", msg, ["spec", "strategy", "blueGreen"]) if {
	input.kind == "Rollout"
	input.spec.strategy.blueGreen
	some app in lib.syncing_apps(input)
	"ServerSideApply=true" in object.get(app, ["spec", "syncPolicy", "syncOptions"], [])
	not ignores_selector_hash(app)
	msg := sprintf("Argo CD Application %s server-side applies the Services of blue-green Rollout %s without ignoring /spec/selector/rollouts-pod-template-hash of kind Service (ignoreDifferences and RespectIgnoreDifferences=true): every sync drops the hash the Rollouts controller adds and the next release switches traffic without promotion", [app.metadata.name, input.metadata.name])
}

ignores_selector_hash(app) if {
	"RespectIgnoreDifferences=true" in object.get(app, ["spec", "syncPolicy", "syncOptions"], [])
	some d in app.spec.ignoreDifferences
	d.kind == "Service"
	object.get(d, ["group"], "") == ""
	some p in array.concat(object.get(d, ["jsonPointers"], []), object.get(d, ["jqPathExpressions"], []))
	p in {"/spec/selector/rollouts-pod-template-hash", `.spec.selector["rollouts-pod-template-hash"]`}
}

# A Service selector is a plain label map; an empty one selects nothing.
selects_pods(svc, labels) if {
	count(object.get(svc, ["spec", "selector"], {})) > 0
	every k, v in svc.spec.selector {
		labels[k] == v
	}
}

# releases.analysis-template: a prePromotionAnalysis names an AnalysisTemplate
# that is not in the set: the Rollout stalls at its first release.
deny contains lib.finding("releases.analysis-template", msg, ["spec", "strategy", "blueGreen", "prePromotionAnalysis", "templates", i, "templateName"]) if {
	lib.has_inventory
	input.kind == "Rollout"
	some i, t in input.spec.strategy.blueGreen.prePromotionAnalysis.templates
	not template_exists(t, lib.namespace(input))
	msg := sprintf("Rollout %s runs AnalysisTemplate %q, which is not in the set", [input.metadata.name, t.templateName])
}

template_exists(t, ns) if {
	not t.clusterScope
	lib.exists("AnalysisTemplate.argoproj.io", ns, t.templateName)
}

template_exists(t, _) if {
	t.clusterScope
	lib.exists("ClusterAnalysisTemplate.argoproj.io", "", t.templateName)
}

# releases.image-digest: an image pinned by tag can change under the same
# name, so what runs is not what was reviewed.
deny contains lib.finding("releases.image-digest", msg, array.concat(path, ["image"])) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	some [path, c] in lib.containers(input)
	not regex.match(`@sha256:[a-f0-9]{64}$`, c.image)
	msg := sprintf("container %s of %s %s uses image %s, not pinned by @sha256 digest", [c.name, input.kind, input.metadata.name, c.image])
}
