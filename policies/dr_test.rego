package dr_test

import data.fixtures

# A standby: its BackupLocation syncs the primary's backups.
standby_location := fixtures.set(fixtures.backup_location, "/location/sync", true)

standby_objs := fixtures.swap(fixtures.good, standby_location)

standby := fixtures.check("dr", standby_objs)

# restore brings back claim data-db-0 of namespace shop.
restore := {
	"apiVersion": "stork.libopenstorage.org/v1alpha1", "kind": "ApplicationRestore",
	"metadata": {"name": "restore-1", "namespace": "shop"},
	"spec": {
		"backupName": "shop-1", "backupLocation": "s3", "namespaceMapping": {"shop": "shop"}, "replacePolicy": "Retain",
		"includeResources": [{"group": "core", "version": "v1", "kind": "PersistentVolumeClaim", "name": "data-db-0", "namespace": "shop"}],
	},
}

# The standby's writer after a failover: it mounts the restored claim by name.
writer := fixtures.set(
	fixtures.without(fixtures.without(fixtures.statefulset, "/spec/volumeClaimTemplates"), "/metadata/annotations/platform.shop~1replication"),
	"/spec/template/spec/volumes", [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}],
)

one_writer := fixtures.set(writer, "/spec/replicas", 1)

test_standby_renders_claim_denied if {
	# Before any failover: a PVC or a claim template in the standby's namespace.
	chk := fixtures.check("dr", fixtures.drop(standby_objs, fixtures.statefulset))
	fixtures.only("dr.restore-precreated", fixtures.pvc, chk)
	ids := fixtures.denied(fixtures.statefulset, fixtures.check("dr", fixtures.drop(standby_objs, fixtures.pvc)))
	ids == {"dr.restore-precreated"}
}

test_standby_claim_template_names_each_pod if {
	msgs := {f.msg | some f in fixtures.results(fixtures.statefulset, fixtures.check("dr", fixtures.drop(standby_objs, fixtures.pvc))).deny}
	count(msgs) == 3
	some m in msgs
	contains(m, "data-db-2")
}

test_standby_mounting_the_restored_claim_passes if {
	chk := fixtures.check("dr", array.concat(fixtures.drop(fixtures.drop(standby_objs, fixtures.pvc), fixtures.statefulset), [one_writer, restore]))
	count(fixtures.denied(one_writer, chk)) == 0
	count(fixtures.denied(restore, chk)) == 0
}

test_restore_target_precreated_denied if {
	# Any env: a claim the restore names exists already.
	chk := fixtures.check("prod", array.concat(fixtures.good, [restore]))
	fixtures.only("dr.restore-precreated", fixtures.set(fixtures.pvc, "/metadata/name", "data-db-0"), chk)
	not "dr.restore-precreated" in fixtures.denied(fixtures.set(fixtures.pvc, "/metadata/name", "data-db-9"), chk)
}

test_restore_of_whole_namespace_targets_every_claim if {
	everything := fixtures.without(restore, "/spec/includeResources")
	chk := fixtures.check("prod", array.concat(fixtures.good, [everything]))
	fixtures.only("dr.restore-precreated", fixtures.pvc, chk)
}

# fenced: an env whose database runs no pod (a standby before its restore,
# a primary after a failover): it takes no writes.
fenced := fixtures.check("dr", fixtures.swap(standby_objs, fixtures.set(fixtures.statefulset, "/spec/replicas", 0)))

passive_record := fixtures.set(fixtures.record, "/spec/forProvider/weightedRoutingPolicy/weight", 0)

test_writer_weighted_record_passes if {
	count(fixtures.denied(fixtures.record, fixtures.prod)) == 0
	count(fixtures.denied(fixtures.record, standby)) == 0 # a standby that restored and runs its database
}

test_weight_only_where_the_database_runs if {
	fixtures.only("dr.failover-routing", fixtures.record, fenced)
	count(fixtures.denied(passive_record, fenced)) == 0
	count(fixtures.denied(passive_record, fixtures.prod)) == 0 # a passive record is never wrong

	# Record v1beta1 writes the policy as a list of one.
	count(fixtures.denied(fixtures.set(fixtures.record, "/spec/forProvider/weightedRoutingPolicy", [{"weight": 0}]), fenced)) == 0
	fixtures.only("dr.failover-routing", fixtures.set(fixtures.record, "/spec/forProvider/weightedRoutingPolicy", [{"weight": 1}]), fenced)
}

# A failover record cannot follow the writer: refused in the writer too.
test_failover_record_denied if {
	some role in ["PRIMARY", "SECONDARY"]
	failover := fixtures.set(fixtures.without(fixtures.record, "/spec/forProvider/weightedRoutingPolicy"), "/spec/forProvider/failoverRoutingPolicy", {"type": role})
	fixtures.only("dr.failover-routing", failover, fixtures.prod)
	some f in data.dr.deny with input as failover with data.check as fixtures.prod
	contains(f.msg, "refuses either change first")
}

