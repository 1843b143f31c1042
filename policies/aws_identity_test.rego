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

# aws_identity.controller-permission: the AWS Load Balancer Controller and
# its role, with what its policy lets it do on the cluster security group.
lbc_app := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "prod-addon-aws-load-balancer-controller", "namespace": "argocd"},
	"spec": {
		"destination": {"name": "shop-prod", "namespace": "kube-system"},
		"source": {"chart": "aws-load-balancer-controller", "helm": {"valuesObject": {
			"clusterName": "shop-prod", "region": "us-east-1",
			"serviceAccount": {"create": false, "name": "aws-load-balancer-controller"},
		}}},
	},
}

lbc_sa := {
	"apiVersion": "v1", "kind": "ServiceAccount",
	"metadata": {
		"name": "aws-load-balancer-controller", "namespace": "kube-system",
		"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/prod-lbc"},
	},
}

lbc_role := role("prod-lbc", trust("system:serviceaccount:kube-system:aws-load-balancer-controller", "sts.amazonaws.com"))

mr(kind, name, fp) := {"apiVersion": "iam.aws.upbound.io/v1beta1", "kind": kind, "metadata": {"name": name}, "spec": {"forProvider": fp}}

# own_tag_only is the statement the controller's policy had: mutations only
# of what carries the controller's own tag.
own_tag_only := {
	"Effect": "Allow",
	"Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"],
	"Resource": "*",
	"Condition": {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}},
}

ingress_on(condition) := {
	"Effect": "Allow",
	"Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
	"Resource": ["arn:aws:ec2:us-east-1:123456789012:security-group/*"],
	"Condition": condition,
}

# lbc_set attaches a policy of these statements to the controller's role.
lbc_set(statements) := [
	oidc, lbc_app, lbc_sa, lbc_role,
	mr("Policy", "prod-lbc", {"policy": json.marshal({"Version": "2012-10-17", "Statement": statements})}),
	mr("RolePolicyAttachment", "prod-lbc", {"roleRef": {"name": "prod-lbc"}, "policyArnRef": {"name": "prod-lbc"}}),
]

lbc_denied(statements) := denied(lbc_app, lbc_set(statements))

cluster_tag := "aws:ResourceTag/kubernetes.io/cluster/shop-prod"

test_controller_permission_on_the_cluster_security_group if {
	# the controller's own tag only: the EKS cluster security group lacks it
	lbc_denied([own_tag_only]) == {"aws_identity.controller-permission"}
	msg := [f.msg | some f in aws_identity.deny with input as lbc_app with data.check as fixtures.check("prod", lbc_set([own_tag_only]))][0]
	contains(msg, "may not ec2:AuthorizeSecurityGroupIngress, ec2:RevokeSecurityGroupIngress on arn:aws:ec2:us-east-1:123456789012:security-group/")

	# upstream's unconditional statement, or one scoped to the cluster's tags
	lbc_denied([own_tag_only, {"Effect": "Allow", "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"], "Resource": "*"}]) == set()
	lbc_denied([own_tag_only, ingress_on({"Null": {cluster_tag: "false"}})]) == set()
	lbc_denied([ingress_on({"StringEquals": {cluster_tag: "owned"}})]) == set()
	lbc_denied([ingress_on({"StringEquals": {cluster_tag: ["shared", "owned"]}})]) == set()
	lbc_denied([ingress_on({"StringLike": {"aws:ResourceTag/aws:eks:cluster-name": "shop-*"}})]) == set()

	# a tag of another cluster, a value EKS does not set, a tag it must lack
	lbc_denied([ingress_on({"Null": {"aws:ResourceTag/kubernetes.io/cluster/shop-dr": "false"}})]) == {"aws_identity.controller-permission"}
	lbc_denied([ingress_on({"StringEquals": {cluster_tag: "shared"}})]) == {"aws_identity.controller-permission"}
	lbc_denied([ingress_on({"Null": {cluster_tag: "true"}})]) == {"aws_identity.controller-permission"}
	lbc_denied([ingress_on({"StringNotEquals": {cluster_tag: "owned"}})]) == {"aws_identity.controller-permission"}
	lbc_denied([ingress_on({"StringNotLike": {cluster_tag: "own*"}})]) == {"aws_identity.controller-permission"}
	lbc_denied([ingress_on({"StringNotLike": {cluster_tag: "sha*"}})]) == set()
	lbc_denied([ingress_on({"StringNotEquals": {"aws:ResourceTag/team": "payments"}})]) == set()
	lbc_denied([ingress_on({"StringNotEquals": {cluster_tag: "shared"}})]) == set()

	# another region, another action, a Deny
	lbc_denied([object.union(ingress_on({}), {"Resource": "arn:aws:ec2:us-west-2:123456789012:security-group/*"})]) == {"aws_identity.controller-permission"}
	lbc_denied([object.union(ingress_on({}), {"Action": "ec2:AuthorizeSecurityGroupEgress"})]) == {"aws_identity.controller-permission"}
	lbc_denied([object.union(ingress_on({}), {"Effect": "Deny"})]) == {"aws_identity.controller-permission"}

	# one statement as an object, a wildcard action in another case
	lbc_denied({"Effect": "Allow", "Action": "EC2:*SecurityGroupIngress", "Resource": "*"}) == set()
}

