package secrets_test

import data.fixtures
import data.secrets

prod_with(obj) := fixtures.check("prod", fixtures.swap(fixtures.good, obj))

test_secret_with_data_denied_without_echoing_values if {
	s := {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"password": "hunter2"}}
	fixtures.only("secrets.secret-data", s, fixtures.prod)
	some f in secrets.deny with input as s with data.check as fixtures.prod
	not contains(f.msg, "hunter2")
	f.path == ["stringData"]
}

test_secret_without_data_passes if {
	s := {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sa", "namespace": "shop"}, "type": "kubernetes.io/service-account-token"}
	count(fixtures.denied(s, fixtures.prod)) == 0
}

test_env_literal_denied if {
	r := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/env/0", {"name": "DB_PASSWORD", "value": "hunter2"})
	fixtures.only("secrets.env-literal", r, fixtures.prod)
	some f in secrets.deny with input as r with data.check as fixtures.prod
	not contains(f.msg, "hunter2")
	f.path == ["spec", "template", "spec", "containers", 0, "env", 0, "value"]
}

test_env_literal_in_cronjob_init_container if {
	cj := {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "backup", "namespace": "shop"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {
		"initContainers": [{"name": "init", "image": concat("", ["registry/x", fixtures.digest]), "env": [{"name": "apiKey", "value": "abc"}]}],
		"containers": [],
	}}}}}}
	fixtures.only("secrets.env-literal", cj, fixtures.prod)
}

test_env_literal_benign_names_pass if {
	r := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/env/0", {"name": "SECRET_NAME", "value": "web-creds"})
	count(fixtures.denied(r, fixtures.prod)) == 0
}

test_configmap_sensitive_key if {
	fixtures.only("secrets.configmap", fixtures.set(fixtures.config_map, "/data/DB_PASSWORD", "x"), fixtures.prod)
}

test_configmap_private_key_block if {
	pem := "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----\n"
	cm := fixtures.set(fixtures.config_map, "/data/tls.pem", pem)
	fixtures.only("secrets.configmap", cm, fixtures.prod)
	some f in secrets.deny with input as cm with data.check as fixtures.prod
	not contains(f.msg, "MIIE")
}

test_configmap_plain_passes if {
	count(fixtures.denied(fixtures.config_map, fixtures.prod)) == 0
}

test_missing_secret_each_reference_kind if {
	objs := fixtures.drop(fixtures.good, fixtures.external_secret)
	paths := {f.path | some f in secrets.deny with input as fixtures.rollout with data.check as fixtures.check("prod", objs)}
	paths == {
		["spec", "template", "spec", "containers", 0, "env", 1, "valueFrom", "secretKeyRef", "name"],
		["spec", "template", "spec", "containers", 0, "envFrom", 0, "secretRef", "name"],
		["spec", "template", "spec", "volumes", 0, "secret", "secretName"],
		["spec", "template", "spec", "volumes", 1, "projected", "sources", 0, "secret", "name"],
	}
	fixtures.only("secrets.missing-secret", fixtures.rollout, fixtures.check("prod", objs))
}

test_external_secret_target_name_overrides_metadata_name if {
	es := fixtures.set(fixtures.external_secret, "/spec/target", {"name": "other"})
	fixtures.only("secrets.missing-secret", fixtures.rollout, prod_with(es))
}

test_external_secret_target_name_matches if {
	es := fixtures.set(fixtures.set(fixtures.external_secret, "/metadata/name", "es"), "/spec/target", {"name": "web-creds"})
	objs := array.concat(fixtures.drop(fixtures.good, fixtures.external_secret), [es])
	count(fixtures.denied(fixtures.rollout, fixtures.check("prod", objs))) == 0
}

test_sealed_secret_produces if {
	ss := {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "sealed", "namespace": "shop"}, "spec": {"template": {"metadata": {"name": "web-creds"}}}}
	objs := array.concat(fixtures.drop(fixtures.good, fixtures.external_secret), [ss])
	count(fixtures.denied(fixtures.rollout, fixtures.check("prod", objs))) == 0
}

test_secret_in_other_namespace_does_not_count if {
	es := fixtures.set(fixtures.external_secret, "/metadata/namespace", "other")
	fixtures.only("secrets.missing-secret", fixtures.rollout, prod_with(es))
}

