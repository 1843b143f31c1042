package awsnetwork_test

import data.awsnetwork
import data.fixtures

# A one-zone platform network that every awsnetwork rule passes: a public
# subnet (ALB, NAT) routing to the internet gateway, a private one (nodes)
# routing to the NAT gateway, each with its route table association.
protected := {
	"metadata": {"annotations": {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}},
	"spec": {"deletionPolicy": "Orphan"},
}

mr(api, kind, name, fp) := object.union(protected, {
	"apiVersion": api, "kind": kind,
	"metadata": {"name": name},
	"spec": {"forProvider": object.union({"region": "us-east-1"}, fp)},
})

ec2(kind, name, fp) := mr("ec2.aws.upbound.io/v1beta1", kind, name, fp)

vpc := ec2("VPC", "v", {"cidrBlock": "10.0.0.0/16"})

public_subnet := ec2("Subnet", "pub-a", {"vpcIdRef": {"name": "v"}, "availabilityZone": "us-east-1a", "mapPublicIpOnLaunch": true, "tags": {"kubernetes.io/role/elb": "1"}})

private_subnet := ec2("Subnet", "priv-a", {"vpcIdRef": {"name": "v"}, "availabilityZone": "us-east-1a", "tags": {"kubernetes.io/role/internal-elb": "1"}})

igw := ec2("InternetGateway", "igw", {"vpcIdRef": {"name": "v"}})

eip := ec2("EIP", "nat-a", {"domain": "vpc"})

nat := ec2("NATGateway", "nat-a", {"subnetIdRef": {"name": "pub-a"}, "allocationIdRef": {"name": "nat-a"}})

public_table := ec2("RouteTable", "public", {"vpcIdRef": {"name": "v"}})

private_table := ec2("RouteTable", "private-a", {"vpcIdRef": {"name": "v"}})

route(name, table, target) := mr("ec2.aws.upbound.io/v1beta2", "Route", name, object.union({"routeTableIdRef": {"name": table}, "destinationCidrBlock": "0.0.0.0/0"}, target))

public_route := route("public-default", "public", {"gatewayIdRef": {"name": "igw"}})

private_route := route("private-a-default", "private-a", {"natGatewayIdRef": {"name": "nat-a"}})

association(subnet, table) := ec2("RouteTableAssociation", subnet, {"subnetIdRef": {"name": subnet}, "routeTableIdRef": {"name": table}})

public_association := association("pub-a", "public")

private_association := association("priv-a", "private-a")

nodegroup := mr("eks.aws.upbound.io/v1beta2", "NodeGroup", "general", {"clusterNameRef": {"name": "shop"}, "subnetIdRefs": [{"name": "priv-a"}]})

cluster := mr("eks.aws.upbound.io/v1beta2", "Cluster", "shop", {"vpcConfig": {"subnetIdRefs": [{"name": "priv-a"}]}})

alb := {
	"alb.ingress.kubernetes.io/group.name": "shop",
	"alb.ingress.kubernetes.io/scheme": "internet-facing",
	"alb.ingress.kubernetes.io/security-group-prefix-lists": "pl-3b927c52",
}

ingress(name, path, order) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
	"metadata": {"name": name, "namespace": "shop", "annotations": object.union(alb, {"alb.ingress.kubernetes.io/group.order": order})},
	"spec": {"ingressClassName": "alb", "rules": [{"host": "shop.example.com", "http": {"paths": [{"path": path, "pathType": "Prefix"}]}}]},
}

storefront := ingress("storefront", "/", "3")

cart := ingress("cart", "/api/cart", "1")

api := ingress("api", "/api", "2")

good := [
	vpc, public_subnet, private_subnet, igw, eip, nat, public_table, private_table,
	public_route, private_route, public_association, private_association, nodegroup, cluster,
	storefront, cart, api,
]

prod := fixtures.check("prod", good)

with_objs(objs) := fixtures.check("prod", objs)

swap(obj) := with_objs(fixtures.swap(good, obj))

drop(obj) := with_objs(fixtures.drop(good, obj))

