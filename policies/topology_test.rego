package topology_test

import data.fixtures
import data.topology

wave(w) := {"argocd.argoproj.io/sync-wave": w}

project := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
	"metadata": {"name": "platform-prod", "namespace": "argocd", "annotations": wave("-31")},
	"spec": {"destinations": [
		{"server": "https://kubernetes.default.svc", "namespace": "*"},
		{"name": "shop-prod", "namespace": "*"},
		{"server": "https://ABC.gr7.us-east-1.eks.amazonaws.com", "namespace": "shop"},
	]},
}

cluster := {
	"apiVersion": "v1", "kind": "Secret",
	"metadata": {"name": "cluster-shop-prod", "namespace": "argocd", "labels": {"argocd.argoproj.io/secret-type": "cluster"}, "annotations": wave("-31")},
	"stringData": {"name": "shop-prod", "server": "https://ABC.gr7.us-east-1.eks.amazonaws.com"},
}

app(name, w, destination) := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": name, "namespace": "argocd", "annotations": wave(w)},
	"spec": {"project": "platform-prod", "destination": destination},
}

workload := app("prod-platform", "0", {"name": "shop-prod", "namespace": "shop"})

by_server := app("prod-storage", "1", {"server": "https://ABC.gr7.us-east-1.eks.amazonaws.com", "namespace": "shop"})

management := app("prod-aws-eks", "-10", {"server": "https://kubernetes.default.svc", "namespace": "crossplane-system"})

root := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "platform-prod", "namespace": "argocd"},
	"spec": {"project": "default", "destination": {"name": "in-cluster", "namespace": "argocd"}},
}

good := [project, cluster, workload, by_server, management, root]

denied(obj, objs) := r if {
	r := {f.rule | some f in topology.deny} with input as obj with data.check as fixtures.check("prod", objs)
}

test_topology_is_clean if {
	every obj in good {
		denied(obj, good) == set()
	}
}

test_project_missing if {
	denied(workload, fixtures.drop(good, project)) == {"topology.project-wave"}
}

test_project_after_its_applications if {
	late := fixtures.set(project, "/metadata/annotations", wave("-1"))
	denied(management, fixtures.swap(good, late)) == {"topology.project-wave"}

	# the same wave is too late as well: Argo CD applies a wave's objects together
	same := fixtures.without(project, "/metadata/annotations")
	denied(workload, fixtures.swap(good, same)) == {"topology.project-wave"}
}

test_destination_not_registered if {
	denied(workload, fixtures.drop(good, cluster)) == {"topology.destination"}
	denied(by_server, fixtures.drop(good, cluster)) == {"topology.destination"}
}

test_destination_registered_too_late if {
	late := fixtures.set(cluster, "/metadata/annotations", wave("5"))
	denied(workload, fixtures.swap(good, late)) == {"topology.destination"}
}

test_docs if {
	every id, text in topology.docs {
		startswith(id, "topology.")
		text != ""
	}
}

test_destination_the_project_does_not_permit if {
	elsewhere := app("prod-other", "0", {"name": "shop-dr", "namespace": "shop"})
	dr := fixtures.set(cluster, "/stringData/name", "shop-dr")
	denied(elsewhere, array.concat(good, [fixtures.set(dr, "/metadata/name", "cluster-shop-dr")])) == {"topology.project-destination"}
	wrong_ns := fixtures.set(by_server, "/spec/destination/namespace", "kube-system")
	denied(wrong_ns, good) == {"topology.project-destination"}
}

# Controllers: an object goes where its controller runs.
chart_app(name, chart, destination) := json.patch(app(name, "-20", destination), [{"op": "add", "path": "/metadata/labels", "value": {"platform.shop/upstream-chart": chart}}])

folder_app(name, path, destination) := json.patch(app(name, "0", destination), [{"op": "add", "path": "/spec/source", "value": {"path": path}}])

external_secret := {
	"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
	"metadata": {"name": "web", "namespace": "shop"},
}

mr := {"apiVersion": "s3.aws.upbound.io/v1beta2", "kind": "Bucket", "metadata": {"name": "lake"}}

rollout := {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "web", "namespace": "shop"}}

