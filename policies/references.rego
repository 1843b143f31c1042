# References: what one object names in another resolves, and means what it
# should (a selector selects the pods it is meant for, a key a pod reads is a
# key its Secret will have, a port a backend names is one the Service exposes).
package references

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"references.rollout-services-distinct": "A blue-green Rollout's activeService and previewService are two different Services.",
	"references.hpa-target": "An HPA's scaleTargetRef names a workload in the set (kind, apiVersion group and name).",
	"references.pdb-selects": "A PodDisruptionBudget's selector selects the pods of at least one workload in its namespace.",
	"references.spread-selects": "Every topologySpreadConstraint's labelSelector selects the workload's own pod template labels.",
	"references.secret-key": "Every Secret key a pod reads (secretKeyRef.key, secret and projected volume items[].key) is produced by the ExternalSecret behind that Secret (warn when its dataFrom or templateFrom makes the keys unknowable).",
	"references.service-target-port": "A named targetPort of a Service is a port name, with the Service port's protocol, of a container (or a restartable init container) of every workload the Service selects.",
	"references.managed-ref": "Every reference a Crossplane AWS managed resource makes to another by name (a forProvider or initProvider field ending in Ref or Refs, Secret references aside) names a managed resource of the set.",
	"references.ingress-backend": "Every Service an Ingress routes to is in its namespace and exposes the port (number or name) the backend names.",
}

# env_index is derived once per env by the engine (data.check.env_index;
# see internal/checker): per-object rules look things up in it instead of
# scanning the env. Without the engine (opa test, conftest) it is computed
# inline, per evaluation.
env_index := {"pods": pods_by_label, "producers": producers_by_secret, "managed_names": managed_names}

idx := data.check.env_index.references if data.check.env_index.references

else := env_index

# The index keys of the kinds whose pods selectors target.
pod_owner_keys := {
	"Pod", "Deployment.apps", "StatefulSet.apps", "ReplicaSet.apps", "DaemonSet.apps",
	"Job.batch", "Rollout.argoproj.io",
}

# pods_by_label[ns]["k=v"] holds the pod template label sets of the
# namespace's workloads that carry label k=v; pods_by_label[ns][""] holds
# every one (for selectors with no matchLabels to look up).
pods_by_label[ns][pair] contains labels if {
	some k in pod_owner_keys
	some ns, by_name in lib.index[k]
	some same_name in by_name
	some o in same_name
	labels := lib.pod_labels(o)
	some pair in label_pairs(labels)
}

label_pairs(labels) := {""} | {concat("=", [k, v]) | some k, v in labels}

# producers_by_secret[ns][secret] holds what each ExternalSecret writing
# that Secret puts in it.
producers_by_secret[ns][name] contains produced_keys(es) if {
	some ns, by_name in lib.index["ExternalSecret.external-secrets.io"]
	some same_name in by_name
	some es in same_name
	name := object.get(es, ["spec", "target", "name"], es.metadata.name)
}

# produced_keys says which keys the Secret of an ExternalSecret gets
# (external-secrets.io, guides "Advanced Templating": a target.template's
# data replaces the fetched keys unless mergePolicy is Merge; dataFrom and
# templateFrom produce keys known only at run time).
produced_keys(es) := {
	"name": es.metadata.name,
	"keys": (template_keys(es) | fetched_keys(es)),
	"unknowable": unknowable(es),
}

fetched_keys(es) := {d.secretKey | some d in object.get(es, ["spec", "data"], [])} if fetches(es)

fetched_keys(es) := set() if not fetches(es)

template_keys(es) := {k | some k, _ in object.get(es, ["spec", "target", "template", "data"], {})}

# fetches: the fetched keys reach the Secret (no template, or one that merges).
fetches(es) if not templated(es)

fetches(es) if es.spec.target.template.mergePolicy == "Merge"

templated(es) if count(object.get(es, ["spec", "target", "template", "data"], {})) > 0

templated(es) if count(object.get(es, ["spec", "target", "template", "templateFrom"], [])) > 0

default unknowable(_) := false

unknowable(es) if {
	count(object.get(es, ["spec", "dataFrom"], [])) > 0
	fetches(es)
}

unknowable(es) if count(object.get(es, ["spec", "target", "template", "templateFrom"], [])) > 0

# references.rollout-services-distinct: with one Service as both active and
# preview, the preview release takes the live traffic before any promotion.
deny contains lib.finding("references.rollout-services-distinct", msg, ["spec", "strategy", "blueGreen", "previewService"]) if {
	input.kind == "Rollout"
	bg := input.spec.strategy.blueGreen
	bg.activeService == bg.previewService
	msg := sprintf("Rollout %s uses Service %q as both activeService and previewService: the preview would receive production traffic", [input.metadata.name, bg.activeService])
}

