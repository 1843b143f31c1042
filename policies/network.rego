# Network policies: every pod is selected by one, none allows everything, and
# none allows a flow the model does not name. The model's flows for a
# workload are on its ServiceAccount (annotation platform.shop/network-flows,
# JSON {ingress, egress} in NetworkPolicy rule form, schema/security_network.cue),
# so a policy added or widened by hand is compared with the graph's edges.
package network

import data.lib

docs := {
	"network.unselected-pod": "Every workload's pods are selected by a NetworkPolicy of their namespace (the default-deny one at least): an unselected pod accepts and opens any connection.",
	"network.allow-all": "No NetworkPolicy rule allows every peer: a rule without from/to, an empty podSelector or namespaceSelector on its own, or an ipBlock of 0.0.0.0/0 or ::/0.",
	"network.not-enforced": "An EKS cluster whose env holds NetworkPolicies runs the VPC CNI's network policy agent: its vpc-cni Addon sets configurationValues enableNetworkPolicy \"true\". Without it EKS accepts every policy and enforces none.",
	"network.undeclared-flow": "Each peer and port a NetworkPolicy allows for a workload is a flow the model names for it (the platform.shop/network-flows annotation of its ServiceAccount, generated with the policy from the graph).",
}

flows_annotation := "platform.shop/network-flows"

pod_kinds := lib.pod_kinds

policy_key := "NetworkPolicy.networking.k8s.io"

# network.unselected-pod: no NetworkPolicy of the namespace selects the pods.
deny contains lib.finding("network.unselected-pod", msg, ["metadata", "name"]) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	input.kind in pod_kinds
	lib.has_inventory
	labels := lib.pod_labels(input)
	not selected(lib.namespace(input), labels)
	msg := sprintf("%s %s: no NetworkPolicy in namespace %s selects its pods, so they accept and open any connection", [input.kind, input.metadata.name, lib.namespace(input)])
}

# The candidates are looked up by label: a policy that selects the pods has
# each of its matchLabels among their labels.
selected(ns, labels) if {
	some p in object.get(idx.policies_without_labels, [ns], set())
	lib.selects(p.spec.podSelector, labels)
}

selected(ns, labels) if {
	some k, v in labels
	some p in object.get(idx.policies_by_label, [ns, k, v], set())
	lib.selects(p.spec.podSelector, labels)
}

# env_index: derived once per env by the engine (data.check.env_index);
# computed inline without it.
env_index := {"policies_by_label": policies_by_label, "policies_without_labels": policies_without_labels}

idx := data.check.env_index.network if data.check.env_index.network

else := env_index

policies := {[ns, p] |
	some ns, by_name in object.get(lib.index, [policy_key], {})
	some same_name in by_name
	some p in same_name
}

policies_by_label[ns][k][v] contains p if {
	some [ns, p] in policies
	some k, v in object.get(p, ["spec", "podSelector", "matchLabels"], {})
}

policies_without_labels[ns] contains p if {
	some [ns, p] in policies
	count(object.get(p, ["spec", "podSelector", "matchLabels"], {})) == 0
}

directions := {"ingress": "from", "egress": "to"}

# network.allow-all: a rule that admits every peer.
deny contains lib.finding("network.allow-all", msg, ["spec", dir, i]) if {
	input.kind == "NetworkPolicy"
	some dir, field in directions
	some i, rule in object.get(input, ["spec", dir], [])
	some why in everyone(rule, field)
	msg := sprintf("NetworkPolicy %s allows %s from/to everyone: %s", [input.metadata.name, dir, why])
}

everyone(rule, field) := {sprintf("the rule has no %s", [field])} if count(object.get(rule, [field], [])) == 0

everyone(rule, field) := {sprintf("a peer selects %s", [open_peer(peer)]) | some peer in rule[field]; open_peer(peer)} if {
	count(object.get(rule, [field], [])) > 0
}

