# Workload identities: each workload runs as its own ServiceAccount, and
# carries a Kubernetes API token only when it calls the API.
package identity

import data.lib

docs := {
	"identity.default-service-account": "Workloads run as their own ServiceAccount, not the namespace's default (every pod of the namespace would share its identity and permissions).",
	"identity.unneeded-token": "A workload's pods mount a Kubernetes API token only if its ServiceAccount is annotated platform.shop/kubernetes-api: used: set automountServiceAccountToken false on the pod or its ServiceAccount.",
}

pod_kinds := lib.workload_kinds | {"CronJob", "Pod"}

spec := lib.pod_spec(input)

# service_account is the pod's ServiceAccount name (serviceAccount is its deprecated alias).
service_account := object.get(spec, ["serviceAccountName"], object.get(spec, ["serviceAccount"], "default"))

deny contains lib.finding("identity.default-service-account", msg, array.concat(lib.pod_spec_path(input), ["serviceAccountName"])) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	input.kind in pod_kinds
	service_account in {"", "default"}
	msg := sprintf("%s %s runs as the namespace's default ServiceAccount: give it its own", [input.kind, input.metadata.name])
}

# API-using ServiceAccounts say so, so a token is a decision, not a default.
uses_api(sa) if sa.metadata.annotations["platform.shop/kubernetes-api"] == "used"

deny contains lib.finding("identity.unneeded-token", msg, array.concat(lib.pod_spec_path(input), ["automountServiceAccountToken"])) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	input.kind in pod_kinds
	lib.has_inventory
	mounts_token
	not uses_api(service_account_object)
	msg := sprintf("%s %s mounts a Kubernetes API token for ServiceAccount %s, which does not say it calls the API (platform.shop/kubernetes-api: used): set automountServiceAccountToken false", [input.kind, input.metadata.name, service_account])
}

# service_account_object is the pod's ServiceAccount in the env's set, else {}.
default service_account_object := {}

service_account_object := sa if {
	some sa in lib.index.ServiceAccount[lib.namespace(input)][service_account]
	sa.metadata.name == service_account
}

# mounts_token: the pod's field wins; unset, the ServiceAccount's (unset: true).
mounts_token if spec.automountServiceAccountToken == true

mounts_token if {
	not has_automount
	object.get(service_account_object, ["automountServiceAccountToken"], true) != false
}

has_automount if _ = spec.automountServiceAccountToken