# references.hpa-target: an HPA whose target is not in the set scales nothing.
deny contains lib.finding("references.hpa-target", msg, ["spec", "scaleTargetRef"]) if {
	lib.has_inventory
	input.kind == "HorizontalPodAutoscaler"
	ref := input.spec.scaleTargetRef
	target := {"kind": ref.kind, "apiVersion": object.get(ref, ["apiVersion"], "v1")}
	not lib.exists(lib.key(target), lib.namespace(input), ref.name)
	msg := sprintf("HorizontalPodAutoscaler %s scales %s %q (%s), which is not in namespace %q", [input.metadata.name, ref.kind, ref.name, target.apiVersion, lib.namespace(input)])
}

# references.pdb-selects: a PDB that selects no pod protects nothing.
deny contains lib.finding("references.pdb-selects", msg, ["spec", "selector"]) if {
	lib.has_inventory
	input.kind == "PodDisruptionBudget"
	sel := object.get(input, ["spec", "selector"], {})
	not selects_some_pod(lib.namespace(input), sel)
	msg := sprintf("PodDisruptionBudget %s selects the pods of no workload in namespace %q (selector %v)", [input.metadata.name, lib.namespace(input), sel])
}

selects_some_pod(ns, sel) if {
	some labels in idx.pods[ns][lookup_pair(sel)]
	lib.selects(sel, labels)
}

# lookup_pair picks the bucket a selector's candidates are in: one of its
# matchLabels when it has any, else every pod of the namespace.
lookup_pair(sel) := concat("=", [k, sel.matchLabels[k]]) if {
	count(object.get(sel, ["matchLabels"], {})) > 0
	k := min(object.keys(sel.matchLabels))
} else := ""

# references.spread-selects: a spread constraint counts the pods its
# labelSelector selects; one that misses the workload's own pods (or has no
# labelSelector, which kube-scheduler reads as selecting nothing) spreads
# nothing.
deny contains lib.finding("references.spread-selects", msg, path) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	some i, c in lib.pod_spec(input).topologySpreadConstraints
	not selects_own_pods(c, lib.pod_labels(input))
	path := array.concat(lib.pod_spec_path(input), ["topologySpreadConstraints", i, "labelSelector"])
	msg := sprintf("%s %s: topologySpreadConstraint on %s has labelSelector %v, which does not select the workload's pod labels %v: the constraint spreads nothing", [input.kind, input.metadata.name, c.topologyKey, object.get(c, ["labelSelector"], "(none)"), lib.pod_labels(input)])
}

selects_own_pods(constraint, labels) if lib.selects(constraint.labelSelector, labels)

# references.secret-key: the pod reads a key the Secret will not have, so
# the container fails to start (CreateContainerConfigError) or the volume
# never mounts.
deny contains lib.finding("references.secret-key", msg, path) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	some [path, secret, key] in key_refs(input)
	some p in idx.producers[lib.namespace(input)][secret]
	not p.unknowable
	not key in p.keys
	msg := sprintf("%s %s reads key %q of Secret %q, which ExternalSecret %s does not produce (it produces %v)", [input.kind, input.metadata.name, key, secret, p.name, sort(p.keys)])
}

warn contains lib.finding("references.secret-key", msg, path) if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Rollout", "StatefulSet"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	some [path, secret, key] in key_refs(input)
	some p in idx.producers[lib.namespace(input)][secret]
	p.unknowable
	not key in p.keys
	msg := sprintf("%s %s reads key %q of Secret %q, whose ExternalSecret %s uses dataFrom or templateFrom: its keys cannot be known before it runs", [input.kind, input.metadata.name, key, secret, p.name])
}

key_refs(obj) := ({[p, ref.name, ref.key] |
	some [cpath, c] in lib.containers(obj)
	some i, e in c.env
	ref := e.valueFrom.secretKeyRef
	not ref.optional
	p := array.concat(cpath, ["env", i, "valueFrom", "secretKeyRef", "key"])
} | {[p, v.secret.secretName, item.key] |
	some i, v in lib.pod_spec(obj).volumes
	not v.secret.optional
	some j, item in v.secret.items
	p := array.concat(lib.pod_spec_path(obj), ["volumes", i, "secret", "items", j, "key"])
}) | {[p, src.secret.name, item.key] |
	some i, v in lib.pod_spec(obj).volumes
	some j, src in v.projected.sources
	not src.secret.optional
	some k, item in src.secret.items
	p := array.concat(lib.pod_spec_path(obj), ["volumes", i, "projected", "sources", j, "secret", "items", k, "key"])
}

# references.ingress-backend: a backend whose Service or port does not
# exist answers 503 (the load balancer controller registers no targets).
deny contains lib.finding("references.ingress-backend", msg, array.concat(path, ["name"])) if {
	lib.has_inventory
	input.kind == "Ingress"
	some [path, svc] in backends(input)
	not lib.exists("Service", lib.namespace(input), svc.name)
	msg := sprintf("Ingress %s routes to Service %q, which is not in namespace %q", [input.metadata.name, svc.name, lib.namespace(input)])
}

