# Releases: blue-green Rollouts that cannot ship an untested or unknown build.
package releases

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"releases.promotion-gate": "In prod, blue-green Rollouts do not auto-promote without a prePromotionAnalysis.",
	"releases.rollout-services": "A blue-green Rollout's active and preview Services exist and select its pods.",
	"releases.analysis-template": "The AnalysisTemplates a Rollout's prePromotionAnalysis names are in the set.",
	"releases.image-digest": "Every container image is pinned by @sha256 digest.",
	"releases.step-after-pause": "An Argo CD Application that syncs a Rollout which pauses for promotion (blue-green autoPromotionEnabled false, a canary pause step without duration, spec.paused) has no sync step after the Rollout's: no object of its folder in a later sync wave, no PostSync hook, no Sync hook in the Rollout's wave or later, no PruneLast=true on the Application or on an object. A later step waits for the Rollout to be Healthy, and a paused one is Suspended: the sync stays running until someone promotes or aborts, and no later commit, a revert included, is synced meanwhile.",
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

# releases.step-after-pause: in a sync of several steps (waves, phases)
# gitops-engine completes an applied object only once it is Healthy or
# Degraded before the next step (pkg/sync/sync_context.go); a Rollout paused
# for its promotion is Suspended (argo-cd
# resource_customizations/argoproj.io/Rollout/health.lua), so a step after it
# holds the sync until someone promotes or aborts, and Argo CD starts no
# automated sync while one runs (controller/appcontroller.go): the commit
# that reverts the release waits too. Applied in the last step, the Rollout
# ends the sync at once. A SyncFail hook runs only after a failure and a
# PreSync one before: neither follows it. PruneLast=true moves every prune
# after the last wave; on an object, its own prune once it leaves Git.
# Reported where the step is set: the Application's own option, else the
# Rollout, rendered with the objects of its folder (the message names the
# step).
deny contains lib.finding("releases.step-after-pause", msg, ["spec", "syncPolicy", "syncOptions", i]) if {
	input.kind == "Application"
	some i, option in input.spec.syncPolicy.syncOptions
	option == "PruneLast=true"
	some rollout in idx.paused_apps[lib.namespace(input)][input.metadata.name]
	msg := sprintf("Argo CD Application %s sets PruneLast=true and syncs Rollout %s, which pauses for promotion: a sync that prunes anything then prunes after the last wave, waiting for the Rollout to be Healthy, and a paused release is Suspended: the sync runs until someone promotes or aborts, and no later commit syncs meanwhile (a revert cannot sync while the release is paused). Leave PruneLast out of this Application's syncOptions (schema/argocd_app.cue)", [input.metadata.name, rollout])
}

deny contains lib.finding("releases.step-after-pause", msg, ["metadata", "annotations", "argocd.argoproj.io/sync-wave"]) if {
	input.kind == "Rollout"
	some later in idx.paused_rollouts[lib.namespace(input)][input.metadata.name]
	some app in lib.syncing_apps(input)
	msg := sprintf("Argo CD Application %s syncs Rollout %s, which pauses for promotion, and then %s: that step waits for the Rollout to be Healthy, and a paused release is Suspended, so the sync runs until someone promotes or aborts and no later commit syncs meanwhile (a revert cannot sync while the release is paused). Put the Rollout in its folder's last step: the object in the Rollout's wave or earlier, no PostSync hook or later Sync hook, no PruneLast", [app.metadata.name, input.metadata.name, later])
}

# pauses_for_promotion: the Rollout stops until a person promotes it
# (argo-rollouts rollout/bluegreen.go needsBlueGreenControllerPause and
# rollout/pause.go: with autoPromotionEnabled false, autoPromotionSeconds
# promotes nothing; a canary pause without a duration waits for a resume).
pauses_for_promotion(r) if r.spec.paused == true

pauses_for_promotion(r) if r.spec.strategy.blueGreen.autoPromotionEnabled == false

pauses_for_promotion(r) if {
	some canary_step in r.spec.strategy.canary.steps
	not canary_step.pause.duration
	canary_step.pause
}

# sync_wave is gitops-engine's wave (pkg/sync/syncwaves): the sync-wave
# annotation, else Helm's hook weight, else 0.
sync_wave(o) := w if w := to_number(o.metadata.annotations["argocd.argoproj.io/sync-wave"])

else := w if w := to_number(o.metadata.annotations["helm.sh/hook-weight"])

else := 0

# hook_phases: the phases a hook runs in (gitops-engine pkg/sync/hook): the
# argocd.argoproj.io/hook values, else Helm's hooks; empty for an object
# synced in the Sync phase. Skip alone is not synced at all.
hook_phases(o) := {trim_space(p) | some p in split(hooks, ",")} if hooks := o.metadata.annotations["argocd.argoproj.io/hook"]

else := {helm_hook_phases[trim_space(p)] | some p in split(hooks, ",")} if hooks := o.metadata.annotations["helm.sh/hook"]

