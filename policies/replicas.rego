# Replica counts: enough pods to survive losing a node or a zone.
package replicas

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"replicas.min": "Deployments, Rollouts and StatefulSets run at least the env's minimum replicas (prod 3, dr 2); an unset count is 1 unless an HPA scales the workload. A single-writer database (a data StatefulSet without platform.shop/replication) is exempt: it runs one pod (datasafety.unreplicated-database).",
	"replicas.hpa-min": "HorizontalPodAutoscaler minReplicas (default 1) is at least the env's minimum replicas.",
	"replicas.hpa-fight": "Warning: a static spec.replicas fights the HPA scaling the workload: outside its range, or synced by an Argo CD Application that does not ignore /spec/replicas.",
	"replicas.hpa-requests": "A workload an HPA scales on a Resource metric's Utilization requests that resource in every container the metric counts (its containers and restartable init containers), unless its pod sets pod-level requests: otherwise the HPA controller cannot compute utilization (ScalingActive False, FailedGetResourceMetric) and Argo CD marks the HPA Degraded.",
}

# replicas.min: a Deployment, Rollout or StatefulSet runs fewer pods than the
# env minimum (a missing spec.replicas defaults to 1 unless an HPA scales it).
# A single-writer database is not asked for several pods: they would be
# several unrelated databases.
deny contains lib.finding("replicas.min", msg, ["spec", "replicas"]) if {
	input.kind in {"Deployment", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	input.kind in lib.scalable_kinds
	not lib.single_writer(input)
	n := lib.replicas(input)
	n < lib.thresholds.min_replicas
	msg := concat("", [sprintf("%s %s runs %d replica(s); %s needs at least %d", [input.kind, input.metadata.name, n, lib.env, lib.thresholds.min_replicas]), lib.threshold_note("min_replicas")])
}

# replicas.hpa-min: an HPA may scale its target below the env minimum
# (minReplicas defaults to 1).
deny contains lib.finding("replicas.hpa-min", msg, ["spec", "minReplicas"]) if {
	input.kind == "HorizontalPodAutoscaler"
	n := object.get(input, ["spec", "minReplicas"], 1)
	n < lib.thresholds.min_replicas
	msg := concat("", [sprintf("HorizontalPodAutoscaler %s has minReplicas %d; %s needs at least %d", [input.metadata.name, n, lib.env, lib.thresholds.min_replicas]), lib.threshold_note("min_replicas")])
}

# replicas.hpa-fight (warn): a static replica count that fights the HPA
# scaling the workload. Either it is outside the HPA's range (the HPA scales
# it back at once), or the Argo CD Application that syncs the object does not
# ignore spec.replicas (ignoreDifferences + RespectIgnoreDifferences=true),
# so every sync resets the HPA's count to the one in git.
warn contains lib.finding("replicas.hpa-fight", msg, ["spec", "replicas"]) if {
	input.kind in {"Deployment", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	input.kind in lib.scalable_kinds
	n := input.spec.replicas
	some h in lib.hpas_for(input)
	lo := object.get(h, ["spec", "minReplicas"], 1)
	hi := h.spec.maxReplicas
	not between(n, lo, hi)
	msg := sprintf("%s %s sets replicas %d but HorizontalPodAutoscaler %s keeps it within %d..%d: the two fight on every sync", [input.kind, input.metadata.name, n, h.metadata.name, lo, hi])
}

warn contains lib.finding("replicas.hpa-fight", msg, ["spec", "replicas"]) if {
	input.kind in {"Deployment", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	input.kind in lib.scalable_kinds
	n := input.spec.replicas
	some h in lib.hpas_for(input)
	some app in lib.syncing_apps(input)
	not ignores_replicas(app, input)
	msg := sprintf("%s %s sets replicas %d and HorizontalPodAutoscaler %s scales it, but Argo CD Application %s does not ignore /spec/replicas (ignoreDifferences and RespectIgnoreDifferences=true): every sync resets the HPA's count", [input.kind, input.metadata.name, n, h.metadata.name, app.metadata.name])
}

ignores_replicas(app, obj) if {
	"RespectIgnoreDifferences=true" in object.get(app, ["spec", "syncPolicy", "syncOptions"], [])
	some d in app.spec.ignoreDifferences
	d.kind == obj.kind
	object.get(d, ["group"], "") == group(obj)
	some p in array.concat(object.get(d, ["jsonPointers"], []), object.get(d, ["jqPathExpressions"], []))
	p in {"/spec/replicas", ".spec.replicas"}
}

# replicas.hpa-requests: utilization is usage over request summed over the
# pod's containers and restartable init containers (kubernetes v1.35.4
# pkg/controller/podautoscaler/replica_calculator.go
# calculatePodRequestsFromContainers: "missing request for cpu in
# container ..."), or over the pod-level requests when the pod sets them.
deny contains lib.finding("replicas.hpa-requests", msg, array.concat(path, ["resources", "requests"])) if {
	input.kind in lib.scalable_kinds
	some h in lib.hpas_for(input)
	some m in object.get(h, ["spec", "metrics"], [])
	m.type == "Resource"
	m.resource.target.type == "Utilization"
	name := m.resource.name
	not lib.pod_spec(input).resources.requests[name]
	some [path, c] in lib.containers(input)
	utilization_counts(path, c)
	not c.resources.requests[name]
	msg := sprintf("%s %s: container %s requests no %s, but HorizontalPodAutoscaler %s scales it on %s utilization: the HPA cannot compute it (FailedGetResourceMetric) and Argo CD marks it Degraded", [input.kind, input.metadata.name, c.name, name, h.metadata.name, name])
}

utilization_counts(path, _) if path[count(path) - 2] == "containers"

utilization_counts(path, c) if {
	path[count(path) - 2] == "initContainers"
	c.restartPolicy == "Always"
}

group(obj) := split(obj.apiVersion, "/")[0] if contains(obj.apiVersion, "/")

group(obj) := "" if not contains(obj.apiVersion, "/")

between(n, lo, hi) if {
	n >= lo
	n <= hi
}
