# Fixtures for the policy unit tests: a small compliant env (every rule
# passes on it) and helpers to run every package against one object.
# Each *_test.rego breaks one thing at a time and expects exactly its rule.
package fixtures

import data.capacity
import data.datasafety
import data.dr
import data.lib
import data.parity
import data.references
import data.releases
import data.replicas
import data.retry
import data.secrets
import data.stores
import data.zones

digest := "@sha256:c4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6"

sync := {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}

zone_spread := [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule", "nodeTaintsPolicy": "Honor", "labelSelector": {"matchLabels": {"app": "web"}}}]

rollout := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
	"metadata": {"name": "web", "namespace": "shop", "labels": {"platform.shop/env": "prod"}},
	"spec": {
		"replicas": 3,
		"selector": {"matchLabels": {"app": "web"}},
		"strategy": {"blueGreen": {
			"activeService": "web", "previewService": "web-preview",
			"autoPromotionEnabled": false,
			"prePromotionAnalysis": {"templates": [{"templateName": "web-smoke"}]},
		}},
		"template": {
			"metadata": {"labels": {"app": "web"}},
			"spec": {
				"containers": [{
					"name": "web", "image": concat("", ["registry/web", digest]),
					"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
					"env": [
						{"name": "LOG_LEVEL", "value": "info"},
						{"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "web-creds", "key": "token"}}},
						{"name": "OPTIONAL_KEY", "valueFrom": {"secretKeyRef": {"name": "maybe", "key": "k", "optional": true}}},
					],
					"envFrom": [{"secretRef": {"name": "web-creds"}}],
				}],
				"volumes": [
					{"name": "tls", "secret": {"secretName": "web-creds", "items": [{"key": "token", "path": "token"}]}},
					{"name": "all", "projected": {"sources": [{"secret": {"name": "web-creds"}}]}},
				],
				"topologySpreadConstraints": zone_spread,
			},
		},
	},
}

hpa := {
	"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": {
		"minReplicas": 3, "maxReplicas": 9, "scaleTargetRef": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "web"},
		"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
	},
}

pdb := {
	"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": {"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow", "selector": {"matchLabels": {"app": "web"}}},
}

service(name) := {
	"apiVersion": "v1", "kind": "Service",
	"metadata": {"name": name, "namespace": "shop"},
	"spec": {"type": "ClusterIP", "selector": {"app": "web"}, "ports": [{"port": 80}]},
}

analysis := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
	"metadata": {"name": "web-smoke", "namespace": "shop"},
	"spec": {"metrics": [{"name": "smoke"}]},
}

external_secret := {
	"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
	"metadata": {"name": "web-creds", "namespace": "shop"},
	"spec": {
		"secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws"},
		"data": [{"secretKey": "token", "remoteRef": {"key": "prod/web", "property": "token"}}],
	},
}

store := {
	"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
	"metadata": {"name": "aws"},
	"spec": {
		"conditions": [{"namespaces": ["shop"]}],
		"provider": {"aws": {"service": "SecretsManager", "region": "us-east-1"}},
	},
}

statefulset := {
	"apiVersion": "apps/v1", "kind": "StatefulSet",
	"metadata": {"name": "db", "namespace": "shop", "annotations": object.union(sync, {"platform.shop/replication": "streaming"})},
	"spec": {
		"replicas": 3,
		"serviceName": "db",
		"selector": {"matchLabels": {"app": "db"}},
		"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
		"template": {
			"metadata": {"labels": {"app": "db"}},
			"spec": {
				"containers": [{"name": "pg", "image": concat("", ["registry/postgres", digest])}],
				"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule", "nodeTaintsPolicy": "Honor", "labelSelector": {"matchLabels": {"app": "db"}}}],
			},
		},
		"volumeClaimTemplates": [{
			"metadata": {"name": "data", "annotations": sync},
			"spec": {"storageClassName": "px", "accessModes": ["ReadWriteOnce"]},
		}],
	},
}

db_pdb := json.patch(pdb, [
	{"op": "replace", "path": "/metadata/name", "value": "db"},
	{"op": "replace", "path": "/spec/selector/matchLabels/app", "value": "db"},
])

db_service := json.patch(service("db"), [{"op": "replace", "path": "/spec/selector/app", "value": "db"}])

pvc := {
	"apiVersion": "v1", "kind": "PersistentVolumeClaim",
	"metadata": {"name": "data-db-0", "namespace": "shop", "annotations": sync},
	"spec": {"storageClassName": "px", "accessModes": ["ReadWriteOnce"]},
}

