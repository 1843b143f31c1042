# Disaster recovery: a standby that restores what it must, receives users only
# when the primary fails, and backups that expire.
package dr

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"dr.restore-precreated": "Nothing holds a claim a restore must bring back: no PVC or claim template named in an ApplicationRestore's includeResources (every claim of its namespaces when it lists none), and in a standby (a BackupLocation with sync: true) no PVC or claim template at all in the backed-up namespace: Stork skips a restore target that exists (replacePolicy Retain) or deletes it (Delete).",
	"dr.restore-unbacked": "An ApplicationRestore restores only claims that the env whose backups it reads (thresholds restore_source) creates in that namespace, a PVC or a StatefulSet claim template: a claim its backups do not hold restores nothing, and the database that mounts it never starts.",
	"dr.claim-not-restored": "In a standby that restores (it holds an ApplicationRestore), every claim a pod mounts by name in the backed-up namespace is one a restore brings back: no one else creates it there (dr.restore-precreated), so the pod would stay Pending for ever.",
	"dr.failover-routing": "A Route53 record to an env's load balancer is weighted, with weight 0 unless the env takes the writes (a data StatefulSet runs): Route 53 then answers with it only when the writer fails its health check. Failover records are refused: moving the writer turns one env's PRIMARY into SECONDARY and the other's SECONDARY into PRIMARY, two changes each env's Crossplane makes alone, and Route 53 refuses either first (one PRIMARY and one SECONDARY per name and type), so a failover never reaches DNS; latency or simple records, or a weight above 0 where no database runs, send users to a separate copy of the data.",
	"dr.target-health": "A Route53 alias to a load balancer that carries a health check does not also set evaluateTargetHealth: on a shared ALB one unhealthy target group (one service) would withdraw the whole region.",
	"dr.health-check-http": "Route53 health checks of a load balancer that serves HTTP (an ALB Ingress in the set) are HTTP or HTTPS with a resourcePath: TCP only proves the listener accepts connections.",
	"dr.writer-unbacked": "The env that takes writes backs them up: every claim a running data StatefulSet (replicas > 0) mounts or templates is covered by an unsuspended ApplicationBackupSchedule of its namespace (template namespaces, resourceTypes empty or with PersistentVolumeClaim, includeResources naming it when they name that namespace) whose BackupLocation and SchedulePolicy are in the set: otherwise the only writable copy has no restore point.",
	"dr.backup-plaintext-secrets": "A Stork backup (ApplicationBackupSchedule template, ApplicationBackup) that takes Secrets (no resourceTypes and no includeResources, resourceTypes with Secret, or an included Secret) writes to a BackupLocation with an encryption key (encryptionV2Key, or an encryptionKey key in its secretConfig Secret): Stork writes resources.json in plaintext otherwise, every Secret's value in the bucket and its replica.",
	"dr.backup-expiry": "Backups expire: scheduled ApplicationBackups use reclaimPolicy Delete (Retain keeps their data in S3 forever), and the bucket a BackupLocation writes has an enabled lifecycle rule that expires current objects and noncurrent versions.",
}

# standby_namespaces hold a BackupLocation that syncs another cluster's
# backups (backupsync.go): where a standby restores on failover.
standby_namespaces contains ns if {
	some ns, by_name in lib.index["BackupLocation.stork.libopenstorage.org"]
	some same_name in by_name
	some bl in same_name
	bl.location.sync == true
}

restores := [r |
	some by_ns in object.get(lib.index, ["ApplicationRestore.stork.libopenstorage.org"], {})
	some by_name in by_ns
	some r in by_name
]

# claim_names lists [path, claim name] of the claims an object creates: a PVC
# itself, or a StatefulSet's claim templates for each of its pods.
claim_names(obj) := {[["metadata", "name"], obj.metadata.name] | obj.kind == "PersistentVolumeClaim"} | {[path, name] |
	obj.kind == "StatefulSet"
	some i, t in lib.claim_templates(obj)
	some pod in numbers.range(0, max([lib.replicas(obj), 1]) - 1)
	path := ["spec", "volumeClaimTemplates", i]
	name := sprintf("%s-%s-%d", [t.metadata.name, obj.metadata.name, pod])
}

