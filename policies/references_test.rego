package references_test

import data.fixtures
import data.references

prod_with(obj) := fixtures.check("prod", fixtures.swap(fixtures.good, obj))

test_good_set_resolves if {
	every o in fixtures.good {
		count(fixtures.denied(o, fixtures.prod)) == 0
		count(fixtures.warned(o, fixtures.prod)) == 0
	}
}

test_rollout_services_distinct if {
	r := fixtures.set(fixtures.rollout, "/spec/strategy/blueGreen/previewService", "web")
	fixtures.only("references.rollout-services-distinct", r, fixtures.prod)
}

test_hpa_target_missing_name if {
	fixtures.only("references.hpa-target", fixtures.set(fixtures.hpa, "/spec/scaleTargetRef/name", "webb"), fixtures.prod)
}

test_hpa_target_wrong_kind_or_group if {
	# A Deployment named web is not in the set, nor is a Rollout of another group.
	fixtures.only("references.hpa-target", fixtures.set(fixtures.hpa, "/spec/scaleTargetRef/kind", "Deployment"), fixtures.prod)
	fixtures.only("references.hpa-target", fixtures.set(fixtures.hpa, "/spec/scaleTargetRef/apiVersion", "apps/v1"), fixtures.prod)
	fixtures.only("references.hpa-target", fixtures.without(fixtures.hpa, "/spec/scaleTargetRef/apiVersion"), fixtures.prod)
}

test_pdb_selects_nothing if {
	p := fixtures.set(fixtures.pdb, "/spec/selector/matchLabels/app", "webb")
	fixtures.only("references.pdb-selects", p, prod_with(p))
}

test_pdb_selector_expressions if {
	in_op := fixtures.set(fixtures.pdb, "/spec/selector", {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]})
	count(fixtures.denied(in_op, prod_with(in_op))) == 0
	not_in := fixtures.set(fixtures.pdb, "/spec/selector", {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web", "db"]}]})
	"references.pdb-selects" in fixtures.denied(not_in, prod_with(not_in))
	exists := fixtures.set(fixtures.pdb, "/spec/selector", {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]})
	"references.pdb-selects" in fixtures.denied(exists, prod_with(exists))
	absent := fixtures.set(fixtures.pdb, "/spec/selector", {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]})
	count(fixtures.denied(absent, prod_with(absent))) == 0
}

test_pdb_in_another_namespace_selects_nothing if {
	p := fixtures.set(fixtures.pdb, "/metadata/namespace", "other")
	"references.pdb-selects" in fixtures.denied(p, prod_with(p))
}

test_spread_selector_misses_own_pods if {
	r := fixtures.set(fixtures.rollout, "/spec/template/spec/topologySpreadConstraints/0/labelSelector/matchLabels/app", "db")
	fixtures.only("references.spread-selects", r, fixtures.prod)
	s := fixtures.set(fixtures.statefulset, "/spec/template/spec/topologySpreadConstraints/0/labelSelector", {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]})
	fixtures.only("references.spread-selects", s, fixtures.prod)
}

test_spread_without_selector_spreads_nothing if {
	r := fixtures.without(fixtures.rollout, "/spec/template/spec/topologySpreadConstraints/0/labelSelector")
	fixtures.only("references.spread-selects", r, fixtures.prod)
}

test_secret_key_not_produced if {
	r := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/env/1/valueFrom/secretKeyRef/key", "tokn")
	fixtures.only("references.secret-key", r, fixtures.prod)
	v := fixtures.set(fixtures.rollout, "/spec/template/spec/volumes/0/secret/items/0/key", "tls.crt")
	fixtures.only("references.secret-key", v, fixtures.prod)
	pr := fixtures.set(fixtures.rollout, "/spec/template/spec/volumes/1/projected/sources/0/secret/items", [{"key": "ca.crt", "path": "ca.crt"}])
	fixtures.only("references.secret-key", pr, fixtures.prod)
}

test_secret_key_optional_ref_skipped if {
	r := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/env/2/valueFrom/secretKeyRef", {"name": "web-creds", "key": "nope", "optional": true})
	count(fixtures.denied(r, fixtures.prod)) == 0
}

es_with(patch) := object.union(fixtures.external_secret, {"spec": patch})