storage_class := {
	"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
	"metadata": {"name": "px"},
	"provisioner": "pxd.portworx.com",
	"reclaimPolicy": "Retain",
	"parameters": {"repl": "3", "placement_strategy": "zone-spread"},
}

placement := {
	"apiVersion": "portworx.io/v1beta2", "kind": "VolumePlacementStrategy",
	"metadata": {"name": "zone-spread"},
	"spec": {"replicaAntiAffinity": [{"enforcement": "required", "topologyKey": "topology.kubernetes.io/zone"}]},
}

config_map := {
	"apiVersion": "v1", "kind": "ConfigMap",
	"metadata": {"name": "db-config", "namespace": "shop"},
	"data": {"STORAGE_CLASS": "px", "KEY_ID": "alias/db", "postgresql.conf": "max_connections = 200"},
}

ingress := {
	"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
	"metadata": {"name": "web", "namespace": "shop", "annotations": {"alb.ingress.kubernetes.io/target-group-attributes": "deregistration_delay.timeout_seconds=30, load_balancing.cross_zone.enabled=true"}},
	"spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
}

nlb := {
	"apiVersion": "v1", "kind": "Service",
	"metadata": {"name": "edge", "namespace": "shop", "annotations": {
		"service.beta.kubernetes.io/aws-load-balancer-type": "external",
		"service.beta.kubernetes.io/aws-load-balancer-attributes": "load_balancing.cross_zone.enabled=true",
	}},
	"spec": {"type": "LoadBalancer", "selector": {"app": "web"}},
}

subnet(name, zone) := {
	"apiVersion": "ec2.aws.upbound.io/v1beta1", "kind": "Subnet",
	"metadata": {"name": name, "labels": {"tier": "nodes"}},
	"spec": {"forProvider": {"availabilityZone": zone, "region": "us-east-1"}},
}

# One node group per zone, each naming its subnet a different way.
nodegroup(name, fp) := {
	"apiVersion": "eks.aws.upbound.io/v1beta2", "kind": "NodeGroup",
	"metadata": {"name": name},
	"spec": {"forProvider": object.union(
		{
			"clusterName": "shop", "region": "us-east-1",
			"instanceTypes": ["m6i.xlarge"], "scalingConfig": {"minSize": 1, "maxSize": 3},
		},
		fp,
	)},
}

nodegroups := [
	nodegroup("ng-a", {"subnetIdRefs": [{"name": "nodes-a"}]}),
	nodegroup("ng-b", {"subnetIds": ["subnet-b"]}),
	nodegroup("ng-c", {"subnetIdSelector": {"matchLabels": {"tier": "nodes"}, "matchExpressions": [{"key": "zone", "operator": "In", "values": ["c"]}]}}),
]

subnets := [
	subnet("nodes-a", "us-east-1a"),
	object.union(subnet("nodes-b", "us-east-1b"), {"status": {"atProvider": {"id": "subnet-b"}}}),
	object.union(subnet("nodes-c", "us-east-1c"), {"metadata": {"labels": {"zone": "c"}}}),
]

redshift := {
	"apiVersion": "redshift.aws.upbound.io/v1beta1", "kind": "Cluster",
	"metadata": {"name": "analytics"},
	"spec": {"forProvider": {
		"region": "us-east-1", "masterUsername": "admin",
		"masterPasswordSecretRef": {"name": "redshift", "namespace": "crossplane-system", "key": "password"},
	}},
}

# DR: a primary's backup location, schedule and bucket lifecycle, its
# weighted record and HTTPS health check.
backup_location := {
	"apiVersion": "stork.libopenstorage.org/v1alpha1", "kind": "BackupLocation",
	"metadata": {"name": "s3", "namespace": "shop"},
	"location": {"type": "s3", "path": "backups", "secretConfig": "web-creds"},
}

backup_schedule := {
	"apiVersion": "stork.libopenstorage.org/v1alpha1", "kind": "ApplicationBackupSchedule",
	"metadata": {"name": "shop", "namespace": "shop"},
	"spec": {"schedulePolicyName": "hourly", "reclaimPolicy": "Retain", "template": {"spec": {"backupLocation": "s3", "namespaces": ["shop"], "reclaimPolicy": "Delete", "resourceTypes": ["PersistentVolumeClaim"]}}},
}

schedule_policy := {
	"apiVersion": "stork.libopenstorage.org/v1alpha1", "kind": "SchedulePolicy",
	"metadata": {"name": "hourly"},
	"policy": {"interval": {"intervalMinutes": 60, "retain": 24}},
}

