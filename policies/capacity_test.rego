package capacity_test

import data.capacity
import data.fixtures

prod_with(obj) := fixtures.check("prod", fixtures.swap(fixtures.good, obj))

zone_loss(ng, chk) := [f.msg | some f in capacity.deny with input as ng with data.check as chk; f.rule == "capacity.zone-loss"]

# The fixture env: three m6i.xlarge node groups, one per zone, max 3 each
# (9 x 3.92 CPU); the blue-green Rollout requests 0.5 CPU and 1 GiB per pod
# at an HPA max of 9, twice during a release: 18 pods, 9 CPU.
test_allocatable_from_the_eks_formula if {
	capacity.allocatable("m6i.xlarge") == {"cpu": 3920, "memory": ((16384 - 638) - 355) * 1048576}
	capacity.allocatable("r6i.2xlarge").cpu == 7910
	capacity.allocatable("m6i.4xlarge").cpu == 16000 - 110
	capacity.allocatable("m6i.large").cpu == 1930
}

test_zone_loss_passes_with_room if {
	every ng in fixtures.nodegroups {
		count(fixtures.denied(ng, fixtures.prod)) == 0
	}
}

test_zone_loss_denies_when_hpa_max_outgrows_two_zones if {
	# 40 x 2 pods x 0.5 CPU = 40 CPU; 6 nodes keep 23.52 CPU once a zone is lost.
	chk := prod_with(fixtures.set(fixtures.hpa, "/spec/maxReplicas", 40))
	fixtures.only("capacity.zone-loss", fixtures.nodegroups[0], chk)
	[msg] := zone_loss(fixtures.nodegroups[0], chk)
	msg == `after losing us-east-1a, its largest zone, node groups ["ng-a", "ng-b", "ng-c"] keep 23.52 CPU of allocatable cpu for 40 CPU requested at HPA maximum (blue-green Rollouts twice): 16.48 CPU missing; largest requests: Rollout shop/web 80 x 0.5 CPU`

	# Reported once, on the pool's first node group.
	count(zone_loss(fixtures.nodegroups[1], chk)) == 0
}

test_zone_loss_canary_counts_once if {
	canary := fixtures.set(fixtures.rollout, "/spec/strategy", {"canary": {"steps": [{"setWeight": 20}]}})
	objs := fixtures.swap(fixtures.swap(fixtures.good, canary), fixtures.set(fixtures.hpa, "/spec/maxReplicas", 40))
	count(zone_loss(fixtures.nodegroups[0], fixtures.check("prod", objs))) == 0
}

test_zone_loss_memory if {
	big := fixtures.set(fixtures.rollout, "/spec/template/spec/containers/0/resources/requests/memory", "8Gi")
	[msg] := zone_loss(fixtures.nodegroups[0], prod_with(big))
	contains(msg, "of allocatable memory for 144 GiB")
}

test_zone_loss_pool_in_one_zone if {
	# Pods confined by nodeSelector to the one group in us-east-1a lose all of it.
	ng := fixtures.set(fixtures.nodegroups[0], "/spec/forProvider/labels", {"pool": "a"})
	r := fixtures.set(fixtures.rollout, "/spec/template/spec/nodeSelector", {"pool": "a"})
	objs := fixtures.swap(fixtures.swap(fixtures.good, ng), r)
	msgs := zone_loss(ng, fixtures.check("prod", objs))
	count(msgs) == 2 # CPU and memory
	some msg in msgs
	startswith(msg, `after losing us-east-1a, its largest zone, node groups ["ng-a"] keep 0 CPU of allocatable cpu for 9 CPU`)
}

