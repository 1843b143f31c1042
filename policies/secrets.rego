# Secrets: no credential in git, and every Secret a pod needs has a producer.
package secrets

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"secrets.secret-data": "No Secret manifest carries data or stringData in git (values are never printed).",
	"secrets.env-literal": "No container env var with a credential-like name (PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL...) has a literal value.",
	"secrets.configmap": "No ConfigMap holds a credential-like key.",
	"secrets.material": "No string anywhere in a manifest (env values, args, command, ConfigMap data and the files embedded in it, annotations...) holds secret material: credentials in a URL, AWS access keys, PEM private keys, GitHub/Slack/Stripe/Google tokens, JWTs. Values are never printed.",
	"secrets.missing-secret": "Every Secret a pod or BackupLocation reads (secretKeyRef, envFrom, secret volume) is produced by an ExternalSecret or SealedSecret in the set.",
	"secrets.missing-store": "Every ExternalSecret's SecretStore or ClusterSecretStore is in the set.",
	"secrets.crossplane-literal": "No Crossplane managed resource sets a password-like field to a literal; use its *SecretRef.",
}

# secrets.secret-data: a Secret manifest carries its values into git.
deny contains lib.finding("secrets.secret-data", msg, [field]) if {
	input.kind == "Secret"
	not credential_free_cluster(input)
	not credential_free_repository(input)
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

# credential_free_repository: an Argo CD repository Secret that names a
# public repository (name, url, type, enableOCI, project) holds no
# credential; a username, password, key or token in it is one.
credential_free_repository(obj) if {
	obj.metadata.labels["argocd.argoproj.io/secret-type"] == "repository"
	count(object.get(obj, "data", {})) == 0
	every k, _ in obj.stringData {
		k in {"name", "url", "type", "enableOCI", "project"}
	}
}

# secrets.env-literal: a container env var that looks like a credential has a
# literal value. The value itself is never printed.
deny contains lib.finding("secrets.env-literal", msg, array.concat(path, ["env", i, "value"])) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	some [path, c] in lib.containers(input)
	some i, e in c.env
	is_string(e.value) # the value first: most credentials are read from a Secret (valueFrom)
	e.value != ""
	lib.sensitive(e.name)
	msg := sprintf("container %s of %s %s sets %s to a literal value: in this repository, move it from env: to credentials: in envs/shared/catalog.cue (%s: {key: \"<name under the env's Secrets Manager prefix>\", property: \"<JSON field>\"}), which renders an ExternalSecret and a valueFrom.secretKeyRef", [c.name, input.kind, input.metadata.name, e.name, e.name])
}

# secrets.configmap: a ConfigMap holds a credential-looking key.
deny contains lib.finding("secrets.configmap", msg, [field, k]) if {
	input.kind == "ConfigMap"
	some field in ["data", "binaryData"]
	some k, _ in object.get(input, [field], {})
	lib.sensitive(k)
	msg := sprintf("ConfigMap %s has key %s, which looks like a credential: ConfigMaps are not secret", [input.metadata.name, k])
}

# secrets.material: secret material is recognised by its form, wherever it
# is and whatever the field is called: every string of the object is read
# whole (a ConfigMap value holding an ini, JSON or YAML file included).
# Secret manifests are judged by secrets.secret-data, binaryData is opaque.
# Only the kind of material is reported, never the value.
deny contains lib.finding("secrets.material", msg, path) if {
	input.kind != "Secret"

	# Most objects hold nothing of the sort: their text decides, before
	# walking them string by string.
	text_holds_material(lib.text(input))
	walk(input, [path, value])
	is_string(value)
	kinds := material_kinds(value)
	count(kinds) > 0
	not opaque(path)
	msg := sprintf("%s %s: %s holds %s: move it to the secret store and read it through an ExternalSecret", [input.kind, input.metadata.name, concat(".", [sprintf("%v", [x]) | some x in path]), concat(" and ", kinds)])
}

# material_kinds names the forms of secret material in a string.
material_kinds(value) := [m.name | some m in material; found(m, value)] if {
	count(value) >= 9
	regex.match(material_any, value)
}

