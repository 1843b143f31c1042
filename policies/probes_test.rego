package probes_test

import data.secfix

probe(path) := {"httpGet": {"path": path, "port": "http"}, "periodSeconds": 5}

with_probes(live, ready) := json.patch(secfix.rollout, [
	{"op": "add", "path": "/spec/template/spec/containers/0/livenessProbe", "value": live},
	{"op": "add", "path": "/spec/template/spec/containers/0/readinessProbe", "value": ready},
])

test_liveness_is_readiness if {
	# Same check, other timings: still the same probe.
	obj := with_probes(object.union(probe("/healthz"), {"periodSeconds": 10}), probe("/healthz"))
	secfix.denied_in(obj) == {"probes.liveness-is-readiness"}
}

test_separate_probes_pass if {
	secfix.denied_in(with_probes(probe("/livez"), probe("/healthz"))) == set()
	secfix.denied_in(with_probes({"tcpSocket": {"port": 5432}}, {"exec": {"command": ["pg_isready"]}})) == set()
}
