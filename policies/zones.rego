# Availability zones: losing one zone must not take a service down.
package zones

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"zones.spread": "Multi-replica workloads carry a topologySpreadConstraint on topology.kubernetes.io/zone with maxSkew 1.",
	"zones.spread-hard": "Where the env asks for more than one zone, no zone topologySpreadConstraint of a multi-replica workload is soft (whenUnsatisfiable ScheduleAnyway).",
	"zones.pdb-missing": "Every multi-replica workload's pods are selected by a PodDisruptionBudget in its namespace.",
	"zones.pdb-blocks-drain": "No PodDisruptionBudget blocks every drain (maxUnavailable 0, minAvailable 100% or >= the workload's replicas).",
	"zones.portworx-repl": "Portworx StorageClasses keep at least the env's volume replicas (repl; prod 3).",
	"zones.portworx-placement": "Portworx StorageClasses name a placement_strategy: a VolumePlacementStrategy in the set with a replicaAntiAffinity on topology.kubernetes.io/zone.",
	"zones.nodegroup-azs": "The EKS NodeGroups of a cluster reach at least the env's number of availability zones through their Subnets.",
	"zones.lb-cross-zone": "Load balancers balance across zones: ALB Ingress target-group-attributes, NLB aws-load-balancer-attributes, or the classic ELB annotation.",
	"zones.spread-taints": "Every topologySpreadConstraint sets nodeTaintsPolicy: Honor: with the default Ignore, a lost or cordoned zone's tainted nodes still count as a domain with zero pods and DoNotSchedule keeps replacements Pending.",
	"zones.pdb-unhealthy-eviction": "Every PodDisruptionBudget sets unhealthyPodEvictionPolicy: AlwaysAllow: with the default IfHealthyBudget, a crash-looping pod counts against the budget and blocks the drain of its node.",
	"zones.rebalance": "A workload an HPA scales and a DoNotSchedule constraint spreads over zones has the zone spread restored after scale-downs: an Application of the set installs the descheduler chart with a profile whose balance plugins enable RemovePodsViolatingTopologySpreadConstraint for DoNotSchedule constraints (the ReplicaSet controller scales down by node and age, not zone).",
	"zones.pdb-zone-drain": "A PodDisruptionBudget lets one zone's share of its workload's pods go at once (ceil(replicas / zones) at the replica floor, zones from the node groups' subnets, else the env minimum), so a whole zone can drain.",
}

# zones.pdb-unhealthy-eviction: with the default IfHealthyBudget, pods that
# are Running but not Ready may be evicted only while the budget is met, so a
# crash-looping pod keeps a drain waiting on a pod that will never be Ready
# (kubernetes.io "Unhealthy Pod Eviction Policy").
deny contains lib.finding("zones.pdb-unhealthy-eviction", msg, ["spec", "unhealthyPodEvictionPolicy"]) if {
	input.kind == "PodDisruptionBudget"
	policy := object.get(input, ["spec", "unhealthyPodEvictionPolicy"], "IfHealthyBudget")
	policy != "AlwaysAllow"
	msg := sprintf("PodDisruptionBudget %s has unhealthyPodEvictionPolicy %s: a crash-looping pod it selects blocks every drain of its node; set AlwaysAllow", [input.metadata.name, policy])
}