opaque(path) if path[0] == "binaryData"

opaque(path) if path[0] == "status"

# One pattern that every form below also matches: most strings are rejected
# by one regex call.
material_any := concat("|", [m.pattern | some m in material])

# text_holds_material finds a form in an object's text, where quotes and
# backslashes inside strings are escaped (hence each form's "loose" variant
# where it differs). A form's regex runs only when the text holds one of its
# literals and every string it requires (strings every match contains):
# substring tests are far cheaper than a regex without a literal prefix over
# the whole text. Every literal is sought in the text lower-cased, one loop
# for all forms (each literal lower-cased is in the lower-cased text when
# the literal is in the text); a form's loose pattern then runs on the text,
# or on the text lower-cased for a form with literals_lower and
# loose_lower: one literal instead of every spelling a case-insensitive
# pattern matches, and a regex with a literal prefix (Go's regexp skips to
# it) instead of (?i:...), which it cannot. Each character of a match,
# lower-cased, is matched by loose_lower, so a text the form matches still
# gets through; a form without loose_lower has its literal only tested (the
# empty pattern matches every text).
text_holds_material(text) if {
	lowered := lower(text)
	some [lit, requires, loose, on] in idx.prefilter
	contains(lowered, lit)
	every required in requires {
		contains(text, required)
	}
	regex.match(loose, {"text": text, "lowered": lowered}[on])
}

# prefilter is material's literals in one flat list, each lower-cased, with
# its form's required strings, its loose pattern and the text that pattern
# runs on: one step per literal instead of a lookup per form and per field
# in every object's evaluation (derived once per env by the engine, in
# env_index).
prefilter := array.concat(
	[entry(m, lit) | some m in material; some lit in literals(m)],
	[[lit, object.get(m, "requires", []), object.get(m, "loose_lower", ""), "lowered"] |
		some m in material
		some lit in object.get(m, "literals_lower", [])
	],
)

entry(m, lit) := [lower(lit), object.get(m, "requires", []), object.get(m, "loose", m.pattern), "text"]

literals(m) := m.literals

# A form with no literal at all has its regex tried on every text.
literals(m) := [""] if {
	not m.literals
	not m.literals_lower
}

# material lists the forms. Sources: AWS IAM user guide ("Managing access
# keys": AKIA long-term, ASIA temporary ids; 40-character secret keys),
# GitHub docs ("About authentication to GitHub": ghp_/gho_/ghu_/ghs_/ghr_,
# github_pat_), Slack token types (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-),
# Stripe API keys (sk_live_, rk_live_), Google API keys (AIza + 35),
# RFC 7519 JWTs (base64url JSON header "eyJ"), RFC 7468 PEM labels.
material := [
	{
		# scheme://user:password@host, the user possibly empty (redis://:pw@);
		# a password that is a placeholder ($(VAR), ${VAR}, {{ .x }}, %s, <pw>, ***)
		# is a reference, not material.
		"name": "a password inside a URL",
		"pattern": `[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]*:[^\s/@$%{}<>*]+@[^\s/@]`,
		"literals": ["@"],
		"requires": ["://"], # image digests hold @, URLs ://: few objects hold both
		# The prefilter's regex starts at ://, a literal Go's regexp skips to
		# (every match of the pattern holds one of this one): the scheme
		# before it made the regex try every position of the text.
		"loose": `://[^\s/:@]*:[^\s/@$%{}<>*]+@[^\s/@]`,
	},
	{"name": "an AWS access key id", "pattern": `(^|[^A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}([^A-Z0-9]|$)`, "literals": ["AKIA", "ASIA"]},
	{
		# A secret access key is 40 base64 characters: only with an AWS key
		# name before it (aws_secret_access_key = ..., "AWS_SECRET": "...").
		"name": "an AWS secret access key",
		"pattern": `(?i:aws)[A-Za-z0-9_ .'"-]{0,30}[:=]\s*['"]?[A-Za-z0-9/+]{40}([^A-Za-z0-9/+=]|$)`,
		"token": `[A-Za-z0-9/+]{40}`,
		# (?i:aws) in every case, Go's regexp folds s to ſ (U+017F) as well:
		# aws or awſ in the text lower-cased (lower maps only A, W and S to
		# a, w and s, and nothing else to ſ).
		"literals_lower": ["aws", "awſ"],
		"loose_lower": `aw[sſ][a-z0-9_ .'"\\-]{0,32}[:=][\s\\'"]*[a-z0-9/+]{40}`,
	},
	{"name": "a PEM private key", "pattern": `-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----`, "literals": ["PRIVATE KEY"]},
	{
		"name": "a GitHub token", "pattern": `(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,})`,
		# Every match starts with gh: one literal for the six prefixes (a
		# text with gh elsewhere, github.com, runs the pattern, which Go's
		# regexp skips to its gh prefix).
		"literals": ["gh"],
	},
	{"name": "a Slack token", "pattern": `xox[abposr]-[0-9A-Za-z-]{10,}`, "literals": ["xox"]},
	{"name": "a Stripe live key", "pattern": `[sr]k_live_[0-9A-Za-z]{16,}`, "literals": ["k_live_"]},
	{"name": "a Google API key", "pattern": `AIza[0-9A-Za-z_-]{35}`, "literals": ["AIza"]},
	{"name": "a JSON Web Token", "pattern": `eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`, "literals": ["eyJ"]},
]

