# Capacity: each env still runs its workloads at their HPA maximum (a
# blue-green release running preview and active at once) after losing its
# largest availability zone (N+1 zones).
package capacity

import data.lib
import data.zones

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"capacity.zone-loss": "After losing its largest zone, the EKS node groups of an env keep enough allocatable CPU and memory for every workload's requests at its HPA maximum (blue-green Rollouts twice: preview and active) and the StatefulSets, for each set of node groups pods are confined to by nodeSelector and taints.",
	"capacity.unschedulable": "The pods of every Deployment, StatefulSet and Rollout fit some EKS node group of the env: its nodeSelector matches the group's labels and it tolerates the group's NoSchedule/NoExecute taints.",
	"capacity.instance-type": "Every instance type of an EKS node group is in the allocatable table of policies/capacity.rego.",
}

# instance_types: AWS sizes (EC2 instance type specifications: vCPUs,
# memory in MiB) and the pods per node the VPC CNI allows
# (amazon-vpc-cni-k8s misc/eni-max-pods.txt), from which allocatable follows.
instance_types := {
	"m6i.large": {"vcpu": 2, "memory_mib": 8192, "max_pods": 29},
	"m6i.xlarge": {"vcpu": 4, "memory_mib": 16384, "max_pods": 58},
	"m6i.2xlarge": {"vcpu": 8, "memory_mib": 32768, "max_pods": 58},
	"m6i.4xlarge": {"vcpu": 16, "memory_mib": 65536, "max_pods": 234},
	"m7i.large": {"vcpu": 2, "memory_mib": 8192, "max_pods": 29},
	"m7i.xlarge": {"vcpu": 4, "memory_mib": 16384, "max_pods": 58},
	"m7i.2xlarge": {"vcpu": 8, "memory_mib": 32768, "max_pods": 58},
	"c6i.large": {"vcpu": 2, "memory_mib": 4096, "max_pods": 29},
	"c6i.xlarge": {"vcpu": 4, "memory_mib": 8192, "max_pods": 58},
	"c6i.2xlarge": {"vcpu": 8, "memory_mib": 16384, "max_pods": 58},
	"r6i.large": {"vcpu": 2, "memory_mib": 16384, "max_pods": 29},
	"r6i.xlarge": {"vcpu": 4, "memory_mib": 32768, "max_pods": 58},
	"r6i.2xlarge": {"vcpu": 8, "memory_mib": 65536, "max_pods": 58},
	"r6i.4xlarge": {"vcpu": 16, "memory_mib": 131072, "max_pods": 234},
}

# allocatable is what the kubelet of an EKS AMI node offers pods
# (awslabs/amazon-eks-ami, nodeadm kubelet config): kube-reserved memory
# 11 MiB per pod + 255 MiB, the 100 MiB hard eviction threshold, and
# kube-reserved CPU of 6% of the first core, 1% of the second, 0.5% of the
# third and fourth, 0.25% of every further one. CPU in millicores, memory
# in bytes.
allocatable(t) := {
	"cpu": (1000 * s.vcpu) - cpu_reserved_millis(s.vcpu),
	"memory": ((s.memory_mib - (11 * s.max_pods)) - 355) * 1048576,
} if s := instance_types[t]

cpu_reserved_millis(cores) := ((60 + (10 * min([cores - 1, 1]))) + (5 * min([max([cores - 2, 0]), 2]))) + (2.5 * max([cores - 4, 0]))

nodegroups := [ng | some ng in lib.objects("NodeGroup.eks.aws.upbound.io", ""); zones.is_nodegroup(ng)]

# capacity.instance-type: a type the table lacks cannot be judged.
deny contains lib.finding("capacity.instance-type", msg, ["spec", "forProvider", "instanceTypes", i]) if {
	input.kind == "NodeGroup" # the kind first: OPA's rule index skips the rule for other kinds
	zones.is_nodegroup(input)
	some i, t in input.spec.forProvider.instanceTypes
	not instance_types[t]
	msg := sprintf("NodeGroup %s uses instance type %s, which the allocatable table of policies/capacity.rego lacks: add its vCPUs, memory and max pods", [input.metadata.name, t])
}

