# Parity: the DR site must be able to take over. An env with a parity peer
# (prod -> dr, from data.thresholds) lists what it runs that the peer lacks.
# It runs when the engine checks both envs together (data.check.peers).
package parity

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"parity.missing-in-peer": "Services, databases and storage classes in prod exist in dr (same kind and namespace, same name or the env name swapped); platform.shop/parity primary-only exempts an object, restored-on-failover one that dr restores from backups (it has a syncing BackupLocation).",
	"parity.failover-capacity": "(warn) dr's HPA for a service can reach prod's floor (its maxReplicas >= prod's minReplicas), so dr can carry prod's load after a failover.",
}

# Kinds that make a site able to serve users: services, the databases they
# read and write, storage. Analytics (Redshift, EMR, QuickSight) is prod-only
# by design and not needed to take over, so it is not listed.
kinds := {
	"Service": "service",
	"Rollout.argoproj.io": "service",
	"Deployment.apps": "service",
	"StatefulSet.apps": "database",
	"StorageClass.storage.k8s.io": "storage class",
	"Cluster.rds.aws.upbound.io": "database",
	"Instance.rds.aws.upbound.io": "database",
}

# kind_names are the Kind parts of kinds' keys (Kind, or Kind.group): a
# constant, so the engine binds the rule to them (internal/checker/kinds.go).
# Written out, not derived from kinds: OPA evaluated the comprehension again
# for every object (16 expressions each); a test keeps the two in step.
kind_names := {"Cluster", "Deployment", "Instance", "Rollout", "Service", "StatefulSet", "StorageClass"}

# parity.missing-in-peer: something prod runs has no counterpart of the same
# kind and namespace in the peer (dr), named alike or with the env's name
# swapped for the peer's (Crossplane objects carry it: shop-prod / shop-dr).
# An object annotated platform.shop/parity: primary-only is exempt, and so is
# one annotated restored-on-failover when the peer can restore it (a
# BackupLocation that syncs the backups, with an ApplicationRestore then).
deny contains lib.finding("parity.missing-in-peer", msg, ["metadata", "name"]) if {
	input.kind in kind_names # the kind first: the engine runs the rule set only for these kinds
	peer := lib.thresholds.parity_peer
	peer_index := data.check.peers[peer].index
	what := kinds[lib.key(input)]
	not exempt(input, peer_index)
	same_kind := object.get(peer_index, [lib.key(input), lib.namespace(input)], {})
	not same_kind[input.metadata.name] # the index holds no empty list: absent is none
	not same_kind[replace(input.metadata.name, lib.env, peer)]
	msg := sprintf("%s %s %q is in %s but not in %s: %s cannot take over", [what, input.kind, input.metadata.name, lib.env, peer, peer])
}

exempt(obj, _) if obj.metadata.annotations["platform.shop/parity"] == "primary-only"

exempt(obj, peer_index) if {
	obj.metadata.annotations["platform.shop/parity"] == "restored-on-failover"
	some by_name in peer_index["BackupLocation.stork.libopenstorage.org"][lib.namespace(obj)]
	some bl in by_name
	bl.location.sync == true
}

# parity.failover-capacity (warn): after a failover the peer serves prod's
# users, so its autoscaler must be allowed to reach prod's floor. The
# schema's default ceiling is 3x the floor (schema/platform.cue
# maxReplicas), so lowering dr's floor silently lowers its ceiling too.
warn contains lib.finding("parity.failover-capacity", msg, ["spec", "minReplicas"]) if {
	input.kind == "HorizontalPodAutoscaler"
	peer := lib.thresholds.parity_peer
	some peer_hpa in object.get(data.check.peers[peer].index, [lib.key(input), lib.namespace(input), input.metadata.name], [])
	peer_hpa.spec.maxReplicas < input.spec.minReplicas
	name := input.spec.scaleTargetRef.name
	msg := sprintf("%s can grow to %d replicas of %s, fewer than %s's floor of %d: after a failover it cannot carry %s's load; set platform: services: %s: maxReplicas: %d (or more) in envs/%s/services.cue (the default is 3x the floor)", [peer, peer_hpa.spec.maxReplicas, name, lib.env, input.spec.minReplicas, lib.env, name, input.spec.minReplicas, peer])
}