denied(obj, chk) := {f.rule | some f in awsnetwork.deny with input as obj with data.check as chk}

only(rule, obj, chk) if denied(obj, chk) == {rule}

test_platform_network_is_quiet if {
	every obj in good {
		count(denied(obj, prod)) == 0
	}
}

# awsnetwork.node-subnet-egress

test_node_subnet_without_default_route_denies if {
	only("awsnetwork.node-subnet-egress", private_subnet, drop(private_route))
}

test_node_subnet_routing_to_the_internet_gateway_denies if {
	r := route("private-a-default", "private-a", {"gatewayIdRef": {"name": "igw"}})
	only("awsnetwork.node-subnet-egress", private_subnet, swap(r))
}

test_node_subnet_route_to_a_missing_nat_denies if {
	only("awsnetwork.node-subnet-egress", private_subnet, drop(nat))
}

# Named by the cluster only, each way the Cluster can name its subnets.
test_cluster_subnet_without_egress_denies if {
	objs := fixtures.drop(fixtures.drop(good, nodegroup), private_route)
	only("awsnetwork.node-subnet-egress", private_subnet, with_objs(objs))
	by_id := object.union(private_subnet, {"status": {"atProvider": {"id": "subnet-0a"}}})
	c_id := fixtures.set(json.remove(cluster, ["spec/forProvider/vpcConfig/subnetIdRefs"]), "/spec/forProvider/vpcConfig/subnetIds", ["subnet-0a"])
	only("awsnetwork.node-subnet-egress", by_id, with_objs(fixtures.swap(fixtures.swap(objs, by_id), c_id)))
	by_label := object.union(private_subnet, {"metadata": {"labels": {"tier": "nodes"}}})
	c_sel := fixtures.set(json.remove(cluster, ["spec/forProvider/vpcConfig/subnetIdRefs"]), "/spec/forProvider/vpcConfig/subnetIdSelector", {"matchLabels": {"tier": "nodes"}})
	only("awsnetwork.node-subnet-egress", by_label, with_objs(fixtures.swap(fixtures.swap(objs, by_label), c_sel)))
}

test_subnet_without_nodes_needs_no_egress if {
	objs := fixtures.drop(fixtures.drop(fixtures.drop(good, nodegroup), cluster), private_route)
	count(denied(private_subnet, with_objs(objs))) == 0
}

endpoint(service, type) := mr("ec2.aws.upbound.io/v1beta2", "VPCEndpoint", service, {
	"serviceName": concat(".", ["com.amazonaws.us-east-1", service]),
	"vpcEndpointType": type, "privateDnsEnabled": true, "vpcIdRef": {"name": "v"},
})

node_services := ["ecr.api", "ecr.dkr", "sts", "ec2", "logs", "secretsmanager"]

interface_endpoints := array.concat([endpoint(s, "Interface") | some s in node_services], [ec2("VPCEndpointSubnetAssociation", s, {"vpcEndpointIdRef": {"name": s}, "subnetIdRef": {"name": "priv-a"}}) | some s in node_services])

s3_gateway := json.remove(endpoint("s3", "Gateway"), ["spec/forProvider/privateDnsEnabled"])

s3_on_private_table := ec2("VPCEndpointRouteTableAssociation", "s3-a", {"vpcEndpointIdRef": {"name": "s3"}, "routeTableIdRef": {"name": "private-a"}})

endpoint_objs := array.concat(fixtures.drop(good, private_route), array.concat(interface_endpoints, [s3_gateway, s3_on_private_table]))

test_node_subnet_with_every_endpoint_and_no_nat_passes if {
	count(denied(private_subnet, with_objs(endpoint_objs))) == 0
	every e in array.concat(interface_endpoints, [s3_gateway, s3_on_private_table]) {
		count(denied(e, with_objs(endpoint_objs))) == 0
	}
}

test_node_subnet_missing_an_interface_endpoint_denies if {
	only("awsnetwork.node-subnet-egress", private_subnet, with_objs(fixtures.drop(endpoint_objs, endpoint("sts", "Interface"))))
}

