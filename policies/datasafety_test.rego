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
	fixtures.only("datasafety.sync-options", fixtures.without(fixtures.statefulset, "/metadata/annotations"), fixtures.prod)
}

test_stateless_statefulset_needs_no_sync_options if {
	s := fixtures.without(fixtures.without(fixtures.statefulset, "/metadata/annotations"), "/spec/volumeClaimTemplates")
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
