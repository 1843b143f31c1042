package podsecurity_test

import data.fixtures
import data.secfix

spec(patch) := json.patch(secfix.rollout, [{"op": "add", "path": concat("", ["/spec/template/spec", p.path]), "value": p.value} | some p in patch])

# named_checks are the upstream check names the findings give, "(name)".
named_checks(obj) := {x[1] |
	some m in secfix.msgs(obj)
	some x in regex.find_all_string_submatch_n(`\(([A-Za-z]+)\)`, m, -1)
}

# Each crafted pod breaks one check; the finding names the check.
crafted := [
	["baseline", "hostNamespaces", [{"path": "/hostNetwork", "value": true}]],
	["baseline", "privileged", [{"path": "/containers/0/securityContext/privileged", "value": true}]],
	["baseline", "capabilities", [{"path": "/containers/0/securityContext/capabilities/add", "value": ["SYS_ADMIN"]}]],
	["baseline", "hostPathVolumes", [{"path": "/volumes/0", "value": {"name": "h", "hostPath": {"path": "/"}}}]],
	["baseline", "hostPorts", [{"path": "/containers/0/ports/0/hostPort", "value": 80}]],
	["baseline", "seccompProfile", [{"path": "/securityContext/seccompProfile/type", "value": "Unconfined"}]],
	["baseline", "appArmorProfile", [{"path": "/containers/0/securityContext/appArmorProfile", "value": {"type": "Unconfined"}}]],
	["baseline", "seLinuxOptions", [{"path": "/securityContext/seLinuxOptions", "value": {"type": "spc_t"}}]],
	["baseline", "seLinuxOptions", [{"path": "/securityContext/seLinuxOptions", "value": {"user": "root"}}]],
	["baseline", "seLinuxOptions", [{"path": "/securityContext/seLinuxOptions", "value": {"role": "sysadm_r"}}]],
	["baseline", "procMount", [{"path": "/containers/0/securityContext/procMount", "value": "Unmasked"}]],
	["baseline", "sysctls", [{"path": "/securityContext/sysctls", "value": [{"name": "kernel.msgmax", "value": "1"}]}]],
	["baseline", "hostProcess", [{"path": "/securityContext/windowsOptions", "value": {"hostProcess": true}}]],
	["baseline", "hostProbesAndHostLifecycle", [{"path": "/containers/0/readinessProbe", "value": {"httpGet": {"host": "169.254.169.254", "path": "/", "port": 80}}}]],
	["baseline", "hostProbesAndHostLifecycle", [{"path": "/containers/0/lifecycle", "value": {"preStop": {"tcpSocket": {"host": "10.0.0.1", "port": 22}}}}]],
	["restricted", "restrictedVolumes", [{"path": "/volumes/0", "value": {"name": "n", "nfs": {"server": "x", "path": "/"}}}]],
	["restricted", "allowPrivilegeEscalation", [{"path": "/initContainers", "value": [object.remove(secfix.container, ["securityContext"])]}]],
	["restricted", "runAsNonRoot", [{"path": "/securityContext/runAsNonRoot", "value": false}]],
	["restricted", "runAsNonRoot", [{"path": "/containers/0/securityContext/runAsNonRoot", "value": false}]],
	["restricted", "runAsNonRoot", [{"path": "/securityContext", "value": {"seccompProfile": {"type": "RuntimeDefault"}}}]],
	["restricted", "runAsUser", [{"path": "/containers/0/securityContext/runAsUser", "value": 0}]],
	["restricted", "seccompProfile", [{"path": "/securityContext", "value": {"runAsNonRoot": true}}]],
	["restricted", "capabilities", [{"path": "/containers/0/securityContext/capabilities", "value": {"drop": ["NET_RAW"]}}]],
	["restricted", "capabilities", [{"path": "/containers/0/securityContext/capabilities/add", "value": ["CHOWN"]}]],
]