else := set()

helm_hook_phases := {"pre-install": "PreSync", "pre-upgrade": "PreSync", "post-install": "PostSync", "post-upgrade": "PostSync"}

# later_step(kind, r, o) says how object o of Rollout r's folder runs after r,
# one kind of step each (undefined when it does not).
step_kinds := ["wave", "post-sync", "sync-hook", "prune-last"]

later_step("wave", r, o) := sprintf("%s %s syncs in wave %d, after the Rollout's wave %d", [o.kind, o.metadata.name, sync_wave(o), sync_wave(r)]) if {
	count(hook_phases(o)) == 0
	sync_wave(o) > sync_wave(r)
}

later_step("post-sync", _, o) := sprintf("%s %s is a PostSync hook", [o.kind, o.metadata.name]) if {
	"PostSync" in hook_phases(o)
}

later_step("sync-hook", r, o) := sprintf("%s %s is a Sync hook in wave %d, not before the Rollout's wave %d", [o.kind, o.metadata.name, sync_wave(o), sync_wave(r)]) if {
	"Sync" in hook_phases(o)
	sync_wave(o) >= sync_wave(r)
}

later_step("prune-last", r, o) := sprintf("%s %s carries %s PruneLast=true, so its prune, once it leaves Git, comes after the last wave", [o.kind, o.metadata.name, sync_options]) if {
	"PruneLast=true" in {trim_space(p) | some p in split(o.metadata.annotations[sync_options], ",")}
	not same_object(o, r)
}

sync_options := "argocd.argoproj.io/sync-options"

same_object(a, b) if {
	a.kind == b.kind
	a.metadata.name == b.metadata.name
}

# env_index: derived once per env by the engine (data.check.env_index);
# computed inline without it.
env_index := {"paused_rollouts": paused_rollouts, "paused_apps": paused_apps}

idx := data.check.env_index.releases if data.check.env_index.releases

else := env_index

# paused_in[folder] holds the Rollouts of folder (a file of
# data.check.files) that pause for promotion; paused_folders is it as one
# value, looked up per file.
paused_in[lib.folder(file)] contains r if {
	some ns, by_name in data.check.files["Rollout.argoproj.io"]
	some name, file in by_name
	some r in lib.index["Rollout.argoproj.io"][ns][name]
	pauses_for_promotion(r)
}

paused_folders := {f: rs | some f, rs in paused_in}

# marked_in[folder] holds the marked objects of each folder with such a
# Rollout (the mark tested first: most objects carry none, and then their
# folder is not worked out); all_in[folder] every object of the folders
# whose paused Rollout syncs in a negative wave, where unmarked objects come
# after it too (no folder, mostly).
marked_in[f] contains o if {
	some k, by_ns in data.check.files
	some ns, by_name in by_ns
	some name, file in by_name
	some o in lib.index[k][ns][name]
	marked(o)
	f := lib.folder(file)
	paused_folders[f]
}

all_in[f] contains o if {
	count(negative_folders) > 0
	some k, by_ns in data.check.files
	some ns, by_name in by_ns
	some name, file in by_name
	f := lib.folder(file)
	negative_folders[f]
	some o in lib.index[k][ns][name]
}

negative_folders contains f if {
	some f, rs in paused_folders
	some r in rs
	sync_wave(r) < 0
}

marked_members := {f: os | some f, os in marked_in}

all_members := {f: os | some f, os in all_in}

# paused_rollouts[ns][name]: the steps after each Rollout that pauses for
# promotion, among the objects of its folder.
paused_rollouts[lib.namespace(r)][r.metadata.name] := steps if {
	some f, rs in paused_folders
	some r in rs
	steps := sort(array.concat(
		[s | some o in object.get(marked_members, f, set()); some k in step_kinds; s := later_step(k, r, o)],
		unmarked_steps(r, object.get(all_members, f, set())),
	))
	count(steps) > 0
}

# marked: the object carries an annotation that moves it to another wave or
# phase, or that changes its prune. An unmarked one syncs in wave 0 of the
# Sync phase, so it follows the Rollout only when the Rollout's wave is
# negative.
marked(o) if count(step_annotations & {k | some k, _ in o.metadata.annotations}) > 0

step_annotations := {"argocd.argoproj.io/sync-wave", "argocd.argoproj.io/hook", "argocd.argoproj.io/sync-options", "helm.sh/hook", "helm.sh/hook-weight"}

unmarked_steps(r, objects) := [sprintf("%s %s syncs in wave 0, after the Rollout's wave %d", [o.kind, o.metadata.name, wave]) |
	wave := sync_wave(r)
	wave < 0
	some o in objects
	not marked(o)
]

# paused_apps[ns][name]: the Rollouts that pause for promotion in the
# folders each Application syncs.
paused_apps[lib.namespace(app)][app.metadata.name] contains r.metadata.name if {
	some f, rs in paused_folders
	some app in lib.idx.dir_apps[f]
	some r in rs
}