found(m, value) if {
	not m.token
	regex.match(m.pattern, value)
}

# A 40-character token must look random: upper and lower case letters and
# digits (a hex digest such as a git commit id is one case only).
found(m, value) if {
	some candidate in regex.find_n(m.pattern, value, -1)
	some t in regex.find_n(m.token, candidate, -1)
	regex.match(`[A-Z]`, t)
	regex.match(`[a-z]`, t)
	regex.match(`[0-9]`, t)
}

# secrets.missing-secret: a pod reads a Secret that nothing in the set
# produces (no ExternalSecret, SealedSecret or Secret of that name), so it
# never starts. References marked optional are skipped.
deny contains lib.finding("secrets.missing-secret", msg, path) if {
	input.kind in {"BackupLocation", "CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
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
produced(ns, name) if count(object.get(idx.producers, [ns, name], [])) > 0

# env_index: the Secrets each namespace's ExternalSecrets and SealedSecrets
# produce, derived once per env by the engine (data.check.env_index).
env_index := {"producers": producers, "prefilter": prefilter}

idx := data.check.env_index.secrets if data.check.env_index.secrets

else := env_index

producers[ns][name] contains es.metadata.name if {
	some ns, by_name in lib.index["ExternalSecret.external-secrets.io"]
	some same_name in by_name
	some es in same_name
	name := object.get(es, ["spec", "target", "name"], es.metadata.name)
}

producers[ns][name] contains ss.metadata.name if {
	some ns, by_name in lib.index["SealedSecret.bitnami.com"]
	some same_name in by_name
	some ss in same_name
	name := object.get(ss, ["spec", "template", "metadata", "name"], ss.metadata.name)
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
	some params, provider in object.filter(input.spec, ["forProvider", "initProvider"]) # most objects have neither: they stop here
	is_crossplane(input)

	# A password-like key is in the JSON text as it is (letters are never
	# escaped): a provider without one is not walked node by node.
	regex.match(`(?i)(password|passwd|passphrase|secretstring|authtoken)`, json.marshal(provider))
	walk(provider, [rel, value])
	is_string(value) # the strings first: most nodes are objects, lists and numbers, or have no password-like key
	value != ""
	field := rel[count(rel) - 1]
	is_string(field)
	literal_password_field(field)
	path := array.concat(["spec", params], rel)
	msg := sprintf("%s %s sets %s to a literal value: use the matching *SecretRef field", [input.kind, input.metadata.name, concat(".", [sprintf("%v", [x]) | some x in path])])
}

is_crossplane(obj) if contains(split(obj.apiVersion, "/")[0], ".upbound.io")

is_crossplane(obj) if contains(split(obj.apiVersion, "/")[0], ".crossplane.io")

literal_password_field(field) if regex.match(`(?i)(password|passwd|passphrase|secretstring|authtoken)$`, field)