controller_files := {"files": {
	"ExternalSecret.external-secrets.io": {"shop": {"web": "rendered/prod/web/externalsecret-web.yaml"}},
	"Bucket.s3.aws.upbound.io": {"": {"lake": "/repo/rendered/prod/aws/bucket-lake.yaml"}},
	"Rollout.argoproj.io": {"shop": {"web": "rendered/prod/web/rollout-web.yaml"}},
	"Application.argoproj.io": {"argocd": {"prod-web": "rendered/prod/argocd/application-prod-web.yaml"}},
}}

controllers_denied(obj, objs) := r if {
	chk := object.union(fixtures.check("prod", objs), controller_files)
	r := {f.rule | some f in topology.deny} with input as obj with data.check as chk
}

controller_set(web_destination) := [
	project, cluster,
	chart_app("prod-addon-external-secrets", "external-secrets", {"name": "shop-prod", "namespace": "external-secrets"}),
	chart_app("prod-addon-argo-rollouts", "argo-rollouts", {"server": "https://ABC.gr7.us-east-1.eks.amazonaws.com", "namespace": "argo-rollouts"}),
	chart_app("prod-addon-crossplane", "crossplane", {"server": "https://kubernetes.default.svc", "namespace": "crossplane-system"}),
	folder_app("prod-web", "rendered/prod/web", web_destination),
	folder_app("prod-aws", "rendered/prod/aws", {"name": "in-cluster", "namespace": "crossplane-system"}),
	external_secret, mr, rollout,
]

test_controller_present_by_name_or_server if {
	objs := controller_set({"name": "shop-prod", "namespace": "shop"})
	every obj in [external_secret, mr, rollout] {
		controllers_denied(obj, objs) == set()
	}

	# The registered server is the same cluster as its name.
	by_server := controller_set({"server": "https://ABC.gr7.us-east-1.eks.amazonaws.com", "namespace": "shop"})
	controllers_denied(external_secret, by_server) == set()
	controllers_denied(rollout, by_server) == set()
}

test_controller_missing_where_the_object_syncs if {
	# The web folder synced to the management cluster: no External Secrets
	# or Rollouts controller runs there.
	objs := controller_set({"server": "https://kubernetes.default.svc", "namespace": "shop"})
	controllers_denied(external_secret, objs) == {"topology.controller-missing"}
	controllers_denied(rollout, objs) == {"topology.controller-missing"}

	# An unregistered server is a cluster of its own.
	other := controller_set({"server": "https://other.example", "namespace": "shop"})
	"topology.controller-missing" in controllers_denied(external_secret, other)

	# No Crossplane at all.
	no_crossplane := [o | some o in controller_set({"name": "shop-prod", "namespace": "shop"}); o.metadata.name != "prod-addon-crossplane"]
	controllers_denied(mr, no_crossplane) == {"topology.controller-missing"}

	# Argo CD's own kinds need no chart.
	controllers_denied(folder_app("prod-web", "rendered/prod/web", {"name": "shop-prod", "namespace": "shop"}), objs) == set()
}

# The chart depends on the index key alone (charts_of_key); an input outside
# data.check.index is judged by its file.
test_controller_chart_of_an_input_outside_the_index if {
	objs := controller_set({"server": "https://kubernetes.default.svc", "namespace": "shop"})
	without := [o | some o in objs; o != rollout]
	controllers_denied(rollout, without) == {"topology.controller-missing"}
	topology.charts_of_key("Rollout.argoproj.io") == ["argo-rollouts"]
	topology.charts_of_key("Bucket.s3.aws.upbound.io") == ["crossplane"]
	topology.charts_of_key("Application.argoproj.io") == []
}

# With the engine, the objects synced where their controller is not come
# from data.check.env_index (derived once per env), not from the
# Applications per object.
test_controller_lookup_reads_the_engine_env_index if {
	objs := controller_set({"name": "shop-prod", "namespace": "shop"})
	chk := object.union(fixtures.check("prod", objs), controller_files)
	derived := object.union(chk, {"env_index": {"topology": topology.env_index}}) with data.check as chk
	{f.rule | some f in topology.deny} == set() with input as rollout with data.check as derived
	unserved := {"unserved": {"Rollout.argoproj.io": {"shop": {"web": [["argo-rollouts", "prod-web", "elsewhere"]]}}}}
	marked := object.union(chk, {"env_index": {"topology": unserved}})
	{f.msg | some f in topology.deny} == {"Rollout web is synced by Application prod-web to cluster elsewhere, where no Application of the set installs its controller (chart argo-rollouts): its kind is not served there, or nothing reconciles it"} with input as rollout with data.check as marked
}

