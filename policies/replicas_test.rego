package replicas_test

import data.fixtures

test_min_denies_low_static_count if {
	fixtures.only("replicas.min", fixtures.set(fixtures.statefulset, "/spec/replicas", 2), fixtures.prod)
}

test_min_spares_single_writer_database if {
	# A data StatefulSet without replication runs one writer, not three databases.
	s := fixtures.set(fixtures.without(fixtures.statefulset, "/metadata/annotations/platform.shop~1replication"), "/spec/replicas", 1)
	not "replicas.min" in fixtures.denied(s, fixtures.prod)
}

test_min_passes_dr_threshold if {
	# dr's minimum is 2: the same count passes there.
	not "replicas.min" in fixtures.denied(fixtures.set(fixtures.statefulset, "/spec/replicas", 2), fixtures.dr)
}

test_min_missing_replicas_defaults_to_one if {
	d := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop"}, "spec": {"template": {"spec": {"containers": []}}}}
	"replicas.min" in fixtures.denied(d, fixtures.prod)
}

test_min_missing_replicas_uses_hpa_minimum if {
	r := fixtures.without(fixtures.rollout, "/spec/replicas")
	not "replicas.min" in fixtures.denied(r, fixtures.prod)
	"replicas.min" in fixtures.denied(r, fixtures.check("prod", fixtures.swap(fixtures.good, fixtures.set(fixtures.hpa, "/spec/minReplicas", 2))))
}

test_hpa_min_denies if {
	fixtures.only("replicas.hpa-min", fixtures.set(fixtures.hpa, "/spec/minReplicas", 2), fixtures.prod)
}

test_hpa_min_defaults_to_one if {
	fixtures.only("replicas.hpa-min", fixtures.without(fixtures.hpa, "/spec/minReplicas"), fixtures.dr)
}

test_hpa_min_passes if {
	not "replicas.hpa-min" in fixtures.denied(fixtures.hpa, fixtures.prod)
}

test_hpa_fight_warns_outside_range if {
	r := fixtures.set(fixtures.rollout, "/spec/replicas", 12)
	fixtures.warned(r, fixtures.prod) == {"replicas.hpa-fight"}
	count(fixtures.denied(r, fixtures.prod)) == 0
}

test_hpa_fight_quiet_inside_range if {
	count(fixtures.warned(fixtures.set(fixtures.rollout, "/spec/replicas", 5), fixtures.prod)) == 0
}

app(ignore, options) := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "prod-web", "namespace": "argocd"},
	"spec": {
		"source": {"path": "rendered/prod/web"},
		"ignoreDifferences": ignore,
		"syncPolicy": {"syncOptions": options},
	},
}

ignore_replicas := [{"group": "argoproj.io", "kind": "Rollout", "jsonPointers": ["/spec/replicas"]}]

# The engine tells which file each object came from.
with_app(a) := object.union(
	fixtures.check("prod", array.concat(fixtures.good, [a])),
	{"files": {"Rollout.argoproj.io": {"shop": {"web": "rendered/prod/web/rollout-web.yaml"}}}},
)

test_hpa_fight_when_sync_resets_replicas if {
	chk := with_app(app([], ["ServerSideApply=true"]))
	fixtures.warned(fixtures.rollout, chk) == {"replicas.hpa-fight"}
}

test_hpa_fight_when_ignore_not_respected if {
	fixtures.warned(fixtures.rollout, with_app(app(ignore_replicas, []))) == {"replicas.hpa-fight"}
}

test_hpa_fight_quiet_when_app_ignores_replicas if {
	count(fixtures.warned(fixtures.rollout, with_app(app(ignore_replicas, ["RespectIgnoreDifferences=true"])))) == 0
	jq := [{"group": "argoproj.io", "kind": "Rollout", "jqPathExpressions": [".spec.replicas"]}]
	count(fixtures.warned(fixtures.rollout, with_app(app(jq, ["RespectIgnoreDifferences=true"])))) == 0
}

test_hpa_fight_wrong_group_does_not_ignore if {
	apps := [{"kind": "Rollout", "jsonPointers": ["/spec/replicas"]}]
	fixtures.warned(fixtures.rollout, with_app(app(apps, ["RespectIgnoreDifferences=true"]))) == {"replicas.hpa-fight"}
}

test_hpa_fight_absolute_file_and_multi_source if {
	a := json.patch(app([], []), [
		{"op": "remove", "path": "/spec/source"},
		{"op": "add", "path": "/spec/sources", "value": [{"repoURL": "x"}, {"path": "rendered/prod/web/"}]},
	])
	chk := object.union(with_app(a), {"files": {"Rollout.argoproj.io": {"shop": {"web": "/repo/rendered/prod/web/rollout-web.yaml"}}}})
	fixtures.warned(fixtures.rollout, chk) == {"replicas.hpa-fight"}
}

test_hpa_fight_other_app_path_is_ignored if {
	a := json.patch(app([], []), [{"op": "replace", "path": "/spec/source/path", "value": "rendered/prod/web-other"}])
	count(fixtures.warned(fixtures.rollout, with_app(a))) == 0
}

test_group_of_core_kind if {
	data.replicas.group({"apiVersion": "v1"}) == ""
}

test_hpa_requests_denies_container_without_request if {
	r := fixtures.without(fixtures.rollout, "/spec/template/spec/containers/0/resources/requests/cpu")
	fixtures.only("replicas.hpa-requests", r, fixtures.prod)
}

test_hpa_requests_denies_sidecar_without_request if {
	# A restartable init container (a sidecar) counts; a run-to-completion one does not.
	sidecar := {"name": "proxy", "image": concat("", ["registry/proxy", fixtures.digest]), "restartPolicy": "Always"}
	once := {"name": "migrate", "image": concat("", ["registry/migrate", fixtures.digest])}
	fixtures.only("replicas.hpa-requests", fixtures.set(fixtures.rollout, "/spec/template/spec/initContainers", [sidecar]), fixtures.prod)
	not "replicas.hpa-requests" in fixtures.denied(fixtures.set(fixtures.rollout, "/spec/template/spec/initContainers", [once]), fixtures.prod)
}

test_hpa_requests_spares_pod_level_requests if {
	r := fixtures.set(
		fixtures.without(fixtures.rollout, "/spec/template/spec/containers/0/resources/requests/cpu"),
		"/spec/template/spec/resources", {"requests": {"cpu": "500m"}},
	)
	not "replicas.hpa-requests" in fixtures.denied(r, fixtures.prod)
}

test_hpa_requests_only_for_utilization_metrics if {
	# An AverageValue target needs no request; an HPA on memory needs the memory request only.
	r := fixtures.without(fixtures.rollout, "/spec/template/spec/containers/0/resources/requests/cpu")
	by_value := fixtures.set(fixtures.hpa, "/spec/metrics/0/resource/target", {"type": "AverageValue", "averageValue": "300m"})
	not "replicas.hpa-requests" in fixtures.denied(r, fixtures.check("prod", fixtures.swap(fixtures.good, by_value)))
	on_memory := fixtures.set(fixtures.hpa, "/spec/metrics/0/resource/name", "memory")
	not "replicas.hpa-requests" in fixtures.denied(r, fixtures.check("prod", fixtures.swap(fixtures.good, on_memory)))
	"replicas.hpa-requests" in fixtures.denied(fixtures.without(fixtures.rollout, "/spec/template/spec/containers/0/resources/requests/memory"), fixtures.check("prod", fixtures.swap(fixtures.good, on_memory)))
}
