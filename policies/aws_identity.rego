# Identity: every ServiceAccount that asks for an AWS role (IRSA) gets one
# that trusts exactly it, and every ServiceAccount something runs as exists.
package aws_identity

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"aws_identity.role-arn": "Every eks.amazonaws.com/role-arn on a ServiceAccount names an IAM Role in the set, in the account of the OIDC provider it trusts, whose trust policy admits exactly that ServiceAccount (sub) with audience sts.amazonaws.com through an OIDC provider in the set.",
	"aws_identity.controller-permission": "The IAM role of a controller the platform installs by chart (AWS Load Balancer Controller, Cluster Autoscaler) allows the calls it makes on the resources AWS creates and tags for the cluster: the EKS cluster security group it opens to the ALB, the managed node groups' Auto Scaling groups it resizes.",
	"aws_identity.service-trust": "An IAM role that an AWS service assumes for this account's resources (table service_trust_keys: CloudWatch Logs, Firehose) trusts the service only with the condition key the service documents setting (aws:SourceArn of the account's resources, sts:ExternalId the account): trusted by the service alone, any other account's log group or stream can have the service act as the role (the confused deputy).",
	"aws_identity.service-account": "Every ServiceAccount a pod template, a SecretStore or ClusterSecretStore (auth.jwt.serviceAccountRef) or a chart Application (serviceAccount.create false) names exists in the set.",
}

role_arn_annotation := "eks.amazonaws.com/role-arn"

audience := "sts.amazonaws.com"

# role_name is the name of an IAM role ARN (after its path), "" if none.
default role_name(_) := ""

role_name(arn) := name if {
	parts := split(arn, ":role/")
	count(parts) == 2
	segments := split(parts[1], "/")
	name := segments[count(segments) - 1]
}

roles(name) := [r | some r in object.get(lib.index, ["Role.iam.aws.upbound.io", "", name], []); r.metadata.name == name]

# issuers are the OIDC providers of the set, as IAM names them (no https://).
issuers := {trim_prefix(p.spec.forProvider.url, "https://") | some p in lib.objects("OpenIDConnectProvider.iam.aws.upbound.io", "")}

statements(doc) := doc.Statement if is_array(doc.Statement)

statements(doc) := [doc.Statement] if is_object(doc.Statement)

web_identity(st) if st.Action == "sts:AssumeRoleWithWebIdentity"

web_identity(st) if "sts:AssumeRoleWithWebIdentity" in st.Action

# admits is true when a statement of the role's trust policy lets subject in
# with the STS audience, through one of the set's OIDC providers.
admits(role, subject) if {
	doc := json.unmarshal(role.spec.forProvider.assumeRolePolicy)
	some st in statements(doc)
	st.Effect == "Allow"
	web_identity(st)
	some issuer in issuers
	endswith(st.Principal.Federated, concat("", [":oidc-provider/", issuer]))
	equals := st.Condition.StringEquals
	equals[concat(":", [issuer, "sub"])] == subject
	equals[concat(":", [issuer, "aud"])] == audience
}

# aws_identity.role-arn: the annotation names no role of the set.
deny contains lib.finding("aws_identity.role-arn", msg, ["metadata", "annotations", role_arn_annotation]) if {
	input.kind == "ServiceAccount"
	lib.has_inventory
	arn := input.metadata.annotations[role_arn_annotation]
	count(roles(role_name(arn))) == 0
	msg := sprintf("ServiceAccount %s/%s asks for role %q, which no iam Role in the set is: its pods get no AWS credentials", [lib.namespace(input), input.metadata.name, arn])
}

# aws_identity.role-arn: the role exists but does not trust this ServiceAccount.
deny contains lib.finding("aws_identity.role-arn", msg, ["metadata", "annotations", role_arn_annotation]) if {
	input.kind == "ServiceAccount"
	lib.has_inventory
	arn := input.metadata.annotations[role_arn_annotation]
	some role in roles(role_name(arn))
	subject := sprintf("system:serviceaccount:%s:%s", [lib.namespace(input), input.metadata.name])
	not admits(role, subject)
	msg := sprintf("ServiceAccount %s/%s asks for role %s, whose trust policy does not admit %s with audience %s through the cluster's OIDC provider %v: AssumeRoleWithWebIdentity is refused", [lib.namespace(input), input.metadata.name, role.metadata.name, subject, audience, sort([i | some i in issuers])])
}

