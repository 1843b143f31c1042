package analytics_test

import data.analytics
import data.fixtures

# A compliant pipeline, shaped as rendered/prod/{aws-analytics,logging} renders it.
mr(api, kind, name, fp) := {"apiVersion": api, "kind": kind, "metadata": {"name": name}, "spec": {"forProvider": fp}}

policy(statements) := json.marshal({"Version": "2012-10-17", "Statement": statements})

filter := mr("cloudwatchlogs.aws.upbound.io/v1beta1", "SubscriptionFilter", "shop-logs-to-firehose", {
	"region": "us-east-1", "logGroupName": "/shop/prod/application",
	"destinationArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/shop-logs",
	"roleArnRef": {"name": "logs-to-firehose"},
})

service_trust(service) := policy([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])

logs_role := mr("iam.aws.upbound.io/v1beta1", "Role", "logs-to-firehose", {
	"assumeRolePolicy": service_trust("logs.amazonaws.com"),
	"inlinePolicy": [{"name": "put", "policy": policy([{"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"], "Resource": "arn:aws:firehose:us-east-1:123456789012:deliverystream/shop-logs"}])}],
})

stream := mr("firehose.aws.upbound.io/v1beta2", "DeliveryStream", "shop-logs", {
	"destination": "extended_s3",
	"extendedS3Configuration": {
		"bucketArnRef": {"name": "shop-prod-analytics"}, "roleArnRef": {"name": "firehose"},
		"prefix": "logs/year=!{timestamp:yyyy}/", "errorOutputPrefix": "errors/!{firehose:error-output-type}/",
	},
})

firehose_role := mr("iam.aws.upbound.io/v1beta1", "Role", "firehose", {
	"assumeRolePolicy": service_trust(["firehose.amazonaws.com"]),
	"inlinePolicy": [{"name": "write", "policy": policy([
		{"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": "arn:aws:s3:::shop-prod-analytics"},
		{"Effect": "Allow", "Action": "s3:PutObject", "Resource": ["arn:aws:s3:::shop-prod-analytics/logs/*", "arn:aws:s3:::shop-prod-analytics/errors/*"]},
	])}],
})

shipper := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "prod-fluent-bit", "namespace": "argocd"},
	"spec": {
		"destination": {"namespace": "logging"},
		"source": {"chart": "aws-for-fluent-bit", "helm": {"valuesObject": {
			"serviceAccount": {"create": false, "name": "fluent-bit"},
			"cloudWatchLogs": {"enabled": true, "logGroupName": "/shop/prod/application"},
			"additionalFilters": shipper_filters,
		}}},
	},
}

# The shipper's filters and the Spark script, as rendered (the parts the
# shape rules read).
shipper_filters := concat("\n", [
	"[FILTER]", "    Name          nest", "    Match         kube.*", "    Operation     lift", "    Nested_under  kubernetes", "    Add_prefix    k8s_",
	"[FILTER]", "    Name          modify", "    Match         kube.*", "    Set           kind log", "    Hard_copy     k8s_container_name service",
	"[FILTER]", "    Name          modify", "    Match         events", "    Set           kind event", "    Set           service kubernetes", "    Hard_copy     type level",
])

script := concat("\n", [
	`for column in ("kind", "service", "level", "timestamp"):`,
	`events = records.where(F.col("kind") == "event")`,
	`logs = records.where(F.col("kind") == "log")`,
])

with_filters(lines) := fixtures.set(shipper, "/spec/source/helm/valuesObject/additionalFilters", concat("\n", lines))

service_account := {
	"apiVersion": "v1", "kind": "ServiceAccount",
	"metadata": {"name": "fluent-bit", "namespace": "logging", "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/prod-irsa-logging-fluent-bit"}},
}

write_logs := {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [
	"arn:aws:logs:us-east-1:123456789012:log-group:/shop/prod/application",
	"arn:aws:logs:us-east-1:123456789012:log-group:/shop/prod/application:*",
]}

shipper_role := mr("iam.aws.upbound.io/v1beta1", "Role", "prod-irsa-logging-fluent-bit", {"assumeRolePolicy": "{}"})

shipper_policy := mr("iam.aws.upbound.io/v1beta1", "RolePolicy", "prod-irsa-logging-fluent-bit-write-logs", {
	"roleRef": {"name": "prod-irsa-logging-fluent-bit"},
	"policy": policy([write_logs]),
})

