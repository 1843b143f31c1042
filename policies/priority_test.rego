package priority_test

import data.secfix

test_missing_priority_class if {
	obj := json.patch(secfix.rollout, [{"op": "remove", "path": "/spec/template/spec/priorityClassName"}])
	secfix.denied_in(obj) == {"priority.missing"}
}

test_unknown_priority_class if {
	obj := json.patch(secfix.rollout, [{"op": "replace", "path": "/spec/template/spec/priorityClassName", "value": "shop-urgent"}])
	secfix.denied_in(obj) == {"priority.missing"}
	builtin := json.patch(secfix.rollout, [{"op": "replace", "path": "/spec/template/spec/priorityClassName", "value": "system-cluster-critical"}])
	secfix.denied_in(builtin) == set()
}

chart_app(chart, values) := {
	"apiVersion": "argoproj.io/v1alpha1",
	"kind": "Application",
	"metadata": {"name": sprintf("prod-addon-%s", [chart]), "namespace": "argocd", "labels": {"platform.shop/upstream-chart": chart}},
	"spec": {"source": {"chart": chart, "helm": {"valuesObject": values}}},
}

controller_findings(app) := {f.msg | some f in data.priority.deny with input as app; f.rule == "priority.controller"}

test_controller_priority_left_to_the_chart if {
	found := controller_findings(chart_app("external-secrets", {"installCRDs": true}))
	count(found) == 3 # the controller, the webhook and the cert controller
	some msg in found
	contains(msg, "webhook.priorityClassName unset")
}

test_controller_priority_below_system if {
	found := controller_findings(chart_app("argo-rollouts", {"controller": {"priorityClassName": "shop-prod-data"}}))
	count(found) == 1
	some msg in found
	contains(msg, "controller.priorityClassName shop-prod-data")
}

test_controller_priority_set if {
	set_all := {"priorityClassName": "system-cluster-critical", "webhook": {"priorityClassName": "system-cluster-critical"}, "certController": {"priorityClassName": "system-node-critical"}}
	controller_findings(chart_app("external-secrets", set_all)) == set()

	# a chart outside the table is not judged (Portworx: no such value)
	controller_findings(chart_app("portworx", {})) == set()

	# the value at another path does not count
	controller_findings(chart_app("ack-quicksight", {"priorityClassName": "system-cluster-critical"})) != set()
}