# zones.spread-taints: a spread constraint that counts tainted nodes (the
# default nodeTaintsPolicy Ignore): when a zone is lost its NotReady nodes
# still form a domain with zero pods, so maxSkew forbids placing replacements
# in the zones that are left (kubernetes#106127).
deny contains lib.finding("zones.spread-taints", msg, path) if {
	input.kind in {"DaemonSet", "Deployment", "Job", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	input.kind in lib.workload_kinds
	some i, c in object.get(lib.pod_spec(input), ["topologySpreadConstraints"], [])
	object.get(c, ["nodeTaintsPolicy"], "Ignore") != "Honor"
	path := array.concat(lib.pod_spec_path(input), ["topologySpreadConstraints", i, "nodeTaintsPolicy"])
	msg := sprintf("%s %s spreads on %s with nodeTaintsPolicy %s: a lost zone's tainted nodes still count as a domain, and replacement pods stay Pending; set Honor", [input.kind, input.metadata.name, c.topologyKey, object.get(c, ["nodeTaintsPolicy"], "Ignore")])
}

# zones.rebalance: the scheduler spreads pods when it places them; nothing
# keeps the spread when an HPA scales down: the ReplicaSet controller deletes
# by readiness, node co-location and age (kubernetes
# pkg/controller/replicaset getPodsToDelete), so one zone may keep most of
# the pods (the twin's TestAutoscaling measured 1/3/2 after 18 -> 6), and
# losing it takes more than a zone's share. Kubernetes' documented remedy is
# the descheduler's RemovePodsViolatingTopologySpreadConstraint.
deny contains lib.finding("zones.rebalance", msg, ["spec", "scaleTargetRef"]) if {
	input.kind == "HorizontalPodAutoscaler"
	lib.has_inventory
	ref := input.spec.scaleTargetRef
	target := {"kind": ref.kind, "apiVersion": object.get(ref, ["apiVersion"], "v1")}
	some obj in object.get(lib.index, [lib.key(target), lib.namespace(input), ref.name], [])
	some c in object.get(lib.pod_spec(obj), ["topologySpreadConstraints"], [])
	c.topologyKey == zone_key
	object.get(c, ["whenUnsatisfiable"], "DoNotSchedule") == "DoNotSchedule"
	not idx.rebalanced
	msg := sprintf("HorizontalPodAutoscaler %s scales %s %s, whose pods spread over zones (DoNotSchedule), but no Application installs the descheduler with RemovePodsViolatingTopologySpreadConstraint: after a scale-down one zone may hold most of its pods; add the descheduler chart (schema/cluster_addons.cue)", [input.metadata.name, ref.kind, ref.name])
}

# rebalanced: some Application installs the descheduler chart with a
# profile balancing DoNotSchedule topology spread constraints. Once per env
# (env_index): per HPA it read every Application of the set.
default rebalanced := false

rebalanced if {
	some app in lib.objects("Application.argoproj.io", "argocd")
	app.spec.source.chart == "descheduler"
	some profile in app.spec.source.helm.valuesObject.deschedulerPolicy.profiles
	"RemovePodsViolatingTopologySpreadConstraint" in profile.plugins.balance.enabled
	balances_do_not_schedule(profile)
}

# The plugin's constraints default to DoNotSchedule (descheduler
# removepodsviolatingtopologyspreadconstraint/defaults.go).
balances_do_not_schedule(profile) if {
	not spread_args(profile).constraints
}

balances_do_not_schedule(profile) if {
	"DoNotSchedule" in spread_args(profile).constraints
}

spread_args(profile) := object.get(c, ["args"], {}) if {
	some c in object.get(profile, ["pluginConfig"], [])
	c.name == "RemovePodsViolatingTopologySpreadConstraint"
}

spread_args(profile) := {} if {
	not "RemovePodsViolatingTopologySpreadConstraint" in {c.name | some c in object.get(profile, ["pluginConfig"], [])}
}

# zones.pdb-zone-drain: a PDB that lets fewer pods go than one zone holds
# (ceil(replicas / zones) with the zone spread), so draining a zone's nodes
# waits on every replacement, pod by pod, or stops.
deny contains lib.finding("zones.pdb-zone-drain", msg, ["spec"]) if {
	input.kind == "PodDisruptionBudget"
	some obj in selected_workloads
	n := lib.replicas(obj)
	per_zone := ceil(n / idx.zone_count)
	allowed := disruptions(input.spec, n)
	allowed > 0 # none at all: zones.pdb-blocks-drain says so
	allowed < per_zone
	msg := sprintf("PodDisruptionBudget %s lets %d of %s %s's %d pods go, but one of %d zones holds %d: a zone cannot drain at once; set maxUnavailable %d", [input.metadata.name, allowed, obj.kind, obj.metadata.name, n, idx.zone_count, per_zone, per_zone])
}

# env_zone_count: the zones the env's node groups reach, else the minimum
# (in env_index: the same for every PodDisruptionBudget of the env).
env_zone_count := count(node_zones) if count(node_zones) > 0

env_zone_count := lib.thresholds.min_zones if count(node_zones) == 0

node_zones := {z |
	some ng in lib.objects("NodeGroup.eks.aws.upbound.io", "")
	some subnet in subnets_of(ng)
	z := subnet_zone(subnet)
}

# disruptions is how many of n pods the budget lets go (the disruption
# controller rounds percentages up, for both fields).
disruptions(spec, n) := spec.maxUnavailable if is_number(spec.maxUnavailable)

disruptions(spec, n) := ceil((percent(spec.maxUnavailable) * n) / 100) if is_string(spec.maxUnavailable)

disruptions(spec, n) := n - spec.minAvailable if is_number(spec.minAvailable)

disruptions(spec, n) := n - ceil((percent(spec.minAvailable) * n) / 100) if is_string(spec.minAvailable)

percent(v) := to_number(trim_suffix(v, "%"))

zone_key := "topology.kubernetes.io/zone"

portworx_provisioners := {"pxd.portworx.com", "kubernetes.io/portworx-volume"}

multi_replica(obj) if lib.max_replicas(obj) > 1

# zones.spread: a multi-replica workload's pods may all land in one zone.
deny contains lib.finding("zones.spread", msg, path) if {
	input.kind in {"Deployment", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	input.kind in lib.scalable_kinds
	multi_replica(input)
	spec := lib.pod_spec(input)
	not zone_spread(spec)
	path := array.concat(lib.pod_spec_path(input), ["topologySpreadConstraints"])
	msg := sprintf("%s %s runs %d replicas without a topologySpreadConstraint on %s with maxSkew 1", [input.kind, input.metadata.name, lib.max_replicas(input), zone_key])
}

zone_spread(spec) if {
	some c in spec.topologySpreadConstraints
	c.topologyKey == zone_key
	c.maxSkew == 1
}

# zones.spread-hard: a soft zone constraint (ScheduleAnyway) is only a
# scoring preference: when a zone is full or cordoned the scheduler places
# the pods anywhere, so every replica may land in one zone. The API default
# (unset) is DoNotSchedule.
deny contains lib.finding("zones.spread-hard", msg, path) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	input.kind in lib.scalable_kinds
	lib.thresholds.min_zones > 1
	multi_replica(input)
	some i, c in lib.pod_spec(input).topologySpreadConstraints
	c.topologyKey == zone_key
	c.whenUnsatisfiable == "ScheduleAnyway"
	path := array.concat(lib.pod_spec_path(input), ["topologySpreadConstraints", i, "whenUnsatisfiable"])
	msg := sprintf("%s %s spreads over %s with whenUnsatisfiable ScheduleAnyway: %s asks for %d zones, so the constraint must be DoNotSchedule", [input.kind, input.metadata.name, zone_key, lib.env, lib.thresholds.min_zones])
}

# zones.pdb-missing: nothing stops a node drain evicting every pod at once.
deny contains lib.finding("zones.pdb-missing", msg, ["metadata", "name"]) if {
	input.kind in {"Deployment", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	input.kind in lib.scalable_kinds
	multi_replica(input)
	labels := lib.pod_labels(input)
	not covered_by_pdb(input, labels)
	msg := sprintf("%s %s has %d replicas but no PodDisruptionBudget in namespace %q selects its pods", [input.kind, input.metadata.name, lib.max_replicas(input), lib.namespace(input)])
}

# The candidates are looked up by label: a PDB that selects the pods has
# each of its matchLabels among their labels ("" holds PDBs without any).
covered_by_pdb(obj, labels) if {
	some pair in array.concat([""], [concat("=", [k, v]) | some k, v in labels])
	some pdb in object.get(idx.pdbs, [lib.namespace(obj), pair], [])
	lib.selects(pdb.spec.selector, labels)
}

# env_index: lookup tables derived once per env by the engine
# (data.check.env_index); computed inline without it.
env_index := {"pdbs": pdbs_by_label, "rebalanced": rebalanced, "zone_count": env_zone_count}

idx := data.check.env_index.zones if data.check.env_index.zones

else := env_index

pdbs_by_label[ns][pair] contains pdb if {
	some ns, by_name in lib.index["PodDisruptionBudget.policy"]
	some same_name in by_name
	some pdb in same_name
	some pair in selector_pairs(object.get(pdb, ["spec", "selector", "matchLabels"], {}))
}

selector_pairs(match_labels) := {""} if count(match_labels) == 0

selector_pairs(match_labels) := {concat("=", [k, v]) | some k, v in match_labels} if count(match_labels) > 0

# zones.pdb-blocks-drain: a PDB that allows no eviction blocks every node
# drain (and so every node group upgrade).
deny contains lib.finding("zones.pdb-blocks-drain", msg, ["spec", "maxUnavailable"]) if {
	input.kind == "PodDisruptionBudget"
	zero(input.spec.maxUnavailable)
	msg := sprintf("PodDisruptionBudget %s has maxUnavailable %v: no pod can ever be evicted, so node drains hang", [input.metadata.name, input.spec.maxUnavailable])
}

deny contains lib.finding("zones.pdb-blocks-drain", msg, ["spec", "minAvailable"]) if {
	input.kind == "PodDisruptionBudget"
	input.spec.minAvailable == "100%"
	msg := sprintf("PodDisruptionBudget %s has minAvailable 100%%: no pod can ever be evicted, so node drains hang", [input.metadata.name])
}

deny contains lib.finding("zones.pdb-blocks-drain", msg, ["spec", "minAvailable"]) if {
	input.kind == "PodDisruptionBudget"
	is_number(input.spec.minAvailable)
	some obj in selected_workloads
	input.spec.minAvailable >= lib.replicas(obj)
	msg := sprintf("PodDisruptionBudget %s has minAvailable %d but %s %s runs %d replica(s): no pod can ever be evicted, so node drains hang", [input.metadata.name, input.spec.minAvailable, obj.kind, obj.metadata.name, lib.replicas(obj)])
}

workload_key := {"Deployment": "Deployment.apps", "StatefulSet": "StatefulSet.apps", "Rollout": "Rollout.argoproj.io"}

# selected_workloads: the scalable workloads of the PDB's namespace whose pods
# its selector selects (looked up by label, lib.selected_pod_owners).
selected_workloads contains obj if {
	some obj in lib.selected_pod_owners(input.spec.selector, lib.namespace(input))
	some w in lib.scalable_kinds
	lib.key(obj) == workload_key[w]
}

zero(v) if v == 0

zero(v) if v == "0%"

# zones.portworx-repl: a Portworx StorageClass keeps fewer volume replicas
# than the env requires (prod: 3, one per zone).
deny contains lib.finding("zones.portworx-repl", msg, ["parameters", "repl"]) if {
	input.kind == "StorageClass"
	input.provisioner in portworx_provisioners
	repl := to_number(object.get(input, ["parameters", "repl"], "1"))
	repl < lib.thresholds.min_portworx_repl
	msg := concat("", [sprintf("Portworx StorageClass %s has repl %v; %s needs at least %d", [input.metadata.name, repl, lib.env, lib.thresholds.min_portworx_repl]), lib.threshold_note("min_portworx_repl")])
}

# zones.portworx-placement: a Portworx StorageClass without a placement
# strategy may put every replica of a volume in one zone.
deny contains lib.finding("zones.portworx-placement", msg, ["parameters"]) if {
	input.kind == "StorageClass"
	input.provisioner in portworx_provisioners
	not input.parameters.placement_strategy
	msg := sprintf("Portworx StorageClass %s has no placement_strategy: volume replicas may share a zone", [input.metadata.name])
}

deny contains lib.finding("zones.portworx-placement", msg, ["parameters", "placement_strategy"]) if {
	lib.has_inventory
	input.kind == "StorageClass"
	input.provisioner in portworx_provisioners
	name := input.parameters.placement_strategy
	not zone_placement(name)
	msg := sprintf("Portworx StorageClass %s names placement_strategy %q, but no VolumePlacementStrategy of that name with a replicaAntiAffinity on %s is in the set", [input.metadata.name, name, zone_key])
}

zone_placement(name) if {
	some vps in lib.index["VolumePlacementStrategy.portworx.io"][""][name]
	some rule in vps.spec.replicaAntiAffinity
	rule.topologyKey == zone_key
}

# zones.nodegroup-azs: the node groups of an EKS cluster reach fewer zones
# than the env requires, so pods spread over zones have nowhere to go.
# Node groups may be one per zone: the zones of all the cluster's node
# groups count together.
deny contains lib.finding("zones.nodegroup-azs", msg, ["spec", "forProvider"]) if {
	input.kind == "NodeGroup" # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	is_nodegroup(input)
	zones := cluster_zones(cluster_of(input))
	count(zones) < lib.thresholds.min_zones
	msg := concat("", [sprintf("the node groups of EKS cluster %q reach %d availability zone(s) %v through their subnets; %s needs at least %d", [cluster_of(input), count(zones), sort(zones), lib.env, lib.thresholds.min_zones]), lib.threshold_note("min_zones")])
}

is_nodegroup(obj) if {
	obj.kind == "NodeGroup"
	startswith(obj.apiVersion, "eks.aws.upbound.io/")
}

cluster_of(ng) := ng.spec.forProvider.clusterName

cluster_of(ng) := ng.spec.forProvider.clusterNameRef.name if not ng.spec.forProvider.clusterName

cluster_zones(cluster) := {zone |
	some ng in lib.objects("NodeGroup.eks.aws.upbound.io", "")
	cluster_of(ng) == cluster
	some subnet in subnets_of(ng)
	zone := subnet_zone(subnet)
}

subnets := lib.objects("Subnet.ec2.aws.upbound.io", "")

# Subnets by the id they are known under once created (status) or when
# imported (external-name): built once per evaluation, looked up per id.
subnets_by_id[id] contains s if {
	some s in subnets
	some id in [
		object.get(s, ["status", "atProvider", "id"], ""),
		object.get(s, ["metadata", "annotations", "crossplane.io/external-name"], ""),
	]
	id != ""
}

subnets_of(ng) := ({s |
	some ref in ng.spec.forProvider.subnetIdRefs
	some s in lib.index["Subnet.ec2.aws.upbound.io"][""][ref.name]
} | {s |
	some id in ng.spec.forProvider.subnetIds
	some s in subnets_by_id[id]
}) | {s |
	sel := ng.spec.forProvider.subnetIdSelector
	some s in subnets
	lib.selects(sel, object.get(s, ["metadata", "labels"], {}))
}

subnet_zone(s) := s.spec.forProvider.availabilityZone

subnet_zone(s) := s.spec.forProvider.availabilityZoneId if not s.spec.forProvider.availabilityZone

# zones.lb-cross-zone: a load balancer that only sends traffic to targets in
# its own zone overloads the surviving zones' nodes unevenly when one fails.
cross_zone_attr := "load_balancing.cross_zone.enabled=true"

deny contains lib.finding("zones.lb-cross-zone", msg, ["metadata", "annotations"]) if {
	input.kind == "Ingress"
	is_alb(input)
	not attribute(input, "alb.ingress.kubernetes.io/target-group-attributes", cross_zone_attr)
	msg := sprintf("ALB Ingress %s lacks %s in alb.ingress.kubernetes.io/target-group-attributes", [input.metadata.name, cross_zone_attr])
}

deny contains lib.finding("zones.lb-cross-zone", msg, ["metadata", "annotations"]) if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	is_nlb(input)
	not attribute(input, "service.beta.kubernetes.io/aws-load-balancer-attributes", cross_zone_attr)
	msg := sprintf("NLB Service %s lacks %s in service.beta.kubernetes.io/aws-load-balancer-attributes", [input.metadata.name, cross_zone_attr])
}

deny contains lib.finding("zones.lb-cross-zone", msg, ["metadata", "annotations"]) if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	not is_nlb(input)
	object.get(input, ["metadata", "annotations", "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled"], "false") != "true"
	msg := sprintf("Classic ELB Service %s lacks service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled: \"true\"", [input.metadata.name])
}

is_alb(obj) if obj.spec.ingressClassName == "alb"

is_alb(obj) if obj.metadata.annotations["kubernetes.io/ingress.class"] == "alb"

is_nlb(obj) if obj.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-type"] in {"nlb", "external", "nlb-ip"}

is_nlb(obj) if obj.spec.loadBalancerClass == "service.k8s.aws/nlb"

# attribute reports whether a comma-separated key=value annotation holds kv.
attribute(obj, annotation, kv) if {
	some item in split(obj.metadata.annotations[annotation], ",")
	replace(trim_space(item), " ", "") == kv
}