test_secret_key_data_from_warns if {
	es := es_with({"dataFrom": [{"extract": {"key": "prod/web"}}]})
	r := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/env/1/valueFrom/secretKeyRef/key", "other")
	count(fixtures.denied(r, prod_with(es))) == 0
	fixtures.warned(r, prod_with(es)) == {"references.secret-key"}

	# A key the data list names is known even with dataFrom.
	count(fixtures.warned(fixtures.rollout, prod_with(es))) == 0
}

test_secret_key_template_replaces_fetched_keys if {
	es := es_with({"target": {"name": "web-creds", "template": {"data": {"config.ini": "token={{ .token }}"}}}})
	fixtures.only("references.secret-key", fixtures.rollout, prod_with(es))
	r := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/env/1/valueFrom/secretKeyRef/key", "config.ini")
	v := fixtures.set(r, "/spec/template/spec/volumes/0/secret/items/0/key", "config.ini")
	count(fixtures.denied(v, prod_with(es))) == 0

	merged := es_with({"target": {"name": "web-creds", "template": {"mergePolicy": "Merge", "data": {"config.ini": "x"}}}})
	count(fixtures.denied(fixtures.rollout, prod_with(merged))) == 0
	count(fixtures.denied(v, prod_with(merged))) == 0
}

test_secret_key_template_from_warns if {
	es := es_with({"target": {"name": "web-creds", "template": {"templateFrom": [{"configMap": {"name": "tpl", "items": [{"key": "a"}]}}]}}})
	fixtures.warned(fixtures.rollout, prod_with(es)) == {"references.secret-key"}
}

test_secret_key_target_defaults_to_name if {
	es := json.patch(fixtures.external_secret, [{"op": "remove", "path": "/spec/data/0"}, {"op": "add", "path": "/spec/data/0", "value": {"secretKey": "other", "remoteRef": {"key": "k"}}}])
	"references.secret-key" in fixtures.denied(fixtures.rollout, prod_with(es))
}

test_ingress_backend_service_missing if {
	i := fixtures.set(fixtures.ingress, "/spec/rules/0/http/paths/0/backend/service/name", "webb")
	fixtures.only("references.ingress-backend", i, fixtures.prod)
	d := fixtures.set(fixtures.ingress, "/spec/defaultBackend", {"service": {"name": "gone", "port": {"number": 80}}})
	fixtures.only("references.ingress-backend", d, fixtures.prod)
}

test_ingress_backend_port if {
	i := fixtures.set(fixtures.ingress, "/spec/rules/0/http/paths/0/backend/service/port", {"number": 8080})
	fixtures.only("references.ingress-backend", i, fixtures.prod)
	n := fixtures.set(fixtures.ingress, "/spec/rules/0/http/paths/0/backend/service/port", {"name": "http"})
	fixtures.only("references.ingress-backend", n, fixtures.prod)
	named := json.patch(fixtures.service("web"), [{"op": "replace", "path": "/spec/ports/0", "value": {"name": "http", "port": 80}}])
	count(fixtures.denied(n, prod_with(named))) == 0
	some f in fixtures.results(i, prod_with(named)).deny
	f.msg == `Ingress web routes to port 8080 of Service "web", which exposes ["http"]`
}

# The engine hands the package its env_index precomputed: the rules read it.
test_env_index_from_engine_is_used if {
	chk := object.union(fixtures.prod, {"env_index": {"references": {"pods": {}, "producers": {}}}})
	fixtures.only("references.pdb-selects", fixtures.pdb, chk)
	idx := references.env_index with data.check as fixtures.prod
	count(idx.pods.shop["app=web"]) == 1
}