# An app of apps ignores what Argo CD writes on its children.
child_fields := [{"group": "argoproj.io", "kind": "Application", "jsonPointers": ["/operation", "/metadata/annotations/argocd.argoproj.io~1refresh"]}]

app_of_apps(ignore) := json.patch(root, [
	{"op": "add", "path": "/spec/source", "value": {"path": "rendered/prod/argocd"}},
	{"op": "add", "path": "/spec/ignoreDifferences", "value": ignore},
]) if count(ignore) > 0

# No list at all: an empty one is what topology.child-canonical denies.
app_of_apps([]) := json.patch(root, [{"op": "add", "path": "/spec/source", "value": {"path": "rendered/prod/argocd"}}])

child_files := {"files": {"Application.argoproj.io": {"argocd": {
	"platform-prod": "rendered/prod/argocd/application-platform-prod.yaml",
	"prod-platform": "rendered/prod/argocd/application-prod-platform.yaml",
}}}}

children_denied(obj, parent) := r if {
	chk := object.union(fixtures.check("prod", [project, cluster, workload, parent]), child_files)
	r := {f.rule | some f in topology.deny} with input as obj with data.check as chk
}

test_child_operation_ignored if {
	children_denied(workload, app_of_apps(child_fields)) == set()
	children_denied(app_of_apps(child_fields), app_of_apps(child_fields)) == set()

	# jq paths and the wildcard group say the same
	jq := [{"group": "*", "kind": "Application", "jqPathExpressions": [".operation", `.metadata.annotations["argocd.argoproj.io/refresh"]`]}]
	children_denied(workload, app_of_apps(jq)) == set()
}

test_child_operation_compared if {
	children_denied(workload, app_of_apps([])) == {"topology.child-operation"}

	# the root's own Application is one of its children
	children_denied(app_of_apps([]), app_of_apps([])) == {"topology.child-operation"}

	# one of the two fields is not enough
	only_operation := [{"group": "argoproj.io", "kind": "Application", "jsonPointers": ["/operation"]}]
	children_denied(workload, app_of_apps(only_operation)) == {"topology.child-operation"}

	# for another kind, another group or one named child only, it is not ignored
	other_kind := [object.union(child_fields[0], {"kind": "Service"})]
	children_denied(workload, app_of_apps(other_kind)) == {"topology.child-operation"}
	other_group := [object.union(child_fields[0], {"group": ""})]
	children_denied(workload, app_of_apps(other_group)) == {"topology.child-operation"}
	one_child := [object.union(child_fields[0], {"name": "prod-storage"})]
	children_denied(workload, app_of_apps(one_child)) == {"topology.child-operation"}
}

# With the engine, each parent's unignored fields come from
# data.check.env_index (parent_fields, once per parent), and a child is
# judged by them.
test_child_operation_reads_the_engine_env_index if {
	parent := app_of_apps(child_fields)
	chk := object.union(fixtures.check("prod", [project, cluster, workload, parent]), child_files)
	derived := object.union(chk, {"env_index": {"topology": topology.env_index}}) with data.check as chk
	topology.env_index.parent_fields == {"argocd": {"platform-prod": []}} with data.check as chk
	{f.rule | some f in topology.deny} == set() with input as workload with data.check as derived
	marked := object.union(chk, {"env_index": {"topology": {"parent_fields": {"argocd": {"platform-prod": [topology.child_live_fields[0]]}}}}})
	{f.rule | some f in topology.deny} == {"topology.child-operation"} with input as workload with data.check as marked

	# A parent the table lacks has its fields worked out.
	bare := app_of_apps([])
	bare_chk := object.union(fixtures.check("prod", [project, cluster, workload, bare]), child_files)
	unlisted := object.union(bare_chk, {"env_index": {"topology": {"parent_fields": {}}}})
	{f.rule | some f in topology.deny} == {"topology.child-operation"} with input as workload with data.check as unlisted
}