emr := mr("emrserverless.aws.upbound.io/v1beta2", "Application", "prod-analytics-spark", {"name": "prod-analytics-spark", "type": "spark"})

machine := mr("sfn.aws.upbound.io/v1beta2", "StateMachine", "prod-analytics-batch", {"definition": json.marshal({"States": {
	"Find": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:emrserverless:listApplications", "Assign": {"applicationId": "{% $states.result.Applications[Name = 'prod-analytics-spark'].Id %}"}},
	"Upload": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "Arguments": {"Bucket": "shop-prod-analytics", "Key": "jobs/log_summary.py", "Body": script}},
	"Run": {"Type": "Task", "Resource": "arn:aws:states:::emr-serverless:startJobRun.sync", "Arguments": {"JobDriver": {"SparkSubmit": {"EntryPoint": "s3://shop-prod-analytics/jobs/log_summary.py"}}}},
}})})

schedule := mr("scheduler.aws.upbound.io/v1beta2", "Schedule", "prod-analytics-batch", {
	"state": "ENABLED",
	"target": {"arn": "arn:aws:states:us-east-1:123456789012:stateMachine:prod-analytics-batch"},
})

data_source := {
	"apiVersion": "quicksight.services.k8s.aws/v1alpha1", "kind": "DataSource",
	"metadata": {"name": "prod-analytics-athena", "namespace": "analytics"},
	"spec": {"id": "prod-analytics-athena", "type": "ATHENA", "parameters": {"athenaParameters": {
		"workGroup": "prod-analytics",
		"roleARN": "arn:aws:iam::123456789012:role/prod-analytics-quicksight",
	}}},
}

quicksight_role := mr("iam.aws.upbound.io/v1beta1", "Role", "prod-analytics-quicksight", {"assumeRolePolicy": "{}"})

data_set := {
	"apiVersion": "quicksight.services.k8s.aws/v1alpha1", "kind": "DataSet",
	"metadata": {"name": "prod-analytics-log-summary", "namespace": "analytics"},
	"spec": {"id": "prod-analytics-log-summary", "physicalTableMap": {"summary": {"relationalTable": {
		"dataSourceARN": "arn:aws:quicksight:us-east-1:123456789012:datasource/prod-analytics-athena",
		"name": "log_summary",
	}}}},
}

bucket := mr("s3.aws.upbound.io/v1beta2", "Bucket", "shop-prod-analytics", {"region": "us-east-1"})

deny_plain_http := {
	"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
	"Resource": ["arn:aws:s3:::shop-prod-analytics", "arn:aws:s3:::shop-prod-analytics/*"],
	"Condition": {"Bool": {"aws:SecureTransport": "false"}},
}

bucket_policy := mr("s3.aws.upbound.io/v1beta1", "BucketPolicy", "shop-prod-analytics", {
	"bucketRef": {"name": "shop-prod-analytics"},
	"policy": policy([deny_plain_http]),
})

redshift := mr("redshift.aws.upbound.io/v1beta1", "Cluster", "prod-analytics-warehouse", {"enhancedVpcRouting": true, "clusterSubnetGroupName": "prod-analytics-warehouse"})

subnet_group := mr("redshift.aws.upbound.io/v1beta1", "SubnetGroup", "prod-analytics-warehouse", {"subnetIdRefs": [{"name": "prod-analytics-a"}, {"name": "prod-analytics-b"}]})

associations := [mr("ec2.aws.upbound.io/v1beta1", "RouteTableAssociation", s, {"subnetIdRef": {"name": s}, "routeTableIdRef": {"name": "prod-analytics-private"}}) |
	some s in ["prod-analytics-a", "prod-analytics-b"]
]

endpoint := mr("ec2.aws.upbound.io/v1beta2", "VPCEndpoint", "prod-analytics-s3", {"serviceName": "com.amazonaws.us-east-1.s3", "vpcEndpointType": "Gateway"})

endpoint_route_table := mr("ec2.aws.upbound.io/v1beta1", "VPCEndpointRouteTableAssociation", "prod-analytics-s3-private", {
	"routeTableIdRef": {"name": "prod-analytics-private"},
	"vpcEndpointIdRef": {"name": "prod-analytics-s3"},
})

good := array.concat(
	[
		filter, logs_role, stream, firehose_role, shipper, service_account, shipper_role, shipper_policy, emr, machine, schedule,
		data_source, quicksight_role, data_set, bucket, bucket_policy, redshift, subnet_group, endpoint, endpoint_route_table,
	],
	associations,
)