test_interface_endpoint_without_subnets_denies if {
	a := ec2("VPCEndpointSubnetAssociation", "sts", {"vpcEndpointIdRef": {"name": "sts"}, "subnetIdRef": {"name": "priv-a"}})
	only("awsnetwork.node-subnet-egress", private_subnet, with_objs(fixtures.drop(endpoint_objs, a)))
}

test_node_subnet_without_the_s3_gateway_denies if {
	only("awsnetwork.node-subnet-egress", private_subnet, with_objs(fixtures.drop(endpoint_objs, s3_on_private_table)))
}

# awsnetwork.elb-subnet-igw

test_elb_subnet_without_internet_route_denies if {
	only("awsnetwork.elb-subnet-igw", public_subnet, drop(public_route))
}

test_elb_subnet_routing_to_nat_denies if {
	r := json.remove(route("public-default", "public", {"natGatewayIdRef": {"name": "nat-a"}}), ["spec/forProvider/gatewayIdRef"])
	only("awsnetwork.elb-subnet-igw", public_subnet, swap(r))
}

test_private_subnet_tagged_elb_denies if {
	s := fixtures.set(private_subnet, "/spec/forProvider/tags/kubernetes.io~1role~1elb", "1")
	only("awsnetwork.elb-subnet-igw", s, swap(s))
}

# awsnetwork.subnet-route-table

test_subnet_without_association_denies if {
	# The public subnet then also has no route to the internet gateway.
	denied(public_subnet, drop(public_association)) == {"awsnetwork.subnet-route-table", "awsnetwork.elb-subnet-igw"}
	"awsnetwork.subnet-route-table" in denied(private_subnet, drop(private_association))
}

test_association_to_a_missing_route_table_denies if {
	"awsnetwork.subnet-route-table" in denied(private_subnet, drop(private_table))
}

test_association_by_id_and_selector_passes if {
	s := object.union(private_subnet, {"status": {"atProvider": {"id": "subnet-0a"}}})
	t := object.union(private_table, {"metadata": {"labels": {"zone": "a"}}})
	a := ec2("RouteTableAssociation", "priv-a", {"subnetId": "subnet-0a", "routeTableIdSelector": {"matchLabels": {"zone": "a"}}})
	count(denied(s, with_objs(fixtures.swap(fixtures.swap(fixtures.swap(good, s), t), a)))) == 0
}

test_conftest_without_inventory_is_quiet if {
	count({f | some f in awsnetwork.deny with input as private_subnet}) == 0
}

# awsnetwork.deletion-protected

test_nodegroup_with_delete_management_policy_denies if {
	ng := fixtures.set(nodegroup, "/spec/managementPolicies", ["Observe", "Create", "Update", "Delete"])
	only("awsnetwork.deletion-protected", ng, swap(ng))
}

test_vpc_without_orphan_denies if {
	v := json.remove(vpc, ["spec/deletionPolicy"])
	only("awsnetwork.deletion-protected", v, swap(v))
	d := fixtures.set(vpc, "/spec/deletionPolicy", "Delete")
	only("awsnetwork.deletion-protected", d, swap(d))
}

test_cluster_without_sync_options_denies if {
	c := json.remove(cluster, ["metadata/annotations"])
	only("awsnetwork.deletion-protected", c, swap(c))
	p := fixtures.set(cluster, "/metadata/annotations/argocd.argoproj.io~1sync-options", "Prune=false")
	only("awsnetwork.deletion-protected", p, swap(p))
}

test_orphan_with_default_or_observe_policies_passes if {
	star := fixtures.set(nat, "/spec/managementPolicies", ["*"])
	count(denied(star, swap(star))) == 0
	observe := fixtures.set(json.remove(eip, ["spec/deletionPolicy"]), "/spec/managementPolicies", ["Observe"])
	count(denied(observe, swap(observe))) == 0
}

test_unprotected_kind_is_not_checked if {
	sg := json.remove(ec2("SecurityGroup", "endpoints", {"vpcIdRef": {"name": "v"}}), ["spec/deletionPolicy", "metadata/annotations"])
	count(denied(sg, with_objs(array.concat(good, [sg])))) == 0
}

