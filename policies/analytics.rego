# Analytics: every hop of the BI pipeline has what makes data move through
# it: a writer for the log group a pipeline reads, a schedule that runs the
# Spark application, a role for each QuickSight data source, a TLS-only
# policy on every bucket, an S3 path for Redshift's enhanced VPC routing.
# All of them relate objects, so they need the env's set (data.check).
package analytics

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"analytics.log-writer": "A log group a subscription filter reads has a writer: an Argo CD Application of the log shipper naming it, whose ServiceAccount's IRSA role may logs:PutLogEvents to it.",
	"analytics.spark-scheduled": "An EMR Serverless application has a job that runs: an enabled Scheduler schedule targeting a Step Functions state machine that starts a job run on it.",
	"analytics.dataset-source-role": "Every data source a QuickSight data set reads is in the set and names an IAM role (roleARN) that is in the set.",
	"analytics.bucket-tls": "Every S3 bucket has a bucket policy denying all S3 actions on it and its objects when aws:SecureTransport is false.",
	"analytics.redshift-s3-path": "A Redshift cluster with enhanced VPC routing has an S3 path from each of its subnets: an S3 gateway endpoint on the subnet's route table, or a NAT default route.",
	"analytics.service-role": "The role a pipeline hop names is in the set, trusts the AWS service that assumes it (sts:AssumeRole by its service principal) and allows that service's calls: a CloudWatch Logs subscription filter's role firehose:PutRecord and PutRecordBatch on its Firehose stream; a Firehose stream's role s3:PutObject under its prefix and error prefix and s3:GetBucketLocation and s3:ListBucket on its bucket.",
	"analytics.shipper-overwrites": "A Fluent Bit modify filter of the shipper that feeds a pipeline's log group writes every key the pipeline's Spark script reads with Set or Hard_copy/Hard_rename, not Add, Copy or Rename, which skip a record that already has the key (watched Kubernetes events carry kind Event, merged JSON log lines their own kind or service).",
	"analytics.shipper-values": "A value the pipeline's shipper writes (Set or Add) to a key the Spark script compares with literals (F.col(\"key\") == \"value\") is one of those literals: any other value is dropped by the script.",
}

crossplane(obj, group) if startswith(obj.apiVersion, concat("", [group, ".aws.upbound.io/"]))

fp(obj) := object.get(obj, ["spec", "forProvider"], {})

# every lists the objects of key k in every namespace.
every_ns(k) := [o |
	some ns, _ in object.get(lib.index, [k], {})
	some o in lib.objects(k, ns)
]

statements(doc) := lib.as_list(json.unmarshal(doc).Statement)

role_name(arn) := regex.replace(arn, `^arn:aws:iam::[0-9]+:role/(.*/)?`, "")

# analytics.log-writer: a subscription filter streams a log group on, so
# something must write it, or the pipeline behind it stays empty.
deny contains lib.finding("analytics.log-writer", msg, ["spec", "forProvider", "logGroupName"]) if {
	lib.has_inventory
	input.kind == "SubscriptionFilter"
	crossplane(input, "cloudwatchlogs")
	group := fp(input).logGroupName
	not written(group, fp(input).region)
	msg := sprintf("log group %s feeds SubscriptionFilter %s but nothing writes it: no shipper Application names it with a ServiceAccount whose IRSA role may logs:PutLogEvents to it", [group, input.metadata.name])
}

written(group, region) if {
	some app in lib.objects("Application.argoproj.io", "argocd")
	values := object.get(app, ["spec", "source", "helm", "valuesObject"], {})
	values.cloudWatchLogs.logGroupName == group
	object.get(values, ["cloudWatchLogs", "enabled"], true) == true
	some sa in object.get(lib.index, ["ServiceAccount", app.spec.destination.namespace, values.serviceAccount.name], [])
	arn := sa.metadata.annotations["eks.amazonaws.com/role-arn"]
	stream := sprintf("arn:aws:logs:%s:%s:log-group:%s:log-stream:any", [region, split(arn, ":")[4], group])
	may(role_name(arn), "logs:PutLogEvents", stream)
}

# may: the role's policies allow action on resource, or some policy attached
# to it is not in the set (so what it may do is unknown, and not refused).
may(role, action, resource) if lib.iam_allows(lib.role_documents(role), action, resource, null)

may(role, _, _) if not lib.role_policies_known(role)

# analytics.spark-scheduled: an EMR Serverless application only starts on a
# job run; without a schedule that starts one it never processes anything.
deny contains lib.finding("analytics.spark-scheduled", msg, ["spec", "forProvider", "name"]) if {
	lib.has_inventory
	input.kind == "Application"
	crossplane(input, "emrserverless")
	name := fp(input).name
	not scheduled(name)
	msg := sprintf("EMR Serverless application %s runs no job: no enabled Schedule targets a state machine that starts a job run on it", [name])
}

