# Topology: every Application names a project and a destination that exist
# before it syncs. An Application whose AppProject is missing has health
# Unknown (argo-cd controller/appcontroller.go), and with the Application
# health check a wave only moves on when it is Healthy (gitops-engine
# pkg/sync/sync_context.go): a project in a later wave deadlocks the app of apps.
package topology

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"topology.project-wave": "Every Application's AppProject (other than default) is in the set and syncs in an earlier wave.",
	"topology.destination": "Every Application's destination is the in-cluster API server or a cluster an Argo CD cluster Secret of the set registers, in an earlier wave.",
	"topology.project-destination": "Every Application's destination (server or name, and namespace) is one its AppProject permits.",
	"topology.child-operation": "Every Argo CD Application that syncs an Application (an app of apps) ignores the fields Argo CD writes on its children: /operation and the argocd.argoproj.io/refresh annotation (ignoreDifferences, group argoproj.io, kind Application). Compared, the parent is OutOfSync whenever a child syncs, and its automated sync waits on the child's health: during a paused blue-green release, until the promotion.",
	"topology.child-canonical": "Every Argo CD Application synced by another one is rendered as Argo CD writes it back: no empty string and no empty list in its spec outside Helm values. Argo CD's types omit them (pkg/apis/application/v1alpha1/types.go, omitempty), so its controller's first update of the Application drops them, and the parent differs from it on every child sync, applies them again and waits on the child's health.",
	"topology.chart-generated": "Every Argo CD Application of a chart known to generate random values on every render (table chart_generated: the Load Balancer Controller's webhook CA, certificate and key, unless cert-manager or a given webhookTLS) ignores the objects' generated fields (ignoreDifferences, with RespectIgnoreDifferences=true). Argo CD renders with helm template, where lookup finds nothing: compared, the app is OutOfSync after each render, and each sync replaces the values (a rotated webhook CA the controller does not serve yet refuses pod creation).",
	"topology.controller-missing": "Every object of a kind a controller serves (External Secrets, ACK QuickSight, Crossplane's providers, Argo Rollouts, the Load Balancer Controller, Portworx and Stork) is synced to a cluster where an Application of the set installs that controller's chart (label platform.shop/upstream-chart): elsewhere its kind is not served, or nothing reconciles it.",
}

in_cluster_server := "https://kubernetes.default.svc"

wave(obj) := to_number(object.get(obj, ["metadata", "annotations", "argocd.argoproj.io/sync-wave"], "0"))

application if {
	input.kind == "Application"
	startswith(input.apiVersion, "argoproj.io/")
}

projects := [p |
	some p in lib.objects("AppProject.argoproj.io", lib.namespace(input))
	p.metadata.name == input.spec.project
]

# topology.project-wave: the project is not in the set.
deny contains lib.finding("topology.project-wave", msg, ["spec", "project"]) if {
	input.kind == "Application" # the kind first: OPA's rule index skips the rule for other kinds
	application
	lib.has_inventory
	input.spec.project != "default"
	count(projects) == 0
	msg := sprintf("Application %s names AppProject %s, which the set does not have", [input.metadata.name, input.spec.project])
}

# topology.project-wave: the project syncs with or after the Application.
deny contains lib.finding("topology.project-wave", msg, ["metadata", "annotations", "argocd.argoproj.io/sync-wave"]) if {
	input.kind == "Application" # the kind first: OPA's rule index skips the rule for other kinds
	application
	lib.has_inventory
	some p in projects
	wave(p) >= wave(input)
	msg := sprintf("Application %s (wave %d) names AppProject %s, which syncs in wave %d: it must come first, or the app of apps waits on an Application of health Unknown", [input.metadata.name, wave(input), p.metadata.name, wave(p)])
}

in_cluster(destination) if destination.server == in_cluster_server

in_cluster(destination) if destination.name == "in-cluster"

registrations := [s |
	some s in lib.objects("Secret", lib.namespace(input))
	s.metadata.labels["argocd.argoproj.io/secret-type"] == "cluster"
	registers(s, input.spec.destination)
]

registers(secret, destination) if secret.stringData.name == destination.name

registers(secret, destination) if secret.stringData.server == destination.server

# topology.destination: the destination is no cluster Argo CD knows.
deny contains lib.finding("topology.destination", msg, ["spec", "destination"]) if {
	input.kind == "Application" # the kind first: OPA's rule index skips the rule for other kinds
	application
	lib.has_inventory
	not in_cluster(input.spec.destination)
	count(registrations) == 0
	msg := sprintf("Application %s syncs to %v, which no Argo CD cluster Secret of the set registers", [input.metadata.name, input.spec.destination])
}

