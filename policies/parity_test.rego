package parity_test

import data.fixtures

# prod checked with dr as its peer.
with_peer(peer_objs) := object.union(fixtures.prod, {"peers": {"dr": {"index": fixtures.index(peer_objs)}}})

test_parity_complete_passes if {
	every obj in fixtures.good {
		count(fixtures.denied(obj, with_peer(fixtures.good))) == 0
	}
}

test_service_missing_in_dr if {
	fixtures.only("parity.missing-in-peer", fixtures.service("web"), with_peer(fixtures.drop(fixtures.good, fixtures.service("web"))))
}

test_database_missing_in_dr if {
	fixtures.only("parity.missing-in-peer", fixtures.statefulset, with_peer(fixtures.drop(fixtures.good, fixtures.statefulset)))
	rds := {"apiVersion": "rds.aws.upbound.io/v1beta1", "kind": "Instance", "metadata": {"name": "prod-orders"}}
	fixtures.only("parity.missing-in-peer", rds, with_peer(fixtures.good))
}

test_env_named_peer_counts if {
	rds := {"apiVersion": "rds.aws.upbound.io/v1beta1", "kind": "Instance", "metadata": {"name": "prod-orders"}}
	peer := {"apiVersion": "rds.aws.upbound.io/v1beta2", "kind": "Instance", "metadata": {"name": "dr-orders"}}
	count(fixtures.denied(rds, with_peer([peer]))) == 0
}

test_primary_only_exempt if {
	svc := fixtures.set(fixtures.service("reports"), "/metadata/annotations", {"platform.shop/parity": "primary-only"})
	count(fixtures.denied(svc, with_peer([]))) == 0
}

test_analytics_warehouse_needs_no_parity if {
	count(fixtures.denied(fixtures.redshift, with_peer([]))) == 0
}

test_storage_class_missing_in_dr if {
	fixtures.only("parity.missing-in-peer", fixtures.storage_class, with_peer(fixtures.drop(fixtures.good, fixtures.storage_class)))
}

test_other_kinds_need_no_parity if {
	count(fixtures.denied(fixtures.config_map, with_peer([]))) == 0
}

test_dr_has_no_peer if {
	# dr names no parity_peer: what dr has and prod lacks is not a finding.
	chk := object.union(fixtures.dr, {"peers": {"prod": {"index": {}}}})
	count(fixtures.denied(fixtures.service("web"), chk)) == 0
}

test_no_peer_loaded_is_silent if {
	count(fixtures.denied(fixtures.service("web"), fixtures.prod)) == 0
}

test_failover_capacity_below_primary_floor_warns if {
	# prod's floor is 3 (fixtures.hpa); dr can only grow to 2.
	small := fixtures.set(fixtures.hpa, "/spec/maxReplicas", 2)
	fixtures.warned(fixtures.hpa, with_peer([small])) == {"parity.failover-capacity"}
	count(fixtures.denied(fixtures.hpa, with_peer([small]))) == 0
}

test_failover_capacity_enough_is_quiet if {
	# dr's floor may be lower than prod's as long as its ceiling reaches prod's floor.
	standby := fixtures.set(fixtures.set(fixtures.hpa, "/spec/minReplicas", 1), "/spec/maxReplicas", 3)
	count(fixtures.warned(fixtures.hpa, with_peer([standby]))) == 0
	count(fixtures.warned(fixtures.hpa, with_peer([]))) == 0
}

test_restored_on_failover_exempt_when_peer_restores if {
	# A standby restores the database from the primary's backups: it runs
	# it only after a failover, so its absence before one is by design.
	s := fixtures.set(fixtures.statefulset, "/metadata/annotations/platform.shop~1parity", "restored-on-failover")
	syncing := fixtures.set(fixtures.backup_location, "/location/sync", true)
	count(fixtures.denied(s, with_peer([syncing]))) == 0

	# A peer that cannot see the backups cannot restore it.
	fixtures.only("parity.missing-in-peer", s, with_peer([fixtures.backup_location]))
}

# kind_names is written out for speed: it must stay the Kind parts of kinds.
test_kind_names_are_the_kinds_kind_parts if {
	data.parity.kind_names == {split(k, ".")[0] | some k, _ in data.parity.kinds}
}
