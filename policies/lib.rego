# Shared helpers for every policy package. No deny/warn rules here.
#
# Input contract (conftest style): `input` is ONE Kubernetes object.
# Cross-resource rules read the env's whole object set from `data.check`,
# which the Go engine (internal/checker) writes before evaluating an env:
#
#   data.check.env                  "prod" | "dr" | ...: selects data.thresholds[env]
#   data.check.index[key][ns][name] the env's objects; key is the Kind for the
#                                   core group, else "Kind.group" (kubectl style:
#                                   "StatefulSet.apps", "Subnet.ec2.aws.upbound.io");
#                                   ns is "" for cluster-scoped objects. The value
#                                   is a list (the same kind/ns/name may exist in
#                                   several API versions).
#   data.check.files[key][ns][name] the file each object was read from (rules
#                                   that relate objects to Argo CD source paths)
#   data.check.peers[env].index     the same index for a peer env (parity rules)
#   data.check.env_index[pkg]       package pkg's env_index rule, evaluated once
#                                   per env without input (lookup tables a rule
#                                   would otherwise rebuild for every object)
#
# Without data.check (plain `conftest test`), the env falls back to the
# object's platform.shop/env label, else "prod" (the strictest), and rules
# that need other objects to decide stay silent instead of guessing.
package lib

# env selects the thresholds (an else chain: with the engine, the first
# branch decides and the others are not evaluated for every object).
env := data.check.env if data.check.env

else := input.metadata.labels["platform.shop/env"] if data.thresholds[input.metadata.labels["platform.shop/env"]]

else := "prod"

thresholds := data.thresholds[env]

# has_inventory is true when the engine provided the env's object set.
has_inventory if data.check.index

default index := {}

index := data.check.index

# key is the index key of an object: Kind, or Kind.group for named groups.
key(obj) := concat(".", [obj.kind, split(obj.apiVersion, "/")[0]]) if contains(obj.apiVersion, "/")

else := obj.kind

namespace(obj) := object.get(obj, ["metadata", "namespace"], "")

# objects returns every object of kind key k in namespace ns.
objects(k, ns) := [o |
	some same_name in object.get(index, [k, ns], {})
	some o in same_name
]

# exists is true when an object of key k named name exists in ns.
exists(k, ns, name) if index[k][ns][name][_] # a reference, not object.get and count: fewer expressions per call

# text is a value as Rego writes it (sprintf %v): strings quoted with Go's
# escapes, which are JSON's for quotes, backslashes and the usual control
# characters; half the cost of json.marshal, which converts the value to Go
# values first. A rule tests an object's text for a substring before walking
# it node by node: most objects hold nothing the walk looks for.
text(value) := sprintf("%v", [value])

# finding is the shape every deny/warn carries: conftest reads msg, the Go
# engine also reads rule (a stable id) and path (the field, for its line).
finding(rule, msg, path) := {"msg": msg, "rule": rule, "path": path}

# Pod-owning kinds and where their pod spec lives.
workload_kinds := {"Deployment", "StatefulSet", "Rollout", "ReplicaSet", "DaemonSet", "Job"}

# scalable are the kinds with spec.replicas whose count the replica rules police.
scalable_kinds := {"Deployment", "StatefulSet", "Rollout"}

pod_spec_path(obj) := ["spec"] if obj.kind == "Pod"

pod_spec_path(obj) := ["spec", "template", "spec"] if obj.kind in workload_kinds

pod_spec_path(obj) := ["spec", "jobTemplate", "spec", "template", "spec"] if obj.kind == "CronJob"

pod_spec(obj) := object.get(obj, pod_spec_path(obj), {})

pod_labels(obj) := object.get(obj, ["spec", "template", "metadata", "labels"], {}) if obj.kind != "Pod"

pod_labels(obj) := object.get(obj, ["metadata", "labels"], {}) if obj.kind == "Pod"

# containers yields [path, container] for every container of a pod template.
containers(obj) := {[path, c] |
	spec := pod_spec(obj)
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some i, c in object.get(spec, [field], [])
	path := array.concat(pod_spec_path(obj), [field, i])
}

# hpas_for lists the HPAs in the set that scale obj.
hpas_for(obj) := [h | some h in object.get(idx.hpas, [namespace(obj), obj.kind, obj.metadata.name], [])]

# env_index: lookup tables the engine derives once per env (see
# data.check.env_index above); computed inline without the engine.
env_index := {
	"hpas": hpas_by_target,
	"pod_owners": pod_owners_by_label,
	"pod_owners_in": pod_owners_in,
	"dir_apps": dir_apps,
}