# topology.destination: the registration syncs with or after the Application.
deny contains lib.finding("topology.destination", msg, ["metadata", "annotations", "argocd.argoproj.io/sync-wave"]) if {
	input.kind == "Application" # the kind first: OPA's rule index skips the rule for other kinds
	application
	lib.has_inventory
	some s in registrations
	wave(s) >= wave(input)
	msg := sprintf("Application %s (wave %d) syncs to the cluster Secret %s's cluster, which is registered in wave %d: it must come first", [input.metadata.name, wave(input), s.metadata.name, wave(s)])
}

# permits is true when a destination of the project admits the Application's
# (Argo CD matches server or name, and namespace, as globs).
permits(project, destination) if {
	some allowed in project.spec.destinations
	matches(allowed, destination, "server")
	matches(allowed, destination, "name")
	glob.match(object.get(allowed, "namespace", ""), [], object.get(destination, "namespace", ""))
}

# matches: a field the project's destination does not set matches anything.
matches(allowed, _, field) if not allowed[field]

matches(allowed, destination, field) if glob.match(allowed[field], [], object.get(destination, field, ""))

# topology.project-destination: Argo CD refuses to sync to a destination the
# project does not permit.
deny contains lib.finding("topology.project-destination", msg, ["spec", "destination"]) if {
	input.kind == "Application" # the kind first: OPA's rule index skips the rule for other kinds
	application
	lib.has_inventory
	some p in projects
	not permits(p, input.spec.destination)
	msg := sprintf("Application %s syncs to %v, which its AppProject %s does not permit", [input.metadata.name, input.spec.destination, p.metadata.name])
}

# The chart (the value of platform.shop/upstream-chart) whose controller
# serves an API group: the group itself or a group ending in it.
controller_charts := {
	"external-secrets.io": "external-secrets",
	"quicksight.services.k8s.aws": "quicksight-chart",
	"upbound.io": "crossplane",
	"elbv2.k8s.aws": "aws-load-balancer-controller",
	"libopenstorage.org": "portworx",
	"portworx.io": "portworx",
}

# argoproj.io also holds Argo CD's own kinds: only these are Rollouts'.
rollouts_kinds := {"Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Experiment"}

group_chart(_, group) := chart if {
	some suffix in served_by(group)
	chart := controller_charts[suffix]
}

group_chart(kind, "argoproj.io") := "argo-rollouts" if kind in rollouts_kinds

# charts_of_key(k) lists the chart (none or one) serving the objects of
# index key k (Kind, or Kind.group): the chart depends on the kind and the
# API group alone, so it is worked out once per key, not for every object.
charts_of_key(k) := [chart | chart := group_chart(kind, group)] if {
	parts := split(k, ".")
	kind := parts[0]
	group := concat(".", array.slice(parts, 1, count(parts)))
}

# served_by(g): the groups whose controller serves group g: g itself and
# every group g ends in after a dot (ec2.aws.upbound.io: ec2.aws.upbound.io,
# aws.upbound.io, upbound.io, io), looked up in controller_charts per object
# instead of every chart's group tested.
served_by(g) := {concat(".", array.slice(parts, i, count(parts))) |
	parts := split(g, ".")
	some i in numbers.range(0, count(parts) - 1)
}

# cluster_id names a destination's cluster the same way whether it is given
# by server or by name: in-cluster, else the registered name.
cluster_id(destination) := "in-cluster" if in_cluster(destination)

cluster_id(destination) := destination.name if {
	not in_cluster(destination)
	destination.name
}

cluster_id(destination) := name if {
	not in_cluster(destination)
	not destination.name
	names := registered_names(destination.server)
	count(names) > 0
	name := sort(names)[0]
}

cluster_id(destination) := destination.server if {
	not in_cluster(destination)
	not destination.name
	count(registered_names(destination.server)) == 0
}

registered_names(server) := {s.stringData.name |
	some s in lib.objects("Secret", "argocd")
	s.metadata.labels["argocd.argoproj.io/secret-type"] == "cluster"
	s.stringData.server == server
}