# aws_identity.role-arn: the role of that name trusts the cluster's OIDC
# provider of one account, but the annotation names the role in another: a
# role trusts a provider of its own account, so the ARN names a role that
# does not exist and STS refuses (the twin's STS stand-in does: it knows
# roles by their ARN in the env's account; the rules above match by name).
deny contains lib.finding("aws_identity.role-arn", msg, ["metadata", "annotations", role_arn_annotation]) if {
	input.kind == "ServiceAccount"
	lib.has_inventory
	arn := input.metadata.annotations[role_arn_annotation]
	some role in roles(role_name(arn))
	admits(role, sprintf("system:serviceaccount:%s:%s", [lib.namespace(input), input.metadata.name]))
	accounts := {arn_account(st.Principal.Federated) |
		some st in statements(json.unmarshal(role.spec.forProvider.assumeRolePolicy))
		web_identity(st)
		is_string(st.Principal.Federated)
	}
	not arn_account(arn) in accounts
	msg := sprintf("ServiceAccount %s/%s asks for role %s in account %s, but role %s trusts the OIDC provider of account %v: no such role exists in %s", [lib.namespace(input), input.metadata.name, arn, arn_account(arn), role.metadata.name, sort([a | some a in accounts]), arn_account(arn)])
}

# arn_account is the account field of an ARN (arn:aws:iam::<account>:...).
arn_account(arn) := split(arn, ":")[4]

# named lists [path, namespace, name] of every ServiceAccount the object runs as or names.
named contains [array.concat(lib.pod_spec_path(input), ["serviceAccountName"]), lib.namespace(input), sa] if {
	sa := lib.pod_spec(input).serviceAccountName
	sa != "default" # created in every namespace by the controller manager
}

named contains [path, object.get(ref, "namespace", lib.namespace(input)), ref.name] if {
	input.kind in {"SecretStore", "ClusterSecretStore"}
	some provider, p in input.spec.provider
	ref := p.auth.jwt.serviceAccountRef
	path := ["spec", "provider", provider, "auth", "jwt", "serviceAccountRef", "name"]
}

# A chart the platform installs with serviceAccount.create false runs as a
# ServiceAccount the render must provide, in the destination namespace.
named contains [array.concat(["spec", "source", "helm", "valuesObject"], array.concat(p, ["name"])), input.spec.destination.namespace, v.name] if {
	input.kind == "Application"
	values := input.spec.source.helm.valuesObject
	contains(lib.text(values), `"serviceAccount"`) # most values name none: their text decides before the walk
	walk(values, [p, v])
	count(p) > 0
	p[count(p) - 1] == "serviceAccount"
	v.create == false
}

