# Priorities: every workload names a PriorityClass, so under pressure the
# scheduler preempts background work before a customer-facing service and a
# service before a database (schema/security_pods.cue, #PriorityTiers).
package priority

import data.lib

docs := {
	"priority.missing": "Workloads set priorityClassName to a PriorityClass the platform renders (or a system-* class): without one a pod has priority 0 and anything may preempt it.",
	"priority.controller": "The upstream charts of the controllers the platform runs on (External Secrets with its webhook and cert controller, Argo Rollouts, Crossplane, the Load Balancer Controller, the Cluster Autoscaler, metrics-server, the descheduler, ACK) set priorityClassName to a system-* class in their values: at the charts' default of none they are preempted before any shop pod.",
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

# priority.controller: the controllers the platform runs on are installed by
# upstream charts (label platform.shop/upstream-chart), whose pods take the
# priorityClassName of their values. Most charts default to none, priority
# 0, below every shop tier: when a node fills, the scheduler preempts the
# controller first, and with it go secret refreshes (External Secrets, whose
# webhook refuses every store while it is down), releases (Argo Rollouts),
# load balancer and DNS changes, node scaling. controller_priority names,
# per chart, the values that set each of its Deployments' class (from the
# chart's values.yaml at the pinned version, schema/cluster_addons.cue);
# each must name a system-* class, set in the values, not left to the
# chart's default, so a chart bump cannot lower it unseen. Portworx is not
# in the table: its chart's operator Deployment takes no priority value
# (templates/portworx-operator.yaml) and the operator places the storage
# pods itself.
deny contains lib.finding("priority.controller", msg, path) if {
	input.kind == "Application"
	chart := input.metadata.labels["platform.shop/upstream-chart"]
	some value_path in controller_priority[chart]
	path := array.concat(["spec", "source", "helm", "valuesObject"], value_path)
	name := object.get(input, path, "")
	not startswith(sprintf("%v", [name]), "system-")
	msg := sprintf("Application %s installs chart %s with %s %s: its pods would run below the shop's tiers and be preempted first when a node fills; set it to system-cluster-critical", [input.metadata.name, chart, concat(".", value_path), unset_or(name)])
}

controller_priority := {
	"crossplane": [["priorityClassName"]], # the Crossplane and RBAC manager pods
	"external-secrets": [["priorityClassName"], ["webhook", "priorityClassName"], ["certController", "priorityClassName"]],
	"aws-load-balancer-controller": [["priorityClassName"]],
	"argo-rollouts": [["controller", "priorityClassName"]],
	"cluster-autoscaler": [["priorityClassName"]],
	"metrics-server": [["priorityClassName"]],
	"descheduler": [["priorityClassName"]],
	"ack-quicksight": [["deployment", "priorityClassName"]],
}

unset_or("") := "unset"

unset_or(name) := sprintf("%v", [name]) if name != ""
