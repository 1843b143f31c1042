# AWS network: subnets reach what they need, what the platform runs on cannot
# be deleted by a change in git, and the shop's ALB is reachable only through
# CloudFront, with its rules in an explicit order.
#
# Objects are Crossplane provider-upjet-aws managed resources; references
# between them are *Ref (by object name), plain ids (status.atProvider.id or
# the crossplane.io/external-name annotation) or *Selector (matchLabels).
package awsnetwork

import data.lib
import data.zones

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"awsnetwork.node-subnet-egress": "A subnet that hosts EKS nodes (named by a NodeGroup or the Cluster) has a 0.0.0.0/0 route to a NAT gateway, or its VPC has the interface endpoints nodes need (ecr.api, ecr.dkr, sts, ec2, logs, secretsmanager; private DNS, attached to subnets) and its route table the S3 gateway endpoint.",
	"awsnetwork.elb-subnet-igw": "A subnet tagged kubernetes.io/role/elb (internet-facing load balancers) routes 0.0.0.0/0 to an internet gateway.",
	"awsnetwork.subnet-route-table": "Every subnet has a RouteTableAssociation naming a route table in the set.",
	"awsnetwork.deletion-protected": "What the platform runs on or what holds data (EKS Cluster and NodeGroups, VPC, subnets, gateways, EIPs, route tables, routes, endpoints, buckets, warehouses) has deletionPolicy Orphan, no Delete management policy, and Prune=false,Delete=false.",
	"awsnetwork.alb-open-to-world": "An internet-facing ALB Ingress (the shop's ALB is CloudFront's origin) admits only a managed prefix list (security-group-prefix-lists), never 0.0.0.0/0 or ::/0.",
	"awsnetwork.ingress-group-order": "Every Ingress of an ALB group sets alb.ingress.kubernetes.io/group.order (an integer), no two Ingresses of a group share one, and an Ingress whose path is a prefix of another's in its group comes after it.",
}

ec2 := "ec2.aws.upbound.io"

kind_key(kind) := concat(".", [kind, ec2])

managed(kind) := lib.objects(kind_key(kind), "")

fp(obj) := object.get(obj, ["spec", "forProvider"], {})

# refers reports whether field (e.g. "subnetId") of a forProvider names obj:
# by fieldRef.name, by its id, or by a fieldSelector's matchLabels.
refers(p, field, obj) if p[concat("", [field, "Ref"])].name == obj.metadata.name

refers(p, field, obj) if p[field] == ids(obj)[_]

refers(p, field, obj) if lib.selects(p[concat("", [field, "Selector"])], object.get(obj, ["metadata", "labels"], {}))

ids(obj) := {id |
	some id in [
		object.get(obj, ["status", "atProvider", "id"], ""),
		object.get(obj, ["metadata", "annotations", "crossplane.io/external-name"], ""),
	]
	id != ""
}

# route_tables_of lists the route tables a subnet is associated with.
# Lists are bound before the loops: a call inside a loop runs per iteration.
route_tables_of(subnet) := {rt |
	tables := managed("RouteTable")
	some a in managed("RouteTableAssociation")
	refers(fp(a), "subnetId", subnet)
	some rt in tables
	refers(fp(a), "routeTableId", rt)
}

# default_routes lists the 0.0.0.0/0 routes of a route table.
default_routes(rt) := {r |
	some r in managed("Route")
	fp(r).destinationCidrBlock == "0.0.0.0/0"
	refers(fp(r), "routeTableId", rt)
}

# leaves_through reports whether a subnet's route table sends 0.0.0.0/0 to a
# gateway of kind (NATGateway, InternetGateway) in the set.
leaves_through(subnet, kind, field) if {
	gateways := managed(kind)
	some rt in route_tables_of(subnet)
	some r in default_routes(rt)
	some gw in gateways
	refers(fp(r), field, gw)
}

# hosts_nodes: a NodeGroup or an EKS Cluster places nodes (or its
# control-plane interfaces) in the subnet.
hosts_nodes(subnet) if {
	some ng in lib.objects("NodeGroup.eks.aws.upbound.io", "")
	subnet in zones.subnets_of(ng)
}

hosts_nodes(subnet) if {
	some c in lib.objects("Cluster.eks.aws.upbound.io", "")
	refers_list(object.get(fp(c), ["vpcConfig"], {}), "subnetId", subnet)
}

# refers_list is refers for list fields: fieldRefs, fields (ids), fieldSelector.
refers_list(p, field, obj) if {
	some ref in p[concat("", [field, "Refs"])]
	ref.name == obj.metadata.name
}

refers_list(p, field, obj) if {
	some id in p[concat("", [field, "s"])]
	id in ids(obj)
}

