# Pod Security Standards: the checks pod-security-admission runs
# (k8s.io/pod-security-admission/policy, check_*.go), applied to the pod
# templates of workloads in a namespace whose
# pod-security.kubernetes.io/enforce label is baseline or restricted. Found
# here, a violation fails the PR instead of Argo CD's sync: the API server
# would refuse the pods (for a template: the ReplicaSet's pods, silently).
package podsecurity

import data.lib

docs := {
	"podsecurity.baseline": "Pods in a namespace enforcing the baseline or restricted Pod Security Standard pass its baseline checks: no host namespaces, privileged containers, hostPath volumes, host ports, probe or lifecycle hosts (from v1.34), added capabilities beyond the default set, unsafe sysctls, Unconfined seccomp or AppArmor, custom SELinux user/role/type, /proc mount or Windows HostProcess.",
	"podsecurity.restricted": "Pods in a namespace enforcing the restricted Pod Security Standard also run as non-root (runAsNonRoot, never uid 0), with seccomp RuntimeDefault or Localhost, allowPrivilegeEscalation false, capabilities drop ALL (only NET_BIND_SERVICE may be added), and only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret volumes.",
}

pod_kinds := lib.workload_kinds | {"CronJob", "Pod"}

levels := {"baseline": {"baseline"}, "restricted": {"baseline", "restricted"}}

# enforced is the namespace's enforce level, from its Namespace object.
enforced := ns.metadata.labels["pod-security.kubernetes.io/enforce"] if {
	input.kind in pod_kinds
	some ns in object.get(lib.index, ["Namespace", "", lib.namespace(input)], []) # looked up, not scanned
}

deny contains lib.finding("podsecurity.baseline", msg, path) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	"baseline" in levels[enforced]
	some v in violations.baseline
	path := array.concat(lib.pod_spec_path(input), v.path)
	msg := message("baseline", v)
}

deny contains lib.finding("podsecurity.restricted", msg, path) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	"restricted" in levels[enforced]
	some v in violations.restricted
	path := array.concat(lib.pod_spec_path(input), v.path)
	msg := message("restricted", v)
}

message(level, v) := sprintf("%s %s violates Pod Security %s (%s), which namespace %s enforces: %s", [input.kind, input.metadata.name, level, v.check, lib.namespace(input), v.msg])

spec := lib.pod_spec(input)

# pod_annotations are the pod template's (AppArmor's beta annotations).
pod_annotations := object.get(input, array.concat(array.slice(lib.pod_spec_path(input), 0, count(lib.pod_spec_path(input)) - 1), ["metadata", "annotations"]), {})

pod_sc := object.get(spec, ["securityContext"], {})

# containers are [path within the pod spec, container, its securityContext].
containers contains [[field, i], c, object.get(c, ["securityContext"], {})] if {
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some i, c in object.get(spec, [field], [])
}

v(check, path, msg) := {"check": check, "path": path, "msg": msg}

# --- baseline ---

violations.baseline contains v("hostNamespaces", [f], sprintf("%s is true", [f])) if {
	some f in ["hostNetwork", "hostPID", "hostIPC"]
	spec[f] == true
}

violations.baseline contains v("privileged", array.concat(p, ["securityContext", "privileged"]), sprintf("container %s is privileged", [c.name])) if {
	some [p, c, sc] in containers
	sc.privileged == true
}

baseline_capabilities := {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}

violations.baseline contains v("capabilities", array.concat(p, ["securityContext", "capabilities", "add"]), sprintf("container %s adds %s", [c.name, cap])) if {
	some [p, c, sc] in containers
	some cap in object.get(sc, ["capabilities", "add"], [])
	not cap in baseline_capabilities
}

violations.baseline contains v("hostPathVolumes", ["volumes", i], sprintf("volume %s is a hostPath", [vol.name])) if {
	some i, vol in object.get(spec, ["volumes"], [])
	vol.hostPath
}

violations.baseline contains v("hostPorts", array.concat(p, ["ports", i, "hostPort"]), sprintf("container %s uses host port %d", [c.name, port.hostPort])) if {
	some [p, c, _] in containers
	some i, port in object.get(c, ["ports"], [])
	object.get(port, ["hostPort"], 0) != 0
}

violations.baseline contains v("seccompProfile", path, "seccomp profile Unconfined") if {
	some [path, sc] in security_contexts
	object.get(sc, ["seccompProfile", "type"], "") == "Unconfined"
}

violations.baseline contains v("appArmorProfile", path, "AppArmor profile Unconfined") if {
	some [path, sc] in security_contexts
	object.get(sc, ["appArmorProfile", "type"], "") == "Unconfined"
}

violations.baseline contains v("appArmorProfile", [], sprintf("annotation %s is %s", [k, a])) if {
	some k, a in pod_annotations
	startswith(k, "container.apparmor.security.beta.kubernetes.io/")
	a != "runtime/default"
	not startswith(a, "localhost/")
}

selinux_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

violations.baseline contains v("seLinuxOptions", array.concat(path, ["seLinuxOptions"]), "SELinux type is not a container type, or user/role is set") if {
	some [path, sc] in security_contexts
	o := sc.seLinuxOptions
	custom_selinux(o)
}

custom_selinux(o) if not object.get(o, ["type"], "") in selinux_types