deny contains lib.finding("references.ingress-backend", msg, array.concat(path, ["port"])) if {
	lib.has_inventory
	input.kind == "Ingress"
	some [path, svc] in backends(input)
	some s in lib.index.Service[lib.namespace(input)][svc.name]
	not exposes(s, svc.port)
	msg := sprintf("Ingress %s routes to port %v of Service %q, which exposes %v", [input.metadata.name, object.get(svc.port, ["number"], object.get(svc.port, ["name"], "(none)")), svc.name, [exposed(p) | some p in object.get(s, ["spec", "ports"], [])]])
}

backends(ing) := {[["spec", "defaultBackend", "service"], svc] | svc := ing.spec.defaultBackend.service} | {[p, path.backend.service] |
	some i, rule in ing.spec.rules
	some j, path in rule.http.paths
	p := ["spec", "rules", i, "http", "paths", j, "backend", "service"]
}

exposes(svc, port) if {
	some p in svc.spec.ports
	p.port == port.number
}

exposes(svc, port) if {
	some p in svc.spec.ports
	p.name == port.name
}

exposed(p) := p.name

exposed(p) := p.port if not p.name

# references.service-target-port: a named targetPort resolves per pod, on
# its containers' named ports of the same protocol (and sidecars': init
# containers with restartPolicy Always); a pod without it gets no endpoint
# for that port (kubernetes pkg/api/v1/pod/util.go FindPort, which the
# EndpointSlice controller calls), so the Service sends nothing to it.
deny contains lib.finding("references.service-target-port", msg, ["spec", "ports", i, "targetPort"]) if {
	input.kind == "Service"
	lib.has_inventory
	selector := input.spec.selector
	count(selector) > 0
	some i, port in input.spec.ports
	is_string(port.targetPort)
	protocol := object.get(port, "protocol", "TCP")
	some owner in lib.selected_pod_owners({"matchLabels": selector}, lib.namespace(input))
	not names_port(owner, port.targetPort, protocol)
	msg := sprintf("Service %s sends port %v to the port named %q (%s) of %s %s's pods, whose containers have no port of that name and protocol: the Service gets no endpoints on them. Name the container port, or target it by number", [input.metadata.name, object.get(port, "port", "?"), port.targetPort, protocol, owner.kind, owner.metadata.name])
}

names_port(owner, name, protocol) if {
	some c in object.get(lib.pod_spec(owner), ["containers"], [])
	serves(c, name, protocol)
}

names_port(owner, name, protocol) if {
	some c in object.get(lib.pod_spec(owner), ["initContainers"], [])
	c.restartPolicy == "Always"
	serves(c, name, protocol)
}

serves(container, name, protocol) if {
	some p in object.get(container, ["ports"], [])
	p.name == name
	object.get(p, "protocol", "TCP") == protocol
}

# references.managed-ref: Crossplane resolves a reference by name to
# another managed resource's external id; a name no object has leaves the
# field unresolved, and the resource waits forever (ReferencesResolved
# false). The kind a field refers to is in each CRD, not in the object, so
# any managed resource of the name counts; the render's own test
# (TestAWSNamesAgree) holds the kinds.
deny contains lib.finding("references.managed-ref", msg, array.concat(["spec", part], path)) if {
	endswith(split(input.apiVersion, "/")[0], ".aws.upbound.io")
	lib.has_inventory
	some part in ["forProvider", "initProvider"]
	params := object.get(input.spec, part, {})
	contains(lib.text(params), `Ref`) # most hold no reference: their text decides before the walk (a Distribution's spec is thousands of nodes)
	walk(params, [p, v])
	count(p) > 0
	some [path, name] in named_refs(p, v)
	not idx.managed_names[name]
	msg := sprintf("%s %s refers to %q at spec.%s.%s, which no managed resource of the set is named: the reference never resolves and %s waits", [input.kind, input.metadata.name, name, part, concat(".", [sprintf("%v", [x]) | some x in p]), input.metadata.name])
}

named_refs(p, v) := [[array.concat(p, ["name"]), v.name]] if {
	ref_field(p, "Ref")
	is_string(v.name)
}

named_refs(p, v) := [[array.concat(p, [i, "name"]), r.name] | some i, r in v; is_string(r.name)] if {
	ref_field(p, "Refs")
	is_array(v)
}

# ref_field: the last part of the path is a reference field (a Secret
# reference names a Kubernetes Secret, not a managed resource).
ref_field(p, suffix) if {
	last := p[count(p) - 1]
	is_string(last)
	endswith(last, suffix)
	not endswith(last, concat("", ["Secret", suffix]))
}

# managed_names holds the names of the env's Crossplane AWS managed
# resources, as an object: env_index reaches the rules as JSON, where a set
# is an array and cannot be looked up by member.
managed_names[name] := true if {
	some k, by_ns in lib.index
	endswith(k, ".aws.upbound.io")
	some _, by_name in by_ns
	some name, _ in by_name
}