test_latency_record_denied if {
	latency := fixtures.set(fixtures.without(fixtures.record, "/spec/forProvider/weightedRoutingPolicy"), "/spec/forProvider/latencyRoutingPolicy", {"region": "us-west-2"})
	fixtures.only("dr.failover-routing", latency, fixtures.prod)
	fixtures.only("dr.failover-routing", fixtures.without(fixtures.record, "/spec/forProvider/weightedRoutingPolicy"), fixtures.prod)
}

test_cname_to_load_balancer_denied if {
	cname := fixtures.set(fixtures.without(passive_record, "/spec/forProvider/alias"), "/spec/forProvider/records", [fixtures.alb])
	count(fixtures.denied(cname, fenced)) == 0
	fixtures.only("dr.failover-routing", fixtures.set(cname, "/spec/forProvider/weightedRoutingPolicy/weight", 10), fenced)
}

test_target_health_on_shared_alb_denied if {
	fixtures.only("dr.target-health", fixtures.set(fixtures.record, "/spec/forProvider/alias/evaluateTargetHealth", true), fixtures.prod)
}

test_tcp_health_check_denied if {
	fixtures.only("dr.health-check-http", fixtures.set(fixtures.health_check, "/spec/forProvider/type", "TCP"), fixtures.prod)
	fixtures.only("dr.health-check-http", fixtures.without(fixtures.health_check, "/spec/forProvider/resourcePath"), fixtures.prod)
}

test_tcp_health_check_without_http_service_passes if {
	tcp := fixtures.set(fixtures.health_check, "/spec/forProvider/type", "TCP")
	count(fixtures.denied(tcp, fixtures.check("prod", fixtures.drop(fixtures.good, fixtures.ingress)))) == 0
}

test_retained_backups_denied if {
	fixtures.only("dr.backup-expiry", fixtures.set(fixtures.backup_schedule, "/spec/template/spec/reclaimPolicy", "Retain"), fixtures.prod)
	count(fixtures.denied(fixtures.without(fixtures.backup_schedule, "/spec/template/spec/reclaimPolicy"), fixtures.prod)) == 0
}

test_bucket_that_never_expires_denied if {
	# The old lifecycle: noncurrent versions only, current objects forever.
	noncurrent_only := fixtures.without(fixtures.lifecycle, "/spec/forProvider/rule/0/expiration")
	fixtures.only("dr.backup-expiry", fixtures.backup_location, fixtures.check("prod", fixtures.swap(fixtures.good, noncurrent_only)))
	current_only := fixtures.without(fixtures.lifecycle, "/spec/forProvider/rule/0/noncurrentVersionExpiration")
	fixtures.only("dr.backup-expiry", fixtures.backup_location, fixtures.check("prod", fixtures.swap(fixtures.good, current_only)))
	disabled := fixtures.set(fixtures.lifecycle, "/spec/forProvider/rule/0/status", "Disabled")
	fixtures.only("dr.backup-expiry", fixtures.backup_location, fixtures.check("prod", fixtures.swap(fixtures.good, disabled)))
	fixtures.only("dr.backup-expiry", fixtures.backup_location, fixtures.check("prod", fixtures.drop(fixtures.good, fixtures.lifecycle)))
}

test_bucket_named_directly_passes if {
	by_name := fixtures.set(fixtures.without(fixtures.lifecycle, "/spec/forProvider/bucketRef"), "/spec/forProvider/bucket", "backups")
	count(fixtures.denied(fixtures.backup_location, fixtures.check("prod", fixtures.swap(fixtures.good, by_name)))) == 0
}

# The standby after a failover, checked with the primary whose backups it
# restores (thresholds dr.restore_source = prod).
failed_over(primary_objs) := object.union(
	fixtures.check("dr", array.concat(fixtures.drop(fixtures.drop(standby_objs, fixtures.pvc), fixtures.statefulset), [one_writer, restore])),
	{"peers": {"prod": {"index": fixtures.index(primary_objs)}}},
)

primary_claim := fixtures.set(fixtures.pvc, "/metadata/name", "data-db-0")

test_restore_of_a_claim_the_primary_creates_passes if {
	# As a PVC, and as a StatefulSet claim template (data-db-0 from "data" of "db").
	count(fixtures.denied(restore, failed_over([primary_claim]))) == 0
	template := fixtures.set(fixtures.statefulset, "/metadata/name", "db")
	count(fixtures.denied(restore, failed_over([template]))) == 0
}

test_restore_of_a_claim_the_primary_lacks_denied if {
	fixtures.only("dr.restore-unbacked", restore, failed_over([fixtures.set(fixtures.pvc, "/metadata/name", "data-orders-0")]))
	fixtures.only("dr.restore-unbacked", restore, failed_over([]))
}