# restored(r, ns, name): restore r brings back claim ns/name.
restored(r, ns, name) if {
	some item in r.spec.includeResources
	item.kind == "PersistentVolumeClaim"
	item.namespace == ns
	item.name == name
}

restored(r, ns, _) if {
	count(object.get(r, ["spec", "includeResources"], [])) == 0
	some target in r.spec.namespaceMapping
	target == ns
}

# dr.restore-precreated: a claim a restore targets already exists in git, so
# Stork skips the backup's volume (Retain: the restore reports Retained and
# restores nothing) or deletes this one (Delete).
deny contains lib.finding("dr.restore-precreated", msg, path) if {
	input.kind in {"PersistentVolumeClaim", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	some [path, name] in claim_names(input)
	some r in restores
	restored(r, lib.namespace(input), name)
	msg := sprintf("%s %s creates claim %s, which ApplicationRestore %s must bring back: Stork skips (Retain) or deletes (Delete) a restore target that exists", [input.kind, input.metadata.name, name, r.metadata.name])
}

deny contains lib.finding("dr.restore-precreated", msg, path) if {
	input.kind in {"PersistentVolumeClaim", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.namespace(input) in standby_namespaces
	some [path, name] in claim_names(input)
	msg := sprintf("%s %s creates claim %s in standby namespace %s: a failover restores the primary's claims there, and one that exists is skipped or deleted; the standby must mount the restored claim by name", [input.kind, input.metadata.name, name, lib.namespace(input)])
}

# dr.restore-unbacked: the restore names a claim the env whose backups it
# reads does not create: the backups hold no such claim (Stork restores what
# the backup holds, resourcecollector includeObject), so nothing comes back.
deny contains lib.finding("dr.restore-unbacked", msg, ["spec", "includeResources", i, "name"]) if {
	input.kind == "ApplicationRestore"
	source := lib.thresholds.restore_source
	source_index := data.check.peers[source].index
	some i, item in input.spec.includeResources
	item.kind == "PersistentVolumeClaim"
	not item.name in claims_created(source_index, item.namespace)
	msg := sprintf("ApplicationRestore %s restores claim %s/%s, which %s does not create (no PVC or StatefulSet claim template of that name): its backups hold no such claim, so the restore brings back nothing and the database that mounts it never starts; name a claim of envs/%s's databases", [input.metadata.name, item.namespace, item.name, source, source])
}

# claims_created are the claim names an env's index creates in namespace ns.
claims_created(index, ns) := {name |
	some k in ["PersistentVolumeClaim", "StatefulSet.apps"]
	some by_name in object.get(index, [k, ns], {})
	some obj in by_name
	some [_, name] in claim_names(obj)
}

# dr.claim-not-restored: after a failover the standby's database mounts its
# claim by name and waits for the restore to create it; a claim no restore
# brings back keeps the pod Pending.
deny contains lib.finding("dr.claim-not-restored", msg, ["spec", "template", "spec", "volumes"]) if {
	count(restores) > 0
	ns := lib.namespace(input)
	ns in standby_namespaces
	input.kind in lib.workload_kinds
	some name in lib.claims_of(input)
	not restored_by_any(ns, name)
	msg := sprintf("%s %s mounts claim %s, which no ApplicationRestore brings back and nothing else may create in standby namespace %s: its pods stay Pending; add the claim to the restore's includeResources (schema/dr_app.cue) or mount the claim the restore names", [input.kind, input.metadata.name, name, ns])
}

restored_by_any(ns, name) if {
	some r in restores
	restored(r, ns, name)
}

is_record(obj) if {
	obj.kind == "Record"
	startswith(obj.apiVersion, "route53.aws.upbound.io/")
}

is_health_check(obj) if {
	obj.kind == "HealthCheck"
	startswith(obj.apiVersion, "route53.aws.upbound.io/")
}

load_balancer_name(name) if endswith(name, ".elb.amazonaws.com")

# to_load_balancer: the record answers with a load balancer, as an alias or
# as record values (a CNAME).
to_load_balancer(fp) if load_balancer_name(fp.alias.name)

to_load_balancer(fp) if {
	some v in fp.records
	load_balancer_name(v)
}

# dr.failover-routing: a record to this env's load balancer that is not
# weighted (a failover record cannot follow the writer, see docs), or whose
# weight is above 0 while the env takes no writes: a standby before its
# restore (it runs no database) or a fenced env (its database at 0).
deny contains lib.finding("dr.failover-routing", msg, ["spec", "forProvider"]) if {
	input.kind == "Record" # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	is_record(input)
	fp := input.spec.forProvider
	to_load_balancer(fp)
	problem := routing_problem(fp)
	msg := sprintf("Record %s sends users to this env's load balancer %s; give it weightedRoutingPolicy with weight 0, above 0 only in the env that dr.writer names", [input.metadata.name, problem])
}

routing_problem(fp) := "as a failover record: a failover turns this record's PRIMARY into SECONDARY (or back) while the other env's record turns the other way, each by its own Crossplane, and Route 53 refuses either change first (one PRIMARY and one SECONDARY per name and type), so neither applies" if {
	fp.failoverRoutingPolicy
} else := sprintf("with weight %v while no database of this env runs (it takes no writes): Route 53 shares users between it and the writer", [weight(fp)]) if {
	weight(fp) > 0
	not takes_writes
} else := "without a weighted routing policy (latency or simple routing): Route 53 answers with it while the writer is healthy" if {
	not weight(fp)
}

# weight of a weighted record: an object in Record v1beta2, a list of one
# in v1beta1.
weight(fp) := fp.weightedRoutingPolicy.weight if is_object(fp.weightedRoutingPolicy)

else := fp.weightedRoutingPolicy[0].weight

# takes_writes: a database of the env runs (dr.writer names it).
takes_writes if {
	some by_name in object.get(lib.index, ["StatefulSet.apps"], {})
	some same_name in by_name
	some ss in same_name
	writes(ss)
}

# writes: a StatefulSet whose pods mount claims runs (the writer's
# database; a fenced or standby env renders it at 0, or not at all).
writes(ss) if {
	lib.holds_data(ss)
	lib.replicas(ss) > 0
}

# dr.target-health: a health-checked alias to a load balancer that also
# evaluates the ALB's target health.
deny contains lib.finding("dr.target-health", msg, ["spec", "forProvider", "alias", "evaluateTargetHealth"]) if {
	input.kind == "Record" # the kind first: OPA's rule index skips the rule for other kinds
	is_record(input)
	fp := input.spec.forProvider
	load_balancer_name(fp.alias.name)
	fp.alias.evaluateTargetHealth == true
	msg := sprintf("Record %s evaluates the target health of load balancer %s: one unhealthy target group behind a shared ALB withdraws the region; let the record's HTTP(S) health check decide", [input.metadata.name, fp.alias.name])
}

http_types := {"HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH"}

serves_http if {
	some by_name in lib.index["Ingress.networking.k8s.io"]
	some same_name in by_name
	some ing in same_name
	ing.spec.ingressClassName == "alb"
}

# dr.health-check-http: a TCP (or path-less) check in front of an HTTP
# service proves the listener answers, not that any request is served.
deny contains lib.finding("dr.health-check-http", msg, ["spec", "forProvider", "type"]) if {
	input.kind == "HealthCheck" # the kind first: OPA's rule index skips the rule for other kinds
	is_health_check(input)
	serves_http
	fp := input.spec.forProvider
	load_balancer_name(fp.fqdn)
	not fp.type in http_types
	msg := sprintf("HealthCheck %s checks HTTP load balancer %s with %s: it proves only that the listener accepts connections; use HTTPS with a resourcePath", [input.metadata.name, fp.fqdn, fp.type])
}

deny contains lib.finding("dr.health-check-http", msg, ["spec", "forProvider", "resourcePath"]) if {
	input.kind == "HealthCheck" # the kind first: OPA's rule index skips the rule for other kinds
	is_health_check(input)
	fp := input.spec.forProvider
	fp.type in http_types
	object.get(fp, ["resourcePath"], "") == ""
	msg := sprintf("HealthCheck %s has no resourcePath: it checks / , which no service answers for the load balancer's own name", [input.metadata.name])
}

# dr.backup-expiry: scheduled backups whose data Stork never deletes.
deny contains lib.finding("dr.backup-expiry", msg, ["spec", "template", "spec", "reclaimPolicy"]) if {
	input.kind == "ApplicationBackupSchedule"
	object.get(input, ["spec", "template", "spec", "reclaimPolicy"], "Delete") != "Delete"
	msg := sprintf("ApplicationBackupSchedule %s makes backups with reclaimPolicy %s: pruning them keeps their data in the bucket forever; use Delete", [input.metadata.name, input.spec.template.spec.reclaimPolicy])
}

# The bucket a BackupLocation writes must expire what Stork deletes
# (noncurrent versions) and what it leaves behind (current objects).
deny contains lib.finding("dr.backup-expiry", msg, ["location", "path"]) if {
	lib.has_inventory
	input.kind == "BackupLocation"
	bucket := input.location.path
	not expiring_lifecycle(bucket)
	msg := sprintf("BackupLocation %s writes bucket %s, which has no enabled lifecycle rule expiring both current objects (expiration days) and noncurrent versions: its backups never go away", [input.metadata.name, bucket])
}

expiring_lifecycle(bucket) if {
	some lc in lib.objects("BucketLifecycleConfiguration.s3.aws.upbound.io", "")
	lifecycle_bucket(lc) == bucket
	some rule in lc.spec.forProvider.rule
	rule.status == "Enabled"
	some e in rule.expiration
	e.days > 0
	some n in rule.noncurrentVersionExpiration
	n.noncurrentDays > 0
}

lifecycle_bucket(lc) := lc.spec.forProvider.bucket

lifecycle_bucket(lc) := lc.spec.forProvider.bucketRef.name if not lc.spec.forProvider.bucket

# env_index: what the backup rules look up, derived once per env by the
# engine (data.check.env_index): the schedules that back up each namespace,
# and the BackupLocations with an encryption key.
env_index := {"backups": backups_by_namespace, "encrypted_locations": encrypted_locations}

idx := data.check.env_index.dr if data.check.env_index.dr

else := env_index

backup_schedules := [s |
	some by_ns in object.get(lib.index, ["ApplicationBackupSchedule.stork.libopenstorage.org"], {})
	some by_name in by_ns
	some s in by_name
]

# backups_by_namespace: for each namespace a schedule backs up, each such
# schedule with why it backs up nothing ("" when it does) and the claims of
# the namespace it takes ("all", or the names its includeResources list).
backups_by_namespace := {ns: entries |
	some ns in {ns | some s in backup_schedules; some ns in object.get(s, ["spec", "template", "spec", "namespaces"], [])}
	entries := [{"name": s.metadata.name, "problem": schedule_problem(s), "claims": claims_taken(s.spec.template.spec, ns)} |
		some s in backup_schedules
		ns in object.get(s, ["spec", "template", "spec", "namespaces"], [])
	]
}

schedule_problem(s) := "it is suspended" if {
	s.spec.suspend == true
} else := sprintf("its BackupLocation %s is not in namespace %s", [s.spec.template.spec.backupLocation, lib.namespace(s)]) if {
	not lib.exists("BackupLocation.stork.libopenstorage.org", lib.namespace(s), s.spec.template.spec.backupLocation)
} else := sprintf("its SchedulePolicy %s is not in the set (Stork never triggers it)", [s.spec.schedulePolicyName]) if {
	not lib.exists("SchedulePolicy.stork.libopenstorage.org", "", s.spec.schedulePolicyName)
} else := "its resourceTypes leave out PersistentVolumeClaim (no volume is backed up)" if {
	types := object.get(s, ["spec", "template", "spec", "resourceTypes"], [])
	count(types) > 0
	not "PersistentVolumeClaim" in types
} else := ""

# claims_taken: Stork backs up only the included claims of a namespace its
# includeResources name (applicationbackup.go backupVolumes); with no
# includeResources, or resourceTypes taking the other namespaces, all of them.
claims_taken(spec, ns) := [i.name |
	some i in spec.includeResources
	i.namespace == ns
	i.kind == "PersistentVolumeClaim"
] if {
	some i in object.get(spec, ["includeResources"], [])
	i.namespace == ns
} else := "all" if {
	count(object.get(spec, ["includeResources"], [])) == 0
} else := "all" if {
	count(object.get(spec, ["resourceTypes"], [])) > 0
} else := []

# writer_claims: the claims a data StatefulSet's pods mount by name or get
# from its claim templates.
writer_claims(obj) := lib.claims_of(obj) | {name | some [_, name] in claim_names(obj)}

backed_up(ns, claim) if {
	some e in idx.backups[ns]
	e.problem == ""
	takes(e.claims, claim)
}

takes("all", _)

takes(claims, claim) if {
	is_array(claims)
	claim in claims
}

# dr.writer-unbacked: the env that takes writes (its database runs) has no
# running backup of the claims it writes: after a failover that was the
# standby, whose role never changes (writer follows dr.writer).
deny contains lib.finding("dr.writer-unbacked", msg, ["spec", "replicas"]) if {
	input.kind == "StatefulSet" # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	writes(input)
	ns := lib.namespace(input)
	some claim in writer_claims(input)
	not backed_up(ns, claim)
	why := [sprintf("%s: %s", [e.name, e.problem]) | some e in object.get(idx.backups, [ns], []); e.problem != ""]
	msg := sprintf("StatefulSet %s writes claim %s, which no running ApplicationBackupSchedule backs up (schedules of namespace %s that do not count: %v): its data has no restore point; the env that takes the writes (dr.writer) runs #BackupApp unsuspended (schema/dr_app.cue)", [input.metadata.name, claim, ns, why])
}

# encrypted_locations: "namespace/name" of the BackupLocations whose backups
# Stork encrypts: an inline encryptionV2Key, or an encryptionKey key in the
# secretConfig Secret (BackupLocation UpdateFromSecret), as an ExternalSecret
# or SealedSecret in the set produces it.
encrypted_locations := {sprintf("%s/%s", [ns, bl.metadata.name]): true |
	some ns, by_name in object.get(lib.index, ["BackupLocation.stork.libopenstorage.org"], {})
	some same_name in by_name
	some bl in same_name
	location_encrypted(ns, bl.location)
}

location_encrypted(_, location) if location.encryptionV2Key != ""

location_encrypted(ns, location) if {
	some by_name in object.get(lib.index, ["ExternalSecret.external-secrets.io", ns], {})
	some es in by_name
	object.get(es, ["spec", "target", "name"], es.metadata.name) == location.secretConfig
	external_secret_key(es, "encryptionKey")
}

location_encrypted(ns, location) if {
	some by_name in object.get(lib.index, ["SealedSecret.bitnami.com", ns], {})
	some ss in by_name
	object.get(ss, ["spec", "template", "metadata", "name"], ss.metadata.name) == location.secretConfig
	ss.spec.encryptedData.encryptionKey
}

external_secret_key(es, key) if {
	some d in es.spec.data
	d.secretKey == key
}

external_secret_key(es, key) if es.spec.target.template.data[key]

backup_spec_path(obj) := ["spec", "template", "spec"] if obj.kind == "ApplicationBackupSchedule"

else := ["spec"]

# takes_secrets: what Stork's resource collector writes includes Secrets
# (resourcecollector.go collects them; applicationbackup.go backupResources
# collects only resourceTypes when set, only includeResources when they are).
takes_secrets(spec) if {
	some i in object.get(spec, ["includeResources"], [])
	i.kind == "Secret"
}

takes_secrets(spec) if "Secret" in object.get(spec, ["resourceTypes"], [])

takes_secrets(spec) if {
	count(object.get(spec, ["resourceTypes"], [])) == 0
	count(object.get(spec, ["includeResources"], [])) == 0
}

# dr.backup-plaintext-secrets: a backup that takes the namespace's Secrets
# to a location without an encryption key (uploadObject encrypts only with
# one): the values sit in plaintext JSON in the bucket and its replica.
deny contains lib.finding("dr.backup-plaintext-secrets", msg, path) if {
	input.kind in {"ApplicationBackupSchedule", "ApplicationBackup"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	path := backup_spec_path(input)
	spec := object.get(input, path, {})
	takes_secrets(spec)
	not idx.encrypted_locations[sprintf("%s/%s", [lib.namespace(input), spec.backupLocation])]
	msg := sprintf("%s %s backs up Secrets to BackupLocation %s, which has no encryption key: Stork writes their values in plaintext JSON (resources.json) to the bucket; limit it to what a restore needs (resourceTypes: [PersistentVolumeClaim]) or give the location's secretConfig an encryptionKey", [input.kind, input.metadata.name, spec.backupLocation])
}