# aws_identity.service-account: what the object names is not in the set.
deny contains lib.finding("aws_identity.service-account", msg, path) if {
	input.kind in {"Application", "ClusterSecretStore", "CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "SecretStore", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	some [path, ns, name] in named
	not lib.exists("ServiceAccount", ns, name)
	msg := sprintf("%s %s runs as ServiceAccount %s/%s, which the set does not have", [input.kind, input.metadata.name, ns, name])
}

# controller_calls: the AWS calls a chart's controller makes for the platform
# to work, on resources whose tags AWS sets, not the platform, so a policy
# conditioned on other tags refuses them. By chart: the value paths of its
# cluster name, region and ServiceAccount, and each call with its resource
# and that resource's tags ({cluster}, {region}, {account} stand for the
# chart's values and the account of its role).
controller_calls := {
	"aws-load-balancer-controller": {
		"cluster": ["clusterName"],
		"region": ["region"],
		"service_account": ["serviceAccount", "name"],
		"calls": [{
			"actions": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
			# The security group EKS creates for the cluster (EKS tags it
			# so): managed node groups without a launch template put it on
			# every node and pod network interface, and in IP mode the
			# controller opens the pod's to the ALB (pkg/networking/
			# networking_manager.go, resolveEndpointSGForENI).
			"resource": "arn:aws:ec2:{region}:{account}:security-group/sg-0123456789abcdef0",
			"tags": {"aws:eks:cluster-name": "{cluster}", "kubernetes.io/cluster/{cluster}": "owned"},
			"what": "the EKS cluster security group (on every pod's network interface), to open it to the ALB: without it the ALB's health checks never reach a pod, no target turns healthy and no pod in a namespace with readiness-gate injection ever becomes Ready",
		}],
	},
	"cluster-autoscaler": {
		"cluster": ["autoDiscovery", "clusterName"],
		"region": ["awsRegion"],
		"service_account": ["rbac", "serviceAccount", "name"],
		"calls": [{
			"actions": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
			# The Auto Scaling group of a managed node group, with the tags
			# EKS gives it for the autoscaler's auto-discovery.
			"resource": "arn:aws:autoscaling:{region}:{account}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/eks-nodegroup",
			"tags": {"eks:cluster-name": "{cluster}", "k8s.io/cluster-autoscaler/enabled": "true", "k8s.io/cluster-autoscaler/{cluster}": "owned", "kubernetes.io/cluster/{cluster}": "owned"},
			"what": "the Auto Scaling groups of the cluster's managed node groups: without it no node group grows or shrinks",
		}],
	},
}

filled(s, vars) := strings.replace_n(vars, s)

# aws_identity.controller-permission: the controller's role may not make a
# call the platform needs of it, on a resource tagged as AWS tags it.
deny contains lib.finding("aws_identity.controller-permission", msg, ["spec", "source", "chart"]) if {
	input.kind == "Application"
	lib.has_inventory
	need := controller_calls[input.spec.source.chart]
	values := input.spec.source.helm.valuesObject
	ns := input.spec.destination.namespace
	sa_name := object.get(values, need.service_account, "")
	some sa in object.get(lib.index, ["ServiceAccount", ns, sa_name], [])
	arn := sa.metadata.annotations[role_arn_annotation]
	role := role_name(arn)
	lib.role_policies_known(role)
	docs := lib.role_documents(role)
	vars := {
		"{cluster}": object.get(values, need.cluster, ""),
		"{region}": object.get(values, need.region, ""),
		"{account}": arn_account(arn),
	}
	some call in need.calls
	resource := filled(call.resource, vars)
	tags := {filled(k, vars): filled(v, vars) | some k, v in call.tags}
	refused := [a | some a in call.actions; not lib.iam_allows(docs, a, resource, tags)]
	count(refused) > 0
	msg := sprintf("%s runs as ServiceAccount %s/%s, whose role %s may not %s on %s: the controller calls it on %s. Allow it on resources tagged %v, as AWS tags them", [input.metadata.name, ns, sa_name, role, concat(", ", refused), resource, call.what, tags])
}

# aws_identity.service-trust: a trust statement that admits a service of
# service_trust_keys without that service's documented key. The table: the
# key each service sets when it assumes a role for a resource, per its
# guide (CloudWatch Logs: Subscriptions-confused-deputy; Firehose:
# CreateFirehoseStream, sts:ExternalId the account), so a condition on it
# is met for this account's own resources and no one else's; a service not
# in it may not set one, and a condition it never meets would lock it out.
deny contains lib.finding("aws_identity.service-trust", msg, ["spec", "forProvider", "assumeRolePolicy"]) if {
	input.kind == "Role"
	startswith(input.apiVersion, "iam.aws.upbound.io/")
	some st in statements(json.unmarshal(input.spec.forProvider.assumeRolePolicy))
	st.Effect == "Allow"
	some service in lib.as_list(st.Principal.Service)
	key := service_trust_keys[service]
	not scoped(st, key)
	msg := sprintf("Role %s lets %s assume it with no condition on %s: any account's resource can have %s act as this role; add Condition {%q: {%q: <this account's value>}} (schema #ServiceTrustConditions)", [input.metadata.name, service, key, service, condition_operator[key], key])
}

service_trust_keys := {"logs.amazonaws.com": "aws:SourceArn", "firehose.amazonaws.com": "sts:ExternalId"}

condition_operator := {"aws:SourceArn": "StringLike", "sts:ExternalId": "StringEquals"}

# scoped: some condition of the statement tests key against values that
# name an account (not a bare wildcard).
scoped(st, key) if {
	some _, tests in st.Condition
	some value in lib.as_list(tests[key])
	regex.match(`[0-9]{12}`, value)
}