lifecycle := {
	"apiVersion": "s3.aws.upbound.io/v1beta1", "kind": "BucketLifecycleConfiguration",
	"metadata": {"name": "backups"},
	"spec": {"forProvider": {"bucketRef": {"name": "backups"}, "rule": [{
		"id": "expire", "status": "Enabled",
		"expiration": [{"days": 30}], "noncurrentVersionExpiration": [{"noncurrentDays": 7}],
	}]}},
}

alb := "k8s-shop-1234.us-east-1.elb.amazonaws.com"

record := {
	"apiVersion": "route53.aws.upbound.io/v1beta2", "kind": "Record",
	"metadata": {"name": "origin-prod"},
	"spec": {"forProvider": {
		"name": "origin.shop.example.com", "type": "A", "setIdentifier": "prod",
		"weightedRoutingPolicy": {"weight": 255}, "healthCheckIdRef": {"name": "origin-prod"},
		"alias": {"name": alb, "zoneId": "Z35SXDOTRQ7X7K", "evaluateTargetHealth": false},
	}},
}

health_check := {
	"apiVersion": "route53.aws.upbound.io/v1beta1", "kind": "HealthCheck",
	"metadata": {"name": "origin-prod"},
	"spec": {"forProvider": {"type": "HTTPS", "fqdn": alb, "port": 443, "resourcePath": "/healthz"}},
}

# descheduler installs the chart that keeps zone spread after scale-downs
# (zones.rebalance), as schema/cluster_addons.cue renders it.
descheduler := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "prod-addon-descheduler", "namespace": "argocd"},
	"spec": {
		"destination": {"name": "shop-prod", "namespace": "kube-system"},
		"source": {"chart": "descheduler", "repoURL": "https://kubernetes-sigs.github.io/descheduler/", "targetRevision": "0.35.0", "helm": {"valuesObject": {"deschedulerPolicy": {"profiles": [{
			"name": "zone-spread",
			"pluginConfig": [{"name": "RemovePodsViolatingTopologySpreadConstraint", "args": {"constraints": ["DoNotSchedule"]}}],
			"plugins": {"balance": {"enabled": ["RemovePodsViolatingTopologySpreadConstraint"]}},
		}]}}}},
		"syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "retry": {"limit": 24, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "5m"}}},
	},
}

good := array.concat(
	[
		rollout, hpa, pdb, descheduler, service("web"), service("web-preview"), analysis, external_secret, store,
		statefulset, db_pdb, db_service, pvc, storage_class, placement, config_map, ingress, nlb, redshift,
		backup_location, backup_schedule, schedule_policy, lifecycle, record, health_check,
	],
	array.concat(nodegroups, subnets),
)

# index builds data.check.index exactly as internal/checker.Index does.
index(objs) := {k: by_ns(objs, k) | some o in objs; k := lib.key(o)}

by_ns(objs, k) := {ns: by_name(objs, k, ns) | some o in objs; lib.key(o) == k; ns := lib.namespace(o)}

by_name(objs, k, ns) := {n: [o | some o in objs; lib.key(o) == k; lib.namespace(o) == ns; o.metadata.name == n] |
	some o in objs
	lib.key(o) == k
	lib.namespace(o) == ns
	n := o.metadata.name
}

check(env, objs) := {"env": env, "index": index(objs)}

prod := check("prod", good)

dr := check("dr", good)

# results runs every package's deny and warn for one object.
results(obj, chk) := r if {
	r := {"deny": ((((((((((replicas.deny | zones.deny) | secrets.deny) | releases.deny) | datasafety.deny) | parity.deny) | dr.deny) | retry.deny) | stores.deny) | references.deny) | capacity.deny), "warn": ((replicas.warn | references.warn) | parity.warn)} with input as obj
		with data.check as chk
}

# denied is the set of rule ids denied for obj.
denied(obj, chk) := {f.rule | some f in results(obj, chk).deny}

warned(obj, chk) := {f.rule | some f in results(obj, chk).warn}

# only is true when obj is denied by exactly rule and nothing else.
only(rule, obj, chk) if denied(obj, chk) == {rule}

# set replaces the value at a JSON pointer.
set(obj, ptr, v) := json.patch(obj, [{"op": "add", "path": ptr, "value": v}])

# without removes the value at a JSON pointer.
without(obj, ptr) := json.patch(obj, [{"op": "remove", "path": ptr}])

# swap replaces obj (same kind and name) in the good set.
swap(objs, obj) := array.concat([o | some o in objs; not same(o, obj)], [obj])

same(a, b) if {
	lib.key(a) == lib.key(b)
	a.metadata.name == b.metadata.name
}

drop(objs, obj) := [o | some o in objs; not same(o, obj)]