idx := data.check.env_index.lib if data.check.env_index.lib

else := env_index

hpas_by_target[ns][ref.kind][ref.name] contains h if {
	some ns, by_name in index["HorizontalPodAutoscaler.autoscaling"]
	some same_name in by_name
	some h in same_name
	ref := h.spec.scaleTargetRef
}

# pod_kinds are the kinds whose objects carry pod labels (pod_labels).
pod_kinds := workload_kinds | {"CronJob", "Pod"}

# pod_owners_in[ns] holds the namespace's objects of the pod kinds (any API
# group); pod_owners_by_label[ns][k][v] those whose pod labels hold k: v.
pod_owners_in[ns] contains o if {
	some key, by_ns in index
	split(key, ".")[0] in pod_kinds
	some ns, by_name in by_ns
	some same_name in by_name
	some o in same_name
}

pod_owners_by_label[ns][k][v] contains o if {
	some ns, owners in pod_owners_in
	some o in owners
	some k, v in pod_labels(o)
}

# selected_pod_owners(selector, ns): the objects of the pod kinds in ns whose
# pod labels the selector selects. A selector with matchLabels selects only
# objects carrying each of them, so the candidates are those carrying one
# (the least key) instead of the whole namespace: a lookup per selector, not a
# scan (a scan per object is quadratic in objects).
selected_pod_owners(selector, ns) := {o |
	some o in pod_owner_candidates(selector, ns)
	selects(selector, pod_labels(o))
}

pod_owner_candidates(selector, ns) := object.get(idx.pod_owners_in, [ns], set()) if {
	count(object.get(selector, ["matchLabels"], {})) == 0
}

pod_owner_candidates(selector, ns) := object.get(idx.pod_owners, [ns, k, selector.matchLabels[k]], set()) if {
	count(object.get(selector, ["matchLabels"], {})) > 0
	k := min(object.keys(selector.matchLabels))
}

# replicas is the workload's effective replica count at rest: the static
# count, else the minimum of an HPA scaling it, else the API default 1.
replicas(obj) := obj.spec.replicas

replicas(obj) := object.get(hpas_for(obj)[0], ["spec", "minReplicas"], 1) if {
	not obj.spec.replicas
	count(hpas_for(obj)) > 0
}

default replicas(_) := 1

# max_replicas is the most the workload can run: the HPA's max when scaled.
max_replicas(obj) := max(array.concat([replicas(obj)], [h.spec.maxReplicas | some h in hpas_for(obj)]))

# selects reports whether a label selector matches labels (matchLabels and
# matchExpressions, as the API server evaluates them: an empty selector
# matches every pod, e.g. a namespace-wide PodDisruptionBudget).
selects(selector, labels) if {
	every k, v in object.get(selector, ["matchLabels"], {}) {
		labels[k] == v
	}
	every e in object.get(selector, ["matchExpressions"], []) {
		expression_matches(e, labels)
	}
}

expression_matches(e, labels) if {
	e.operator == "In"
	labels[e.key] in e.values
}

expression_matches(e, labels) if {
	e.operator == "NotIn"
	not labels[e.key] in e.values
}

expression_matches(e, labels) if {
	e.operator == "Exists"
	labels[e.key]
}

expression_matches(e, labels) if {
	e.operator == "DoesNotExist"
	not labels[e.key]
}

# sensitive reports whether a name looks like it holds a credential:
# PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL... as a word of a snake, kebab,
# dotted or camelCase name (so MONKEY or KEYBOARD do not count), unless the
# name ends in a word that marks a reference to one (SECRET_NAME, KEY_ID).
sensitive(name) if {
	# Every sensitive word holds one of these (in any case): most names hold
	# none, and one regex call rejects them instead of splitting them into
	# words (about fifteen expressions).
	regex.match(`(?i)pass|pwd|secret|token|key|cred`, name)
	ws := [lower(w) | some w in words(name)]
	some w in ws
	w in sensitive_words
	not ws[count(ws) - 1] in reference_words
}

sensitive_words := {
	"password", "passwd", "pwd", "passphrase", "secret", "token", "key", "apikey",
	"privatekey", "accesskey", "credential", "credentials", "creds",
}

reference_words := {"id", "name", "file", "path", "ref", "arn", "url", "uri", "length", "version", "type"}