scheduled(app) if {
	some s in lib.objects("Schedule.scheduler.aws.upbound.io", "")
	object.get(fp(s), "state", "ENABLED") == "ENABLED"
	some m in lib.objects("StateMachine.sfn.aws.upbound.io", "")
	endswith(object.get(fp(s), ["target", "arn"], ""), concat(":", ["", "stateMachine", external_name(m)]))
	starts_job_on(fp(m).definition, app)
}

external_name(obj) := object.get(obj, ["metadata", "annotations", "crossplane.io/external-name"], obj.metadata.name)

starts_job_on(definition, app) if {
	some state in json.unmarshal(definition).States
	startswith(state.Resource, "arn:aws:states:::emr-serverless:startJobRun")
	contains(definition, sprintf("'%s'", [app]))
}

# analytics.dataset-source-role: QuickSight queries a data source as its
# role; without one (or with a role not in the set) the data set is empty.
deny contains lib.finding("analytics.dataset-source-role", msg, ["spec", "physicalTableMap", table, kind, "dataSourceARN"]) if {
	lib.has_inventory
	input.kind == "DataSet"
	startswith(input.apiVersion, "quicksight.services.k8s.aws/")
	some table, t in input.spec.physicalTableMap
	some kind in ["relationalTable", "customSQL", "s3Source"]
	id := regex.replace(t[kind].dataSourceARN, `^.*:datasource/`, "")
	not source_role(id)
	msg := sprintf("DataSet %s reads data source %s, which is not in the set or names no IAM role in the set (parameters.*.roleARN)", [input.metadata.name, id])
}

source_role(id) if {
	some ds in every_ns("DataSource.quicksight.services.k8s.aws")
	ds.spec.id == id
	some p in ds.spec.parameters
	lib.exists("Role.iam.aws.upbound.io", "", role_name(p.roleARN))
}

# analytics.bucket-tls: data in S3 only over TLS, whoever asks.
deny contains lib.finding("analytics.bucket-tls", msg, ["metadata", "name"]) if {
	lib.has_inventory
	input.kind == "Bucket"
	crossplane(input, "s3")
	not tls_only(input)
	msg := sprintf("Bucket %s has no BucketPolicy denying s3:* on it and its objects when aws:SecureTransport is false", [input.metadata.name])
}

tls_only(bucket) if {
	some p in lib.objects("BucketPolicy.s3.aws.upbound.io", "")
	names_bucket(fp(p), bucket)
	arn := concat("", ["arn:aws:s3:::", external_name(bucket)])
	some st in statements(fp(p).policy)
	st.Effect == "Deny"
	st.Principal in {"*", {"AWS": "*"}}
	some a in lib.as_list(st.Action)
	a in {"s3:*", "*"}
	sprintf("%v", [st.Condition.Bool["aws:SecureTransport"]]) == "false"
	every target in [arn, concat("/", [arn, "any"])] {
		some r in lib.as_list(st.Resource)
		glob.match(r, null, target)
	}
}

names_bucket(p, bucket) if p.bucketRef.name == bucket.metadata.name

names_bucket(p, bucket) if p.bucket == external_name(bucket)

# analytics.redshift-s3-path: enhanced VPC routing sends the cluster's S3
# traffic (COPY, UNLOAD, Spectrum's catalog) through its VPC; a subnet with
# neither an S3 gateway endpoint nor NAT cannot reach S3.
deny contains lib.finding("analytics.redshift-s3-path", msg, ["spec", "forProvider", "enhancedVpcRouting"]) if {
	lib.has_inventory
	input.kind == "Cluster"
	crossplane(input, "redshift")
	fp(input).enhancedVpcRouting == true
	some subnet in cluster_subnets(input)
	not s3_path(subnet)
	msg := sprintf("Redshift cluster %s has enhancedVpcRouting but its subnet %s has no S3 path: no S3 gateway endpoint on its route table, no NAT default route", [input.metadata.name, subnet])
}

cluster_subnets(c) := {s.name |
	group := object.get(fp(c), "clusterSubnetGroupName", object.get(fp(c), ["clusterSubnetGroupNameRef", "name"], ""))
	some g in lib.objects("SubnetGroup.redshift.aws.upbound.io", "")
	g.metadata.name == group
	some s in fp(g).subnetIdRefs
}

route_tables(subnet) := {fp(a).routeTableIdRef.name |
	some a in lib.objects("RouteTableAssociation.ec2.aws.upbound.io", "")
	object.get(fp(a), ["subnetIdRef", "name"], "") == subnet
}

