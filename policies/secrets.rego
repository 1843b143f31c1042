# Secrets: no credential in git, and every Secret a pod needs has a producer.
package secrets

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"secrets.secret-data": "No Secret manifest carries data or stringData in git (values are never printed).",
	"secrets.env-literal": "No container env var with a credential-like name (PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL...) has a literal value.",
	"secrets.configmap": "No ConfigMap holds a credential-like key or a PEM private key.",
	"secrets.missing-secret": "Every Secret a pod or BackupLocation reads (secretKeyRef, envFrom, secret volume) is produced by an ExternalSecret or SealedSecret in the set.",
	"secrets.missing-store": "Every ExternalSecret's SecretStore or ClusterSecretStore is in the set.",
	"secrets.crossplane-literal": "No Crossplane managed resource sets a password-like field to a literal; use its *SecretRef.",
}

# secrets.secret-data: a Secret manifest carries its values into git.
deny contains lib.finding("secrets.secret-data", msg, [field]) if {
	input.kind == "Secret"
	not credential_free_cluster(input)
	some field in ["data", "stringData"]
	count(object.get(input, [field], {})) > 0
	msg := sprintf("Secret %s holds %d value(s) in %s (keys %v) in git: produce it with an ExternalSecret instead", [input.metadata.name, count(input[field]), field, sort(object.keys(input[field]))])
}

# credential_free_cluster: an Argo CD cluster Secret that registers a cluster
# by name, URL and public CA and authenticates through AWS IAM (awsAuthConfig)
# holds no credential (argo-cd docs/operator-manual/declarative-setup.md, EKS).
# A bearer token, password or client key in it is one.
credential_free_cluster(obj) if {
	obj.metadata.labels["argocd.argoproj.io/secret-type"] == "cluster"
	count(object.get(obj, "data", {})) == 0
	every k, _ in obj.stringData {
		k in {"name", "server", "config", "project", "namespaces", "clusterResources"}
	}
	config := json.unmarshal(object.get(obj.stringData, "config", "{}"))
	every k, _ in config {
		k in {"awsAuthConfig", "tlsClientConfig"}
	}
	every k, _ in object.get(config, "tlsClientConfig", {}) {
		k in {"insecure", "caData", "serverName"}
	}
}

# secrets.env-literal: a container env var that looks like a credential has a
# literal value. The value itself is never printed.
deny contains lib.finding("secrets.env-literal", msg, array.concat(path, ["env", i, "value"])) if {
	some [path, c] in lib.containers(input)
	some i, e in c.env
	lib.sensitive(e.name)
	is_string(e.value)
	e.value != ""
	msg := sprintf("container %s of %s %s sets %s to a literal value: use valueFrom.secretKeyRef", [c.name, input.kind, input.metadata.name, e.name])
}

# secrets.configmap: a ConfigMap holds a credential-looking key or a private key.
deny contains lib.finding("secrets.configmap", msg, [field, k]) if {
	input.kind == "ConfigMap"
	some field in ["data", "binaryData"]
	some k, _ in object.get(input, [field], {})
	lib.sensitive(k)
	msg := sprintf("ConfigMap %s has key %s, which looks like a credential: ConfigMaps are not secret", [input.metadata.name, k])
}

deny contains lib.finding("secrets.configmap", msg, ["data", k]) if {
	input.kind == "ConfigMap"
	some k, v in object.get(input, ["data"], {})
	not lib.sensitive(k)
	lib.private_key_block(v)
	msg := sprintf("ConfigMap %s key %s holds a PEM private key: ConfigMaps are not secret", [input.metadata.name, k])
}

# secrets.missing-secret: a pod reads a Secret that nothing in the set
# produces (no ExternalSecret, SealedSecret or Secret of that name), so it
# never starts. References marked optional are skipped.
deny contains lib.finding("secrets.missing-secret", msg, path) if {
	lib.has_inventory
	some [path, name] in secret_refs(input)
	not produced(lib.namespace(input), name)
	msg := sprintf("%s %s reads Secret %q, which no ExternalSecret or SealedSecret in namespace %q produces", [input.kind, input.metadata.name, name, lib.namespace(input)])
}

