package stores_test

import data.fixtures

scoped_store := fixtures.store

test_scoped_store_passes if {
	count(fixtures.denied(scoped_store, fixtures.prod)) == 0
}

test_store_without_conditions_denied if {
	fixtures.only("stores.unscoped", fixtures.without(scoped_store, "/spec/conditions"), fixtures.prod)
}

test_store_with_open_conditions_denied if {
	fixtures.only("stores.unscoped", fixtures.set(scoped_store, "/spec/conditions", [{}]), fixtures.prod)
	fixtures.only("stores.unscoped", fixtures.set(scoped_store, "/spec/conditions", [{"namespaceRegexes": [".*"]}]), fixtures.prod)
	fixtures.only("stores.unscoped", fixtures.set(scoped_store, "/spec/conditions", [{"namespaces": ["shop"]}, {"namespaceSelector": {}}]), fixtures.prod)
}

test_store_scoped_by_selector_or_regex_passes if {
	count(fixtures.denied(fixtures.set(scoped_store, "/spec/conditions", [{"namespaceSelector": {"matchLabels": {"team": "shop"}}}]), fixtures.prod)) == 0
	count(fixtures.denied(fixtures.set(scoped_store, "/spec/conditions", [{"namespaceRegexes": ["^shop$"]}]), fixtures.prod)) == 0
}

# An ExternalSecret in a namespace its store does not serve.
in_ns(ns) := fixtures.set(fixtures.external_secret, "/metadata/namespace", ns)

with_store(store) := fixtures.check("prod", fixtures.swap(fixtures.good, store))

test_external_secret_out_of_scope_denied if {
	fixtures.only("stores.out-of-scope", in_ns("team-a"), fixtures.prod)
}

test_external_secret_served_by_regex_or_selector if {
	regex_store := fixtures.set(scoped_store, "/spec/conditions", [{"namespaceRegexes": ["^team-"]}])
	count(fixtures.denied(in_ns("team-a"), with_store(regex_store))) == 0

	# The shop Namespace of the set carries the label the selector asks for.
	ns := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "shop"}}}
	by_label := fixtures.set(scoped_store, "/spec/conditions", [{"namespaceSelector": {"matchLabels": {"team": "shop"}, "matchExpressions": [
		{"key": "team", "operator": "In", "values": ["shop"]},
		{"key": "tier", "operator": "NotIn", "values": ["batch"]},
		{"key": "team", "operator": "Exists"},
		{"key": "legacy", "operator": "DoesNotExist"},
	]}}])
	chk := fixtures.check("prod", array.concat(fixtures.swap(fixtures.good, by_label), [ns]))
	count(fixtures.denied(fixtures.external_secret, chk)) == 0

	# ...and not a batch namespace, which NotIn excludes.
	batch := json.patch(ns, [{"op": "add", "path": "/metadata/labels/tier", "value": "batch"}])
	fixtures.only("stores.out-of-scope", fixtures.external_secret, fixtures.check("prod", array.concat(fixtures.swap(fixtures.good, by_label), [batch])))

	# A namespace the set does not hold has only its name label.
	by_name := fixtures.set(scoped_store, "/spec/conditions", [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-b"}}}])
	count(fixtures.denied(in_ns("team-b"), with_store(by_name))) == 0
	fixtures.only("stores.out-of-scope", fixtures.external_secret, with_store(by_name))
}

test_unscoped_store_serves_every_namespace if {
	# stores.unscoped denies the store itself; its ExternalSecrets are not out of scope.
	count(fixtures.denied(in_ns("team-a"), with_store(fixtures.without(scoped_store, "/spec/conditions")))) == 0
}

test_docs_name_every_rule if {
	data.stores.docs["stores.unscoped"]
	data.stores.docs["stores.out-of-scope"]
	data.retry.docs["retry.sync-window"]
}
