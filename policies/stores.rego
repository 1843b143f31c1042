# Stores: who may read credentials through a ClusterSecretStore.
package stores

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"stores.unscoped": "A ClusterSecretStore names the namespaces it serves (spec.conditions); without them every namespace can read every credential it reaches.",
	"stores.out-of-scope": "An ExternalSecret reads through a store that serves its namespace.",
}

# stores.unscoped: external-secrets serves a ClusterSecretStore without
# conditions to ExternalSecrets in every namespace, so anything that can
# create one anywhere reads the warehouse password. A condition with no
# namespaces, selector or regexes, or a regex matching everything, is the same.
deny contains lib.finding("stores.unscoped", msg, ["spec", "conditions"]) if {
	input.kind == "ClusterSecretStore"
	not scoped(input)
	msg := sprintf("ClusterSecretStore %s serves every namespace: list the namespaces whose ExternalSecrets use it in spec.conditions[].namespaces", [input.metadata.name])
}

scoped(store) if {
	conditions := object.get(store, ["spec", "conditions"], [])
	count(conditions) > 0
	every c in conditions {
		narrow(c)
	}
}

narrow(c) if {
	count(object.get(c, ["namespaces"], [])) > 0
	not regexes_match_all(c)
}

narrow(c) if {
	count(object.get(c, ["namespaceSelector", "matchLabels"], {})) + count(object.get(c, ["namespaceSelector", "matchExpressions"], [])) > 0
	not regexes_match_all(c)
}

narrow(c) if {
	count(object.get(c, ["namespaceRegexes"], [])) > 0
	not regexes_match_all(c)
}

regexes_match_all(c) if {
	some r in object.get(c, ["namespaceRegexes"], [])
	r in {".*", "^.*$", ".+", "^.+$", ""}
}

# stores.out-of-scope: an ExternalSecret whose ClusterSecretStore does not
# serve its namespace never syncs (the controller refuses it).
deny contains lib.finding("stores.out-of-scope", msg, ["spec", "secretStoreRef", "name"]) if {
	lib.has_inventory
	input.kind == "ExternalSecret"
	input.spec.secretStoreRef.kind == "ClusterSecretStore"
	some store in lib.objects("ClusterSecretStore.external-secrets.io", "")
	store.metadata.name == input.spec.secretStoreRef.name
	count(object.get(store, ["spec", "conditions"], [])) > 0
	ns := lib.namespace(input)
	not serves(store, ns)
	msg := sprintf("ExternalSecret %s in namespace %q reads through ClusterSecretStore %s, whose conditions do not serve that namespace", [input.metadata.name, ns, store.metadata.name])
}

serves(store, ns) if {
	some c in store.spec.conditions
	ns in object.get(c, ["namespaces"], [])
}

serves(store, ns) if {
	some c in store.spec.conditions
	some r in object.get(c, ["namespaceRegexes"], [])
	regex.match(r, ns)
}

serves(store, ns) if {
	some c in store.spec.conditions
	labels := namespace_labels(ns)
	sel := c.namespaceSelector
	every k, v in object.get(sel, ["matchLabels"], {}) {
		labels[k] == v
	}
	every e in object.get(sel, ["matchExpressions"], []) {
		expression_matches(e, labels)
	}
}

# The labels of a Namespace in the set (its name label is always set).
namespace_labels(ns) := object.union({"kubernetes.io/metadata.name": ns}, object.get(o, ["metadata", "labels"], {})) if {
	some o in lib.objects("Namespace", "")
	o.metadata.name == ns
} else := {"kubernetes.io/metadata.name": ns}

expression_matches(e, labels) if {
	e.operator == "In"
	labels[e.key] in e.values
}

expression_matches(e, labels) if {
	e.operator == "NotIn"
	not has_value_in(labels, e.key, e.values)
}

has_value_in(labels, key, values) if labels[key] in values

expression_matches(e, labels) if {
	e.operator == "Exists"
	labels[e.key]
}

expression_matches(e, labels) if {
	e.operator == "DoesNotExist"
	not labels[e.key]
}