test_service_target_port_names_a_container_port if {
	by_name := json.patch(fixtures.service("web"), [{"op": "add", "path": "/spec/ports/0/targetPort", "value": "http"}])

	# the fixture's container names no port
	[f] := [f | some f in fixtures.results(by_name, prod_with(by_name)).deny; f.rule == "references.service-target-port"]
	f.msg == `Service web sends port 80 to the port named "http" (TCP) of Rollout web's pods, whose containers have no port of that name and protocol: the Service gets no endpoints on them. Name the container port, or target it by number`
	f.path == ["spec", "ports", 0, "targetPort"]

	named := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/ports", [{"name": "http", "containerPort": 8080}])
	count(fixtures.denied(by_name, prod_with(named))) == 0

	# another protocol, another name
	udp := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/ports", [{"name": "http", "containerPort": 8080, "protocol": "UDP"}])
	fixtures.only("references.service-target-port", by_name, prod_with(udp))
	other := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/ports", [{"name": "web", "containerPort": 8080}])
	fixtures.only("references.service-target-port", by_name, prod_with(other))

	# a sidecar (an init container that keeps running) counts; a plain init container does not
	sidecar := fixtures.set(fixtures.rollout, "/spec/template/spec/initContainers", [{"name": "proxy", "restartPolicy": "Always", "ports": [{"name": "http", "containerPort": 8080}]}])
	count(fixtures.denied(by_name, prod_with(sidecar))) == 0
	init := fixtures.set(fixtures.rollout, "/spec/template/spec/initContainers", [{"name": "setup", "ports": [{"name": "http", "containerPort": 8080}]}])
	fixtures.only("references.service-target-port", by_name, prod_with(init))

	# a number, or no selector (endpoints managed by hand): nothing to resolve
	count(fixtures.denied(json.patch(fixtures.service("web"), [{"op": "add", "path": "/spec/ports/0/targetPort", "value": 8080}]), fixtures.prod)) == 0
	count(fixtures.denied(json.patch(by_name, [{"op": "add", "path": "/spec/selector", "value": {}}]), fixtures.prod)) == 0
}

vpc := {"apiVersion": "ec2.aws.upbound.io/v1beta1", "kind": "VPC", "metadata": {"name": "prod-platform"}, "spec": {"forProvider": {"region": "us-east-1"}}}

subnet(ref) := {"apiVersion": "ec2.aws.upbound.io/v1beta1", "kind": "Subnet", "metadata": {"name": "prod-a"}, "spec": {
	"forProvider": {"region": "us-east-1", "vpcIdRef": ref, "tags": {"Name": "prod-a"}},
	"providerConfigRef": {"name": "gone"},
}}

managed_denied(obj, objs) := {f.msg | some f in references.deny with input as obj with data.check as fixtures.check("prod", objs); f.rule == "references.managed-ref"}

test_managed_ref_names_a_managed_resource if {
	ok := subnet({"name": "prod-platform"})
	managed_denied(ok, [vpc, ok]) == set()

	# a name no managed resource has (providerConfigRef is outside forProvider)
	typo := subnet({"name": "prod-platfrom"})
	managed_denied(typo, [vpc, typo]) == {`Subnet prod-a refers to "prod-platfrom" at spec.forProvider.vpcIdRef, which no managed resource of the set is named: the reference never resolves and prod-a waits`}

	# lists of references, initProvider, nested fields
	group := {"apiVersion": "redshift.aws.upbound.io/v1beta1", "kind": "SubnetGroup", "metadata": {"name": "wh"}, "spec": {
		"forProvider": {"subnetIdRefs": [{"name": "prod-a"}, {"name": "prod-b"}]},
		"initProvider": {"target": {"roleArnRef": {"name": "prod-platform"}}},
	}}
	managed_denied(group, [vpc, ok, group]) == {`SubnetGroup wh refers to "prod-b" at spec.forProvider.subnetIdRefs, which no managed resource of the set is named: the reference never resolves and wh waits`}

	# a Secret reference names a Kubernetes Secret; a non-managed object is not read
	secret_ref := json.patch(ok, [{"op": "add", "path": "/spec/forProvider/masterPasswordSecretRef", "value": {"name": "pw", "namespace": "x", "key": "k"}}])
	managed_denied(secret_ref, [vpc, secret_ref]) == set()
	cm := {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "spec": {"forProvider": {"vpcIdRef": {"name": "nothing"}}}}
	managed_denied(cm, [vpc, cm]) == set()

	# through the engine, whose env_index reaches the rules as JSON (sets as arrays)
	chk := fixtures.check("prod", [vpc, typo])
	engine := object.union(chk, {"env_index": {"references": json.unmarshal(json.marshal(references.env_index))}}) with data.check as chk
	count({f | some f in references.deny with input as typo with data.check as engine; f.rule == "references.managed-ref"}) == 1
	count({f | some f in references.deny with input as ok with data.check as object.union(engine, {"index": fixtures.index([vpc, ok])})}) == 0
}
