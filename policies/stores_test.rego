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

# IRSA: the store's ServiceAccount, its role and the policy attached to it.
irsa_store := fixtures.set(scoped_store, "/spec/provider/aws/auth", {"jwt": {"serviceAccountRef": {"name": "eso", "namespace": "external-secrets"}}})

eso_sa := {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
	"name": "eso", "namespace": "external-secrets",
	"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/prod-eso"},
}}

eso_role := {"apiVersion": "iam.aws.upbound.io/v1beta1", "kind": "Role", "metadata": {"name": "prod-eso"}, "spec": {"forProvider": {"assumeRolePolicy": "{}"}}}

read_policy(statement) := {"apiVersion": "iam.aws.upbound.io/v1beta1", "kind": "Policy", "metadata": {"name": "prod-eso"}, "spec": {"forProvider": {"policy": json.marshal({"Version": "2012-10-17", "Statement": statement})}}}

attachment := {"apiVersion": "iam.aws.upbound.io/v1beta1", "kind": "RolePolicyAttachment", "metadata": {"name": "prod-eso"}, "spec": {"forProvider": {"roleRef": {"name": "prod-eso"}, "policyArnRef": {"name": "prod-eso"}}}}

prod_reader := read_policy([{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": ["arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/*"]}])

irsa(objs) := fixtures.check("prod", array.concat(fixtures.swap(fixtures.good, irsa_store), objs))

key(k) := fixtures.set(fixtures.external_secret, "/spec/data/0/remoteRef/key", k)

test_key_the_role_may_read_passes if {
	count(fixtures.denied(fixtures.external_secret, irsa([eso_sa, eso_role, prod_reader, attachment]))) == 0

	# one statement, one action pattern, one resource as strings
	wide := read_policy({"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/w?b*"})
	count(fixtures.denied(fixtures.external_secret, irsa([eso_sa, eso_role, wide, attachment]))) == 0
}

test_key_outside_the_role_policy_denied if {
	fixtures.only("stores.unreadable", key("dr/web"), irsa([eso_sa, eso_role, prod_reader, attachment]))

	# another region, another action, a Deny-only policy, no policy attached
	fixtures.only("stores.unreadable", fixtures.external_secret, irsa([eso_sa, eso_role, attachment, read_policy([{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:us-west-2:123456789012:secret:prod/*"}])]))
	fixtures.only("stores.unreadable", fixtures.external_secret, irsa([eso_sa, eso_role, attachment, read_policy([{"Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"}])]))
	fixtures.only("stores.unreadable", fixtures.external_secret, irsa([eso_sa, eso_role, attachment, read_policy([{"Effect": "Deny", "Action": "*", "Resource": "*"}])]))
	fixtures.only("stores.unreadable", fixtures.external_secret, irsa([eso_sa, eso_role]))
}

# With the engine, a role's attached documents come from
# data.check.env_index (worked out once per env), not from the attachments
# per ExternalSecret.
test_unreadable_reads_the_engine_env_index if {
	chk := irsa([eso_sa, eso_role, prod_reader, attachment])
	derived := object.union(chk, {"env_index": {"stores": data.stores.env_index}}) with data.check as chk
	count(fixtures.denied(key("dr/web"), derived)) == 1
	everything := {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}
	widened := object.union(chk, {"env_index": {"stores": {"role_documents": {"prod-eso": [everything]}}}})
	count(fixtures.denied(key("dr/web"), widened)) == 0
}

test_unknown_role_or_policy_not_judged if {
	# no such role (aws_identity.role-arn's business), no IRSA, an attached policy outside the set
	count(fixtures.denied(key("dr/web"), irsa([eso_sa, prod_reader, attachment]))) == 0
	count(fixtures.denied(key("dr/web"), fixtures.check("prod", array.concat(fixtures.good, [eso_sa, eso_role, prod_reader, attachment])))) == 0
	managed := fixtures.set(attachment, "/spec/forProvider", {"role": "prod-eso", "policyArn": "arn:aws:iam::aws:policy/SecretsManagerReadWrite"})
	count(fixtures.denied(key("dr/web"), irsa([eso_sa, eso_role, managed]))) == 0
}

test_namespaced_store_is_read if {
	ns_store := fixtures.set(fixtures.set(irsa_store, "/kind", "SecretStore"), "/metadata/namespace", "shop")
	es := fixtures.set(key("dr/web"), "/spec/secretStoreRef/kind", "SecretStore")

	# its ServiceAccount is the ExternalSecret's namespace's, whatever the ref says
	shop_sa := fixtures.set(eso_sa, "/metadata/namespace", "shop")
	fixtures.only("stores.unreadable", es, fixtures.check("prod", array.concat(fixtures.good, [ns_store, shop_sa, eso_role, prod_reader, attachment])))
	count(fixtures.denied(es, fixtures.check("prod", array.concat(fixtures.good, [ns_store, eso_sa, eso_role, prod_reader, attachment])))) == 0
}

test_docs_name_every_rule if {
	data.stores.docs["stores.unscoped"]
	data.stores.docs["stores.out-of-scope"]
	data.stores.docs["stores.unreadable"]
	data.retry.docs["retry.sync-window"]
}
