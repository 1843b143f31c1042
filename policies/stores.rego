# Stores: who may read credentials through a ClusterSecretStore.
package stores

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"stores.unscoped": "A ClusterSecretStore names the namespaces it serves (spec.conditions); without them every namespace can read every credential it reaches.",
	"stores.out-of-scope": "An ExternalSecret reads through a store that serves its namespace.",
	"stores.unreadable": "Every Secrets Manager key an ExternalSecret reads is one the IAM role of its store's ServiceAccount (IRSA) may read: a policy attached to the role allows secretsmanager:GetSecretValue on the secret's ARN.",
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

# stores.unreadable: the store's ServiceAccount assumes its role (IRSA), but
# no policy attached to the role allows GetSecretValue on the key's ARN, so
# Secrets Manager answers AccessDeniedException and the ExternalSecret never
# syncs (the twin's IAM stand-in refuses it the same way). Only judged when
# every policy attached to the role is in the set (an AWS-managed policy ARN
# is not); conditions are not evaluated (the secret's tags are not in the
# set: a conditional Allow counts) and Deny statements are not read, so it
# never refuses what AWS would allow (lib.iam_allows).
deny contains lib.finding("stores.unreadable", msg, ["spec", "data", i, "remoteRef", "key"]) if {
	lib.has_inventory
	input.kind == "ExternalSecret"
	some store in store_of(input)
	aws := store.spec.provider.aws
	object.get(aws, "service", "") == "SecretsManager"
	ref := aws.auth.jwt.serviceAccountRef
	some sa in lib.objects("ServiceAccount", sa_namespace(store, ref, input))
	sa.metadata.name == ref.name
	arn := sa.metadata.annotations["eks.amazonaws.com/role-arn"]
	parts := split(arn, ":")
	role := regex.replace(parts[5], "^role/(.*/)?", "")
	policies := policies_of(role)
	some i, d in input.spec.data
	resource := sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbCdEf", [aws.region, parts[4], d.remoteRef.key])
	not lib.iam_allows(policies, "secretsmanager:GetSecretValue", resource, null)
	msg := sprintf("ExternalSecret %s reads %s through store %s, but role %s of ServiceAccount %s/%s may not secretsmanager:GetSecretValue on %s: AccessDeniedException", [input.metadata.name, d.remoteRef.key, store.metadata.name, role, sa.metadata.namespace, sa.metadata.name, resource])
}

store_of(es) := [s | some s in lib.objects("ClusterSecretStore.external-secrets.io", ""); s.metadata.name == es.spec.secretStoreRef.name] if {
	es.spec.secretStoreRef.kind == "ClusterSecretStore"
} else := [s | some s in lib.objects("SecretStore.external-secrets.io", lib.namespace(es)); s.metadata.name == es.spec.secretStoreRef.name]

# sa_namespace: a ClusterSecretStore's serviceAccountRef may name a
# namespace; a SecretStore's ServiceAccount is in the ExternalSecret's
# (external-secrets provider/aws/auth/auth.go credsFromServiceAccount).
sa_namespace(store, ref, es) := ref.namespace if {
	store.kind == "ClusterSecretStore"
	ref.namespace
} else := lib.namespace(es)

# policies_of is the policy documents of a role, defined only when every
# policy attached to it is in the set (lib.role_policies_known). It is the
# same for every ExternalSecret reading through the role, so it is worked
# out once per env for each role (env_index) and looked up.
policies_of(role) := idx.role_documents[role]

# env_index: derived once per env by the engine (data.check.env_index);
# computed inline without it.
env_index := {"role_documents": {name: lib.role_documents(name) |
	some name, _ in object.get(lib.index, ["Role.iam.aws.upbound.io", ""], {})
	lib.role_policies_known(name)
}}

idx := data.check.env_index.stores if data.check.env_index.stores

else := env_index

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
