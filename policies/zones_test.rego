package zones_test

import data.fixtures
import data.zones

prod_with(obj) := fixtures.check("prod", fixtures.swap(fixtures.good, obj))

prod_without(obj) := fixtures.check("prod", fixtures.drop(fixtures.good, obj))

test_spread_denies_missing_constraint if {
	fixtures.only("zones.spread", fixtures.without(fixtures.statefulset, "/spec/template/spec/topologySpreadConstraints"), fixtures.prod)
}

test_spread_denies_skew_2 if {
	fixtures.only("zones.spread", fixtures.set(fixtures.rollout, "/spec/template/spec/topologySpreadConstraints/0/maxSkew", 2), fixtures.prod)
}

test_spread_denies_hostname_only if {
	fixtures.only("zones.spread", fixtures.set(fixtures.rollout, "/spec/template/spec/topologySpreadConstraints/0/topologyKey", "kubernetes.io/hostname"), fixtures.prod)
}

test_spread_passes_single_replica_in_lax_env if {
	# A one-replica workload has nothing to spread (dr thresholds set aside).
	d := fixtures.without(fixtures.set(fixtures.statefulset, "/spec/replicas", 1), "/spec/template/spec/topologySpreadConstraints")
	not "zones.spread" in fixtures.denied(d, fixtures.dr)
}

test_pdb_missing_denies if {
	fixtures.only("zones.pdb-missing", fixtures.rollout, prod_without(fixtures.pdb))
}

test_pdb_missing_passes_when_selected if {
	not "zones.pdb-missing" in fixtures.denied(fixtures.rollout, fixtures.prod)
}

test_pdb_blocks_drain_max_unavailable_zero if {
	fixtures.only("zones.pdb-blocks-drain", fixtures.set(fixtures.pdb, "/spec/maxUnavailable", 0), fixtures.prod)
	fixtures.only("zones.pdb-blocks-drain", fixtures.set(fixtures.pdb, "/spec/maxUnavailable", "0%"), fixtures.prod)
}

test_pdb_blocks_drain_min_available_all if {
	p := fixtures.without(fixtures.pdb, "/spec/maxUnavailable")
	fixtures.only("zones.pdb-blocks-drain", fixtures.set(p, "/spec/minAvailable", 3), prod_with(p))
	fixtures.only("zones.pdb-blocks-drain", fixtures.set(p, "/spec/minAvailable", "100%"), prod_with(p))
}

test_pdb_min_available_below_replicas_passes if {
	p := fixtures.set(fixtures.without(fixtures.pdb, "/spec/maxUnavailable"), "/spec/minAvailable", 2)
	count(fixtures.denied(p, prod_with(p))) == 0
}

test_portworx_repl_denies_in_prod if {
	fixtures.only("zones.portworx-repl", fixtures.set(fixtures.storage_class, "/parameters/repl", "2"), fixtures.prod)
}

test_portworx_repl_2_passes_in_dr if {
	count(fixtures.denied(fixtures.set(fixtures.storage_class, "/parameters/repl", "2"), fixtures.dr)) == 0
}

test_portworx_repl_defaults_to_one if {
	fixtures.only("zones.portworx-repl", fixtures.without(fixtures.storage_class, "/parameters/repl"), fixtures.dr)
}

test_portworx_placement_missing if {
	fixtures.only("zones.portworx-placement", fixtures.without(fixtures.storage_class, "/parameters/placement_strategy"), fixtures.prod)
}

test_portworx_placement_unknown_strategy if {
	fixtures.only("zones.portworx-placement", fixtures.set(fixtures.storage_class, "/parameters/placement_strategy", "nope"), fixtures.prod)
}

test_portworx_placement_without_zone_rule if {
	vps := fixtures.set(fixtures.placement, "/spec/replicaAntiAffinity/0/topologyKey", "kubernetes.io/hostname")
	fixtures.only("zones.portworx-placement", fixtures.storage_class, prod_with(vps))
}

test_non_portworx_storage_class_ignored if {
	sc := fixtures.set(fixtures.without(fixtures.storage_class, "/parameters/repl"), "/provisioner", "ebs.csi.aws.com")
	count(fixtures.denied(sc, fixtures.prod)) == 0
}

test_nodegroups_cover_three_zones if {
	every ng in fixtures.nodegroups {
		count(fixtures.denied(ng, fixtures.prod)) == 0
	}
}

test_nodegroups_two_zones_deny_in_prod_pass_in_dr if {
	objs := fixtures.drop(fixtures.good, fixtures.nodegroups[2])
	fixtures.only("zones.nodegroup-azs", fixtures.nodegroups[0], fixtures.check("prod", objs))
	count(fixtures.denied(fixtures.nodegroups[0], fixtures.check("dr", objs))) == 0
}

test_nodegroup_spanning_all_subnets_by_name if {
	ng := fixtures.nodegroup("all", {"clusterName": "other", "subnetIdRefs": [{"name": "nodes-a"}, {"name": "nodes-b"}, {"name": "nodes-c"}]})
	count(fixtures.denied(ng, prod_with(ng))) == 0
}