test_each_check_fails_its_crafted_pod if {
	missed := [c |
		some c in crafted
		[level, check, patch] := c
		obj := spec(patch)
		not caught(level, check, obj)
	]
	print(missed)
	missed == []
}

caught(level, check, obj) if {
	concat(".", ["podsecurity", level]) in secfix.denied_in(obj)
	check in named_checks(obj)
}

# AppArmor's beta annotation on the pod template.
test_apparmor_annotation if {
	bad := json.patch(secfix.rollout, [{"op": "add", "path": "/spec/template/metadata/annotations", "value": {"container.apparmor.security.beta.kubernetes.io/web": "unconfined"}}])
	secfix.denied_in(bad) == {"podsecurity.baseline"}
	ok := json.patch(secfix.rollout, [{"op": "add", "path": "/spec/template/metadata/annotations", "value": {"container.apparmor.security.beta.kubernetes.io/web": "localhost/web"}}])
	secfix.denied_in(ok) == set()
}

# Container-level settings satisfy the checks as the pod's would.
test_container_level_settings_pass if {
	obj := spec([
		{"path": "/securityContext", "value": {}},
		{"path": "/containers/0/securityContext/runAsNonRoot", "value": true},
		{"path": "/containers/0/securityContext/seccompProfile", "value": {"type": "Localhost", "localhostProfile": "p.json"}},
		{"path": "/containers/0/securityContext/capabilities/add", "value": ["NET_BIND_SERVICE"]},
		{"path": "/containers/0/securityContext/procMount", "value": "Default"},
		{"path": "/containers/0/securityContext/seLinuxOptions", "value": {"type": "container_t"}},
	])
	secfix.denied_in(obj) == set()
}

# Baseline namespaces get only the baseline checks; unlabelled ones none.
test_levels_follow_the_namespace if {
	obj := spec([{"path": "/securityContext", "value": {}}])
	secfix.denied_in(obj) == {"podsecurity.restricted"}
	baseline := json.patch(secfix.namespace, [{"op": "replace", "path": "/metadata/labels/pod-security.kubernetes.io~1enforce", "value": "baseline"}])
	secfix.denied(obj, secfix.check(fixtures.swap(fixtures.swap(secfix.good, obj), baseline))) == set()
	privileged := spec([{"path": "/hostPID", "value": true}])
	"podsecurity.baseline" in secfix.denied(privileged, secfix.check(fixtures.swap(fixtures.swap(secfix.good, privileged), baseline)))
}

# Image volumes are allowed by restricted; a probe without a host is the pod's own.
test_image_volume_and_own_probe_pass if {
	obj := spec([
		{"path": "/volumes/0", "value": {"name": "model", "image": {"reference": "registry/model:1", "pullPolicy": "IfNotPresent"}}},
		{"path": "/containers/0/livenessProbe", "value": {"httpGet": {"path": "/livez", "port": 8080}}},
	])
	secfix.denied_in(obj) == set()
}

pinned(version) := json.patch(secfix.namespace, [{"op": "replace", "path": "/metadata/labels/pod-security.kubernetes.io~1enforce-version", "value": version}])

# The probe host check came with v1.34: a namespace pinned earlier does not run it.
test_probe_host_check_follows_the_enforce_version if {
	obj := spec([{"path": "/containers/0/startupProbe", "value": {"tcpSocket": {"host": "db", "port": 5432}}}])
	"hostProbesAndHostLifecycle" in named_checks(obj)
	secfix.denied(obj, secfix.check(fixtures.swap(fixtures.swap(secfix.good, obj), pinned("v1.33")))) == set()
	secfix.denied(obj, secfix.check(fixtures.swap(fixtures.swap(secfix.good, obj), pinned("latest")))) == {"podsecurity.baseline"}
	unpinned := json.remove(secfix.namespace, ["metadata/labels/pod-security.kubernetes.io~1enforce-version"])
	secfix.denied(obj, secfix.check(fixtures.swap(fixtures.swap(secfix.good, obj), unpinned))) == {"podsecurity.baseline"}
}
