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