# words splits FOO_BAR, foo-bar, foo.bar and fooBar into their words.
words(name) := [w | some w in split(regex.replace(regex.replace(name, `([a-z0-9])([A-Z])`, "${1}_${2}"), `[-.\s]`, "_"), "_"); w != ""]

# claims_of lists the PersistentVolumeClaim names a workload's pods mount by
# name (persistentVolumeClaim volumes); claim templates are in claim_templates.
claims_of(obj) := {v.persistentVolumeClaim.claimName |
	some v in object.get(pod_spec(obj), ["volumes"], [])
	v.persistentVolumeClaim.claimName
}

claim_templates(obj) := object.get(obj, ["spec", "volumeClaimTemplates"], [])

# holds_data is true for a StatefulSet whose pods mount claims.
holds_data(obj) if {
	obj.kind == "StatefulSet"
	count(claims_of(obj)) + count(claim_templates(obj)) > 0
}

# replication_annotation names how a data StatefulSet's pods replicate (e.g.
# "streaming" for PostgreSQL streaming replication); absent, each pod is its
# own database.
replication_annotation := "platform.shop/replication"

# single_writer is a data StatefulSet that does not replicate between its
# pods: it must run exactly one, its availability comes from its volume's
# replicas (Portworx) and its scheduler placing it beside one.
single_writer(obj) if {
	holds_data(obj)
	not obj.metadata.annotations[replication_annotation]
}

# threshold_note says where an env's threshold is set and how to accept an
# exception, for the messages of rules that compare with one.
threshold_note(name) := sprintf(" (threshold %s.%s in policies/thresholds.rego; to accept an exception, add a waiver with rule, object, reason, owner and expires to policies/waivers.yaml)", [env, name])

# syncing_apps lists the Argo CD Applications whose source path holds obj's
# file (data.check.files, from the engine).
# A source path dir holds file when file starts with dir/ or contains /dir/
# (dir without its trailing slash). That is the same for every file of one
# folder (the file's own name never takes part), so the Applications are
# found once per folder of the env (dir_apps, in env_index) and looked up
# per object.
syncing_apps(obj) := [app |
	file := data.check.files[key(obj)][namespace(obj)][obj.metadata.name]
	some app in idx.dir_apps[folder(file)]
]

# folder(file): file without its last part, for a file with a slash.
folder(file) := substring(file, 0, max(indexof_n(file, "/"))) if contains(file, "/")

# dir_apps[folder] lists the Applications whose source path holds the files
# of folder, for every folder of data.check.files: path holds them when
# /folder/ contains /path/. Only paths whose last part is a part of folder
# can (the last part of a run of folder's parts is one of them), so those
# are the only ones tried: a lookup per part of the folder, not a test of
# every run of its parts or of every path.
dir_apps[dir] := [app |
	wrapped := concat("", ["/", dir, "/"])
	some part in {p | some p in split(dir, "/")}
	some path, apps in object.get(paths_by_last_part, [part], {})
	contains(wrapped, concat("", ["/", path, "/"]))
	some app in apps
] if {
	some dir in folders
}

folders contains folder(file) if {
	some by_ns in data.check.files
	some by_name in by_ns
	some file in by_name
}

# paths_by_last_part[part][path] holds the Applications of each source path
# path whose last part is part, as one value: a partial rule looked up by
# key is evaluated again for every lookup.
paths_by_last_part := {part: paths | some part, paths in by_last_part}

by_last_part[last_part(path)][path] := apps if some path, apps in apps_by_path

last_part(path) := parts[count(parts) - 1] if parts := split(path, "/")

# apps_by_path[dir] holds the Applications with a source path dir (its
# trailing slash trimmed).
apps_by_path[trim_suffix(src.path, "/")] contains app if {
	some by_name in index["Application.argoproj.io"]
	some same_name in by_name
	some app in same_name
	some src in array.concat([object.get(app, ["spec", "source"], {})], object.get(app, ["spec", "sources"], []))
	src.path != ""
}

# IAM: what the policies of a role of the set allow.

# as_list is a policy field that holds one value or a list of them, as a list.
as_list(x) := x if is_array(x)

else := [x]