# awsnetwork.alb-open-to-world

test_alb_without_prefix_list_denies if {
	i := json.remove(cart, [["metadata", "annotations", "alb.ingress.kubernetes.io/security-group-prefix-lists"]])
	only("awsnetwork.alb-open-to-world", i, swap(i))
}

test_alb_open_inbound_cidrs_denies if {
	i := fixtures.set(cart, "/metadata/annotations/alb.ingress.kubernetes.io~1inbound-cidrs", "10.0.0.0/8, ::/0")
	only("awsnetwork.alb-open-to-world", i, swap(i))
}

test_alb_with_own_security_groups_or_internal_is_not_judged if {
	no_pl := json.remove(cart, [["metadata", "annotations", "alb.ingress.kubernetes.io/security-group-prefix-lists"]])
	sg := fixtures.set(no_pl, "/metadata/annotations/alb.ingress.kubernetes.io~1security-groups", "sg-0123")
	count(denied(sg, swap(sg))) == 0
	internal := fixtures.set(no_pl, "/metadata/annotations/alb.ingress.kubernetes.io~1scheme", "internal")
	count(denied(internal, swap(internal))) == 0
}

# awsnetwork.ingress-group-order

test_ingress_without_group_order_denies if {
	i := json.remove(cart, [["metadata", "annotations", "alb.ingress.kubernetes.io/group.order"]])
	only("awsnetwork.ingress-group-order", i, swap(i))
	n := fixtures.set(cart, "/metadata/annotations/alb.ingress.kubernetes.io~1group.order", "first")
	only("awsnetwork.ingress-group-order", n, swap(n))
}

test_ingresses_sharing_an_order_deny if {
	i := fixtures.set(cart, "/metadata/annotations/alb.ingress.kubernetes.io~1group.order", "2")
	only("awsnetwork.ingress-group-order", i, swap(i))
	only("awsnetwork.ingress-group-order", api, swap(i))
}

test_catch_all_before_a_longer_path_denies if {
	s := fixtures.set(storefront, "/metadata/annotations/alb.ingress.kubernetes.io~1group.order", "-5")
	only("awsnetwork.ingress-group-order", s, swap(s))
	a := fixtures.set(api, "/metadata/annotations/alb.ingress.kubernetes.io~1group.order", "0")
	only("awsnetwork.ingress-group-order", a, swap(a))
}

test_sibling_paths_and_other_groups_do_not_shadow if {
	apix := ingress("apix", "/apix", "0")
	count(denied(apix, with_objs(array.concat(good, [apix])))) == 0
	other := fixtures.set(ingress("other", "/", "1"), "/metadata/annotations/alb.ingress.kubernetes.io~1group.name", "admin")
	count(denied(other, with_objs(array.concat(good, [other])))) == 0
}

# With the engine, a group's orders and paths are looked up in
# data.check.env_index (derived once per env) instead of scanning the group
# per Ingress; "01" and "1" are the same order.
test_group_order_reads_the_engine_env_index if {
	shared := fixtures.set(cart, "/metadata/annotations/alb.ingress.kubernetes.io~1group.order", "02")
	chk := swap(shared)
	derived := object.union(chk, {"env_index": {"awsnetwork": awsnetwork.env_index}}) with data.check as chk
	only("awsnetwork.ingress-group-order", api, derived)
	s := fixtures.set(storefront, "/metadata/annotations/alb.ingress.kubernetes.io~1group.order", "-5")
	early := swap(s)
	early_derived := object.union(early, {"env_index": {"awsnetwork": awsnetwork.env_index}}) with data.check as early
	only("awsnetwork.ingress-group-order", s, early_derived)
	empty := object.union(chk, {"env_index": {"awsnetwork": {"orders": {}, "paths": {}, "paths_below": {}}}})
	count(denied(api, empty)) == 0
}

test_every_rule_is_documented if {
	count(awsnetwork.docs) == 6
	every id, text in awsnetwork.docs {
		startswith(id, "awsnetwork.")
		text != ""
	}
}