s3_path(subnet) if {
	some a in lib.objects("VPCEndpointRouteTableAssociation.ec2.aws.upbound.io", "")
	fp(a).routeTableIdRef.name in route_tables(subnet)
	some e in lib.objects("VPCEndpoint.ec2.aws.upbound.io", "")
	e.metadata.name == fp(a).vpcEndpointIdRef.name
	endswith(fp(e).serviceName, ".s3")
	object.get(fp(e), "vpcEndpointType", "Gateway") == "Gateway"
}

s3_path(subnet) if {
	some r in lib.objects("Route.ec2.aws.upbound.io", "")
	fp(r).routeTableIdRef.name in route_tables(subnet)
	fp(r).destinationCidrBlock == "0.0.0.0/0"
	nat(fp(r))
}

nat(route) if route.natGatewayIdRef.name

nat(route) if route.natGatewayId

# analytics.shipper-overwrites and analytics.shipper-values: the record
# shape the shipper writes is the one the Spark job reads. The shipper is an
# Application writing a log group that a subscription filter streams on; the
# script is what a state machine uploads to the entry point of a job run.
# Fluent Bit's modify filter (plugins/filter_modify/modify.c): Add and Copy
# leave a record that has the key as it is, Rename one that has the target.
deny contains lib.finding("analytics.shipper-overwrites", msg, filters_path) if {
	input.kind == "Application" # the kind first: the engine evaluates this package only for the kinds its rules name
	some [op, key] in shipper_writes
	lower(op) in {"add", "add_if_not_present", "copy", "rename"}
	some script in job_scripts
	contains(script, sprintf(`"%s"`, [key]))
	msg := sprintf("shipper Application %s writes %s with %s, which skips a record that already has it (a watched Kubernetes event's kind Event, a JSON log line's own kind or service), but the Spark script reads %s: use Set, Hard_copy or Hard_rename", [input.metadata.name, key, op, key])
}

deny contains lib.finding("analytics.shipper-values", msg, filters_path) if {
	input.kind == "Application" # the kind first: the engine evaluates this package only for the kinds its rules name
	some write in shipper_values
	some script in job_scripts
	compared := {m[1] | some m in regex.find_all_string_submatch_n(sprintf(`col\("%s"\)\s*==\s*"([^"]*)"`, [write.key]), script, -1)}
	count(compared) > 0
	not write.value in compared
	msg := sprintf("shipper Application %s sets %s to %q, but the Spark script keeps only %s %v: its records are dropped", [input.metadata.name, write.key, write.value, write.key, sort(compared)])
}

filters_path := ["spec", "source", "helm", "valuesObject", "additionalFilters"]

# modify_lines are the words of each line of the modify filters of the
# Application under check, if it ships to a log group a pipeline reads.
modify_lines contains words if {
	input.kind == "Application"
	startswith(input.apiVersion, "argoproj.io/")
	values := input.spec.source.helm.valuesObject
	lib.has_inventory
	some f in lib.objects("SubscriptionFilter.cloudwatchlogs.aws.upbound.io", "")
	fp(f).logGroupName == values.cloudWatchLogs.logGroupName
	some section in split(values.additionalFilters, "[FILTER]")
	lines := [regex.split(`\s+`, trim_space(l)) | some l in split(section, "\n"); trim_space(l) != ""]
	some name in lines
	lower(name[0]) == "name"
	lower(name[1]) == "modify"
	some words in lines
	count(words) > 2
}

# shipper_writes: operation -> the key it writes (Add/Set KEY VALUE, Copy/Rename FROM TO).
shipper_writes contains [words[0], words[1]] if {
	some words in modify_lines
	lower(words[0]) in {"add", "add_if_not_present", "set"}
}

shipper_writes contains [words[0], words[2]] if {
	some words in modify_lines
	lower(words[0]) in {"copy", "hard_copy", "rename", "hard_rename"}
}

shipper_values contains {"key": words[1], "value": concat(" ", array.slice(words, 2, count(words)))} if {
	some words in modify_lines
	lower(words[0]) in {"add", "add_if_not_present", "set"}
}

# job_scripts: the bodies state machines upload to S3 where a job run's entry point names them.
job_scripts := [st.Arguments.Body |
	some st in machine_states
	st.Resource == "arn:aws:states:::aws-sdk:s3:putObject"
	sprintf("s3://%s/%s", [st.Arguments.Bucket, st.Arguments.Key]) in entry_points
]

entry_points := {st.Arguments.JobDriver.SparkSubmit.EntryPoint |
	some st in machine_states
	startswith(st.Resource, "arn:aws:states:::emr-serverless:startJobRun")
}

machine_states := [st |
	some m in lib.objects("StateMachine.sfn.aws.upbound.io", "")
	some st in json.unmarshal(fp(m).definition).States
]