custom_selinux(o) if object.get(o, ["user"], "") != ""

custom_selinux(o) if object.get(o, ["role"], "") != ""

violations.baseline contains v("procMount", array.concat(p, ["securityContext", "procMount"]), sprintf("container %s sets procMount %s", [c.name, sc.procMount])) if {
	some [p, c, sc] in containers
	sc.procMount != "Default"
}

safe_sysctls := {
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
}

violations.baseline contains v("sysctls", ["securityContext", "sysctls", i], sprintf("sysctl %s is not namespaced-safe", [s.name])) if {
	some i, s in object.get(pod_sc, ["sysctls"], [])
	not s.name in safe_sysctls
}

violations.baseline contains v("hostProcess", array.concat(path, ["windowsOptions", "hostProcess"]), "Windows HostProcess") if {
	some [path, sc] in security_contexts
	sc.windowsOptions.hostProcess == true
}

# security_contexts are the pod's and every container's, with their paths.
security_contexts contains [["securityContext"], pod_sc]

security_contexts contains [array.concat(p, ["securityContext"]), sc] if some [p, _, sc] in containers

# hostProbesAndHostLifecycle (baseline from v1.34, check_hostProbesAndhostLifecycle.go):
# a probe or lifecycle handler with a host sends the kubelet's request to
# another address than the pod's.
violations.baseline contains v("hostProbesAndHostLifecycle", array.concat(p, array.concat(handler, [action, "host"])), sprintf("container %s sends its %s to host %s", [c.name, concat(".", handler), host])) if {
	version_at_least(34)
	some [p, c, _] in containers
	some handler in [["livenessProbe"], ["readinessProbe"], ["startupProbe"], ["lifecycle", "postStart"], ["lifecycle", "preStop"]]
	some action in ["httpGet", "tcpSocket"]
	host := object.get(c, array.concat(handler, [action, "host"]), "")
	host != ""
}

# version_at_least(minor): the namespace's enforce-version is latest (or
# unset) or v1.<minor> or later, so checks added in that release apply.
enforce_version := object.get(ns.metadata.labels, "pod-security.kubernetes.io/enforce-version", "latest") if {
	some ns in object.get(lib.index, ["Namespace", "", lib.namespace(input)], [])
}

version_at_least(_) if enforce_version == "latest"

version_at_least(minor) if to_number(split(trim_prefix(enforce_version, "v"), ".")[1]) >= minor

# --- restricted ---

# (image volumes are read-only OCI artifacts: restricted allows them, check_restrictedVolumes.go)
restricted_volumes := {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"}

violations.restricted contains v("restrictedVolumes", ["volumes", i], sprintf("volume %s is of type %s", [vol.name, type])) if {
	some i, vol in object.get(spec, ["volumes"], [])
	some type, _ in vol
	type != "name"
	not type in restricted_volumes
}

violations.restricted contains v("allowPrivilegeEscalation", array.concat(p, ["securityContext", "allowPrivilegeEscalation"]), sprintf("container %s does not set allowPrivilegeEscalation false", [c.name])) if {
	some [p, c, sc] in containers
	object.get(sc, ["allowPrivilegeEscalation"], true) != false
}

violations.restricted contains v("runAsNonRoot", ["securityContext", "runAsNonRoot"], "the pod sets runAsNonRoot false") if {
	pod_sc.runAsNonRoot == false
}

violations.restricted contains v("runAsNonRoot", array.concat(p, ["securityContext", "runAsNonRoot"]), sprintf("container %s runs as root: runAsNonRoot is false, or unset on both it and the pod", [c.name])) if {
	some [p, c, sc] in containers
	not non_root(sc)
}

non_root(sc) if sc.runAsNonRoot == true

non_root(sc) if {
	not has_key(sc, "runAsNonRoot")
	pod_sc.runAsNonRoot == true
}

violations.restricted contains v("runAsUser", array.concat(path, ["runAsUser"]), "runAsUser is 0 (root)") if {
	some [path, sc] in security_contexts
	sc.runAsUser == 0
}

violations.restricted contains v("seccompProfile", array.concat(p, ["securityContext", "seccompProfile"]), sprintf("container %s has no seccomp profile RuntimeDefault or Localhost, and neither has the pod", [c.name])) if {
	some [p, c, sc] in containers
	not seccomp_confined(sc)
}

confined_seccomp := {"RuntimeDefault", "Localhost"}

seccomp_confined(sc) if sc.seccompProfile.type in confined_seccomp

seccomp_confined(sc) if {
	not has_key(sc, "seccompProfile")
	pod_sc.seccompProfile.type in confined_seccomp
}

violations.restricted contains v("capabilities", array.concat(p, ["securityContext", "capabilities", "drop"]), sprintf("container %s does not drop ALL capabilities", [c.name])) if {
	some [p, c, sc] in containers
	not "ALL" in object.get(sc, ["capabilities", "drop"], [])
}

violations.restricted contains v("capabilities", array.concat(p, ["securityContext", "capabilities", "add"]), sprintf("container %s adds %s (only NET_BIND_SERVICE may be added)", [c.name, cap])) if {
	some [p, c, sc] in containers
	some cap in object.get(sc, ["capabilities", "add"], [])
	cap != "NET_BIND_SERVICE"
}

has_key(o, k) if _ = o[k]
