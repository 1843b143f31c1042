# Fixtures for the security rules (network, podsecurity, identity, priority, probes):
# a small shop that passes all of them, as the schema renders it, and a
# helper that runs those packages on one object. Each test breaks one thing.
package secfix

import data.fixtures
import data.identity
import data.network
import data.podsecurity
import data.priority
import data.probes

labels(name) := {"app.kubernetes.io/name": name}

namespace := {
	"apiVersion": "v1", "kind": "Namespace",
	"metadata": {"name": "shop", "labels": {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.35"}},
}

priority_class := {
	"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
	"metadata": {"name": "shop-customer-facing"}, "value": 10000,
}

container := {
	"name": "web", "image": "registry/web@sha256:0",
	"ports": [{"name": "http", "containerPort": 8080}],
	"securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
	"volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
}

pod_spec := {
	"serviceAccountName": "web",
	"automountServiceAccountToken": false,
	"priorityClassName": "shop-customer-facing",
	"securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
	"containers": [container],
	"volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, {"name": "creds", "secret": {"secretName": "web"}}],
}

rollout := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": {"selector": {"matchLabels": labels("web")}, "template": {"metadata": {"labels": labels("web")}, "spec": pod_spec}},
}

dns_rule := {
	"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
	"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
}

db_rule := {"to": [{"podSelector": {"matchLabels": labels("db")}}], "ports": [{"port": 5432, "protocol": "TCP"}]}

alb_rule := {"from": [{"ipBlock": {"cidr": "10.10.0.0/16"}}], "ports": [{"port": 8080, "protocol": "TCP"}]}

web_flows := {"ingress": [alb_rule], "egress": [dns_rule, db_rule]}

db_flows := {"ingress": [{"from": [{"podSelector": {"matchLabels": labels("web")}}], "ports": [{"port": 5432, "protocol": "TCP"}]}]}

service_account(name, flows) := {
	"apiVersion": "v1", "kind": "ServiceAccount",
	"metadata": {"name": name, "namespace": "shop", "annotations": {"platform.shop/network-flows": json.marshal(flows)}},
	"automountServiceAccountToken": false,
}

policy(name, flows) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	"metadata": {"name": name, "namespace": "shop"},
	"spec": object.union({"podSelector": {"matchLabels": labels(name)}, "policyTypes": ["Ingress", "Egress"]}, flows),
}

default_deny := {
	"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	"metadata": {"name": "default-deny", "namespace": "shop"},
	"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}

# The database: a StatefulSet with its own identity, PVC and the data tier.
statefulset := {
	"apiVersion": "apps/v1", "kind": "StatefulSet",
	"metadata": {"name": "db", "namespace": "shop"},
	"spec": {
		"selector": {"matchLabels": labels("db")},
		"template": {"metadata": {"labels": labels("db")}, "spec": object.union(pod_spec, {
			"serviceAccountName": "db", "priorityClassName": "shop-data",
			"securityContext": {"runAsNonRoot": true, "runAsUser": 999, "fsGroup": 999, "seccompProfile": {"type": "RuntimeDefault"}},
			"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
		})},
	},
}

cluster := {
	"apiVersion": "eks.aws.upbound.io/v1beta2", "kind": "Cluster",
	"metadata": {"name": "shop-prod"}, "spec": {"forProvider": {"region": "us-east-1"}},
}

vpc_cni := {
	"apiVersion": "eks.aws.upbound.io/v1beta1", "kind": "Addon",
	"metadata": {"name": "shop-prod-vpc-cni"},
	"spec": {"forProvider": {"addonName": "vpc-cni", "clusterNameRef": {"name": "shop-prod"}, "configurationValues": "{\"enableNetworkPolicy\":\"true\"}"}},
}

good := [
	cluster, vpc_cni,
	namespace, priority_class, json.patch(priority_class, [{"op": "replace", "path": "/metadata/name", "value": "shop-data"}]),
	rollout, service_account("web", web_flows), policy("web", web_flows), default_deny,
	statefulset, service_account("db", db_flows), policy("db", db_flows),
]

check(objs) := fixtures.check("prod", objs)

shop := check(good)

results(obj, chk) := {"deny": d} if {
	d := (((network.deny | podsecurity.deny) | identity.deny) | priority.deny) | probes.deny with input as obj with data.check as chk
}

denied(obj, chk) := {f.rule | some f in results(obj, chk).deny}

# denied_in: obj swapped into the good set, checked there.
denied_in(obj) := denied(obj, check(fixtures.swap(good, obj)))

msgs(obj) := {f.msg | some f in results(obj, check(fixtures.swap(good, obj))).deny}