test_restore_unbacked_needs_the_primary_loaded if {
	# Checked alone, dr cannot know what prod's backups hold: silent.
	chk := fixtures.check("dr", array.concat(fixtures.drop(fixtures.drop(standby_objs, fixtures.pvc), fixtures.statefulset), [one_writer, restore]))
	count(fixtures.denied(restore, chk)) == 0
}

test_standby_mounting_a_claim_no_restore_brings_back_denied if {
	other := fixtures.set(one_writer, "/spec/template/spec/volumes", [{"name": "data", "persistentVolumeClaim": {"claimName": "data-other-0"}}])
	chk := fixtures.check("dr", array.concat(fixtures.drop(fixtures.drop(standby_objs, fixtures.pvc), fixtures.statefulset), [other, restore]))
	fixtures.only("dr.claim-not-restored", other, chk)

	# Before a failover (no restore) the standby renders no database, so nothing is asked.
	count(fixtures.denied(other, fixtures.check("dr", array.concat(fixtures.drop(fixtures.drop(standby_objs, fixtures.pvc), fixtures.statefulset), [other])))) == 0
}

# The writer's backups: the good set's StatefulSet (replicas 3, claim
# templates data-db-0..2) is backed up by the good set's schedule.
schedule_with(ptr, v) := fixtures.check("prod", fixtures.swap(fixtures.good, fixtures.set(fixtures.backup_schedule, ptr, v)))

writer_unbacked_msgs(chk) := {f.msg | some f in fixtures.results(fixtures.statefulset, chk).deny; f.rule == "dr.writer-unbacked"}

test_backed_up_writer_passes if {
	not "dr.writer-unbacked" in fixtures.denied(fixtures.statefulset, fixtures.prod)

	# includeResources naming every claim of the namespace.
	every_claim := [{"group": "core", "version": "v1", "kind": "PersistentVolumeClaim", "name": sprintf("data-db-%d", [i]), "namespace": "shop"} | some i in numbers.range(0, 2)]
	not "dr.writer-unbacked" in fixtures.denied(fixtures.statefulset, schedule_with("/spec/template/spec/includeResources", every_claim))

	# No resourceTypes and no includeResources: the whole namespace, claims included.
	whole := fixtures.check("prod", fixtures.swap(fixtures.good, fixtures.without(fixtures.backup_schedule, "/spec/template/spec/resourceTypes")))
	not "dr.writer-unbacked" in fixtures.denied(fixtures.statefulset, whole)

	# resourceTypes take the namespaces includeResources do not name.
	elsewhere := [{"group": "core", "version": "v1", "kind": "ConfigMap", "name": "x", "namespace": "other"}]
	not "dr.writer-unbacked" in fixtures.denied(fixtures.statefulset, schedule_with("/spec/template/spec/includeResources", elsewhere))
}

test_writer_without_schedule_denied if {
	# M04 of the review: no schedule at all.
	fixtures.only("dr.writer-unbacked", fixtures.statefulset, fixtures.check("prod", fixtures.drop(fixtures.good, fixtures.backup_schedule)))

	# M01: the schedule backs up another namespace.
	fixtures.only("dr.writer-unbacked", fixtures.statefulset, schedule_with("/spec/template/spec/namespaces", ["other"]))
}

test_writer_with_schedule_that_backs_up_nothing_denied if {
	# M05: suspended while this env writes.
	some m1 in writer_unbacked_msgs(schedule_with("/spec/suspend", true))
	contains(m1, "shop: it is suspended")

	# M03: the BackupLocation is not in the set.
	some m2 in writer_unbacked_msgs(schedule_with("/spec/template/spec/backupLocation", "missing"))
	contains(m2, "BackupLocation missing")

	# M02: the SchedulePolicy is not in the set.
	some m3 in writer_unbacked_msgs(schedule_with("/spec/schedulePolicyName", "missing"))
	contains(m3, "SchedulePolicy missing")

	# resourceTypes without the claims.
	some m4 in writer_unbacked_msgs(schedule_with("/spec/template/spec/resourceTypes", ["ConfigMap"]))
	contains(m4, "leave out PersistentVolumeClaim")
}

test_writer_claims_left_out_of_include_resources_denied if {
	# includeResources name one claim of the namespace: the other pods' are not backed up.
	one := [{"group": "core", "version": "v1", "kind": "PersistentVolumeClaim", "name": "data-db-0", "namespace": "shop"}]
	msgs := writer_unbacked_msgs(schedule_with("/spec/template/spec/includeResources", one))
	count(msgs) == 2

	# Without resourceTypes, includeResources of another namespace take nothing of this one.
	elsewhere := fixtures.set(fixtures.without(fixtures.backup_schedule, "/spec/template/spec/resourceTypes"), "/spec/template/spec/includeResources", [{"group": "core", "version": "v1", "kind": "ConfigMap", "name": "x", "namespace": "other"}])
	count(writer_unbacked_msgs(fixtures.check("prod", fixtures.swap(fixtures.good, elsewhere)))) == 3
}