# groups describes each node group: its allocatable per node (the smallest
# of its instance types), its max size, zones, labels and taints.
groups[ng.metadata.name] := {
	"cpu": min([allocatable(t).cpu | some t in types]),
	"memory": min([allocatable(t).memory | some t in types]),
	"max": ng.spec.forProvider.scalingConfig.maxSize,
	"zones": group_zones(ng),
	"labels": object.get(ng, ["spec", "forProvider", "labels"], {}),
	"taints": object.get(ng, ["spec", "forProvider", "taint"], []),
} if {
	some ng in nodegroups
	types := [t | some t in ng.spec.forProvider.instanceTypes; instance_types[t]]
	count(types) > 0
}

group_zones(ng) := zs if {
	zs := {zones.subnet_zone(s) | some s in zones.subnets_of(ng)}
	count(zs) > 0
} else := {"(unknown zone)"}

# demands: every workload's pods at their most, each with its requests and
# the node groups its pods may run on.
demand_kinds := {"Deployment.apps", "StatefulSet.apps", "Rollout.argoproj.io"}

demands contains d if {
	some k in demand_kinds
	some by_name in lib.index[k]
	some same_name in by_name
	some w in same_name
	spec := lib.pod_spec(w)
	d := {
		"name": sprintf("%s %s/%s", [w.kind, lib.namespace(w), w.metadata.name]),
		"pods": lib.max_replicas(w) * release_factor(w),
		"cpu": pod_request(spec, "cpu"),
		"memory": pod_request(spec, "memory"),
		"eligible": {name | some name, g in groups; fits(spec, g)},
	}
}

# A blue-green release runs the preview ReplicaSet at full size beside the
# active one until promotion (Argo Rollouts: previewReplicaCount unset).
release_factor(w) := 2 if w.spec.strategy.blueGreen

default release_factor(_) := 1

# pod_request: the containers' requests, or the largest init container's
# when larger (init containers run one at a time, before the others).
pod_request(spec, r) := max([
	sum([quantity(c, r) | some c in object.get(spec, ["containers"], [])]),
	max(array.concat([0], [quantity(c, r) | some c in object.get(spec, ["initContainers"], [])])),
])

quantity(c, "cpu") := units.parse(sprintf("%v", [c.resources.requests.cpu])) * 1000

quantity(c, "memory") := units.parse_bytes(sprintf("%v", [c.resources.requests.memory]))

quantity(c, r) := 0 if not c.resources.requests[r]

# fits: the pod's nodeSelector matches the group's labels and the pod
# tolerates every NoSchedule/NoExecute taint of the group.
fits(spec, g) if {
	every k, v in object.get(spec, ["nodeSelector"], {}) {
		g.labels[k] == v
	}
	every t in g.taints {
		admits(spec, t)
	}
}

admits(_, t) if not blocking(t)

admits(spec, t) if tolerated(spec, t)

blocking(t) if t.effect in {"NO_SCHEDULE", "NO_EXECUTE"}