test_controller_permission_request_and_other_conditions if {
	# these calls carry no request tags
	lbc_denied([ingress_on({"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "true"}})]) == set()
	lbc_denied([ingress_on({"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}})]) == {"aws_identity.controller-permission"}
	lbc_denied([ingress_on({"StringEquals": {"aws:RequestTag/team": "web"}})]) == {"aws_identity.controller-permission"}
	lbc_denied([ingress_on({"StringEqualsIfExists": {"aws:RequestTag/team": "web"}})]) == set()
	lbc_denied([ingress_on({"StringNotEquals": {"aws:RequestTag/team": "web"}})]) == set()

	# what the set cannot show counts as met: another key, a numeric test of a tag
	lbc_denied([ingress_on({"StringEquals": {"aws:SourceVpc": "vpc-1"}})]) == set()
	lbc_denied([ingress_on({"NumericLessThan": {cluster_tag: "3"}})]) == set()
}

test_controller_permission_reads_every_policy_of_the_role if {
	statements := [ingress_on({"Null": {cluster_tag: "false"}})]
	doc := json.marshal({"Version": "2012-10-17", "Statement": statements})
	base := [oidc, lbc_app, lbc_sa, lbc_role]

	# inline in the Role, a RolePolicy (by reference or by name)
	inline := fixtures.set(lbc_role, "/spec/forProvider/inlinePolicy", [{"name": "ingress", "policy": doc}])
	denied(lbc_app, [oidc, lbc_app, lbc_sa, inline]) == set()
	denied(lbc_app, array.concat(base, [mr("RolePolicy", "prod-lbc-ingress", {"roleRef": {"name": "prod-lbc"}, "policy": doc})])) == set()
	denied(lbc_app, array.concat(base, [mr("RolePolicy", "prod-lbc-ingress", {"role": "prod-lbc", "policy": doc})])) == set()

	# a role with no policy may nothing
	denied(lbc_app, base) == {"aws_identity.controller-permission"}

	# an AWS-managed policy attached: what it allows is not in the set, so no judgement
	managed := mr("RolePolicyAttachment", "prod-lbc-managed", {"role": "prod-lbc", "policyArn": "arn:aws:iam::aws:policy/ElasticLoadBalancingFullAccess"})
	denied(lbc_app, array.concat(base, [managed])) == set()

	# no such ServiceAccount, or one without a role: other rules' business
	denied(lbc_app, [oidc, lbc_app, lbc_role]) == {"aws_identity.service-account"}
	denied(lbc_app, [oidc, lbc_app, lbc_role, json.remove(lbc_sa, ["metadata/annotations"])]) == set()
}

ca_app := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "prod-addon-cluster-autoscaler", "namespace": "argocd"},
	"spec": {
		"destination": {"name": "shop-prod", "namespace": "kube-system"},
		"source": {"chart": "cluster-autoscaler", "helm": {"valuesObject": {
			"autoDiscovery": {"clusterName": "shop-prod"}, "awsRegion": "us-east-1",
			"rbac": {"serviceAccount": {"create": false, "name": "cluster-autoscaler"}},
		}}},
	},
}

ca_sa := {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "cluster-autoscaler", "namespace": "kube-system", "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/prod-ca"}}}

# ca_scaling: the autoscaler's role may resize the groups tagged for cluster.
ca_scaling(cluster) := [oidc, ca_app, ca_sa, mr("Role", "prod-ca", {"assumeRolePolicy": "{}", "inlinePolicy": [{"name": "scale", "policy": json.marshal({"Statement": [{
	"Effect": "Allow",
	"Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
	"Resource": "*",
	"Condition": {"StringEquals": {concat("", ["aws:ResourceTag/k8s.io/cluster-autoscaler/", cluster]): "owned"}},
}]})}]})]

test_controller_permission_of_the_cluster_autoscaler if {
	denied(ca_app, ca_scaling("shop-prod")) == set()
	denied(ca_app, ca_scaling("shop-dr")) == {"aws_identity.controller-permission"}
}

service_role(trust) := {
	"apiVersion": "iam.aws.upbound.io/v1beta1", "kind": "Role",
	"metadata": {"name": "prod-analytics-firehose"},
	"spec": {"forProvider": {"assumeRolePolicy": json.marshal(trust)}},
}

trust_of(service, condition) := {"Version": "2012-10-17", "Statement": [object.union(
	{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"},
	condition,
)]}

service_trust_denied(role) := {f.msg | some f in aws_identity.deny with input as role; f.rule == "aws_identity.service-trust"}

test_service_trust_needs_the_documented_key if {
	# trusted by the service alone: denied, naming the key
	found := service_trust_denied(service_role(trust_of("firehose.amazonaws.com", {})))
	count(found) == 1
	some msg in found
	contains(msg, "sts:ExternalId")

	# the key present, but any account: denied
	count(service_trust_denied(service_role(trust_of("logs.amazonaws.com", {"Condition": {"StringLike": {"aws:SourceArn": "arn:aws:logs:*:*:*"}}})))) == 1

	# another key than the one the service sets: denied
	count(service_trust_denied(service_role(trust_of(["logs.amazonaws.com"], {"Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}})))) == 1
}

test_service_trust_scoped_passes if {
	service_trust_denied(service_role(trust_of("firehose.amazonaws.com", {"Condition": {"StringEquals": {"sts:ExternalId": "123456789012"}}}))) == set()
	service_trust_denied(service_role(trust_of(["logs.amazonaws.com"], {"Condition": {"StringLike": {"aws:SourceArn": ["arn:aws:logs:us-east-1:123456789012:*"]}}}))) == set()

	# a service outside the table is not judged: a condition it never meets would lock it out
	service_trust_denied(service_role(trust_of("glue.amazonaws.com", {}))) == set()

	# a Kubernetes Role is not an IAM role
	service_trust_denied(json.patch(service_role(trust_of("firehose.amazonaws.com", {})), [{"op": "replace", "path": "/apiVersion", "value": "rbac.authorization.k8s.io/v1"}])) == set()
}