# topology.controller-missing: an object synced where its controller is not.
# Whether it is depends on its kind, its file and the Applications alone, so
# the answer for every object is worked out once per env (unserved, in
# env_index) and looked up here: most objects have no entry, and stop.
deny contains lib.finding("topology.controller-missing", msg, ["kind"]) if {
	some [chart, app, target] in idx.unserved[lib.key(input)][lib.namespace(input)][input.metadata.name]
	lib.has_inventory
	msg := sprintf("%s %s is synced by Application %s to cluster %s, where no Application of the set installs its controller (chart %s): its kind is not served there, or nothing reconciles it", [input.kind, input.metadata.name, app, target, chart])
}

# unserved[key][ns][name] lists, for an object of a kind a controller serves
# (a file of data.check.files, so an input outside data.check.index is
# judged by its file too), each [chart, Application, cluster] where an
# Application syncing its file sends it to a cluster no Application of the
# set installs the chart to; objects with none have no entry.
unserved[k][ns][name] := missing if {
	some k, by_ns in data.check.files
	charts := charts_of_key(k)
	count(charts) > 0
	some ns, by_name in by_ns
	some name, file in by_name
	missing := [[chart, app, target] |
		some chart in charts
		some [app, target] in unserved_from(lib.folder(file), chart)
	]
	count(missing) > 0
}

# unserved_from(folder, chart): [Application, cluster] for each Application
# that syncs folder to a cluster without chart. A function of the folder and
# the chart, so OPA works it out once for the objects of a folder that share
# a chart (its cache of calls with the same arguments).
unserved_from(folder, chart) := [[app.metadata.name, target] |
	some app in lib.idx.dir_apps[folder]
	target := cluster_id(app.spec.destination)
	not target in object.get(installed_charts, chart, set())
]

# env_index: derived once per env by the engine (data.check.env_index);
# computed inline without it.
env_index := {"unserved": unserved, "parent_fields": parent_fields}

idx := data.check.env_index.topology if data.check.env_index.topology

else := env_index

# installed_charts[chart] holds the clusters an Application of the set
# installs the chart to.
installed_charts[chart] contains cluster_id(app.spec.destination) if {
	some app in lib.objects("Application.argoproj.io", "argocd")
	chart := app.metadata.labels["platform.shop/upstream-chart"]
}

# topology.child-operation: Argo CD starts a child's sync by writing
# /operation on it, and a refresh by annotating it; neither is rendered. A
# parent that compares them is OutOfSync on every child sync and syncs again,
# which gitops-engine holds until each child is Healthy or Degraded
# (pkg/sync/sync_context.go): a release paused for its promotion held the
# root app until the promotion (found by the twin). argo-cd
# docs/operator-manual/cluster-bootstrapping.md ignores both.
deny contains lib.finding("topology.child-operation", msg, ["kind"]) if {
	input.kind == "Application"
	application
	some parent in lib.syncing_apps(input)
	some field in unignored_child_fields(parent)
	msg := sprintf("Argo CD Application %s syncs Application %s but does not ignore %s of kind Application, group argoproj.io (spec.ignoreDifferences; schema/argocd_app.cue #ChildAppLiveFields): Argo CD writes it on every child sync, so the parent turns OutOfSync and its sync waits on the child's health (a paused release: until the promotion)", [parent.metadata.name, input.metadata.name, field.pointer])
}

child_live_fields := [
	{"pointer": "/operation", "jq": ".operation"},
	{"pointer": "/metadata/annotations/argocd.argoproj.io~1refresh", "jq": `.metadata.annotations["argocd.argoproj.io/refresh"]`},
]

# unignored_child_fields(parent): the child_live_fields parent does not
# ignore. The same for every child of a parent, so worked out once per
# parent of the env (parent_fields, in env_index) and looked up; a parent
# outside the table has them worked out.
unignored_child_fields(parent) := idx.parent_fields[lib.namespace(parent)][parent.metadata.name] if idx.parent_fields[lib.namespace(parent)][parent.metadata.name]

else := fields_left(parent)

fields_left(parent) := [field | some field in child_live_fields; not ignores_child_field(parent, field)]

# parent_fields[ns][name]: unignored_child_fields of each Application that
# syncs the file of an Application (a parent).
parent_fields[lib.namespace(p)][p.metadata.name] := fields_left(p) if some p in parents

# parents: the Applications syncing an Application's file, each once.
parents contains p if {
	some by_name in data.check.files["Application.argoproj.io"]
	some file in by_name
	some p in lib.idx.dir_apps[lib.folder(file)]
}

