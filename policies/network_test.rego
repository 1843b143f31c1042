package network_test

import data.fixtures
import data.secfix

test_shop_is_clean if {
	every obj in secfix.good {
		secfix.denied(obj, secfix.shop) == set()
	}
}

test_security_packages_document_their_rules if {
	every pkg in ["network", "podsecurity", "identity", "priority", "probes"] {
		count(data[pkg].docs) > 0
		every id, text in data[pkg].docs {
			startswith(id, concat("", [pkg, "."]))
			text != ""
		}
	}
}

# Without the default-deny policy, a pod no policy selects.
test_unselected_pod if {
	chk := secfix.check(fixtures.drop(fixtures.drop(secfix.good, secfix.default_deny), secfix.policy("web", {})))
	secfix.denied(secfix.rollout, chk) == {"network.unselected-pod"}

	# Silent without the env's object set.
	secfix.denied(secfix.rollout, {}) == set()
}

# Without the default-deny policy, the workload's own policy (selecting its
# pod labels) still selects it.
test_selected_by_pod_labels if {
	chk := secfix.check(fixtures.drop(secfix.good, secfix.default_deny))
	not "network.unselected-pod" in secfix.denied(secfix.rollout, chk)
}

test_allow_all_rule_without_peers if {
	p := secfix.policy("web", {"ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}]})
	"network.allow-all" in secfix.denied_in(p)

	# ...which also allows a flow the model does not name.
	"network.undeclared-flow" in secfix.denied_in(p)
}

test_allow_all_empty_selectors if {
	every peer in [
		{"podSelector": {}},
		{"namespaceSelector": {}},
		{"namespaceSelector": {}, "podSelector": {}},
		{"ipBlock": {"cidr": "0.0.0.0/0"}},
		{"ipBlock": {"cidr": "::/0"}},
	] {
		p := secfix.policy("web", {"egress": [{"to": [peer], "ports": [{"port": 443}]}]})
		"network.allow-all" in secfix.denied_in(p)
	}
}

test_allow_all_quiet_on_scoped_peers if {
	every peer in [
		{"podSelector": {"matchLabels": {"a": "b"}}},
		{"namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}},
		{"ipBlock": {"cidr": "10.0.0.0/8"}},
	] {
		p := secfix.policy("web", {"egress": [{"to": [peer], "ports": [{"port": 443}]}]})
		not "network.allow-all" in secfix.denied_in(p)
	}
}

# A policy wider than the graph edge: the database port opened to a pod that
# does not name the database, or any port where one is named.
test_undeclared_flow_wider_peer if {
	wider := {"ingress": [{"from": [{"podSelector": {"matchLabels": secfix.labels("cart")}}], "ports": [{"port": 5432, "protocol": "TCP"}]}]}
	p := secfix.policy("db", object.union(secfix.db_flows, {"ingress": array.concat(secfix.db_flows.ingress, wider.ingress)}))
	secfix.denied_in(p) == {"network.undeclared-flow"}
	some m in secfix.msgs(p)
	contains(m, `allows ingress from {"podSelector":{"matchLabels":{"app.kubernetes.io/name":"cart"}}} on {"port":5432,"protocol":"TCP"} for StatefulSet db`)
}

test_undeclared_flow_any_port if {
	p := secfix.policy("web", {"egress": [{"to": secfix.db_rule.to}]})
	secfix.denied_in(p) == {"network.undeclared-flow"}
}

# A hand-written policy selecting every pod adds flows to all of them.
test_undeclared_flow_namespace_wide_policy if {
	p := json.patch(secfix.policy("extra", secfix.web_flows), [{"op": "replace", "path": "/spec/podSelector", "value": {}}])
	chk := secfix.check(array.concat(secfix.good, [p]))

	# web declares these flows; db does not.
	some f in secfix.results(p, chk).deny
	f.rule == "network.undeclared-flow"
	contains(f.msg, "for StatefulSet db")

	# Said with every, not with a helper that never succeeds: opa test
	# --coverage counts test files too, and a line that only fails is not
	# covered (policies/conftest-compat.sh asks for 100%).
	every g in secfix.results(p, chk).deny {
		not contains(g.msg, "for Rollout web")
	}
}

# A workload whose ServiceAccount declares nothing has no allowed flow.
test_undeclared_flow_without_annotation if {
	sa := json.patch(secfix.service_account("web", {}), [{"op": "remove", "path": "/metadata/annotations"}])
	chk := secfix.check(fixtures.swap(secfix.good, sa))
	secfix.denied(secfix.policy("web", secfix.web_flows), chk) == {"network.undeclared-flow"}
}

# The VPC CNI enforces nothing without its network policy agent.
test_not_enforced if {
	# No vpc-cni Addon: EKS's bootstrap copy runs with the agent off.
	secfix.denied(secfix.cluster, secfix.check(fixtures.drop(secfix.good, secfix.vpc_cni))) == {"network.not-enforced"}

	# The agent turned off, or left at its default.
	every values in ["{\"enableNetworkPolicy\":\"false\"}", "{}"] {
		off := json.patch(secfix.vpc_cni, [{"op": "replace", "path": "/spec/forProvider/configurationValues", "value": values}])
		secfix.denied(secfix.cluster, secfix.check(fixtures.swap(secfix.good, off))) == {"network.not-enforced"}
	}

	# Another cluster's add-on does not count.
	other := json.patch(secfix.vpc_cni, [{"op": "replace", "path": "/spec/forProvider/clusterNameRef/name", "value": "shop-dr"}])
	secfix.denied(secfix.cluster, secfix.check(fixtures.swap(secfix.good, other))) == {"network.not-enforced"}

	# No NetworkPolicy in the env: nothing to enforce.
	no_policies := [o | some o in secfix.good; o.kind != "NetworkPolicy"]
	secfix.denied(secfix.cluster, secfix.check(fixtures.drop(no_policies, secfix.vpc_cni))) == set()
}

# With the engine, the policies are looked up in data.check.env_index
# (derived once per env), not scanned per workload.
test_selection_reads_the_engine_env_index if {
	derived := object.union(secfix.shop, {"env_index": {"network": data.network.env_index}}) with data.check as secfix.shop
	secfix.denied(secfix.rollout, derived) == set()
	none := object.union(secfix.shop, {"env_index": {"network": {"policies_by_label": {}, "policies_without_labels": {}}}})
	secfix.denied(secfix.rollout, none) == {"network.unselected-pod"}
}