test_taints_and_tolerations if {
	g := {"labels": {"role": "db"}, "taints": [{"key": "dedicated", "value": "db", "effect": "NO_SCHEDULE"}, {"key": "soft", "effect": "PREFER_NO_SCHEDULE"}]}
	not capacity.fits({}, g)
	capacity.fits({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]}, g)
	capacity.fits({"tolerations": [{"key": "dedicated", "operator": "Exists"}]}, g)
	capacity.fits({"tolerations": [{"operator": "Exists"}]}, g)
	not capacity.fits({"tolerations": [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]}, g)
	not capacity.fits({"tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}]}, g)
	not capacity.fits({"nodeSelector": {"role": "web"}, "tolerations": [{"operator": "Exists"}]}, g)
}

test_pod_request_counts_init_containers if {
	spec := {
		"initContainers": [{"name": "migrate", "resources": {"requests": {"cpu": "2", "memory": "512Mi"}}}],
		"containers": [{"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}}}, {"name": "b"}],
	}
	capacity.pod_request(spec, "cpu") == 2000
	capacity.pod_request(spec, "memory") == 1073741824
	capacity.pod_request({"containers": [{"name": "n", "resources": {"requests": {"cpu": 1}}}]}, "cpu") == 1000
}

test_instance_type_not_in_table if {
	ng := fixtures.set(fixtures.nodegroups[0], "/spec/forProvider/instanceTypes", ["m6i.xlarge", "x9.huge"])
	fixtures.only("capacity.instance-type", ng, prod_with(ng))
}

test_unresolved_zones_count_as_one if {
	ng := fixtures.nodegroup("lost", {"clusterName": "other", "subnetIds": ["subnet-unknown"]})
	capacity.group_zones(ng) == {"(unknown zone)"} with data.check as prod_with(ng)
}

# With the engine, the findings come from data.check.env_index (derived
# once per env), not from the demands worked out again per node group.
test_zone_loss_reads_the_engine_env_index if {
	chk := prod_with(fixtures.set(fixtures.hpa, "/spec/maxReplicas", 40))
	derived := object.union(chk, {"env_index": {"capacity": capacity.env_index}}) with data.check as chk
	zone_loss(fixtures.nodegroups[0], derived) == zone_loss(fixtures.nodegroups[0], chk)
	count(zone_loss(fixtures.nodegroups[0], derived)) == 1
	empty := object.union(chk, {"env_index": {"capacity": {"zone_loss": {}}}})
	count(zone_loss(fixtures.nodegroups[0], empty)) == 0
}

unschedulable(obj, chk) := [f.msg | some f in capacity.deny with input as obj with data.check as chk; f.rule == "capacity.unschedulable"]

test_unschedulable_when_no_group_admits_the_pods if {
	# the fixture's groups carry no labels or taints: every pod fits
	count(unschedulable(fixtures.rollout, fixtures.prod)) == 0

	# a selector no group's labels match
	away := fixtures.set(fixtures.rollout, "/spec/template/spec/nodeSelector", {"pool": "db"})
	[msg] := unschedulable(away, prod_with(away))
	startswith(msg, `Rollout shop/web fits no node group: nodeSelector {"pool": "db"} and tolerations [] admit none of ng-a (labels {}, taints []), `)
	fixtures.only("capacity.unschedulable", away, prod_with(away))

	# every group tainted, the pods tolerate nothing, then the taint
	taint := [{"key": "platform.shop/nodegroup", "value": "storage", "effect": "NO_SCHEDULE"}]
	tainted := [fixtures.set(ng, "/spec/forProvider/taint", taint) | some ng in fixtures.nodegroups]
	objs := array.concat([o | some o in fixtures.good; o.kind != "NodeGroup"], tainted)
	count(unschedulable(fixtures.rollout, fixtures.check("prod", objs))) == 1
	tolerant := fixtures.set(fixtures.rollout, "/spec/template/spec/tolerations", [{"key": "platform.shop/nodegroup", "operator": "Equal", "value": "storage", "effect": "NoSchedule"}])
	count(unschedulable(tolerant, fixtures.check("prod", fixtures.swap(objs, tolerant)))) == 0

	# one group admitting them is enough
	labelled := fixtures.set(fixtures.nodegroups[0], "/spec/forProvider/labels", {"pool": "db"})
	count(unschedulable(away, fixtures.check("prod", fixtures.swap(fixtures.swap(fixtures.good, labelled), away)))) == 0

	# an env without node groups is not judged
	bare := [o | some o in fixtures.good; o.kind != "NodeGroup"]
	count(unschedulable(away, fixtures.check("prod", fixtures.swap(bare, away)))) == 0
}