refers_list(p, field, obj) if lib.selects(p[concat("", [field, "Selector"])], object.get(obj, ["metadata", "labels"], {}))

# The interface endpoints private nodes cannot bootstrap without (images,
# IRSA, EC2 for the CNI, logs, External Secrets); S3 comes through a gateway endpoint.
node_interface_endpoints := {"ecr.api", "ecr.dkr", "sts", "ec2", "logs", "secretsmanager"}

endpoint_service(e) := s if {
	parts := split(fp(e).serviceName, ".")
	s := concat(".", array.slice(parts, 3, count(parts)))
}

private_endpoints(subnet) if {
	endpoints := managed("VPCEndpoint")
	vpc_endpoints := {endpoint_service(e) |
		associations := managed("VPCEndpointSubnetAssociation")
		some e in endpoints
		object.get(fp(e), "vpcEndpointType", "Gateway") == "Interface"
		fp(e).privateDnsEnabled == true
		fp(e).vpcIdRef.name == fp(subnet).vpcIdRef.name

		# Its network interfaces: VPCEndpoint itself takes no subnets (provider-upjet-aws
		# config/ec2/config.go moves subnet_ids to status).
		some a in associations
		refers(fp(a), "vpcEndpointId", e)
	}
	count(node_interface_endpoints - vpc_endpoints) == 0
	some rt in route_tables_of(subnet)
	some a in managed("VPCEndpointRouteTableAssociation")
	refers(fp(a), "routeTableId", rt)
	some e in endpoints
	refers(fp(a), "vpcEndpointId", e)
	endpoint_service(e) == "s3"
}

is_subnet(obj) if {
	obj.kind == "Subnet"
	startswith(obj.apiVersion, concat("", [ec2, "/"]))
}

# awsnetwork.node-subnet-egress: nodes in a subnet with no way to ECR, STS
# and EC2 cannot join the cluster or pull an image.
deny contains lib.finding("awsnetwork.node-subnet-egress", msg, ["spec", "forProvider"]) if {
	input.kind == "Subnet" # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	is_subnet(input)
	hosts_nodes(input)
	not leaves_through(input, "NATGateway", "natGatewayId")
	not private_endpoints(input)
	msg := sprintf("Subnet %s hosts EKS nodes but its route table has no 0.0.0.0/0 route to a NAT gateway in the set, nor does its VPC have the endpoints nodes need (%v + S3): nodes cannot pull images or join the cluster", [input.metadata.name, sort(node_interface_endpoints)])
}

# awsnetwork.elb-subnet-igw: the Load Balancer Controller puts internet-facing
# load balancers into subnets tagged kubernetes.io/role/elb; AWS refuses one
# whose subnets do not route to an internet gateway.
deny contains lib.finding("awsnetwork.elb-subnet-igw", msg, ["spec", "forProvider", "tags", "kubernetes.io/role/elb"]) if {
	input.kind == "Subnet" # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	is_subnet(input)
	object.get(fp(input), ["tags", "kubernetes.io/role/elb"], null) != null
	not leaves_through(input, "InternetGateway", "gatewayId")
	msg := sprintf("Subnet %s is tagged kubernetes.io/role/elb (internet-facing load balancers) but its route table has no 0.0.0.0/0 route to an internet gateway in the set", [input.metadata.name])
}

# awsnetwork.subnet-route-table: a subnet without an association uses the
# VPC's main route table, which nothing in git says anything about.
deny contains lib.finding("awsnetwork.subnet-route-table", msg, ["metadata", "name"]) if {
	input.kind == "Subnet" # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	is_subnet(input)
	count(route_tables_of(input)) == 0
	msg := sprintf("Subnet %s has no RouteTableAssociation naming a route table in the set: it would use the VPC's unmanaged main route table", [input.metadata.name])
}

# What the platform runs on (deleting it takes the shop down) and what holds data.
# Written out: a set built with kind_key calls is rebuilt for every object.
protected_kinds := {
	"Cluster.eks.aws.upbound.io", "NodeGroup.eks.aws.upbound.io",
	"VPC.ec2.aws.upbound.io", "Subnet.ec2.aws.upbound.io", "InternetGateway.ec2.aws.upbound.io",
	"NATGateway.ec2.aws.upbound.io", "EIP.ec2.aws.upbound.io",
	"RouteTable.ec2.aws.upbound.io", "Route.ec2.aws.upbound.io", "RouteTableAssociation.ec2.aws.upbound.io",
	"VPCEndpoint.ec2.aws.upbound.io", "VPCEndpointRouteTableAssociation.ec2.aws.upbound.io",
	"VPCEndpointSubnetAssociation.ec2.aws.upbound.io", "VPCEndpointSecurityGroupAssociation.ec2.aws.upbound.io",
	"Bucket.s3.aws.upbound.io", "Cluster.redshift.aws.upbound.io",
}