test_nodegroup_unresolved_subnets_deny if {
	ng := fixtures.nodegroup("lost", {"clusterName": "other", "subnetIds": ["subnet-unknown"]})
	fixtures.only("zones.nodegroup-azs", ng, prod_with(ng))
}

test_subnet_zone_id_counts if {
	s := fixtures.without(fixtures.set(fixtures.subnets[0], "/spec/forProvider/availabilityZoneId", "use1-az1"), "/spec/forProvider/availabilityZone")
	count(fixtures.denied(fixtures.nodegroups[0], prod_with(s))) == 0
}

test_alb_without_cross_zone if {
	i := fixtures.set(fixtures.ingress, "/metadata/annotations", {"alb.ingress.kubernetes.io/target-group-attributes": "deregistration_delay.timeout_seconds=30"})
	fixtures.only("zones.lb-cross-zone", i, fixtures.prod)
	legacy := fixtures.set(fixtures.without(i, "/spec/ingressClassName"), "/metadata/annotations/kubernetes.io~1ingress.class", "alb")
	fixtures.only("zones.lb-cross-zone", legacy, fixtures.prod)
}

test_non_alb_ingress_ignored if {
	i := fixtures.set(fixtures.set(fixtures.ingress, "/metadata/annotations", {}), "/spec/ingressClassName", "nginx")
	count(fixtures.denied(i, fixtures.prod)) == 0
}

test_nlb_without_cross_zone if {
	s := fixtures.without(fixtures.nlb, "/metadata/annotations/service.beta.kubernetes.io~1aws-load-balancer-attributes")
	fixtures.only("zones.lb-cross-zone", s, fixtures.prod)
	by_class := fixtures.set(fixtures.set(s, "/metadata/annotations", {}), "/spec/loadBalancerClass", "service.k8s.aws/nlb")
	fixtures.only("zones.lb-cross-zone", by_class, fixtures.prod)
}

test_classic_elb_cross_zone if {
	s := fixtures.set(fixtures.nlb, "/metadata/annotations", {})
	fixtures.only("zones.lb-cross-zone", s, fixtures.prod)
	ok := fixtures.set(s, "/metadata/annotations", {"service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true"})
	count(fixtures.denied(ok, fixtures.prod)) == 0
}

test_namespace_wide_pdb_covers if {
	blanket := fixtures.set(fixtures.pdb, "/spec/selector", {})
	count(fixtures.denied(fixtures.rollout, prod_with(blanket))) == 0
}

test_spread_ignoring_taints_denied if {
	# The default nodeTaintsPolicy is Ignore: unset and explicit both deny.
	fixtures.only("zones.spread-taints", fixtures.without(fixtures.rollout, "/spec/template/spec/topologySpreadConstraints/0/nodeTaintsPolicy"), fixtures.prod)
	fixtures.only("zones.spread-taints", fixtures.set(fixtures.rollout, "/spec/template/spec/topologySpreadConstraints/0/nodeTaintsPolicy", "Ignore"), fixtures.prod)
}

test_spread_honouring_taints_passes if {
	not "zones.spread-taints" in fixtures.denied(fixtures.rollout, fixtures.prod)
}

# storefront at its prod floor: six pods over three zones, two per zone.
six := fixtures.set(fixtures.rollout, "/spec/replicas", 6)

six_hpa := fixtures.set(fixtures.hpa, "/spec/minReplicas", 6)

test_pdb_zone_drain_denies_one_of_six if {
	chk := fixtures.check("prod", fixtures.swap(fixtures.swap(fixtures.good, six), six_hpa))
	fixtures.only("zones.pdb-zone-drain", fixtures.pdb, chk)
}

test_pdb_zone_drain_counts_every_form if {
	chk := fixtures.check("prod", fixtures.swap(fixtures.swap(fixtures.good, six), six_hpa))
	p := fixtures.without(fixtures.pdb, "/spec/maxUnavailable")
	count(fixtures.denied(fixtures.set(fixtures.pdb, "/spec/maxUnavailable", 2), chk)) == 0
	count(fixtures.denied(fixtures.set(fixtures.pdb, "/spec/maxUnavailable", "34%"), chk)) == 0
	fixtures.only("zones.pdb-zone-drain", fixtures.set(fixtures.pdb, "/spec/maxUnavailable", "10%"), chk)
	count(fixtures.denied(fixtures.set(p, "/spec/minAvailable", 4), chk)) == 0
	fixtures.only("zones.pdb-zone-drain", fixtures.set(p, "/spec/minAvailable", 5), chk)
	count(fixtures.denied(fixtures.set(p, "/spec/minAvailable", "66%"), chk)) == 0
	fixtures.only("zones.pdb-zone-drain", fixtures.set(p, "/spec/minAvailable", "80%"), chk)
}