env(objs) := fixtures.check("prod", objs)

denied(obj, objs) := {f.rule | some f in analytics.deny with input as obj with data.check as env(objs)}

# only: obj in the set objs breaks exactly rule.
only(rule, obj, objs) if denied(obj, objs) == {rule}

quiet(obj, objs) if count(denied(obj, objs)) == 0

test_the_pipeline_is_quiet if {
	every obj in good {
		quiet(obj, good)
	}
}

test_no_inventory_is_quiet if {
	every obj in good {
		count({f | some f in analytics.deny with input as obj}) == 0
	}
}

# analytics.log-writer

test_log_group_without_shipper if {
	only("analytics.log-writer", filter, fixtures.drop(good, shipper))
}

test_shipper_naming_another_group if {
	s := fixtures.set(shipper, "/spec/source/helm/valuesObject/cloudWatchLogs/logGroupName", "/other")
	only("analytics.log-writer", filter, fixtures.swap(good, s))
}

test_shipper_output_disabled if {
	s := fixtures.set(shipper, "/spec/source/helm/valuesObject/cloudWatchLogs/enabled", false)
	only("analytics.log-writer", filter, fixtures.swap(good, s))
}

test_shipper_service_account_missing if {
	only("analytics.log-writer", filter, fixtures.drop(good, service_account))
}

test_shipper_role_cannot_put_log_events if {
	p := fixtures.set(shipper_policy, "/spec/forProvider/policy", policy([{"Effect": "Allow", "Action": "logs:CreateLogStream", "Resource": "*"}]))
	only("analytics.log-writer", filter, fixtures.swap(good, p))
}

test_shipper_role_writes_another_group if {
	other := object.union(write_logs, {"Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/other:*"})
	p := fixtures.set(shipper_policy, "/spec/forProvider/policy", policy([other]))
	only("analytics.log-writer", filter, fixtures.swap(good, p))
}

test_shipper_role_denied_is_not_allowed if {
	p := fixtures.set(shipper_policy, "/spec/forProvider/policy", policy([object.union(write_logs, {"Effect": "Deny"})]))
	only("analytics.log-writer", filter, fixtures.swap(good, p))
}

test_shipper_role_with_inline_policy if {
	r := fixtures.set(shipper_role, "/spec/forProvider/inlinePolicy", [{"name": "w", "policy": policy([write_logs])}])
	quiet(filter, fixtures.swap(fixtures.drop(good, shipper_policy), r))
}

test_shipper_role_with_attached_policy if {
	p := mr("iam.aws.upbound.io/v1beta1", "Policy", "write-logs", {"policy": json.marshal({"Statement": {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}})})
	a := mr("iam.aws.upbound.io/v1beta1", "RolePolicyAttachment", "attach", {"roleRef": {"name": "prod-irsa-logging-fluent-bit"}, "policyArnRef": {"name": "write-logs"}})
	quiet(filter, array.concat(fixtures.drop(good, shipper_policy), [p, a]))
}

# A policy attached by ARN (AWS-managed) is not in the set: what the role
# may do is unknown, so the writer is not refused.
test_shipper_role_with_a_managed_policy_is_not_judged if {
	p := fixtures.set(shipper_policy, "/spec/forProvider/policy", policy([{"Effect": "Allow", "Action": "logs:CreateLogStream", "Resource": "*"}]))
	a := mr("iam.aws.upbound.io/v1beta1", "RolePolicyAttachment", "managed", {"role": "prod-irsa-logging-fluent-bit", "policyArn": "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"})
	quiet(filter, array.concat(fixtures.swap(good, p), [a]))
}

# analytics.spark-scheduled

test_emr_without_schedule if {
	only("analytics.spark-scheduled", emr, fixtures.drop(good, schedule))
}

test_emr_schedule_disabled if {
	only("analytics.spark-scheduled", emr, fixtures.swap(good, fixtures.set(schedule, "/spec/forProvider/state", "DISABLED")))
}

test_emr_schedule_targets_another_machine if {
	s := fixtures.set(schedule, "/spec/forProvider/target/arn", "arn:aws:states:us-east-1:123456789012:stateMachine:other")
	only("analytics.spark-scheduled", emr, fixtures.swap(good, s))
}