test_fenced_or_standby_database_needs_no_backup if {
	# A fenced primary (replicas 0) writes nothing: its schedule stays suspended.
	fenced := fixtures.set(fixtures.statefulset, "/spec/replicas", 0)
	chk := fixtures.check("prod", fixtures.swap(fixtures.swap(fixtures.good, fenced), fixtures.set(fixtures.backup_schedule, "/spec/suspend", true)))
	not "dr.writer-unbacked" in fixtures.denied(fenced, chk)
}

test_failed_over_standby_without_running_schedule_denied if {
	# S1-a of the review: the standby writes after a failover, its schedule suspended.
	objs := array.concat(fixtures.drop(fixtures.drop(standby_objs, fixtures.pvc), fixtures.statefulset), [one_writer, restore])
	suspended := fixtures.check("dr", fixtures.swap(objs, fixtures.set(fixtures.backup_schedule, "/spec/suspend", true)))
	fixtures.only("dr.writer-unbacked", one_writer, suspended)
	count(fixtures.denied(one_writer, fixtures.check("dr", objs))) == 0
}

# Backups that take Secrets need an encryption key.
plaintext := fixtures.without(fixtures.backup_schedule, "/spec/template/spec/resourceTypes")

test_claims_only_backup_passes if {
	count(fixtures.denied(fixtures.backup_schedule, fixtures.prod)) == 0
	claims_only := fixtures.set(plaintext, "/spec/template/spec/includeResources", [{"group": "core", "version": "v1", "kind": "PersistentVolumeClaim", "name": "data-db-0", "namespace": "shop"}])
	count(fixtures.denied(claims_only, fixtures.check("prod", fixtures.swap(fixtures.good, claims_only)))) == 0
}

test_backup_of_secrets_without_key_denied if {
	# S2-a of the review: the whole namespace, Secrets included.
	fixtures.only("dr.backup-plaintext-secrets", plaintext, fixtures.check("prod", fixtures.swap(fixtures.good, plaintext)))
	with_secrets := fixtures.set(fixtures.backup_schedule, "/spec/template/spec/resourceTypes", ["PersistentVolumeClaim", "Secret"])
	fixtures.only("dr.backup-plaintext-secrets", with_secrets, fixtures.check("prod", fixtures.swap(fixtures.good, with_secrets)))
	one_secret := fixtures.set(fixtures.backup_schedule, "/spec/template/spec/includeResources", [{"group": "core", "version": "v1", "kind": "Secret", "name": "web-creds", "namespace": "shop"}])
	fixtures.only("dr.backup-plaintext-secrets", one_secret, fixtures.check("prod", fixtures.swap(fixtures.good, one_secret)))

	# A one-off ApplicationBackup.
	backup := {"apiVersion": "stork.libopenstorage.org/v1alpha1", "kind": "ApplicationBackup", "metadata": {"name": "once", "namespace": "shop"}, "spec": plaintext.spec.template.spec}
	fixtures.only("dr.backup-plaintext-secrets", backup, fixtures.check("prod", array.concat(fixtures.good, [backup])))
}

keyed(objs) := fixtures.check("prod", array.concat(fixtures.swap(fixtures.good, plaintext), objs))

test_backup_of_secrets_with_key_passes if {
	# The location's secretConfig (web-creds) carries encryptionKey: from an ExternalSecret's data,
	es := fixtures.set(fixtures.external_secret, "/spec/data/1", {"secretKey": "encryptionKey", "remoteRef": {"key": "prod/stork", "property": "key"}})
	count(fixtures.denied(plaintext, fixtures.check("prod", fixtures.swap(fixtures.swap(fixtures.good, plaintext), es)))) == 0

	# or its template,
	templated := fixtures.set(fixtures.external_secret, "/spec/target", {"template": {"data": {"encryptionKey": "{{ .key }}"}}})
	count(fixtures.denied(plaintext, fixtures.check("prod", fixtures.swap(fixtures.swap(fixtures.good, plaintext), templated)))) == 0

	# or a SealedSecret;
	sealed := {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "web-creds", "namespace": "shop"}, "spec": {"encryptedData": {"encryptionKey": "AgB..."}}}
	count(fixtures.denied(plaintext, keyed([sealed]))) == 0

	# or the location sets the key itself.
	inline := fixtures.set(fixtures.backup_location, "/location/encryptionV2Key", "k")
	count(fixtures.denied(plaintext, fixtures.check("prod", fixtures.swap(fixtures.swap(fixtures.good, plaintext), inline)))) == 0
}
