package identity_test

import data.fixtures
import data.secfix

test_default_service_account if {
	obj := json.patch(secfix.rollout, [{"op": "remove", "path": "/spec/template/spec/serviceAccountName"}])
	"identity.default-service-account" in secfix.denied_in(obj)
	named := json.patch(secfix.rollout, [{"op": "replace", "path": "/spec/template/spec/serviceAccountName", "value": "default"}])
	"identity.default-service-account" in secfix.denied_in(named)
}

test_deprecated_service_account_field_counts if {
	obj := json.patch(secfix.rollout, [
		{"op": "remove", "path": "/spec/template/spec/serviceAccountName"},
		{"op": "add", "path": "/spec/template/spec/serviceAccount", "value": "web"},
	])
	secfix.denied_in(obj) == set()
}

# The pod unset: the ServiceAccount decides; it unset too: a token.
test_unneeded_token_from_service_account if {
	obj := json.patch(secfix.rollout, [{"op": "remove", "path": "/spec/template/spec/automountServiceAccountToken"}])
	secfix.denied_in(obj) == set()
	sa := json.patch(secfix.service_account("web", secfix.web_flows), [{"op": "remove", "path": "/automountServiceAccountToken"}])
	chk := secfix.check(fixtures.swap(fixtures.swap(secfix.good, obj), sa))
	secfix.denied(obj, chk) == {"identity.unneeded-token"}
}

test_unneeded_token_on_the_pod if {
	obj := json.patch(secfix.rollout, [{"op": "replace", "path": "/spec/template/spec/automountServiceAccountToken", "value": true}])
	secfix.denied_in(obj) == {"identity.unneeded-token"}

	# A ServiceAccount that says it calls the API may have one.
	sa := json.patch(secfix.service_account("web", secfix.web_flows), [{"op": "add", "path": "/metadata/annotations/platform.shop~1kubernetes-api", "value": "used"}])
	secfix.denied(obj, secfix.check(fixtures.swap(fixtures.swap(secfix.good, obj), sa))) == set()
}

# A ServiceAccount missing from the set mounts a token (its default).
test_unneeded_token_unknown_service_account if {
	obj := json.patch(secfix.rollout, [
		{"op": "replace", "path": "/spec/template/spec/serviceAccountName", "value": "ghost"},
		{"op": "remove", "path": "/spec/template/spec/automountServiceAccountToken"},
	])
	secfix.denied_in(obj) == {"identity.unneeded-token"}
}