test_backup_location_secret if {
	bl := {"apiVersion": "stork.libopenstorage.org/v1alpha1", "kind": "BackupLocation", "metadata": {"name": "s3", "namespace": "shop"}, "location": {"type": "s3", "secretConfig": "s3-creds"}}
	fixtures.only("secrets.missing-secret", bl, fixtures.prod)
	count(fixtures.denied(fixtures.set(bl, "/location/secretConfig", "web-creds"), fixtures.prod)) == 0
}

test_missing_cluster_store if {
	objs := fixtures.drop(fixtures.good, fixtures.store)
	fixtures.only("secrets.missing-store", fixtures.external_secret, fixtures.check("prod", objs))
}

test_namespaced_store_default_kind if {
	es := fixtures.set(fixtures.external_secret, "/spec/secretStoreRef", {"name": "local"})
	fixtures.only("secrets.missing-store", es, fixtures.prod)
	ss := {"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "local", "namespace": "shop"}}
	count(fixtures.denied(es, prod_with(ss))) == 0
}

test_crossplane_literal_password if {
	rs := fixtures.set(fixtures.redshift, "/spec/forProvider/masterPassword", "hunter2")
	fixtures.only("secrets.crossplane-literal", rs, fixtures.prod)
	some f in secrets.deny with input as rs with data.check as fixtures.prod
	f.path == ["spec", "forProvider", "masterPassword"]
	not contains(f.msg, "hunter2")
}

test_crossplane_nested_init_provider_password if {
	db := {"apiVersion": "rds.aws.upbound.io/v1beta1", "kind": "Instance", "metadata": {"name": "orders"}, "spec": {"initProvider": {"auth": [{"password": "x"}]}}}
	fixtures.only("secrets.crossplane-literal", db, fixtures.prod)
}

test_crossplane_secret_ref_passes if {
	count(fixtures.denied(fixtures.redshift, fixtures.prod)) == 0
	p := {"apiVersion": "pkg.crossplane.io/v1", "kind": "Provider", "metadata": {"name": "p"}, "spec": {"forProvider": {"passwordSecretRef": {"name": "x"}}}}
	count(fixtures.denied(p, fixtures.prod)) == 0
}

test_plain_secret_manifest_counts_as_produced if {
	# e.g. a service-account token Secret: present, with no values in git.
	s := {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-creds", "namespace": "shop"}, "type": "kubernetes.io/service-account-token"}
	objs := array.concat(fixtures.drop(fixtures.good, fixtures.external_secret), [s])
	count(fixtures.denied(fixtures.rollout, fixtures.check("prod", objs))) == 0
}

cluster_secret(config) := {
	"apiVersion": "v1", "kind": "Secret",
	"metadata": {"name": "cluster-shop-prod", "namespace": "argocd", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
	"stringData": {"name": "shop-prod", "server": "https://ABC.gr7.us-east-1.eks.amazonaws.com", "config": json.marshal(config)},
}

test_cluster_registration_through_iam_holds_no_credential if {
	s := cluster_secret({"awsAuthConfig": {"clusterName": "shop-prod", "roleARN": "arn:aws:iam::123456789012:role/deploy"}, "tlsClientConfig": {"insecure": false, "caData": "LS0t"}})
	count(fixtures.denied(s, fixtures.prod)) == 0
}

test_cluster_secret_with_a_token_is_a_credential if {
	token := cluster_secret({"bearerToken": "x", "tlsClientConfig": {"caData": "LS0t"}})
	fixtures.only("secrets.secret-data", token, fixtures.prod)
	key := cluster_secret({"awsAuthConfig": {"clusterName": "shop-prod"}, "tlsClientConfig": {"keyData": "x"}})
	fixtures.only("secrets.secret-data", key, fixtures.prod)
	extra := fixtures.set(cluster_secret({}), "/stringData/password", "x")
	fixtures.only("secrets.secret-data", extra, fixtures.prod)
	encoded := fixtures.set(cluster_secret({}), "/data", {"server": "aHR0cHM6Ly94"})
	fixtures.only("secrets.secret-data", encoded, fixtures.prod)
}
