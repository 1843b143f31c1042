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

	# The fix is this repository's: credentials: in the catalogue.
	contains(f.msg, "credentials: in envs/shared/catalog.cue")
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
	fixtures.only("secrets.material", cm, fixtures.prod)
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

# spec.forProvider is looked at first, but only a Crossplane group counts.
test_crossplane_literal_only_in_crossplane_groups if {
	other := {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": {"forProvider": {"password": "x"}}}
	not "secrets.crossplane-literal" in fixtures.denied(other, fixtures.prod)
	crossplane := json.patch(other, [{"op": "replace", "path": "/apiVersion", "value": "example.upbound.io/v1"}])
	"secrets.crossplane-literal" in fixtures.denied(crossplane, fixtures.prod)
	no_params := json.patch(crossplane, [{"op": "replace", "path": "/spec", "value": {"password": "x"}}])
	not "secrets.crossplane-literal" in fixtures.denied(no_params, fixtures.prod)

	# The JSON text of the provider is read first: a key in any case gets
	# through, a password-like value under another key is no finding.
	upper := json.patch(crossplane, [{"op": "replace", "path": "/spec/forProvider", "value": {"auth": [{"MasterPASSWORD": "x"}]}}])
	"secrets.crossplane-literal" in fixtures.denied(upper, fixtures.prod)
	value_only := json.patch(crossplane, [{"op": "replace", "path": "/spec/forProvider", "value": {"note": "password", "passwordSecretRef": {"name": "p"}}}])
	not "secrets.crossplane-literal" in fixtures.denied(value_only, fixtures.prod)
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

repository_secret := {
	"apiVersion": "v1", "kind": "Secret",
	"metadata": {"name": "repository-ack", "namespace": "argocd", "labels": {"argocd.argoproj.io/secret-type": "repository"}},
	"stringData": {"name": "ack", "type": "helm", "url": "public.ecr.aws/aws-controllers-k8s", "enableOCI": "true"},
}

test_public_repository_secret_holds_no_credential if {
	count(fixtures.denied(repository_secret, fixtures.prod)) == 0
}

test_repository_secret_with_a_password_is_a_credential if {
	fixtures.only("secrets.secret-data", fixtures.set(repository_secret, "/stringData/password", "x"), fixtures.prod)
	fixtures.only("secrets.secret-data", fixtures.set(repository_secret, "/data", {"url": "cHVibGlj"}), fixtures.prod)
	unlabelled := json.patch(repository_secret, [{"op": "remove", "path": "/metadata/labels"}])
	fixtures.only("secrets.secret-data", unlabelled, fixtures.prod)
}

# Fake material, in the forms the providers document (AWS's own examples).
aws_key_id := "AKIAIOSFODNN7EXAMPLE"

aws_secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

github_token := concat("", ["ghp_", "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"])

jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"

material_in(obj) := {f.path: f.msg | some f in secrets.deny with input as obj with data.check as fixtures.prod; f.rule == "secrets.material"}

env_value(v) := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/env/0/value", v)

cm_value(v) := fixtures.set(fixtures.config_map, "/data/app.conf", v)

test_material_in_url_of_env_value if {
	r := env_value("postgres://shop:s3cr3t-pw@orders-db.shop.svc:5432/orders")
	fixtures.only("secrets.material", r, fixtures.prod)
	found := material_in(r)
	msg := found[["spec", "template", "spec", "containers", 0, "env", 0, "value"]]
	contains(msg, "a password inside a URL")
	not contains(msg, "s3cr3t")
	fixtures.only("secrets.material", env_value("redis://:s3cr3t@cache:6379"), fixtures.prod)
	fixtures.only("secrets.material", env_value("jdbc:mysql://app:pw1234@db/x"), fixtures.prod)
}

test_material_in_args_command_and_annotations if {
	a := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/args", ["--upstream", "https://bot:tok3n@git.example.com/repo.git"])
	fixtures.only("secrets.material", a, fixtures.prod)
	c := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/command", ["sh", "-c", concat("", ["AWS_ACCESS_KEY_ID=", aws_key_id, " run"])])
	fixtures.only("secrets.material", c, fixtures.prod)
	n := fixtures.set(fixtures.ingress, "/metadata/annotations/example.com~1webhook", concat("", ["https://hooks.example.com/?t=", github_token]))
	fixtures.only("secrets.material", n, fixtures.prod)
	contains(material_in(n)[["metadata", "annotations", "example.com/webhook"]], "a GitHub token")
}

test_material_inside_embedded_files if {
	ini := concat("\n", ["[default]", "region = us-east-1", concat("", ["aws_access_key_id = ", aws_key_id]), concat("", ["aws_secret_access_key = ", aws_secret]), ""])
	fixtures.only("secrets.material", cm_value(ini), fixtures.prod)
	msg := material_in(cm_value(ini))[["data", "app.conf"]]
	contains(msg, "an AWS access key id and an AWS secret access key")
	not contains(msg, aws_secret)

	quoted := concat("", ["[default]\naws_secret_access_key = \"", aws_secret, "\"\n"])
	contains(material_in(cm_value(quoted))[["data", "app.conf"]], "an AWS secret access key")

	js := json.marshal({"upstream": {"aws_secret": aws_secret}, "region": "us-east-1"})
	contains(material_in(cm_value(js))[["data", "app.conf"]], "an AWS secret access key")

	y := concat("\n", ["slack:", concat("", ["  webhookToken: xoxb-", "123456789012-abcdefABCDEF"]), "stripe:", concat("", ["  key: sk_live_", "4eC39HqLyjWDarjtT1zdp7dc"]), ""])
	contains(material_in(cm_value(y))[["data", "app.conf"]], "a Slack token and a Stripe live key")

	j := cm_value(concat("", ["Authorization: Bearer ", jwt]))
	contains(material_in(j)[["data", "app.conf"]], "a JSON Web Token")
	g := cm_value(concat("", ["maps.key=AIza", "SyD-abcdefghijklmnopqrstuvwxyz012345"]))
	contains(material_in(g)[["data", "app.conf"]], "a Google API key")
	pem := cm_value("{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQ...\\n-----END PRIVATE KEY-----\\n\"}")
	contains(material_in(pem)[["data", "app.conf"]], "a PEM private key")
	ec := cm_value("-----BEGIN EC PRIVATE KEY-----\nMHc...\n")
	contains(material_in(ec)[["data", "app.conf"]], "a PEM private key")
}

test_material_temporary_key_and_fine_grained_token if {
	fixtures.only("secrets.material", env_value("ASIAY34FZKBOKMUTVV7A"), fixtures.prod)
	pat := concat("", ["github_pat_", "11ABCDEFG0123456789abc_", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghij"])
	fixtures.only("secrets.material", env_value(pat), fixtures.prod)
}

# Ordinary configuration looks like none of it.
test_material_compliant_values_pass if {
	every v in [
		"https://shop.example.com/api/cart",
		"https://user@git.example.com/repo.git",
		"ssh://git@github.com/org/repo.git",
		"git@github.com:org/repo.git",
		"postgres://orders-db.shop.svc:5432/orders?sslmode=require",
		"postgres://shop:$(DB_PASSWORD)@orders-db:5432/orders",
		"postgres://shop:${DB_PASSWORD}@orders-db:5432/orders",
		"redis://:{{ .password }}@cache:6379",
		"http://localhost:8080/healthz",
		"admin@example.com",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/cart@sha256:c4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6",
		"sha256:c4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6",
		"0b5c2f6e-8d4a-4e1b-9c7f-2a3d5e6f7a8b",
		"arn:aws:iam::123456789012:role/prod-irsa-shop-cart",
		"arn:aws:acm:us-east-1:123456789012:certificate/0b5c2f6e-8d4a-4e1b-9c7f-2a3d5e6f7a8b",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/cart/redis-AbCdEf",
		"aws_commit = 3f786850e387550fdab836ed7e6dc881de23001b",
		"AWS_ROLE_ARN=arn:aws:iam::123456789012:role/AKIAIOSFODNN7EXAMPLEROLEX",
		"KEY_ID=alias/aws/ebs",
		"-----BEGIN CERTIFICATE-----\nMIIC...\n-----END CERTIFICATE-----\n",
		"-----BEGIN PUBLIC KEY-----\nMIIB...\n",
		"eyJhbGciOi",
		"sk_test_4eC39HqLyjWDarjtT1zdp7dc",
		"max_connections = 200\nshared_buffers = 1GB\n",
	] {
		not has_material(v)
	}
	count(material_in(env_value("postgres://shop:$(DB_PASSWORD)@orders-db:5432/orders"))) == 0
	count(material_in(cm_value("aws_commit = 3f786850e387550fdab836ed7e6dc881de23001b"))) == 0
}

has_material(v) if count(secrets.material_kinds(v)) > 0

# Near misses the cheap pre-filter lets through, rejected by the forms.
test_material_near_misses if {
	has_material(concat("", ["aws_secret = ", aws_secret]))
	secrets.material_kinds("aws_secret = 3f786850e387550fdab836ed7e6dc881de23001b") == []
	secrets.material_kinds("AWS_SECRET=ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMN") == []
}

test_material_platform_annotations_pass if {
	annotations := {
		"alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:us-east-1:123456789012:certificate/0b5c2f6e-8d4a-4e1b-9c7f-2a3d5e6f7a8b",
		"alb.ingress.kubernetes.io/listen-ports": "[{\"HTTPS\":443}]",
		"alb.ingress.kubernetes.io/target-group-attributes": "load_balancing.cross_zone.enabled=true",
		"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/prod-irsa-shop-cart",
		"kubernetes.io/description": "see https://shop.example.com/runbook#cart",
		"argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
	}
	count(fixtures.denied(fixtures.set(fixtures.ingress, "/metadata/annotations", annotations), fixtures.prod)) == 0
}

test_material_not_judged_in_secret_or_binary_data if {
	b := fixtures.set(fixtures.config_map, "/binaryData", {"blob": concat("", ["AAAA+", aws_key_id, "+AAAA"])})
	not "secrets.material" in fixtures.denied(b, fixtures.prod)
	st := fixtures.set(fixtures.config_map, "/status", {"note": concat("", [" ", aws_key_id])})
	not "secrets.material" in fixtures.denied(st, fixtures.prod)
	s := {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"k": aws_key_id}}
	fixtures.only("secrets.secret-data", s, fixtures.prod)
}

# The whole-object prefilter tries a form's regex only when the text
# holds one of its literals: each form alone must still get through it.
test_material_prefilter_passes_every_form if {
	samples := {
		"a password inside a URL": "redis://:s3cr3t@cache:6379",
		"an AWS access key id": aws_key_id,
		"an AWS secret access key": concat("", ["aws_secret_access_key = ", aws_secret]),
		"a PEM private key": "-----BEGIN RSA PRIVATE KEY-----",
		"a GitHub token": github_token,
		"a Slack token": concat("", ["xoxb-", "123456789012-abcdef"]),
		"a Stripe live key": concat("", ["sk_live_", "4eC39HqLyjWDarjtT1zdp7dc"]),
		"a Google API key": concat("", ["AIza", "SyD-abcdefghijklmnopqrstuvwxyz012345"]),
		"a JSON Web Token": jwt,
	}
	every m in secrets.material {
		secrets.text_holds_material(data.lib.text({"value": samples[m.name]}))
	}
	not secrets.text_holds_material(data.lib.text(fixtures.rollout))

	# The literals cover every spelling (?i:aws) matches, the long s too.
	secrets.text_holds_material(data.lib.text({"value": concat("", ["aWſ_secret_access_key = ", aws_secret])}))

	# The text is Rego's (strings quoted with Go's escapes): a password with
	# a non-ASCII or a control character, and a key inside embedded JSON
	# (its quotes escaped), still get through.
	every value in [
		"redis://:p\u00e4ss@cache:6379",
		"redis://:pw\u0001x@cache:6379",
		"redis://:pw\u00a0x@cache:6379",
		concat("", [`{"aws_secret_access_key": "`, aws_secret, `"}`]),
	] {
		count(secrets.material_kinds(value)) > 0
		secrets.text_holds_material(data.lib.text({"data": {"file": value}}))
	}

	# A URL form needs :// as well as @ (an image digest holds only @).
	not secrets.text_holds_material(data.lib.text({"value": "shop/app@sha256:0123456789abcdef", "user": "me:pw@host"}))
}

# The AWS secret key form's literal is sought in the lower-cased text: every
# spelling (?i:aws) matches gets through, the upper-case one and the long s
# included, and a text with none of them does not.
test_material_prefilter_lower_cases_the_text if {
	every prefix in ["AWS_SECRET_ACCESS_KEY = ", "Aws_secret = ", "AWſ_secret = ", "aws.secret: "] {
		secrets.text_holds_material(data.lib.text({"value": concat("", [prefix, aws_secret])}))
	}
	not secrets.text_holds_material(data.lib.text({"value": concat("", ["az_secret_access_key = ", aws_secret])}))
	some [_, _, _, "lowered"] in secrets.prefilter
}

# A form without literals has its regex tried on every text (the literal "").
test_material_prefilter_form_without_literals if {
	forms := [{"name": "a test form", "pattern": `s3cr3t-[0-9]{4}`}]
	secrets.text_holds_material(data.lib.text({"value": "x s3cr3t-1234"})) with secrets.material as forms
	not secrets.text_holds_material(data.lib.text({"value": "x s3cr3t-12"})) with secrets.material as forms
}