# Crossplane writes taint effects as the EKS API does (NO_SCHEDULE); pods
# tolerate them in Kubernetes form (NoSchedule).
effects := {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute"}

tolerated(spec, t) if {
	some tol in object.get(spec, ["tolerations"], [])
	object.get(tol, ["key"], t.key) == t.key
	object.get(tol, ["effect"], effects[t.effect]) == effects[t.effect]
	toleration_matches(tol, t)
}

toleration_matches(tol, _) if tol.operator == "Exists"

toleration_matches(tol, t) if {
	object.get(tol, ["operator"], "Equal") == "Equal"
	object.get(tol, ["value"], "") == object.get(t, ["value"], "")
}

# pools: the sets of node groups pods are confined to, and all of them: each
# must hold every pod confined within it (a necessary condition for the pods
# to fit at all, checked per resource).
pools := {d.eligible | some d in demands; count(d.eligible) > 0} | {{name | some name, _ in groups}}

# capacity.zone-loss, reported on the first node group (by name) of the
# pool that falls short.
deny contains lib.finding("capacity.zone-loss", msg, ["spec", "forProvider", "scalingConfig", "maxSize"]) if {
	input.kind == "NodeGroup" # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	zones.is_nodegroup(input)
	some msg in object.get(idx.zone_loss, [input.metadata.name], [])
}

# env_index: the findings depend on the env's workloads and node groups
# alone, so the engine derives them once per env (data.check.env_index), not
# once per node group; computed inline without it.
env_index := {"zone_loss": zone_loss, "node_shapes": node_shapes}

idx := data.check.env_index.capacity if data.check.env_index.capacity

else := env_index

# zone_loss[name] holds the messages of the pools whose first node group is
# name.
zone_loss[min(pool)] contains msg if {
	some pool in pools
	some r in ["cpu", "memory"]
	need := requested(pool, r)
	[zone, zone_share] := largest_zone(pool, r)
	left := total(pool, r) - zone_share
	need > left
	msg := sprintf("after losing %s, its largest zone, node groups %v keep %s of allocatable %s for %s requested at HPA maximum (blue-green Rollouts twice): %s missing; largest requests: %s", [
		zone, sort(pool), show(left, r), r, show(need, r), show(need - left, r),
		concat(", ", largest_requests(pool, r)),
	])
}

subset(a, b) if count(a - b) == 0

# requested: what the pods confined within pool request of r, at their most.
requested(pool, r) := sum([v |
	some d in confined(pool)
	v := d.pods * d[r]
])

confined(pool) := {d | some d in demands; count(d.eligible) > 0; subset(d.eligible, pool)}

total(pool, r) := sum([v | some name in pool; v := groups[name].max * groups[name][r]])

# lost(pool, z, r): a group's nodes spread evenly over its zones (the Auto
# Scaling group balances them), so at its max a zone holds at most
# ceil(max / zones) of them.
lost(pool, z, r) := sum([v |
	some name in pool
	g := groups[name]
	z in g.zones
	v := ceil(g.max / count(g.zones)) * g[r]
])

largest_zone(pool, r) := [z, l] if {
	losses := {z: lost(pool, z, r) | some name in pool; some z in groups[name].zones}
	l := max({v | some v in losses})
	z := min({z | some z, v in losses; v == l})
}

largest_requests(pool, r) := [sprintf("%s %d x %s", [d.name, d.pods, show(d[r], r)]) |
	some d in top3(pool, r)
]

top3(pool, r) := array.slice(sorted, 0, 3) if {
	ranked := [[v, d.name, d] | some d in confined(pool); d[r] > 0; v := 0 - (d.pods * d[r])]
	sorted := [x[2] | some x in sort(ranked)]
}

# show rounds to hundredths (sprintf's %f refuses integral numbers).
show(v, "cpu") := sprintf("%v CPU", [round(v / 10) / 100])

show(v, "memory") := sprintf("%v GiB", [round(v / 10737418.24) / 100])

# node_shapes are the labels and taints of every node group of the env,
# whatever its instance types.
node_shapes := [{"name": ng.metadata.name, "labels": object.get(ng, ["spec", "forProvider", "labels"], {}), "taints": object.get(ng, ["spec", "forProvider", "taint"], [])} |
	some ng in nodegroups
]

# capacity.unschedulable: no node group admits the pods (a selector no
# group's labels match, or a taint of every group the pods do not
# tolerate), so the scheduler leaves them Pending and the zone-loss sums,
# which count pods only where they fit, never see them.
deny contains lib.finding("capacity.unschedulable", msg, lib.pod_spec_path(input)) if {
	input.kind in {"Deployment", "StatefulSet", "Rollout"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	shapes := idx.node_shapes
	count(shapes) > 0
	spec := lib.pod_spec(input)
	not fits_some(spec, shapes)
	msg := sprintf("%s %s/%s fits no node group: nodeSelector %v and tolerations %v admit none of %s, so its pods stay Pending. Match a group's labels and tolerate its taints", [
		input.kind, lib.namespace(input), input.metadata.name,
		object.get(spec, ["nodeSelector"], {}), object.get(spec, ["tolerations"], []),
		concat(", ", [sprintf("%s (labels %v, taints %v)", [g.name, g.labels, g.taints]) | some g in shapes]),
	])
}

fits_some(spec, shapes) if {
	some g in shapes
	fits(spec, g)
}