# hops: for the objects whose AWS service acts with a role they name, the
# path of that role reference, the service principal that assumes it and
# the calls the service makes with it ([action, resource]).
hop := {
	"role": ["spec", "forProvider"],
	"service": "logs",
	"calls": [["firehose:PutRecord", dest], ["firehose:PutRecordBatch", dest]],
} if {
	input.kind == "SubscriptionFilter"
	crossplane(input, "cloudwatchlogs")
	dest := fp(input).destinationArn
	contains(dest, ":firehose:")
}

hop := {
	"role": ["spec", "forProvider", "extendedS3Configuration"],
	"service": "firehose",
	"calls": array.concat(
		[["s3:GetBucketLocation", bucket], ["s3:ListBucket", bucket]],
		[["s3:PutObject", concat("", [bucket, "/", fixed_part(prefix), "object"])] |
			some prefix in {object.get(s3, "prefix", ""), object.get(s3, "errorOutputPrefix", "")}
		],
	),
} if {
	input.kind == "DeliveryStream"
	crossplane(input, "firehose")
	s3 := fp(input).extendedS3Configuration
	bucket := bucket_arn(s3)
}

# fixed_part: a Firehose prefix up to its first expression (!{...}).
fixed_part(prefix) := substring(prefix, 0, indexof(prefix, "!{")) if contains(prefix, "!{")

else := prefix

bucket_arn(config) := config.bucketArn

bucket_arn(config) := concat("", ["arn:aws:s3:::", external_name(b)]) if {
	not config.bucketArn
	some b in object.get(lib.index, ["Bucket.s3.aws.upbound.io", "", config.bucketArnRef.name], [])
}

# hop_role: the name of the role at the hop's path (roleArnRef or roleArn).
hop_role(at) := [ref, array.concat(at, ["roleArnRef", "name"])] if {
	ref := object.get(input, array.concat(at, ["roleArnRef", "name"]), "")
	ref != ""
} else := [role_name(arn), array.concat(at, ["roleArn"])] if {
	arn := object.get(input, array.concat(at, ["roleArn"]), "")
	arn != ""
}

# analytics.service-role: no role at all (CloudWatch Logs and Firehose
# refuse a Firehose destination or an S3 delivery without one).
deny contains lib.finding("analytics.service-role", msg, hop.role) if {
	input.kind in {"SubscriptionFilter", "DeliveryStream"} # the kind first: OPA's rule index skips the rule for other kinds
	hop
	not hop_role(hop.role)
	msg := sprintf("%s %s names no role for %s to act as (roleArnRef or roleArn): AWS refuses it", [input.kind, input.metadata.name, hop.service])
}

# analytics.service-role: the role is not in the set.
deny contains lib.finding("analytics.service-role", msg, path) if {
	input.kind in {"SubscriptionFilter", "DeliveryStream"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	[role, path] := hop_role(hop.role)
	not lib.exists("Role.iam.aws.upbound.io", "", role)
	msg := sprintf("%s %s acts as role %s, which the set does not have: %s cannot assume it", [input.kind, input.metadata.name, role, hop.service])
}

# analytics.service-role: the role does not trust the service.
deny contains lib.finding("analytics.service-role", msg, path) if {
	input.kind in {"SubscriptionFilter", "DeliveryStream"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	[role, path] := hop_role(hop.role)
	some r in object.get(lib.index, ["Role.iam.aws.upbound.io", "", role], [])
	not trusts_service(r, hop.service)
	msg := sprintf("%s %s acts as role %s, whose trust policy does not let %s.amazonaws.com sts:AssumeRole: the service cannot use it and nothing moves", [input.kind, input.metadata.name, role, hop.service])
}

# analytics.service-role: the role may not make the service's calls.
deny contains lib.finding("analytics.service-role", msg, path) if {
	input.kind in {"SubscriptionFilter", "DeliveryStream"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	[role, path] := hop_role(hop.role)
	lib.exists("Role.iam.aws.upbound.io", "", role)
	lib.role_policies_known(role)
	refused := [sprintf("%s on %s", call) | some call in hop.calls; not lib.iam_allows(lib.role_documents(role), call[0], call[1], null)]
	count(refused) > 0
	msg := sprintf("%s %s acts as role %s, which may not %s: the service's calls are refused and nothing moves", [input.kind, input.metadata.name, role, concat(", ", refused)])
}

# trusts_service: a statement of the role's trust policy lets the service
# (service.amazonaws.com, or its regional form) sts:AssumeRole.
trusts_service(role, service) if {
	some st in statements(role.spec.forProvider.assumeRolePolicy)
	st.Effect == "Allow"
	some a in lib.as_list(st.Action)
	glob.match(lower(a), null, "sts:assumerole")
	some principal in lib.as_list(object.get(st, ["Principal", "Service"], []))
	regex.match(concat("", ["^", service, `(\.[a-z0-9-]+)?\.amazonaws\.com$`]), principal)
}