# A child Application is rendered as Argo CD writes it back.
test_child_canonical if {
	parent := app_of_apps(child_fields)
	core := fixtures.set(workload, "/spec/ignoreDifferences", [{"group": "", "kind": "Service", "jsonPointers": ["/spec/selector/x"]}])
	children_denied(core, parent) == {"topology.child-canonical"}
	no_options := json.patch(workload, [{"op": "add", "path": "/spec/syncPolicy", "value": {"syncOptions": []}}])
	children_denied(no_options, parent) == {"topology.child-canonical"}

	# without the empty fields, and in Helm values (raw to Argo CD), it passes
	children_denied(fixtures.set(workload, "/spec/ignoreDifferences", [{"kind": "Service", "jsonPointers": ["/spec/selector/x"]}]), parent) == set()
	helm := fixtures.set(workload, "/spec/source", {"chart": "c", "helm": {"values": "", "valuesObject": {"a": "", "b": []}}})
	children_denied(helm, parent) == set()

	# an Application no other syncs is not written back by a parent
	chk := fixtures.check("prod", [project, cluster, core])
	{f.rule | some f in topology.deny} == set() with input as core with data.check as chk
}

# A chart that generates its webhook certificates on every render: its
# Application ignores them, in the sync too.
lbc_ignored := [
	{"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration", "name": "aws-load-balancer-webhook", "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
	{"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration", "name": "aws-load-balancer-webhook", "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
	{"kind": "Secret", "name": "aws-load-balancer-tls", "namespace": "kube-system", "jsonPointers": ["/data"]},
]

lbc_app(values, ignore, options) := json.patch(workload, [
	{"op": "add", "path": "/spec/source", "value": {"chart": "aws-load-balancer-controller", "helm": {"valuesObject": values}}},
	{"op": "add", "path": "/spec/ignoreDifferences", "value": ignore},
	{"op": "add", "path": "/spec/syncPolicy", "value": {"syncOptions": options}},
])

generated_denied(obj) := r if {
	r := {f.msg | some f in topology.deny; f.rule == "topology.chart-generated"} with input as obj with data.check as fixtures.check("prod", [project, cluster, obj])
}

test_chart_generated_ignored if {
	respect := ["ServerSideApply=true", "RespectIgnoreDifferences=true"]
	generated_denied(lbc_app({}, lbc_ignored, respect)) == set()

	# the same paths in the other form, any group, no name
	other := [
		{"group": "*", "kind": "MutatingWebhookConfiguration", "jqPathExpressions": [".webhooks[].clientConfig.caBundle"]},
		{"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration", "jqPathExpressions": [".webhooks[].clientConfig.caBundle"]},
		{"kind": "Secret", "jqPathExpressions": [".data"]},
	]
	generated_denied(lbc_app({}, other, respect)) == set()

	# cert-manager or a given certificate: nothing is generated
	generated_denied(lbc_app({"enableCertManager": true}, [], respect)) == set()
	generated_denied(lbc_app({"webhookTLS": {"caCert": "-----BEGIN CERTIFICATE-----"}}, [], respect)) == set()

	# another chart is not in the table
	generated_denied(fixtures.set(lbc_app({}, [], []), "/spec/source/chart", "metrics-server")) == set()
}

test_chart_generated_compared if {
	respect := ["ServerSideApply=true", "RespectIgnoreDifferences=true"]
	msgs := generated_denied(lbc_app({}, [], ["ServerSideApply=true"]))
	count(msgs) == 3
	some msg in msgs
	startswith(msg, "Argo CD Application prod-platform installs chart aws-load-balancer-controller, which generates the data of Secret aws-load-balancer-tls on every render, but does not ignore it")

	# ignored in the diff but not in the sync: the sync still rotates them
	count(generated_denied(lbc_app({}, lbc_ignored, ["ServerSideApply=true"]))) == 3

	# the option off, an empty certificate, another object's name, another path
	count(generated_denied(lbc_app({"enableCertManager": false, "webhookTLS": {"caCert": ""}}, lbc_ignored, ["ServerSideApply=true"]))) == 3
	renamed := [object.union(d, {"name": "other"}) | some d in lbc_ignored]
	count(generated_denied(lbc_app({}, renamed, respect))) == 3
	secret_key := array.concat([d | some d in lbc_ignored; d.kind != "Secret"], [{"kind": "Secret", "jsonPointers": ["/data/tls.crt"]}])
	count(generated_denied(lbc_app({}, secret_key, respect))) == 1
}