# open_peer says which peer admits everyone (the cases exclude each other).
open_peer(peer) := "every pod of the namespace (podSelector {})" if {
	object.keys(peer) == {"podSelector"}
	empty_selector(peer.podSelector)
}

open_peer(peer) := "every namespace (namespaceSelector {})" if {
	empty_selector(peer.namespaceSelector)
	empty_selector(object.get(peer, ["podSelector"], {}))
}

open_peer(peer) := sprintf("every address (ipBlock %s)", [peer.ipBlock.cidr]) if peer.ipBlock.cidr in {"0.0.0.0/0", "::/0"}

empty_selector(s) if {
	count(object.get(s, ["matchLabels"], {})) == 0
	count(object.get(s, ["matchExpressions"], [])) == 0
}

# network.undeclared-flow: for each workload the policy selects, every
# (peer, port) it allows must be one of the workload's declared flows. A rule
# without peers or ports allows "any", which no flow declares.
deny contains lib.finding("network.undeclared-flow", msg, ["spec", dir, i]) if {
	input.kind == "NetworkPolicy"
	lib.has_inventory
	some w in selected_workloads
	some dir, field in directions
	rules := object.get(input.spec, [dir], [])
	flows := object.get(declared_json(w), [dir], [])
	rules != flows # the same rules allow the same flows: a policy as the model wrote it stops here
	declared := {a | some rule in flows; some a in atoms(rule, field)}
	some i, rule in rules
	some atom in atoms(rule, field)
	not atom in declared
	msg := sprintf("NetworkPolicy %s allows %s %s %s on %s for %s %s, a flow the model does not name for it (%s on ServiceAccount %s)", [
		input.metadata.name, dir, field, json.marshal(atom.peer), json.marshal(atom.port),
		w.kind, w.metadata.name, flows_annotation, sa_name(w),
	])
}

selected_workloads := lib.selected_pod_owners(input.spec.podSelector, lib.namespace(input))

# atoms splits a rule into (peer, port) pairs; "any" stands for a missing list.
atoms(rule, field) := {{"peer": peer, "port": port} |
	some peer in or_any(object.get(rule, [field], []))
	some port in or_any([normal_port(p) | some p in object.get(rule, ["ports"], [])])
}

or_any(xs) := xs if count(xs) > 0

or_any(xs) := ["any"] if count(xs) == 0

# normal_port fills in the API's default protocol.
normal_port(p) := object.union({"protocol": "TCP"}, p)

sa_name(w) := object.get(lib.pod_spec(w), ["serviceAccountName"], "default")

# declared_json reads the workload's ServiceAccount annotation (its flows
# in NetworkPolicy rule form); absent or unreadable, nothing is declared.
declared_json(w) := j if {
	some sa in lib.index.ServiceAccount[lib.namespace(w)][sa_name(w)]
	sa.metadata.name == sa_name(w)
	j := json.unmarshal(sa.metadata.annotations[flows_annotation])
}

default declared_json(_) := {}

addon_key := "Addon.eks.aws.upbound.io"

# network.not-enforced: NetworkPolicies in the env, and the cluster's VPC CNI
# runs without its network policy agent (amazon-vpc-cni-k8s: off by default).
deny contains lib.finding("network.not-enforced", msg, ["metadata", "name"]) if {
	input.kind == "Cluster"
	startswith(input.apiVersion, "eks.aws.upbound.io/")
	lib.has_inventory
	count(object.get(lib.index, [policy_key], {})) > 0
	not enforces(input.metadata.name)
	msg := sprintf("EKS Cluster %s: the env has NetworkPolicies but no vpc-cni Addon of this cluster sets configurationValues {\"enableNetworkPolicy\": \"true\"}, so none of them is enforced", [input.metadata.name])
}

enforces(cluster) if {
	some addon in lib.objects(addon_key, "")
	addon.spec.forProvider.addonName == "vpc-cni"
	addon.spec.forProvider.clusterNameRef.name == cluster
	json.unmarshal(addon.spec.forProvider.configurationValues).enableNetworkPolicy == "true"
}