secret_refs(obj) := ((({[p, ref.name] |
	some [cpath, c] in lib.containers(obj)
	some i, e in c.env
	ref := e.valueFrom.secretKeyRef
	not ref.optional
	p := array.concat(cpath, ["env", i, "valueFrom", "secretKeyRef", "name"])
} | {[p, ref.name] |
	some [cpath, c] in lib.containers(obj)
	some i, e in c.envFrom
	ref := e.secretRef
	not ref.optional
	p := array.concat(cpath, ["envFrom", i, "secretRef", "name"])
}) | {[p, v.secret.secretName] |
	some i, v in lib.pod_spec(obj).volumes
	not v.secret.optional
	p := array.concat(lib.pod_spec_path(obj), ["volumes", i, "secret", "secretName"])
}) | {[p, src.secret.name] |
	some i, v in lib.pod_spec(obj).volumes
	some j, src in v.projected.sources
	not src.secret.optional
	p := array.concat(lib.pod_spec_path(obj), ["volumes", i, "projected", "sources", j, "secret", "name"])
}) | {[["location", "secretConfig"], obj.location.secretConfig] |
	# Stork BackupLocation credentials.
	obj.kind == "BackupLocation"
}

# produced reports whether the set makes Secret name in ns: an ExternalSecret
# (spec.target.name, which defaults to its own name), a SealedSecret
# (spec.template.metadata.name, defaulting likewise), or a Secret manifest.
produced(ns, name) if {
	some es in lib.objects("ExternalSecret.external-secrets.io", ns)
	object.get(es, ["spec", "target", "name"], es.metadata.name) == name
}

produced(ns, name) if {
	some ss in lib.objects("SealedSecret.bitnami.com", ns)
	object.get(ss, ["spec", "template", "metadata", "name"], ss.metadata.name) == name
}

produced(ns, name) if lib.exists("Secret", ns, name)

# secrets.missing-store: an ExternalSecret names a store that is not in the set.
deny contains lib.finding("secrets.missing-store", msg, ["spec", "secretStoreRef", "name"]) if {
	lib.has_inventory
	input.kind == "ExternalSecret"
	ref := input.spec.secretStoreRef
	kind := object.get(ref, ["kind"], "SecretStore")
	not store_exists(kind, ref.name, lib.namespace(input))
	msg := sprintf("ExternalSecret %s uses %s %q, which is not in the set", [input.metadata.name, kind, ref.name])
}

store_exists("ClusterSecretStore", name, _) if lib.exists("ClusterSecretStore.external-secrets.io", "", name)

store_exists("SecretStore", name, ns) if lib.exists("SecretStore.external-secrets.io", ns, name)

# secrets.crossplane-literal: a Crossplane managed resource carries a
# password as a literal field instead of a *SecretRef. The value is never printed.
deny contains lib.finding("secrets.crossplane-literal", msg, path) if {
	is_crossplane(input)
	some params in ["forProvider", "initProvider"]
	walk(object.get(input, ["spec", params], {}), [rel, value])
	count(rel) > 0
	field := rel[count(rel) - 1]
	is_string(field)
	literal_password_field(field)
	is_string(value)
	value != ""
	path := array.concat(["spec", params], rel)
	msg := sprintf("%s %s sets %s to a literal value: use the matching *SecretRef field", [input.kind, input.metadata.name, concat(".", [sprintf("%v", [x]) | some x in path])])
}

is_crossplane(obj) if contains(split(obj.apiVersion, "/")[0], ".upbound.io")

is_crossplane(obj) if contains(split(obj.apiVersion, "/")[0], ".crossplane.io")

literal_password_field(field) if regex.match(`(?i)(password|passwd|passphrase|secretstring|authtoken)$`, field)