sync_options := "argocd.argoproj.io/sync-options"

# deletes_external: Crossplane deletes the AWS resource with its object
# (crossplane-runtime pkg/reconciler/managed/policies.go, ShouldDelete): the
# deletionPolicy is Delete (the default) under the default management
# policies, or a non-default policy list includes Delete.
deletes_external(obj) if {
	object.get(obj, ["spec", "deletionPolicy"], "Delete") != "Orphan"
	some p in object.get(obj, ["spec", "managementPolicies"], ["*"])
	p in {"*", "Delete"}
}

deletes_external(obj) if {
	policies := object.get(obj, ["spec", "managementPolicies"], ["*"])
	policies != ["*"]
	"Delete" in policies
}

# awsnetwork.deletion-protected: removing, renaming or pruning the object in
# git must not delete the cluster, the network or the data.
deny contains lib.finding("awsnetwork.deletion-protected", msg, ["spec", "deletionPolicy"]) if {
	input.kind in {"Bucket", "Cluster", "EIP", "InternetGateway", "NATGateway", "NodeGroup", "Route", "RouteTable", "RouteTableAssociation", "Subnet", "VPC", "VPCEndpoint", "VPCEndpointRouteTableAssociation", "VPCEndpointSecurityGroupAssociation", "VPCEndpointSubnetAssociation"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.key(input) in protected_kinds
	deletes_external(input)
	msg := sprintf("%s %s would be deleted in AWS with its object: set spec.deletionPolicy Orphan and keep Delete out of spec.managementPolicies", [input.kind, input.metadata.name])
}

deny contains lib.finding("awsnetwork.deletion-protected", msg, ["metadata", "annotations"]) if {
	input.kind in {"Bucket", "Cluster", "EIP", "InternetGateway", "NATGateway", "NodeGroup", "Route", "RouteTable", "RouteTableAssociation", "Subnet", "VPC", "VPCEndpoint", "VPCEndpointRouteTableAssociation", "VPCEndpointSecurityGroupAssociation", "VPCEndpointSubnetAssociation"} # the kind first: OPA's rule index skips the rule for other kinds
	lib.key(input) in protected_kinds
	some opt in ["Prune=false", "Delete=false"]
	not has_option(input, opt)
	msg := sprintf("%s %s lacks %s in annotation %s: Argo CD may delete what the platform runs on", [input.kind, input.metadata.name, opt, sync_options])
}

has_option(obj, opt) if {
	some item in split(obj.metadata.annotations[sync_options], ",")
	trim_space(item) == opt
}

ann(obj, name) := object.get(obj, ["metadata", "annotations", concat("", ["alb.ingress.kubernetes.io/", name])], "")

list_annotation(obj, name) := {trim_space(x) | some x in split(ann(obj, name), ","); trim_space(x) != ""}

internet_facing_alb(obj) if {
	obj.kind == "Ingress"
	zones.is_alb(obj)
	ann(obj, "scheme") == "internet-facing"
}

world := {"0.0.0.0/0", "::/0"}

# open_to_world: the controller's security group admits inbound-cidrs, and
# defaults them to 0.0.0.0/0 only when no prefix list is named either
# (aws-load-balancer-controller docs/guide/ingress/annotations.md,
# security-group-prefix-lists). With alb.ingress.kubernetes.io/security-groups
# the controller manages no rules: those groups are outside this set.
open_to_world(obj) := cidrs if {
	cidrs := list_annotation(obj, "inbound-cidrs") & world
	count(cidrs) > 0
}

open_to_world(obj) := {"0.0.0.0/0 (the default)"} if {
	count(list_annotation(obj, "inbound-cidrs")) == 0
	count(list_annotation(obj, "security-group-prefix-lists")) == 0
	ann(obj, "security-groups") == ""
}

# awsnetwork.alb-open-to-world: an ALB open to the internet lets anyone skip
# CloudFront (its TLS policy, caching, and whatever guards the edge).
deny contains lib.finding("awsnetwork.alb-open-to-world", msg, ["metadata", "annotations"]) if {
	input.kind == "Ingress" # the kind first: OPA's rule index skips the rule for other kinds
	internet_facing_alb(input)
	cidrs := open_to_world(input)
	msg := sprintf("internet-facing ALB Ingress %s admits %v: CloudFront can be bypassed; name CloudFront's origin-facing managed prefix list in alb.ingress.kubernetes.io/security-group-prefix-lists and no world-wide inbound-cidrs", [input.metadata.name, sort(cidrs)])
}

# Ingresses of an explicit ALB group (group.name), cluster-wide: a group spans namespaces.
group_of(obj) := ann(obj, "group.name")

grouped_ingresses contains i if {
	some by_name in object.get(lib.index, "Ingress.networking.k8s.io", {})
	some same in by_name
	some i in same
	group_of(i) != ""
}

# env_index: the Ingresses of each ALB group by order and by path, derived
# once per env by the engine (data.check.env_index), computed inline without
# it: every Ingress of a group is compared with the others, and a scan of
# the group per Ingress is quadratic in services.
env_index := {"orders": ingresses_by_order, "paths": paths_by_host, "paths_below": paths_below}

idx := data.check.env_index.awsnetwork if data.check.env_index.awsnetwork

else := env_index

# ingresses_by_order[group][order] holds the group's Ingresses of that
# group.order (the integer, as text: the engine hands tables over as JSON).
ingresses_by_order[group_of(i)][format_int(order(i), 10)] contains i if some i in grouped_ingresses

# paths_by_host[group][host] holds [Ingress, path] for every Prefix path of
# the group's Ingresses; paths_below[group][host][dir] those whose path
# starts with dir/ (every dir a path can be below: "" for "/x", "/a" for "/a/b").
paths_by_host[group_of(i)][host] contains [i, path] if {
	some i in grouped_ingresses
	some [host, path] in prefix_paths(i)
}

paths_below[group_of(i)][host][dir] contains [i, path] if {
	some i in grouped_ingresses
	some [host, path] in prefix_paths(i)
	parts := split(path, "/")
	some j in numbers.range(1, count(parts) - 1)
	dir := concat("/", array.slice(parts, 0, j))
}

# longer_paths lists the [Ingress, path] of the group and host that path can
# cover (covers): any other path for "/", else those below it.
longer_paths(group, host, "/") := object.get(idx.paths, [group, host], set())

longer_paths(group, host, path) := object.get(idx.paths_below, [group, host, trim_suffix(path, "/")], set()) if path != "/"

order(obj) := to_number(ann(obj, "group.order")) if regex.match(`^-?[0-9]{1,4}$`, ann(obj, "group.order"))

# awsnetwork.ingress-group-order: without an explicit order the controller
# sorts a group's rules by namespace/name, so a catch-all "/" wins or loses
# by the alphabet.
deny contains lib.finding("awsnetwork.ingress-group-order", msg, ["metadata", "annotations", "alb.ingress.kubernetes.io/group.order"]) if {
	input.kind == "Ingress"
	group_of(input) != ""
	not order(input)
	msg := sprintf("Ingress %s joins ALB group %q without an integer alb.ingress.kubernetes.io/group.order: its rules would be ordered by name", [input.metadata.name, group_of(input)])
}

deny contains lib.finding("awsnetwork.ingress-group-order", msg, ["metadata", "annotations", "alb.ingress.kubernetes.io/group.order"]) if {
	input.kind == "Ingress"
	group_of(input) != ""
	some other in object.get(idx.orders, [group_of(input), format_int(order(input), 10)], set())
	not same_ingress(other, input)
	order(other) == order(input)
	msg := sprintf("Ingresses %s and %s of ALB group %q share group.order %d: their rules would be ordered by name", [input.metadata.name, other.metadata.name, group_of(input), order(input)])
}

# A path that is a prefix of another's catches its requests if evaluated first.
deny contains lib.finding("awsnetwork.ingress-group-order", msg, ["metadata", "annotations", "alb.ingress.kubernetes.io/group.order"]) if {
	input.kind == "Ingress"
	group_of(input) != ""
	some [host, path] in prefix_paths(input)
	some [other, longer] in longer_paths(group_of(input), host, path)
	covers(path, longer)
	order(input) <= order(other)
	not same_ingress(other, input)
	msg := sprintf("Ingress %s (path %s, group.order %d) is evaluated before Ingress %s (path %s, group.order %d) and takes its requests: give the longer path the smaller order", [input.metadata.name, path, order(input), other.metadata.name, longer, order(other)])
}

same_ingress(a, b) if {
	a.metadata.name == b.metadata.name
	lib.namespace(a) == lib.namespace(b)
}

prefix_paths(obj) := {[object.get(rule, "host", ""), p.path] |
	some rule in obj.spec.rules
	some p in rule.http.paths
	object.get(p, "pathType", "Prefix") == "Prefix"
}

# covers: a Prefix path matches every request of a longer one below it.
covers(path, longer) if {
	path != longer
	path == "/"
}

covers(path, longer) if {
	path != longer
	startswith(longer, concat("", [trim_suffix(path, "/"), "/"]))
}
