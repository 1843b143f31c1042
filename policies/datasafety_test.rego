package datasafety_test

import data.fixtures

test_pvc_without_sync_options if {
	fixtures.only("datasafety.sync-options", fixtures.without(fixtures.pvc, "/metadata/annotations"), fixtures.prod)
}

test_pvc_prune_only if {
	p := fixtures.set(fixtures.pvc, "/metadata/annotations", {"argocd.argoproj.io/sync-options": "Prune=false"})
	fixtures.only("datasafety.sync-options", p, fixtures.prod)
}

test_statefulset_without_sync_options if {
	fixtures.only("datasafety.sync-options", fixtures.without(fixtures.statefulset, "/metadata/annotations/argocd.argoproj.io~1sync-options"), fixtures.prod)
}

test_stateless_statefulset_needs_no_sync_options if {
	s := fixtures.without(fixtures.without(fixtures.statefulset, "/metadata/annotations/argocd.argoproj.io~1sync-options"), "/spec/volumeClaimTemplates")
	count(fixtures.denied(s, fixtures.prod)) == 0
}

test_retention_delete_denied if {
	s := fixtures.set(fixtures.statefulset, "/spec/persistentVolumeClaimRetentionPolicy/whenScaled", "Delete")
	fixtures.only("datasafety.pvc-retention", s, fixtures.prod)
}

test_retention_unset_denied if {
	s := fixtures.without(fixtures.statefulset, "/spec/persistentVolumeClaimRetentionPolicy")
	fixtures.only("datasafety.pvc-retention", s, fixtures.prod)
}

test_pvc_without_storage_class if {
	fixtures.only("datasafety.storageclass", fixtures.without(fixtures.pvc, "/spec/storageClassName"), fixtures.prod)
}

test_pvc_unknown_storage_class if {
	fixtures.only("datasafety.storageclass", fixtures.set(fixtures.pvc, "/spec/storageClassName", "gp2"), fixtures.prod)
}

test_claim_template_unknown_storage_class if {
	s := fixtures.set(fixtures.statefulset, "/spec/volumeClaimTemplates/0/spec/storageClassName", "gp2")
	fixtures.only("datasafety.storageclass", s, fixtures.prod)
	s2 := fixtures.without(fixtures.statefulset, "/spec/volumeClaimTemplates/0/spec/storageClassName")
	fixtures.only("datasafety.storageclass", s2, fixtures.prod)
}

# The old orders-db: three PostgreSQL pods, each with its own volume, nothing
# replicating between them.
unreplicated := fixtures.without(fixtures.statefulset, "/metadata/annotations/platform.shop~1replication")

test_unreplicated_database_denied if {
	fixtures.only("datasafety.unreplicated-database", unreplicated, fixtures.prod)
}

test_unreplicated_database_mounting_claims_by_name_denied if {
	s := fixtures.set(fixtures.without(unreplicated, "/spec/volumeClaimTemplates"), "/spec/template/spec/volumes", [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}])
	"datasafety.unreplicated-database" in fixtures.denied(s, fixtures.prod)
}

test_single_writer_passes if {
	# One writer on replicated storage: neither this rule nor replicas.min.
	s := fixtures.set(unreplicated, "/spec/replicas", 1)
	count(fixtures.denied(s, fixtures.prod)) == 0
}

test_replicated_database_passes if {
	count(fixtures.denied(fixtures.statefulset, fixtures.prod)) == 0
}
