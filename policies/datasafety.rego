# Data safety: Argo CD and Kubernetes must never delete a volume on their own.
# (The package cannot be called `data`: that name is Rego's root document.)
package datasafety

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"datasafety.sync-options": "PVCs and StatefulSets with volumeClaimTemplates carry argocd.argoproj.io/sync-options Prune=false and Delete=false.",
	"datasafety.pvc-retention": "Data StatefulSets set persistentVolumeClaimRetentionPolicy whenDeleted and whenScaled to Retain.",
	"datasafety.storageclass": "PVCs and volumeClaimTemplates name a StorageClass that is in the set.",
	"datasafety.reclaim-retain": "A StorageClass that PVCs or volumeClaimTemplates use has reclaimPolicy Retain.",
	"datasafety.unreplicated-database": "A StatefulSet whose pods mount volumes runs one pod unless annotation platform.shop/replication says how its pods replicate: otherwise each pod is its own database and clients land on any of them.",
}

# datasafety.unreplicated-database: several pods of a data StatefulSet that
# nothing replicates between (the stock PostgreSQL image initialises an
# independent database in every pod) are several databases behind one name.
deny contains lib.finding("datasafety.unreplicated-database", msg, ["spec", "replicas"]) if {
	input.kind == "StatefulSet" # the kind first: OPA's rule index skips the rule for other kinds
	lib.single_writer(input)
	n := lib.max_replicas(input)
	n > 1
	msg := sprintf("StatefulSet %s runs %d pods that hold data but has no %s annotation: each pod is its own database; run one writer on replicated storage, or configure replication and say how", [input.metadata.name, n, lib.replication_annotation])
}

sync_options := "argocd.argoproj.io/sync-options"

# Data StatefulSets are the ones that claim volumes.
data_statefulset(obj) if {
	obj.kind == "StatefulSet"
	count(object.get(obj, ["spec", "volumeClaimTemplates"], [])) > 0
}

data_object(obj) if obj.kind == "PersistentVolumeClaim"

data_object(obj) if data_statefulset(obj)

# datasafety.sync-options: a PVC or data StatefulSet that Argo CD may prune or
# delete (removing it from git, or deleting the app, would delete the data).
deny contains lib.finding("datasafety.sync-options", msg, ["metadata", "annotations"]) if {
	input.kind in {"PersistentVolumeClaim", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	data_object(input)
	some opt in ["Prune=false", "Delete=false"]
	not has_option(input, opt)
	msg := sprintf("%s %s lacks %s in annotation %s: Argo CD may delete its data", [input.kind, input.metadata.name, opt, sync_options])
}

has_option(obj, opt) if {
	some item in split(obj.metadata.annotations[sync_options], ",")
	trim_space(item) == opt
}

# datasafety.pvc-retention: a data StatefulSet must retain its PVCs when it is
# deleted or scaled down. Kubernetes defaults to Retain, but the policy must
# be explicit so no patch or default change can turn it into Delete.
deny contains lib.finding("datasafety.pvc-retention", msg, ["spec", "persistentVolumeClaimRetentionPolicy", field]) if {
	input.kind == "StatefulSet" # the kind first: OPA's rule index skips the rule for other kinds
	data_statefulset(input)
	some field in ["whenDeleted", "whenScaled"]
	v := object.get(input, ["spec", "persistentVolumeClaimRetentionPolicy", field], "unset")
	v != "Retain"
	msg := sprintf("StatefulSet %s has persistentVolumeClaimRetentionPolicy.%s %s: set it to Retain", [input.metadata.name, field, v])
}

# datasafety.storageclass: a claim must name a StorageClass in the set; an
# unset class takes the cluster default, which is not the replicated one.
deny contains lib.finding("datasafety.storageclass", msg, array.concat(path, ["storageClassName"])) if {
	input.kind in {"PersistentVolumeClaim", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	some [path, what, spec] in claims(input)
	not spec.storageClassName
	msg := sprintf("%s of %s %s names no storageClassName: it would get the cluster default", [what, input.kind, input.metadata.name])
}

deny contains lib.finding("datasafety.storageclass", msg, array.concat(path, ["storageClassName"])) if {
	input.kind in {"PersistentVolumeClaim", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	some [path, what, spec] in claims(input)
	name := spec.storageClassName
	not lib.exists("StorageClass.storage.k8s.io", "", name)
	msg := sprintf("%s of %s %s uses StorageClass %q, which is not in the set", [what, input.kind, input.metadata.name, name])
}

claims(obj) := {[["spec"], "the claim", obj.spec] | obj.kind == "PersistentVolumeClaim"} | {[path, what, t.spec] |
	obj.kind == "StatefulSet"
	some i, t in obj.spec.volumeClaimTemplates
	path := ["spec", "volumeClaimTemplates", i, "spec"]
	what := sprintf("volumeClaimTemplate %s", [t.metadata.name])
}

# datasafety.reclaim-retain: with the default reclaimPolicy Delete, deleting
# a claim (a pruned PVC, a scaled-in StatefulSet whose PVC someone removes)
# deletes the volume and its data. Only classes that claims use are judged.
deny contains lib.finding("datasafety.reclaim-retain", msg, ["reclaimPolicy"]) if {
	lib.has_inventory
	input.kind == "StorageClass"
	policy := object.get(input, ["reclaimPolicy"], "Delete")
	policy != "Retain"
	users := claimants(input.metadata.name)
	count(users) > 0
	msg := sprintf("StorageClass %s has reclaimPolicy %s but data claims use it (%s): set reclaimPolicy Retain", [input.metadata.name, policy, concat(", ", sort(users))])
}

# claimants lists the claims of the env that use StorageClass name.
claimants(name) := {sprintf("%s %s/%s", [o.kind, lib.namespace(o), o.metadata.name]) |
	some k in ["PersistentVolumeClaim", "StatefulSet.apps"]
	some by_name in lib.index[k]
	some same_name in by_name
	some o in same_name
	some [_, _, spec] in claims(o)
	spec.storageClassName == name
}