# role_documents are the parsed policy documents of the IAM Role named role
# (by object name) that the set holds: its inline policies, its RolePolicy
# objects and the Policy objects attached to it.
role_documents(role) := array.concat(
	array.concat(
		[json.unmarshal(p.policy) |
			some r in object.get(index, ["Role.iam.aws.upbound.io", "", role], [])
			some p in object.get(r, ["spec", "forProvider", "inlinePolicy"], [])
		],
		[json.unmarshal(p.spec.forProvider.policy) |
			some by_name in object.get(index, ["RolePolicy.iam.aws.upbound.io", ""], {})
			some p in by_name
			names_role(p, role)
		],
	),
	[json.unmarshal(p.spec.forProvider.policy) |
		some a in attachments_of(role)
		some p in object.get(index, ["Policy.iam.aws.upbound.io", "", object.get(a, ["spec", "forProvider", "policyArnRef", "name"], "")], [])
	],
)

# role_policies_known: every policy attached to the role is a Policy of the
# set (an AWS-managed policy ARN is not), so what it may do is all in
# role_documents: a rule that denies what a role may not do judges only then.
role_policies_known(role) if {
	every a in attachments_of(role) {
		object.get(index, ["Policy.iam.aws.upbound.io", "", object.get(a, ["spec", "forProvider", "policyArnRef", "name"], "")], []) != []
	}
}

attachments_of(role) := [a |
	some by_name in object.get(index, ["RolePolicyAttachment.iam.aws.upbound.io", ""], {})
	some a in by_name
	names_role(a, role)
]

names_role(obj, role) if object.get(obj, ["spec", "forProvider", "roleRef", "name"], object.get(obj, ["spec", "forProvider", "role"], "")) == role

# iam_allows: an Allow statement of docs lets action on resource, a resource
# carrying tags, in a request that carries none (IAM's wildcards: a null
# delimiter list lets * cross ':' and '/'; actions match in any case).
# Conditions on aws:ResourceTag/* and aws:RequestTag/* keys are evaluated;
# any other condition counts as met, and so does every condition when tags
# is null (the resource's tags unknown), so it never refuses what AWS might
# allow for a reason the set does not show. Deny statements are not read.
iam_allows(docs, action, resource, tags) if {
	some doc in docs
	some st in as_list(doc.Statement)
	st.Effect == "Allow"
	some a in as_list(st.Action)
	glob.match(lower(a), null, lower(action))
	some r in as_list(st.Resource)
	glob.match(r, null, resource)
	conditions_met(object.get(st, "Condition", {}), tags)
}

conditions_met(_, null)

conditions_met(conditions, tags) if {
	tags != null
	every op, keys in conditions {
		every key, want in keys {
			condition_met(op, key, as_list(want), tags)
		}
	}
}

# condition_met: one condition key of a statement, for a resource with tags
# and a request without any. A key absent from the request meets only Null
# "true", the negated string operators and the ...IfExists forms.
condition_met(_, key, _, _) if not tag_key(key)

condition_met(op, key, want, tags) if {
	tag := tag_key(key)
	not absent(key, tags)
	op_holds(op, tags[tag], want)
}

condition_met(op, key, want, tags) if {
	absent(key, tags)
	absent_holds(op, want)
}

tag_key(key) := substring(key, count("aws:ResourceTag/"), -1) if startswith(key, "aws:ResourceTag/")

tag_key(key) := substring(key, count("aws:RequestTag/"), -1) if startswith(key, "aws:RequestTag/")

absent(key, _) if startswith(key, "aws:RequestTag/")

absent(key, tags) if {
	startswith(key, "aws:ResourceTag/")
	not tags[tag_key(key)]
}

op_holds("Null", _, want) if "false" in want

op_holds(op, value, want) if {
	op in {"StringEquals", "StringEqualsIfExists"}
	value in want
}

op_holds(op, value, want) if {
	op in {"StringLike", "StringLikeIfExists"}
	some w in want
	glob.match(w, null, value)
}

op_holds(op, value, want) if {
	op in {"StringNotEquals", "StringNotEqualsIfExists"}
	not value in want
}

op_holds(op, value, want) if {
	op in {"StringNotLike", "StringNotLikeIfExists"}
	every w in want {
		not glob.match(w, null, value)
	}
}

# An operator not listed here (a numeric or date test of a tag) counts as met.
op_holds(op, _, _) if not op in {"Null", "StringEquals", "StringEqualsIfExists", "StringLike", "StringLikeIfExists", "StringNotEquals", "StringNotEqualsIfExists", "StringNotLike", "StringNotLikeIfExists"}

absent_holds("Null", want) if "true" in want

absent_holds(op, _) if endswith(op, "IfExists")

absent_holds(op, _) if op in {"StringNotEquals", "StringNotLike"}