test_emr_machine_runs_no_job if {
	m := fixtures.set(machine, "/spec/forProvider/definition", json.marshal({"States": {"Wait": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:emrserverless:listApplications"}}}))
	only("analytics.spark-scheduled", emr, fixtures.swap(good, m))
}

test_emr_machine_runs_another_application if {
	only("analytics.spark-scheduled", fixtures.set(emr, "/spec/forProvider/name", "other-spark"), good)
}

test_emr_machine_by_external_name if {
	m := fixtures.set(fixtures.set(machine, "/metadata/name", "batch"), "/metadata/annotations", {"crossplane.io/external-name": "prod-analytics-batch"})
	quiet(emr, fixtures.swap(fixtures.drop(good, machine), m))
}

# analytics.dataset-source-role

test_data_set_source_missing if {
	only("analytics.dataset-source-role", data_set, fixtures.drop(good, data_source))
}

test_data_set_source_without_role if {
	d := fixtures.without(data_source, "/spec/parameters/athenaParameters/roleARN")
	only("analytics.dataset-source-role", data_set, fixtures.swap(good, d))
}

test_data_set_source_role_not_in_set if {
	only("analytics.dataset-source-role", data_set, fixtures.drop(good, quicksight_role))
}

test_data_set_custom_sql_source_missing if {
	d := fixtures.set(data_set, "/spec/physicalTableMap/summary", {"customSQL": {"dataSourceARN": "arn:aws:quicksight:us-east-1:123456789012:datasource/gone"}})
	only("analytics.dataset-source-role", d, good)
}

# analytics.bucket-tls

test_bucket_without_policy if {
	only("analytics.bucket-tls", bucket, fixtures.drop(good, bucket_policy))
}

test_bucket_policy_of_another_bucket if {
	p := fixtures.set(bucket_policy, "/spec/forProvider/bucketRef/name", "other")
	only("analytics.bucket-tls", bucket, fixtures.swap(good, p))
}

test_bucket_policy_allows_plain_http if {
	p := fixtures.set(bucket_policy, "/spec/forProvider/policy", policy([object.union(deny_plain_http, {"Effect": "Allow"})]))
	only("analytics.bucket-tls", bucket, fixtures.swap(good, p))
}

test_bucket_policy_denies_tls_instead if {
	p := fixtures.set(bucket_policy, "/spec/forProvider/policy", policy([object.union(deny_plain_http, {"Condition": {"Bool": {"aws:SecureTransport": "true"}}})]))
	only("analytics.bucket-tls", bucket, fixtures.swap(good, p))
}

test_bucket_policy_spares_the_objects if {
	p := fixtures.set(bucket_policy, "/spec/forProvider/policy", policy([object.union(deny_plain_http, {"Resource": "arn:aws:s3:::shop-prod-analytics"})]))
	only("analytics.bucket-tls", bucket, fixtures.swap(good, p))
}

test_bucket_policy_denies_one_action_only if {
	p := fixtures.set(bucket_policy, "/spec/forProvider/policy", policy([object.union(deny_plain_http, {"Action": "s3:GetObject"})]))
	only("analytics.bucket-tls", bucket, fixtures.swap(good, p))
}

test_bucket_policy_for_some_principals_only if {
	p := fixtures.set(bucket_policy, "/spec/forProvider/policy", policy([object.union(deny_plain_http, {"Principal": {"AWS": "arn:aws:iam::123456789012:root"}})]))
	only("analytics.bucket-tls", bucket, fixtures.swap(good, p))
}

test_bucket_policy_by_bucket_name_and_boolean if {
	st := object.union(deny_plain_http, {"Principal": {"AWS": "*"}, "Action": ["*"], "Resource": "arn:aws:s3:::shop-prod-analytics*", "Condition": {"Bool": {"aws:SecureTransport": false}}})
	p := mr("s3.aws.upbound.io/v1beta1", "BucketPolicy", "by-name", {"bucket": "shop-prod-analytics", "policy": policy([st])})
	quiet(bucket, fixtures.swap(fixtures.drop(good, bucket_policy), p))
}

# analytics.redshift-s3-path

test_redshift_without_s3_endpoint if {
	only("analytics.redshift-s3-path", redshift, fixtures.drop(good, endpoint_route_table))
}

test_redshift_with_glue_endpoint_only if {
	e := fixtures.set(endpoint, "/spec/forProvider", {"serviceName": "com.amazonaws.us-east-1.glue", "vpcEndpointType": "Interface"})
	only("analytics.redshift-s3-path", redshift, fixtures.swap(good, e))
}

test_redshift_subnet_on_another_route_table if {
	a := fixtures.set(associations[1], "/spec/forProvider/routeTableIdRef/name", "public")
	only("analytics.redshift-s3-path", redshift, fixtures.swap(good, a))
}

test_redshift_through_nat if {
	nat_ref := mr("ec2.aws.upbound.io/v1beta2", "Route", "default-a", {"routeTableIdRef": {"name": "prod-analytics-private"}, "destinationCidrBlock": "0.0.0.0/0", "natGatewayIdRef": {"name": "nat-a"}})
	quiet(redshift, array.concat(fixtures.drop(good, endpoint_route_table), [nat_ref]))
	nat_id := mr("ec2.aws.upbound.io/v1beta2", "Route", "default-a", {"routeTableIdRef": {"name": "prod-analytics-private"}, "destinationCidrBlock": "0.0.0.0/0", "natGatewayId": "nat-0123"})
	quiet(redshift, array.concat(fixtures.drop(good, endpoint_route_table), [nat_id]))
}

test_redshift_peering_route_is_no_s3_path if {
	peer := mr("ec2.aws.upbound.io/v1beta2", "Route", "to-platform", {"routeTableIdRef": {"name": "prod-analytics-private"}, "destinationCidrBlock": "10.10.0.0/16", "vpcPeeringConnectionIdRef": {"name": "peering"}})
	only("analytics.redshift-s3-path", redshift, array.concat(fixtures.drop(good, endpoint_route_table), [peer]))
}

test_redshift_without_enhanced_routing_needs_no_path if {
	r := fixtures.set(redshift, "/spec/forProvider/enhancedVpcRouting", false)
	quiet(r, fixtures.drop(good, endpoint_route_table))
}

test_redshift_subnet_group_by_reference if {
	r := fixtures.set(fixtures.without(redshift, "/spec/forProvider/clusterSubnetGroupName"), "/spec/forProvider/clusterSubnetGroupNameRef", {"name": "prod-analytics-warehouse"})
	only("analytics.redshift-s3-path", r, fixtures.drop(good, endpoint_route_table))
}

# analytics.shipper-overwrites

test_shipper_adds_the_kind_the_script_reads if {
	s := with_filters(["[FILTER]", "    Name modify", "    Match events", "    Add kind event"])
	only("analytics.shipper-overwrites", s, fixtures.swap(good, s))
}

test_shipper_copies_the_service_the_script_reads if {
	s := with_filters(["[FILTER]", "    Name  MODIFY", "    Match kube.*", "    Set kind log", "    Copy k8s_container_name service"])
	only("analytics.shipper-overwrites", s, fixtures.swap(good, s))
}

test_shipper_renames_onto_the_level_the_script_reads if {
	s := with_filters(["[FILTER]", "    Name modify", "    Match events", "    Rename type level"])
	only("analytics.shipper-overwrites", s, fixtures.swap(good, s))
}

test_shipper_adds_a_key_the_script_does_not_read if {
	s := with_filters(["[FILTER]", "    Name modify", "    Match events", "    Add cluster shop", "    Hard_rename type level"])
	quiet(s, fixtures.swap(good, s))
}

test_shipper_add_outside_a_modify_filter if {
	s := with_filters(["[FILTER]", "    Name record_modifier", "    Match events", "    Add kind event"])
	quiet(s, fixtures.swap(good, s))
}

test_shipper_of_no_pipeline_is_not_read if {
	s := fixtures.set(with_filters(["[FILTER]", "    Name modify", "    Match events", "    Add kind Event"]), "/spec/source/helm/valuesObject/cloudWatchLogs/logGroupName", "/other")
	quiet(s, fixtures.swap(good, s))
}

test_script_no_job_runs_is_not_read if {
	m := fixtures.set(machine, "/spec/forProvider/definition", json.marshal({"States": {
		"Upload": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "Arguments": {"Bucket": "shop-prod-analytics", "Key": "jobs/old.py", "Body": script}},
		"Run": {"Type": "Task", "Resource": "arn:aws:states:::emr-serverless:startJobRun.sync", "Arguments": {"JobDriver": {"SparkSubmit": {"EntryPoint": "s3://shop-prod-analytics/jobs/log_summary.py"}}}},
	}}))
	s := with_filters(["[FILTER]", "    Name modify", "    Match events", "    Add kind Event"])
	quiet(s, fixtures.swap(fixtures.swap(good, m), s))
}

# analytics.shipper-values

test_shipper_sets_a_kind_the_script_drops if {
	s := with_filters(["[FILTER]", "    Name modify", "    Match events", "    Set kind Event"])
	only("analytics.shipper-values", s, fixtures.swap(good, s))
}

test_shipper_sets_a_value_of_several_words if {
	s := with_filters(["[FILTER]", "    Name modify", "    Match events", "    Set kind kubernetes event", "    Set service kubernetes events"])
	only("analytics.shipper-values", s, fixtures.swap(good, s))
}

# Every rule is documented (SARIF rule descriptions, the README's list).
test_analytics_documents_its_rules if {
	count(analytics.docs) == 8
	every id, text in analytics.docs {
		startswith(id, "analytics.")
		text != ""
	}
}

# analytics.service-role

test_service_role_missing_or_absent if {
	only("analytics.service-role", filter, fixtures.drop(good, logs_role))
	no_role := json.remove(filter, ["spec/forProvider/roleArnRef"])
	only("analytics.service-role", no_role, fixtures.swap(good, no_role))
	by_arn := json.patch(no_role, [{"op": "add", "path": "/spec/forProvider/roleArn", "value": "arn:aws:iam::123456789012:role/logs-to-firehose"}])
	quiet(by_arn, fixtures.swap(good, by_arn))
	only("analytics.service-role", by_arn, fixtures.drop(fixtures.swap(good, by_arn), logs_role))

	# a literal bucket ARN, a stream to another destination kind
	literal := json.patch(stream, [
		{"op": "remove", "path": "/spec/forProvider/extendedS3Configuration/bucketArnRef"},
		{"op": "add", "path": "/spec/forProvider/extendedS3Configuration/bucketArn", "value": "arn:aws:s3:::shop-prod-analytics"},
	])
	quiet(literal, fixtures.swap(good, literal))
	kinesis := fixtures.set(filter, "/spec/forProvider/destinationArn", "arn:aws:lambda:us-east-1:123456789012:function:f")
	quiet(json.remove(kinesis, ["spec/forProvider/roleArnRef"]), good)
}

test_service_role_trusts_the_service if {
	firehose_trust := fixtures.set(logs_role, "/spec/forProvider/assumeRolePolicy", service_trust("firehose.amazonaws.com"))
	only("analytics.service-role", filter, fixtures.swap(good, firehose_trust))
	regional := fixtures.set(logs_role, "/spec/forProvider/assumeRolePolicy", service_trust("logs.us-east-1.amazonaws.com"))
	quiet(filter, fixtures.swap(good, regional))
	web := fixtures.set(logs_role, "/spec/forProvider/assumeRolePolicy", policy([{"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "sts:AssumeRoleWithWebIdentity"}]))
	only("analytics.service-role", filter, fixtures.swap(good, web))
}

test_service_role_allows_the_calls if {
	put_only := fixtures.set(logs_role, "/spec/forProvider/inlinePolicy/0/policy", policy([{"Effect": "Allow", "Action": "firehose:PutRecord", "Resource": "*"}]))
	[msg] := [f.msg | some f in analytics.deny with input as filter with data.check as env(fixtures.swap(good, put_only))]
	msg == "SubscriptionFilter shop-logs-to-firehose acts as role logs-to-firehose, which may not firehose:PutRecordBatch on arn:aws:firehose:us-east-1:123456789012:deliverystream/shop-logs: the service's calls are refused and nothing moves"

	# the stream's role writing only its data prefix, not its error prefix
	no_errors := fixtures.set(firehose_role, "/spec/forProvider/inlinePolicy/0/policy", policy([
		{"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": "arn:aws:s3:::shop-prod-analytics"},
		{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::shop-prod-analytics/logs/*"},
	]))
	only("analytics.service-role", stream, fixtures.swap(good, no_errors))

	# a prefix without expressions is fixed as a whole; none means the bucket's root
	fixed := fixtures.set(stream, "/spec/forProvider/extendedS3Configuration/prefix", "logs/")
	quiet(fixed, fixtures.swap(good, fixed))
	root := json.remove(stream, ["spec/forProvider/extendedS3Configuration/prefix"])
	only("analytics.service-role", root, fixtures.swap(good, root))

	# a managed policy attached: not judged
	managed := mr("iam.aws.upbound.io/v1beta1", "RolePolicyAttachment", "managed", {"role": "logs-to-firehose", "policyArn": "arn:aws:iam::aws:policy/AmazonKinesisFirehoseFullAccess"})
	quiet(filter, array.concat(fixtures.swap(good, put_only), [managed]))
}