ignores_child_field(parent, field) if {
	some d in object.get(parent, ["spec", "ignoreDifferences"], [])
	d.kind == "Application"
	object.get(d, ["group"], "") in {"argoproj.io", "*"}
	object.get(d, ["name"], "") == ""
	some p in array.concat(object.get(d, ["jsonPointers"], []), object.get(d, ["jqPathExpressions"], []))
	p in {field.pointer, field.jq}
}

# topology.child-canonical: Argo CD starts a sync by updating the whole
# Application through its Go types (util/argo SetAppOperation), which omit
# empty strings and lists: a rendered `group: ""` was dropped on every child
# sync and applied again by the root app, which stayed OutOfSync and held its
# sync on the child's health (found by the twin's aborted release). Helm
# values are raw JSON to Argo CD and kept as written.
deny contains lib.finding("topology.child-canonical", msg, array.concat(["spec"], path)) if {
	input.kind == "Application"
	application
	count(lib.syncing_apps(input)) > 0
	holds_empty(lib.text(input.spec)) # most specs hold none: their text decides before the walk
	walk(input.spec, [path, value])
	value in {"", []}
	not helm_values(path)
	msg := sprintf("Application %s sets spec.%s to %s, which Argo CD's Application type omits when its controller writes the Application back: the Application syncing it then differs on every sync of it; leave the field out", [input.metadata.name, concat(".", [sprintf("%v", [p]) | some p in path]), json.marshal(value)])
}

# holds_empty: a value's text (lib.text) holds "" or [] when the value holds
# an empty string or list somewhere.
holds_empty(text) if contains(text, `""`)

holds_empty(text) if contains(text, "[]")

helm_values(path) if {
	some i
	path[i] == "helm"
	path[i + 1] in {"valuesObject", "values"}
}

# topology.chart-generated: a chart that generates random values (Helm's
# genCA, genSignedCert) renders new objects each time Argo CD's repo-server
# renders it, with `helm template`, where `lookup` (the charts' way to keep
# the live values) finds nothing. chart_generated lists the charts known to
# do so (the rendered Application names its chart), the values that turn the
# generation off, and the fields their Applications must ignore, with
# RespectIgnoreDifferences=true so a sync keeps the live ones too. A name in
# the table is the chart's default (no nameOverride).
deny contains lib.finding("topology.chart-generated", msg, ["spec", "ignoreDifferences"]) if {
	input.kind == "Application"
	application
	generated := chart_generated[input.spec.source.chart]
	not generation_off(input.spec.source, generated.off)
	some field in generated.fields
	not ignores_generated(input, field)
	msg := sprintf("Argo CD Application %s installs chart %s, which generates %s of %s %s on every render, but does not ignore it (spec.ignoreDifferences with one of %v, and syncOption RespectIgnoreDifferences=true): the app turns OutOfSync after each render and each sync replaces the value (%s)", [input.metadata.name, input.spec.source.chart, field.what, field.kind, field.name, field.paths, generated.why])
}

chart_generated := {"aws-load-balancer-controller": {
	"why": "aws-load-balancer-controller templates/_helpers.tpl webhookCerts, issue #1828: a rotated webhook CA the pods do not serve yet refuses pod creation",
	"off": [["enableCertManager"], ["webhookTLS", "caCert"]],
	"fields": [
		{"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration", "name": "aws-load-balancer-webhook", "what": "the caBundle", "paths": [".webhooks[]?.clientConfig.caBundle", ".webhooks[].clientConfig.caBundle"]},
		{"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration", "name": "aws-load-balancer-webhook", "what": "the caBundle", "paths": [".webhooks[]?.clientConfig.caBundle", ".webhooks[].clientConfig.caBundle"]},
		{"group": "", "kind": "Secret", "name": "aws-load-balancer-tls", "what": "the data", "paths": ["/data", ".data"]},
	],
}}

# generation_off: a value the chart takes instead of generating is set.
generation_off(source, off) if {
	some path in off
	not object.get(source, array.concat(["helm", "valuesObject"], path), false) in {false, null, ""}
}

ignores_generated(app, field) if {
	"RespectIgnoreDifferences=true" in object.get(app, ["spec", "syncPolicy", "syncOptions"], [])
	some d in object.get(app, ["spec", "ignoreDifferences"], [])
	d.kind == field.kind
	object.get(d, ["group"], "") in {field.group, "*"}
	object.get(d, ["name"], field.name) == field.name
	some p in array.concat(object.get(d, ["jsonPointers"], []), object.get(d, ["jqPathExpressions"], []))
	p in field.paths
}