test_pdb_zone_drain_falls_back_to_env_zones if {
	# Without node groups the env's minimum zones count: dr's 2 zones hold 3 of 6.
	objs := [o | some o in fixtures.swap(fixtures.swap(fixtures.good, six), six_hpa); o.kind != "NodeGroup"]
	msg := [f.msg | some f in fixtures.results(fixtures.set(fixtures.pdb, "/spec/maxUnavailable", 2), fixtures.check("dr", objs)).deny][0]
	contains(msg, "one of 2 zones holds 3")
}

test_spread_hard_denies_schedule_anyway_in_prod if {
	soft := fixtures.set(fixtures.rollout, "/spec/template/spec/topologySpreadConstraints/0/whenUnsatisfiable", "ScheduleAnyway")
	fixtures.only("zones.spread-hard", soft, fixtures.prod)
	fixtures.only("zones.spread-hard", soft, fixtures.dr)
}

test_spread_hard_passes_default_and_hostname_soft if {
	unset := fixtures.without(fixtures.rollout, "/spec/template/spec/topologySpreadConstraints/0/whenUnsatisfiable")
	count(fixtures.denied(unset, fixtures.prod)) == 0
	host := {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway", "nodeTaintsPolicy": "Honor", "labelSelector": {"matchLabels": {"app": "web"}}}
	both := fixtures.set(fixtures.rollout, "/spec/template/spec/topologySpreadConstraints/1", host)
	count(fixtures.denied(both, fixtures.prod)) == 0
}

test_spread_hard_ignored_when_env_asks_one_zone if {
	soft := fixtures.set(fixtures.rollout, "/spec/template/spec/topologySpreadConstraints/0/whenUnsatisfiable", "ScheduleAnyway")
	not "zones.spread-hard" in fixtures.denied(soft, fixtures.dr) with data.thresholds.dr as object.union(data.thresholds.dr, {"min_zones": 1})
}

# A crash-looping pod must not block a drain.
test_pdb_unhealthy_eviction if {
	fixtures.only("zones.pdb-unhealthy-eviction", fixtures.without(fixtures.pdb, "/spec/unhealthyPodEvictionPolicy"), fixtures.prod)
	fixtures.only("zones.pdb-unhealthy-eviction", fixtures.set(fixtures.pdb, "/spec/unhealthyPodEvictionPolicy", "IfHealthyBudget"), fixtures.prod)
	not "zones.pdb-unhealthy-eviction" in fixtures.denied(fixtures.pdb, fixtures.prod)
}

test_rebalance_denies_without_descheduler if {
	fixtures.only("zones.rebalance", fixtures.hpa, prod_without(fixtures.descheduler))
}

test_rebalance_passes_with_descheduler if {
	not "zones.rebalance" in fixtures.denied(fixtures.hpa, fixtures.prod)
}

test_rebalance_denies_plugin_not_enabled if {
	d := fixtures.set(fixtures.descheduler, "/spec/source/helm/valuesObject/deschedulerPolicy/profiles/0/plugins/balance/enabled", ["RemoveDuplicates"])
	fixtures.only("zones.rebalance", fixtures.hpa, prod_with(d))
}

test_rebalance_denies_soft_constraints_only if {
	d := fixtures.set(fixtures.descheduler, "/spec/source/helm/valuesObject/deschedulerPolicy/profiles/0/pluginConfig/0/args/constraints", ["ScheduleAnyway"])
	fixtures.only("zones.rebalance", fixtures.hpa, prod_with(d))
}

test_rebalance_passes_default_constraints if {
	# The plugin's default constraints are DoNotSchedule: no args, no config.
	d := fixtures.set(fixtures.descheduler, "/spec/source/helm/valuesObject/deschedulerPolicy/profiles/0/pluginConfig", [])
	not "zones.rebalance" in fixtures.denied(fixtures.hpa, prod_with(d))
	d2 := fixtures.set(fixtures.descheduler, "/spec/source/helm/valuesObject/deschedulerPolicy/profiles/0/pluginConfig/0/args", {})
	not "zones.rebalance" in fixtures.denied(fixtures.hpa, prod_with(d2))
}

test_rebalance_ignores_soft_spread if {
	# A workload spread only softly keeps no zone promise to restore.
	soft := fixtures.set(fixtures.rollout, "/spec/template/spec/topologySpreadConstraints/0/whenUnsatisfiable", "ScheduleAnyway")
	chk := fixtures.check("prod", fixtures.drop(fixtures.swap(fixtures.good, soft), fixtures.descheduler))
	not "zones.rebalance" in fixtures.denied(fixtures.hpa, chk)
}

# A node group names its cluster by name or by reference.
test_cluster_by_reference if {
	ng := json.patch(fixtures.nodegroups[0], [{"op": "remove", "path": "/spec/forProvider/clusterName"}, {"op": "add", "path": "/spec/forProvider/clusterNameRef", "value": {"name": "shop"}}])
	zones.cluster_of(ng) == "shop"
	zones.cluster_of(fixtures.nodegroups[0]) == "shop"
}
