package aws_identity_test

import data.aws_identity
import data.fixtures

issuer := "oidc.eks.us-east-1.amazonaws.com/id/5C1E7F3A9B2D4E6F8A0B1C2D3E4F5A6B"

oidc := {
	"apiVersion": "iam.aws.upbound.io/v1beta1", "kind": "OpenIDConnectProvider",
	"metadata": {"name": "shop-prod-oidc"},
	"spec": {"forProvider": {"url": concat("", ["https://", issuer]), "clientIdList": ["sts.amazonaws.com"]}},
}

trust(sub, aud) := json.marshal({"Version": "2012-10-17", "Statement": [{
	"Effect": "Allow",
	"Principal": {"Federated": concat("", ["arn:aws:iam::123456789012:oidc-provider/", issuer])},
	"Action": "sts:AssumeRoleWithWebIdentity",
	"Condition": {"StringEquals": {concat("", [issuer, ":sub"]): sub, concat("", [issuer, ":aud"]): aud}},
}]})

role(name, policy) := {
	"apiVersion": "iam.aws.upbound.io/v1beta1", "kind": "Role",
	"metadata": {"name": name},
	"spec": {"forProvider": {"assumeRolePolicy": policy}},
}

eso_role := role("prod-irsa-external-secrets-external-secrets", trust("system:serviceaccount:external-secrets:external-secrets", "sts.amazonaws.com"))

eso_sa := {
	"apiVersion": "v1", "kind": "ServiceAccount",
	"metadata": {
		"name": "external-secrets", "namespace": "external-secrets",
		"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/prod-irsa-external-secrets-external-secrets"},
	},
}

store := {
	"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
	"metadata": {"name": "aws"},
	"spec": {"provider": {"aws": {"service": "SecretsManager", "auth": {"jwt": {"serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}}},
}

deployment := {
	"apiVersion": "apps/v1", "kind": "Deployment",
	"metadata": {"name": "web", "namespace": "external-secrets"},
	"spec": {"template": {"spec": {"serviceAccountName": "external-secrets", "containers": [{"name": "web"}]}}},
}

chart_app := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "prod-addon-external-secrets", "namespace": "argocd"},
	"spec": {
		"destination": {"name": "shop-prod", "namespace": "external-secrets"},
		"source": {"chart": "external-secrets", "helm": {"valuesObject": {"serviceAccount": {"create": false, "name": "external-secrets"}}}},
	},
}

good := [oidc, eso_role, eso_sa, store, deployment, chart_app]

denied(obj, objs) := r if {
	r := {f.rule | some f in aws_identity.deny} with input as obj with data.check as fixtures.check("prod", objs)
}

test_platform_shape_is_clean if {
	every obj in good {
		denied(obj, good) == set()
	}

	# the default ServiceAccount exists in every namespace
	denied(fixtures.set(deployment, "/spec/template/spec/serviceAccountName", "default"), good) == set()
}

test_role_missing if {
	denied(eso_sa, fixtures.drop(good, eso_role)) == {"aws_identity.role-arn"}
	bad := fixtures.set(eso_sa, "/metadata/annotations/eks.amazonaws.com~1role-arn", "not-an-arn")
	denied(bad, good) == {"aws_identity.role-arn"}
}

test_role_in_another_account if {
	bad := fixtures.set(eso_sa, "/metadata/annotations/eks.amazonaws.com~1role-arn", "arn:aws:iam::999999999999:role/prod-irsa-external-secrets-external-secrets")
	denied(bad, good) == {"aws_identity.role-arn"}
}

test_role_trusts_another_service_account if {
	r := role(eso_role.metadata.name, trust("system:serviceaccount:external-secrets:other", "sts.amazonaws.com"))
	denied(eso_sa, fixtures.swap(good, r)) == {"aws_identity.role-arn"}
}

test_role_without_audience if {
	r := role(eso_role.metadata.name, trust("system:serviceaccount:external-secrets:external-secrets", "other"))
	denied(eso_sa, fixtures.swap(good, r)) == {"aws_identity.role-arn"}
}

test_role_trusts_another_cluster if {
	other := fixtures.set(oidc, "/spec/forProvider/url", "https://oidc.eks.us-east-1.amazonaws.com/id/00000000000000000000000000000000")
	denied(eso_sa, fixtures.swap(good, other)) == {"aws_identity.role-arn"}
}

test_role_for_a_service_principal if {
	r := role(eso_role.metadata.name, json.marshal({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": ["sts:AssumeRole"]}}))
	denied(eso_sa, fixtures.swap(good, r)) == {"aws_identity.role-arn"}
}

test_single_statement_and_action_list_are_read if {
	doc := json.unmarshal(eso_role.spec.forProvider.assumeRolePolicy)
	st := json.patch(doc.Statement[0], [{"op": "replace", "path": "/Action", "value": ["sts:AssumeRoleWithWebIdentity"]}])
	r := role(eso_role.metadata.name, json.marshal({"Version": "2012-10-17", "Statement": st}))
	denied(eso_sa, fixtures.swap(good, r)) == set()
}

test_store_names_a_missing_service_account if {
	denied(store, fixtures.drop(good, eso_sa)) == {"aws_identity.service-account"}
}

test_pod_runs_as_a_missing_service_account if {
	denied(deployment, fixtures.drop(good, eso_sa)) == {"aws_identity.service-account"}
}

test_chart_runs_as_a_missing_service_account if {
	denied(chart_app, fixtures.drop(good, eso_sa)) == {"aws_identity.service-account"}

	# a chart that creates its own ServiceAccount needs none in the set
	own := fixtures.set(chart_app, "/spec/source/helm/valuesObject/serviceAccount/create", true)
	denied(own, fixtures.drop(good, eso_sa)) == set()
}

test_docs if {
	every id, text in aws_identity.docs {
		startswith(id, "aws_identity.")
		text != ""
	}
}
