# Probes: liveness must not be readiness. Readiness may follow the
# dependencies (a database outage takes pods out of the Service); a liveness
# probe that did would restart every pod of every service at once.
package probes

import data.lib

docs := {
	"probes.liveness-is-readiness": "A container's livenessProbe does not check the same thing as its readinessProbe (same httpGet path and port, tcpSocket, exec command or grpc): liveness must not depend on dependencies (services: /livez beside /healthz).",
}

handlers := ["httpGet", "tcpSocket", "exec", "grpc"]

deny contains lib.finding("probes.liveness-is-readiness", msg, array.concat(path, ["livenessProbe"])) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	some [path, c] in lib.containers(input)
	some h in handlers
	live := c.livenessProbe[h]
	live == c.readinessProbe[h]
	msg := sprintf("%s %s: container %s's livenessProbe is its readinessProbe (%s %s): a failing dependency would restart every pod", [input.kind, input.metadata.name, c.name, h, json.marshal(live)])
}
