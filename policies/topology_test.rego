package topology_test

import data.fixtures
import data.topology

wave(w) := {"argocd.argoproj.io/sync-wave": w}

project := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
	"metadata": {"name": "platform-prod", "namespace": "argocd", "annotations": wave("-31")},
	"spec": {"destinations": [
		{"server": "https://kubernetes.default.svc", "namespace": "*"},
		{"name": "shop-prod", "namespace": "*"},
		{"server": "https://ABC.gr7.us-east-1.eks.amazonaws.com", "namespace": "shop"},
	]},
}

cluster := {
	"apiVersion": "v1", "kind": "Secret",
	"metadata": {"name": "cluster-shop-prod", "namespace": "argocd", "labels": {"argocd.argoproj.io/secret-type": "cluster"}, "annotations": wave("-31")},
	"stringData": {"name": "shop-prod", "server": "https://ABC.gr7.us-east-1.eks.amazonaws.com"},
}

app(name, w, destination) := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": name, "namespace": "argocd", "annotations": wave(w)},
	"spec": {"project": "platform-prod", "destination": destination},
}

workload := app("prod-platform", "0", {"name": "shop-prod", "namespace": "shop"})

by_server := app("prod-storage", "1", {"server": "https://ABC.gr7.us-east-1.eks.amazonaws.com", "namespace": "shop"})

management := app("prod-aws-eks", "-10", {"server": "https://kubernetes.default.svc", "namespace": "crossplane-system"})

root := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "platform-prod", "namespace": "argocd"},
	"spec": {"project": "default", "destination": {"name": "in-cluster", "namespace": "argocd"}},
}

good := [project, cluster, workload, by_server, management, root]

denied(obj, objs) := r if {
	r := {f.rule | some f in topology.deny} with input as obj with data.check as fixtures.check("prod", objs)
}

test_topology_is_clean if {
	every obj in good {
		denied(obj, good) == set()
	}
}

test_project_missing if {
	denied(workload, fixtures.drop(good, project)) == {"topology.project-wave"}
}

test_project_after_its_applications if {
	late := fixtures.set(project, "/metadata/annotations", wave("-1"))
	denied(management, fixtures.swap(good, late)) == {"topology.project-wave"}

	# the same wave is too late as well: Argo CD applies a wave's objects together
	same := fixtures.without(project, "/metadata/annotations")
	denied(workload, fixtures.swap(good, same)) == {"topology.project-wave"}
}

test_destination_not_registered if {
	denied(workload, fixtures.drop(good, cluster)) == {"topology.destination"}
	denied(by_server, fixtures.drop(good, cluster)) == {"topology.destination"}
}

test_destination_registered_too_late if {
	late := fixtures.set(cluster, "/metadata/annotations", wave("5"))
	denied(workload, fixtures.swap(good, late)) == {"topology.destination"}
}

test_docs if {
	every id, text in topology.docs {
		startswith(id, "topology.")
		text != ""
	}
}

test_destination_the_project_does_not_permit if {
	elsewhere := app("prod-other", "0", {"name": "shop-dr", "namespace": "shop"})
	dr := fixtures.set(cluster, "/stringData/name", "shop-dr")
	denied(elsewhere, array.concat(good, [fixtures.set(dr, "/metadata/name", "cluster-shop-dr")])) == {"topology.project-destination"}
	wrong_ns := fixtures.set(by_server, "/spec/destination/namespace", "kube-system")
	denied(wrong_ns, good) == {"topology.project-destination"}
}
