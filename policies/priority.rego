# Priorities: every workload names a PriorityClass, so under pressure the
# scheduler preempts background work before a customer-facing service and a
# service before a database (schema/security_pods.cue, #PriorityTiers).
package priority

import data.lib

docs := {
	"priority.missing": "Workloads set priorityClassName to a PriorityClass the platform renders (or a system-* class): without one a pod has priority 0 and anything may preempt it.",
}

pod_kinds := lib.workload_kinds | {"CronJob", "Pod"}

path := array.concat(lib.pod_spec_path(input), ["priorityClassName"])

deny contains lib.finding("priority.missing", msg, path) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	input.kind in pod_kinds
	object.get(input, path, "") == ""
	msg := sprintf("%s %s sets no priorityClassName: its pods run at priority 0, below every tier", [input.kind, input.metadata.name])
}

deny contains lib.finding("priority.missing", msg, path) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	input.kind in pod_kinds
	lib.has_inventory
	name := object.get(input, path, "")
	name != ""
	not startswith(name, "system-")
	not lib.exists("PriorityClass.scheduling.k8s.io", "", name)
	msg := sprintf("%s %s names PriorityClass %s, which the platform does not render", [input.kind, input.metadata.name, name])
}
