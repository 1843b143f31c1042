// Tests of the AWS side of the platform model (schema/aws_*.cue): every
// Crossplane and ACK object both envs render matches the CRD it will be
// applied against, and the objects agree with each other on names.
package schema_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"cuelang.org/go/cue"
	"sigs.k8s.io/yaml"

	"github.com/ecommerce-platform/gitops/generator"
	"github.com/ecommerce-platform/gitops/internal/crdlock"
	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
	"github.com/ecommerce-platform/gitops/internal/schemacheck"
	"github.com/ecommerce-platform/gitops/internal/testrepo"
)

// repoRoot is the CUE module root, seen from this package's folder.
const repoRoot = ".."

// crdDir is the verified folder of crds.lock.yaml's CRDs, as for render
// check: $GITOPS_CRD_DIR verified against the lock, else the lock's cache.
var crdDir = sync.OnceValue(func() string {
	res, err := crdlock.Dir(context.Background(), "", false)
	if err != nil {
		panic(fmt.Sprintf("the CRDs of crds.lock.yaml (set %s to verify a folder instead): %v", schemacheck.EnvCRDDir, err))
	}
	return res.Dir
})

// isAWS says whether an object is one this test owns: a Crossplane AWS
// managed resource or ProviderConfig, an ACK object, or anything in an aws-* app.
func isAWS(o *manifest.Object) bool {
	group, _, _ := strings.Cut(o.APIVersion(), "/")
	return strings.HasSuffix(group, "aws.upbound.io") || strings.HasSuffix(group, ".services.k8s.aws") ||
		strings.HasPrefix(filepath.ToSlash(o.File), "aws-") || strings.Contains(filepath.ToSlash(o.File), "/aws-")
}

// renderAWS renders every env under root/envsDir and returns their AWS objects.
func renderAWS(t *testing.T, root, envsDir string) map[string][]*manifest.Object {
	t.Helper()
	out := map[string][]*manifest.Object{}
	for env, objs := range renderAll(t, root, envsDir) {
		for _, o := range objs {
			if isAWS(o) {
				out[env] = append(out[env], o)
			}
		}
	}
	return out
}

var (
	validatorOnce sync.Once
	validator     *schemacheck.Validator
	validatorErr  error
	crdsOnce      sync.Once
	crdIndex      map[string]*crd
	crdErr        error
)

func schemaValidator(t *testing.T) *schemacheck.Validator {
	t.Helper()
	validatorOnce.Do(func() {
		validator, validatorErr = schemacheck.New(schemacheck.Options{CRDDir: crdDir()})
	})
	if validatorErr != nil {
		t.Fatalf("schema validator (CRDs from %s, set %s to move them): %v", crdDir(), schemacheck.EnvCRDDir, validatorErr)
	}
	return validator
}

// check runs every check on one env's AWS objects and returns the problems:
// the CRD's openAPIV3Schema and its required-parameter CEL rules
// (schemacheck), then what that does not cover: the storage version, the
// scope, the ProviderConfig, and references that name no object.
func check(t *testing.T, env string, objs []*manifest.Object) []string {
	t.Helper()
	var problems []string
	fs := schemaValidator(t).Validate(objs, env)
	finding.Sort(fs)
	for _, f := range fs {
		problems = append(problems, fmt.Sprintf("%s:%d: %s %s: %s", f.File, f.Line, f.Kind, f.Name, f.Message))
	}
	crds := loadCRDs(t)
	byKind := map[string]bool{} // "group Kind name"
	providerConfigs := map[string]bool{}
	for _, o := range objs {
		group, _, _ := strings.Cut(o.APIVersion(), "/")
		byKind[group+" "+o.Kind()+" "+o.Name()] = true
		if o.Kind() == "ProviderConfig" && group == "aws.upbound.io" {
			providerConfigs[o.Name()] = true
		}
	}
	for _, o := range objs {
		group, version, _ := strings.Cut(o.APIVersion(), "/")
		c := crds[group+" "+o.Kind()]
		if c == nil {
			continue // a built-in kind (Namespace) or an ExternalSecret: schemacheck covers it
		}
		where := fmt.Sprintf("%s: %s %s", o.File, o.Kind(), o.Name())
		if version != c.storage {
			problems = append(problems, fmt.Sprintf("%s: apiVersion %s, but the storage version is %s", where, o.APIVersion(), c.storage))
		}
		switch {
		case c.scope == "Cluster" && o.Namespace() != "":
			problems = append(problems, where+": cluster-scoped kind has metadata.namespace")
		case c.scope == "Namespaced" && o.Namespace() == "":
			problems = append(problems, where+": namespaced kind has no metadata.namespace")
		}
		spec, _ := o.Object["spec"].(map[string]any)
		if strings.HasSuffix(group, ".aws.upbound.io") {
			ref, _ := spec["providerConfigRef"].(map[string]any)
			if name, _ := ref["name"].(string); !providerConfigs[name] {
				problems = append(problems, fmt.Sprintf("%s: providerConfigRef %q is no ProviderConfig of env %s", where, name, env))
			}
		}
		v := c.versions[version]
		if v == nil {
			continue
		}
		for _, r := range references(spec, v.spec(), "spec") {
			if !byKind[r.group+" "+r.kind+" "+r.name] {
				problems = append(problems, fmt.Sprintf("%s: %s names %s %q, which env %s does not have", where, r.path, r.kind, r.name, env))
			}
		}
	}
	return problems
}

func TestAWSObjectsMatchTheirCRDs(t *testing.T) {
	envs := renderAWS(t, repoRoot, "envs")
	for _, env := range []string{"prod", "dr"} {
		t.Run(env, func(t *testing.T) {
			objs := envs[env]
			if len(objs) == 0 {
				t.Fatalf("env %s renders no AWS objects", env)
			}
			for _, p := range check(t, env, objs) {
				t.Error(p)
			}
			t.Logf("%d AWS objects checked", len(objs))
		})
	}
}

// TestAWSMisspeltFieldFails: the CRD check catches what CUE cannot, a typo in
// a field of forProvider (open in the schema, closed in the CRD), and CUE
// catches a typo in an env's values. Both run on a copy of the module.
func TestAWSMisspeltFieldFails(t *testing.T) {
	t.Run("schema", func(t *testing.T) {
		root := copyModule(t, "schema/aws_eks.cue", "endpointPrivateAccess: true", "endpointPrivatAccess: true")
		objs := renderAWS(t, root, "envs")["small"]
		problems := check(t, "prod", objs)
		t.Logf("caught:\n%s", strings.Join(problems, "\n"))
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "endpointPrivatAccess") }) {
			t.Fatalf("a misspelt forProvider field passed the CRD check; problems:\n%s", strings.Join(problems, "\n"))
		}
	})
	t.Run("required-parameter", func(t *testing.T) {
		root := copyModule(t, "schema/aws_eks.cue", "vpcConfig: {", "vpcConfg: {")
		problems := check(t, "prod", renderAWS(t, root, "envs")["small"])
		t.Logf("caught:\n%s", strings.Join(problems, "\n"))
		for _, want := range []string{"vpcConfg", "spec.forProvider.vpcConfig is a required parameter"} {
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
				t.Errorf("no problem mentions %q; problems:\n%s", want, strings.Join(problems, "\n"))
			}
		}
	})
	t.Run("env", func(t *testing.T) {
		root := testrepo.Fixture(t)
		typo := "package env\n\nplatform: aws: cluster: verison: \"1.35\"\n"
		if err := os.WriteFile(filepath.Join(root, "envs", "small", "typo.cue"), []byte(typo), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := generator.Render(context.Background(), generator.Options{Root: root, Envs: []string{"small"}})
		if err == nil || !strings.Contains(err.Error(), "verison") {
			t.Fatalf("a misspelt env field rendered: err = %v", err)
		}
		t.Logf("caught: %v", err)
	})
}

// TestAWSNetworkMistakesFail: checkNetwork catches a private route table
// sending its zone through another zone's NAT gateway, and a subnet left
// without its route table association (crafted in a fixture repository).
func TestAWSNetworkMistakesFail(t *testing.T) {
	for _, tc := range []struct{ name, old, new, want string }{
		{"nat-of-another-zone", "natGatewayIdRef: name: N.natGateway[zone]", "natGatewayIdRef: name: N.natGateway[P.zones[0]]", "which is not in a public subnet of its zone"},
		{"no-association", "subnetIdRef: name:     N.privateSubnet[zone]", "subnetIdRef: name:     N.publicSubnet[zone]", "has no route table association"},
		{"no-s3-endpoint", "routeTableIdRef: name:  N.privateRouteTable[zone]", "routeTableIdRef: name:  N.publicRouteTable", "has no S3 gateway endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderAWS(t, copyModule(t, "schema/aws_network.cue", tc.old, tc.new), "envs")["small"]
			problems := checkNetwork("small", func(kind string) []map[string]any {
				var out []map[string]any
				for _, o := range objs {
					if o.Kind() == kind {
						out = append(out, o.Object)
					}
				}
				return out
			})
			t.Logf("caught:\n%s", strings.Join(problems, "\n"))
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("no problem says %q", tc.want)
			}
		})
	}
}

// TestAWSNamesAgree: the objects of both envs agree on the names that tie
// them together, as the issue asks.
func TestAWSNamesAgree(t *testing.T) {
	envs := renderAWS(t, repoRoot, "envs")
	get := func(env, kind string) []map[string]any {
		var out []map[string]any
		for _, o := range envs[env] {
			if o.Kind() == kind {
				out = append(out, o.Object)
			}
		}
		return out
	}
	for _, env := range []string{"prod", "dr"} {
		for _, p := range checkNetwork(env, func(kind string) []map[string]any { return get(env, kind) }) {
			t.Error(p)
		}
	}

	// The Firehose writes the bucket the crawler reads and Athena writes results to.
	for _, fh := range get("prod", "DeliveryStream") {
		bucket := str(fh, "spec", "forProvider", "extendedS3Configuration", "bucketArnRef", "name")
		for _, c := range get("prod", "Crawler") {
			for _, target := range list(c, "spec", "forProvider", "s3Target") {
				if p := target.(map[string]any)["path"].(string); !strings.HasPrefix(p, "s3://"+bucket+"/") {
					t.Errorf("crawler reads %s, Firehose writes bucket %s", p, bucket)
				}
			}
		}
	}

	// One weighted pair for the CloudFront origin: prod (the writer) 255, dr
	// 0, each with its own health check and set identifier.
	weights := map[string]string{}
	ids := map[string]string{}
	distOrigin := list(get("prod", "Distribution")[0], "spec", "forProvider", "origin")[0].(map[string]any)["domainName"].(string)
	for _, env := range []string{"prod", "dr"} {
		for _, r := range get(env, "Record") {
			if str(r, "spec", "forProvider", "name") != distOrigin {
				continue
			}
			if str(r, "spec", "forProvider", "healthCheckIdRef", "name") == "" {
				t.Errorf("%s: origin record %s has no health check", env, str(r, "metadata", "name"))
			}
			weights[env] = fmt.Sprint(value(r, "spec", "forProvider", "weightedRoutingPolicy", "weight"))
			ids[env] = str(r, "spec", "forProvider", "setIdentifier")
		}
	}
	if weights["prod"] != "255" || weights["dr"] != "0" || ids["prod"] == ids["dr"] {
		t.Errorf("origin records for the CloudFront origin %s: weights %v (set identifiers %v), want prod 255 and dr 0", distOrigin, weights, ids)
	}

	// prod replicates the CloudSnap bucket to the bucket dr creates.
	var replicaArn string
	for _, rc := range get("prod", "BucketReplicationConfiguration") {
		for _, rule := range list(rc, "spec", "forProvider", "rule") {
			replicaArn = str(rule.(map[string]any), "destination", "bucket")
		}
	}
	var drBuckets []string
	for _, b := range get("dr", "Bucket") {
		drBuckets = append(drBuckets, "arn:aws:s3:::"+str(b, "metadata", "name"))
	}
	if replicaArn == "" || !slices.Contains(drBuckets, replicaArn) {
		t.Errorf("prod replicates to %q, dr creates buckets %v", replicaArn, drBuckets)
	}
}

// checkNetwork: the platform network of one env holds together by name.
// Every subnet has a route table association naming it and a route table of
// its VPC; a private subnet (the nodes) leaves through the NAT gateway of its
// own zone, which sits in that zone's public subnet; a public subnet (tagged
// for internet-facing load balancers) routes to the VPC's internet gateway;
// the S3 gateway endpoint is on every private route table; the NodeGroups
// and the Cluster use exactly the private subnets, one per zone.
func checkNetwork(env string, get func(kind string) []map[string]any) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	byName := func(kind string) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, o := range get(kind) {
			out[str(o, "metadata", "name")] = o
		}
		return out
	}
	fp := func(o map[string]any, path ...string) string {
		return str(o, append([]string{"spec", "forProvider"}, path...)...)
	}
	var platformVPC string
	for _, v := range get("VPC") {
		if strings.HasSuffix(str(v, "metadata", "name"), "-platform") {
			platformVPC = str(v, "metadata", "name")
		}
	}
	if platformVPC == "" {
		return []string{env + ": no platform VPC"}
	}
	subnets, tables, nats, igws := byName("Subnet"), byName("RouteTable"), byName("NATGateway"), byName("InternetGateway")
	eips, endpoints := byName("EIP"), byName("VPCEndpoint")

	tableOf := map[string]string{} // subnet -> route table
	for _, a := range get("RouteTableAssociation") {
		s, rt := fp(a, "subnetIdRef", "name"), fp(a, "routeTableIdRef", "name")
		if subnets[s] == nil || tables[rt] == nil {
			add("%s: RouteTableAssociation %s joins subnet %q and route table %q; both must exist", env, str(a, "metadata", "name"), s, rt)
			continue
		}
		if prev, dup := tableOf[s]; dup {
			add("%s: subnet %s is associated with route tables %s and %s", env, s, prev, rt)
		}
		if fp(tables[rt], "vpcIdRef", "name") != fp(subnets[s], "vpcIdRef", "name") {
			add("%s: subnet %s is associated with route table %s of another VPC", env, s, rt)
		}
		tableOf[s] = rt
	}
	defaultRoute := map[string]map[string]any{} // route table -> its 0.0.0.0/0 route
	for _, r := range get("Route") {
		rt := fp(r, "routeTableIdRef", "name")
		if tables[rt] == nil {
			add("%s: Route %s is in route table %q, which does not exist", env, str(r, "metadata", "name"), rt)
		}
		if n := fp(r, "natGatewayIdRef", "name"); n != "" && nats[n] == nil {
			add("%s: Route %s goes to NAT gateway %q, which does not exist", env, str(r, "metadata", "name"), n)
		}
		if g := fp(r, "gatewayIdRef", "name"); g != "" && igws[g] == nil {
			add("%s: Route %s goes to internet gateway %q, which does not exist", env, str(r, "metadata", "name"), g)
		}
		if fp(r, "destinationCidrBlock") == "0.0.0.0/0" {
			defaultRoute[rt] = r
		}
	}
	s3Tables := map[string]bool{}
	for _, a := range get("VPCEndpointRouteTableAssociation") {
		e, rt := fp(a, "vpcEndpointIdRef", "name"), fp(a, "routeTableIdRef", "name")
		if endpoints[e] == nil || tables[rt] == nil {
			add("%s: VPCEndpointRouteTableAssociation %s joins endpoint %q and route table %q; both must exist", env, str(a, "metadata", "name"), e, rt)
			continue
		}
		if strings.HasSuffix(fp(endpoints[e], "serviceName"), ".s3") {
			s3Tables[rt] = true
		}
	}

	private := map[string]string{} // private subnet -> zone
	for name, s := range subnets {
		if fp(s, "vpcIdRef", "name") != platformVPC {
			continue
		}
		zone, rt := fp(s, "availabilityZone"), tableOf[name]
		if rt == "" {
			add("%s: subnet %s has no route table association", env, name)
			continue
		}
		route := defaultRoute[rt]
		tags, _ := s["spec"].(map[string]any)["forProvider"].(map[string]any)["tags"].(map[string]any)
		public := s["spec"].(map[string]any)["forProvider"].(map[string]any)["mapPublicIpOnLaunch"] == true
		switch {
		case public:
			if tags["kubernetes.io/role/elb"] != "1" || tags["kubernetes.io/role/internal-elb"] != nil {
				add("%s: public subnet %s tags %v, want kubernetes.io/role/elb only", env, name, tags)
			}
			if g := fp(route, "gatewayIdRef", "name"); igws[g] == nil || fp(igws[g], "vpcIdRef", "name") != platformVPC {
				add("%s: public subnet %s: route table %s sends 0.0.0.0/0 to %q, not the VPC's internet gateway", env, name, rt, g)
			}
		default:
			private[name] = zone
			if tags["kubernetes.io/role/internal-elb"] != "1" || tags["kubernetes.io/role/elb"] != nil {
				add("%s: private subnet %s tags %v, want kubernetes.io/role/internal-elb only", env, name, tags)
			}
			nat := nats[fp(route, "natGatewayIdRef", "name")]
			natSubnet := subnets[fp(nat, "subnetIdRef", "name")]
			switch {
			case nat == nil:
				add("%s: private subnet %s: route table %s has no 0.0.0.0/0 route to a NAT gateway", env, name, rt)
			case natSubnet == nil || fp(natSubnet, "availabilityZone") != zone || tableOf[fp(nat, "subnetIdRef", "name")] == rt:
				add("%s: private subnet %s (%s) leaves through NAT gateway %s, which is not in a public subnet of its zone", env, name, zone, str(nat, "metadata", "name"))
			case eips[fp(nat, "allocationIdRef", "name")] == nil:
				add("%s: NAT gateway %s has no Elastic IP in the set", env, str(nat, "metadata", "name"))
			}
			if !s3Tables[rt] {
				add("%s: private subnet %s: route table %s has no S3 gateway endpoint", env, name, rt)
			}
		}
	}
	zones := map[string]bool{}
	for _, z := range private {
		zones[z] = true
	}
	if len(zones) < 3 || len(zones) != len(private) {
		add("%s: private subnets %v, want exactly one per zone (at least 3)", env, private)
	}
	want := slices.Sorted(maps.Keys(private))
	refs := func(o map[string]any, path ...string) []string {
		var names []string
		for _, r := range list(o, path...) {
			names = append(names, r.(map[string]any)["name"].(string))
		}
		slices.Sort(names)
		return names
	}
	ngs := get("NodeGroup")
	if len(ngs) == 0 {
		add("%s: no NodeGroup", env)
	}
	for _, ng := range ngs {
		if got := refs(ng, "spec", "forProvider", "subnetIdRefs"); !slices.Equal(got, want) {
			add("%s: NodeGroup %s subnets %v, want the private subnets %v", env, str(ng, "metadata", "name"), got, want)
		}
	}
	for _, c := range get("Cluster") {
		if !strings.HasPrefix(str(c, "apiVersion"), "eks.") {
			continue
		}
		if got := refs(c, "spec", "forProvider", "vpcConfig", "subnetIdRefs"); !slices.Equal(got, want) {
			add("%s: EKS Cluster %s subnets %v, want the private subnets %v", env, str(c, "metadata", "name"), got, want)
		}
	}
	return problems
}

// value is the field at path in m, nil if any step is missing.
func value(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, _ := v.(map[string]any)
		v = mm[p]
	}
	return v
}

func str(m map[string]any, path ...string) string {
	s, _ := value(m, path...).(string)
	return s
}

func list(m map[string]any, path ...string) []any {
	l, _ := value(m, path...).([]any)
	return l
}

// copyModule is a fixture repository (the schema with the fixture envs,
// internal/testrepo) with old replaced by new in its schema file (once; the
// test fails if old is absent).
func copyModule(t *testing.T, file, old, new string) string {
	t.Helper()
	root := testrepo.Fixture(t)
	path := filepath.Join(root, file)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// crd is what this test reads from a CustomResourceDefinition beyond what
// schemacheck validates.
type crd struct {
	scope    string
	storage  string
	versions map[string]*crdVersion
}

type crdVersion struct {
	Name   string `json:"name"`
	Schema struct {
		OpenAPIV3Schema schemaNode `json:"openAPIV3Schema"`
	} `json:"schema"`
	Storage bool `json:"storage"`
}

type schemaNode struct {
	Type        string                `json:"type"`
	Description string                `json:"description"`
	Properties  map[string]schemaNode `json:"properties"`
	Items       *schemaNode           `json:"items"`
}

func (v *crdVersion) spec() schemaNode { return v.Schema.OpenAPIV3Schema.Properties["spec"] }

func loadCRDs(t *testing.T) map[string]*crd {
	t.Helper()
	crdsOnce.Do(func() {
		crdIndex = map[string]*crd{}
		crdErr = filepath.WalkDir(crdDir(), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !manifest.IsYAML(path) {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var doc struct {
				Kind string `json:"kind"`
				Spec struct {
					Group string `json:"group"`
					Scope string `json:"scope"`
					Names struct {
						Kind string `json:"kind"`
					} `json:"names"`
					Versions []*crdVersion `json:"versions"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal(data, &doc); err != nil || doc.Kind != "CustomResourceDefinition" {
				return nil // not a single CRD: schemacheck reports what it cannot read
			}
			c := &crd{scope: doc.Spec.Scope, versions: map[string]*crdVersion{}}
			for _, v := range doc.Spec.Versions {
				c.versions[v.Name] = v
				if v.Storage {
					c.storage = v.Name
				}
			}
			crdIndex[doc.Spec.Group+" "+doc.Spec.Names.Kind] = c
			return nil
		})
	})
	if crdErr != nil {
		t.Fatalf("reading CRDs from %s: %v", crdDir(), crdErr)
	}
	return crdIndex
}

type reference struct{ path, group, kind, name string }

// refTarget reads the referenced kind from the description upjet writes on
// every reference field: "Reference to a VPC in ec2 to populate vpcId." or
// "References to Subnet in ec2 to populate subnetIds."
var refTarget = regexp.MustCompile(`^References? to (?:an? )?(\w+) in (\w+) to populate`)

// references lists every *Ref / *Refs of v (walked beside its schema) whose
// target kind is a Crossplane AWS kind.
func references(v any, s schemaNode, path string) []reference {
	var out []reference
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			ps, ok := s.Properties[k]
			if !ok {
				continue
			}
			p := path + "." + k
			if m := refTarget.FindStringSubmatch(ps.Description); m != nil && (strings.HasSuffix(k, "Ref") || strings.HasSuffix(k, "Refs")) {
				group := m[2] + ".aws.upbound.io"
				add := func(p string, r any) {
					if name := str(r.(map[string]any), "name"); name != "" {
						out = append(out, reference{p, group, m[1], name})
					}
				}
				if l, ok := x.([]any); ok {
					for i, r := range l {
						add(fmt.Sprintf("%s[%d]", p, i), r)
					}
				} else {
					add(p, x)
				}
				continue
			}
			out = append(out, references(x, ps, p)...)
		}
	case []any:
		if s.Items != nil {
			for i, x := range t {
				out = append(out, references(x, *s.Items, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return out
}

// renderAll renders every env under root/envsDir and returns all their objects.
func renderAll(t *testing.T, root, envsDir string) map[string][]*manifest.Object {
	t.Helper()
	envs, err := generator.Render(context.Background(), generator.Options{Root: root, EnvsDir: envsDir})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	out := map[string][]*manifest.Object{}
	for _, env := range envs {
		for _, f := range env.Files {
			if !manifest.IsYAML(f.Path) || manifest.IsKustomization(filepath.Base(f.Path)) {
				continue
			}
			objs, err := manifest.Parse(f.Path, f.Data)
			if err != nil {
				t.Fatalf("env %s: %v", env.Name, err)
			}
			out[env.Name] = append(out[env.Name], objs...)
		}
	}
	return out
}

// TestIdentityNamesAgree: the IRSA names that must agree across app folders
// (issue 13): each role's trust names the env's OIDC provider and exactly
// one ServiceAccount, which exists (rendered, or named by the chart that
// creates it) and carries that role's ARN; each annotated ServiceAccount's
// role exists; the store's ServiceAccount is one of them.
func TestIdentityNamesAgree(t *testing.T) {
	envs := renderAll(t, repoRoot, "envs")
	for _, env := range []string{"prod", "dr"} {
		t.Run(env, func(t *testing.T) {
			objs := envs[env]
			var issuer, account string           // the account comes from the roles' ARNs
			roles := map[string]map[string]any{} // name -> object
			accounts := map[string]string{}      // "ns/name" -> role-arn annotation
			chartAccounts := map[string]string{} // "ns/name" -> role ARN, for charts whose operator creates it
			for _, o := range objs {
				switch {
				case o.Kind() == "OpenIDConnectProvider":
					if issuer != "" {
						t.Errorf("more than one OIDC provider")
					}
					issuer = strings.TrimPrefix(str(o.Object, "spec", "forProvider", "url"), "https://")
				case o.Kind() == "Role" && strings.HasPrefix(o.Name(), env+"-irsa-"):
					roles[o.Name()] = o.Object
				case o.Kind() == "ServiceAccount":
					ann, _ := o.Object["metadata"].(map[string]any)["annotations"].(map[string]any)
					arn, _ := ann["eks.amazonaws.com/role-arn"].(string)
					accounts[o.Namespace()+"/"+o.Name()] = arn
				case o.Kind() == "Application" && str(o.Object, "spec", "source", "chart") == "portworx":
					// The Portworx operator creates its ServiceAccount and annotates
					// it from workloadIdentity.credentials.
					values, _ := o.Object["spec"].(map[string]any)["source"].(map[string]any)["helm"].(map[string]any)["valuesObject"].(map[string]any)
					for _, c := range list(values, "workloadIdentity", "credentials") {
						chartAccounts[str(o.Object, "spec", "destination", "namespace")+"/portworx"] = c.(map[string]any)["value"].(string)
					}
				case o.Kind() == "ClusterSecretStore":
					defer func(o *manifest.Object) {
						ref := str(o.Object, "spec", "provider", "aws", "auth", "jwt", "serviceAccountRef", "namespace") + "/" +
							str(o.Object, "spec", "provider", "aws", "auth", "jwt", "serviceAccountRef", "name")
						if accounts[ref] == "" {
							t.Errorf("ClusterSecretStore %s names ServiceAccount %s, which is not rendered with a role", o.Name(), ref)
						}
					}(o)
				}
			}
			if issuer == "" {
				t.Fatal("no OIDC provider rendered")
			}
			if len(roles) < 5 {
				t.Errorf("%d IRSA roles, want one per controller (at least 5)", len(roles))
			}
			for name, role := range roles {
				var doc struct {
					Statement []struct {
						Principal struct{ Federated string }
						Action    string
						Condition struct{ StringEquals map[string]string }
					}
				}
				if err := json.Unmarshal([]byte(str(role, "spec", "forProvider", "assumeRolePolicy")), &doc); err != nil || len(doc.Statement) != 1 {
					t.Errorf("role %s: trust policy %v, want one statement", name, err)
					continue
				}
				st := doc.Statement[0]
				if !strings.HasSuffix(st.Principal.Federated, ":oidc-provider/"+issuer) {
					t.Errorf("role %s trusts %s, not the env's OIDC provider %s", name, st.Principal.Federated, issuer)
				}
				account = strings.TrimPrefix(strings.Split(st.Principal.Federated, ":oidc-provider/")[0], "arn:aws:iam::")
				sub := st.Condition.StringEquals[issuer+":sub"]
				if aud := st.Condition.StringEquals[issuer+":aud"]; aud != "sts.amazonaws.com" || st.Action != "sts:AssumeRoleWithWebIdentity" {
					t.Errorf("role %s: action %s audience %q", name, st.Action, aud)
				}
				ns, sa, ok := strings.Cut(strings.TrimPrefix(sub, "system:serviceaccount:"), ":")
				if !ok || name != env+"-irsa-"+ns+"-"+sa {
					t.Errorf("role %s trusts %q: want exactly the ServiceAccount its name says", name, sub)
				}
				arn := "arn:aws:iam::" + account + ":role/" + name
				got, rendered := accounts[ns+"/"+sa]
				if !rendered {
					got = chartAccounts[ns+"/"+sa]
				}
				if got != arn {
					t.Errorf("role %s trusts %s/%s, whose role-arn is %q (rendered: %v), want %s", name, ns, sa, got, rendered, arn)
				}
			}
			for key, arn := range accounts {
				if arn == "" {
					continue
				}
				if _, ok := roles[arn[strings.LastIndex(arn, "/")+1:]]; !ok {
					t.Errorf("ServiceAccount %s names role %s, which env %s does not render", key, arn, env)
				}
			}
		})
	}
}

// TestCertificateNamesAgree: every Certificate has a CertificateValidation
// that names it and lists one record per domain, and each record is a CNAME
// in the env's zone.
func TestCertificateNamesAgree(t *testing.T) {
	envs := renderAWS(t, repoRoot, "envs")
	for _, env := range []string{"prod", "dr"} {
		records := map[string]string{} // name without the final dot -> zone object
		validations := map[string]map[string]any{}
		var certs []map[string]any
		for _, o := range envs[env] {
			switch o.Kind() {
			case "Record":
				if str(o.Object, "spec", "forProvider", "type") == "CNAME" {
					records[strings.TrimSuffix(str(o.Object, "spec", "forProvider", "name"), ".")] = str(o.Object, "spec", "forProvider", "zoneIdRef", "name")
				}
			case "CertificateValidation":
				validations[str(o.Object, "spec", "forProvider", "certificateArnRef", "name")] = o.Object
			case "Certificate":
				certs = append(certs, o.Object)
			}
		}
		if len(certs) == 0 {
			t.Errorf("%s: no Certificate", env)
		}
		for _, c := range certs {
			name := str(c, "metadata", "name")
			v := validations[name]
			if v == nil {
				t.Errorf("%s: Certificate %s has no CertificateValidation", env, name)
				continue
			}
			if str(v, "spec", "forProvider", "region") != str(c, "spec", "forProvider", "region") {
				t.Errorf("%s: CertificateValidation %s in %s, its Certificate in %s", env, name, str(v, "spec", "forProvider", "region"), str(c, "spec", "forProvider", "region"))
			}
			domains := []any{str(c, "spec", "forProvider", "domainName")}
			domains = append(domains, list(c, "spec", "forProvider", "subjectAlternativeNames")...)
			fqdns := list(v, "spec", "forProvider", "validationRecordFqdns")
			if len(fqdns) != len(domains) {
				t.Errorf("%s: Certificate %s covers %v, its validation lists %v", env, name, domains, fqdns)
			}
			for i, f := range fqdns {
				if i < len(domains) && !strings.HasSuffix(f.(string), "."+domains[i].(string)) {
					t.Errorf("%s: validation record %s is not for domain %s", env, f, domains[i])
				}
				if zone, ok := records[f.(string)]; !ok || zone == "" {
					t.Errorf("%s: validation record %s of Certificate %s is no CNAME Record in a zone", env, f, name)
				}
			}
		}
	}
}

// TestClusterVersionNeedsItsAddonRow: the EKS add-on versions follow the
// cluster version from #EKSVersions, so a version without a row is an error
// of the env, not a render with unmanaged add-ons.
func TestClusterVersionNeedsItsAddonRow(t *testing.T) {
	root := testrepo.Fixture(t)
	version := testrepo.Find(t, filepath.Join(root, "envs", "small", "aws.cue"), "platform", "aws", "cluster", "version")
	testrepo.Set(t, version, `"1.99"`)
	_, err := generator.Render(context.Background(), generator.Options{Root: root, Envs: []string{"small"}})
	if err == nil || !strings.Contains(err.Error(), "1.99") {
		t.Fatalf("a cluster version without an #EKSVersions row rendered: err = %v", err)
	}
	t.Logf("caught: %v", err)
}

// TestArgoCDDoesNotAssumeItsOwnRole: Argo CD runs as the deploy role
// (IRSA, README Bootstrap 3-4). When a cluster Secret's awsAuthConfig names
// a roleARN, argocd-k8s-auth calls sts:AssumeRole on it first (argo-cd
// cmd/argocd-k8s-auth/commands/aws.go), and IAM refuses a role assuming
// itself unless its own trust policy names it, which bootstrap does not: no
// Application could sync to the cluster. Checked on the fixture's render
// and on a crafted Secret that names the deploy role.
func TestArgoCDDoesNotAssumeItsOwnRole(t *testing.T) {
	root := testrepo.Fixture(t)
	envs := renderAll(t, root, "envs")
	for _, env := range []string{"small", "small-dr"} {
		file := filepath.Join(root, "envs", env, "aws.cue")
		if _, err := os.Stat(file); err != nil {
			file = filepath.Join(root, "envs", env, "platform.cue") // small-dr is one file
		}
		quoted := testrepo.Find(t, file, "platform", "aws", "management", "deployRoleArn").Text
		deploy, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("%s: deployRoleArn %s: %v", env, quoted, err)
		}
		clusters := 0
		for _, o := range envs[env] {
			if o.Kind() != "Secret" || str(o.Object, "metadata", "labels", "argocd.argoproj.io/secret-type") != "cluster" {
				continue
			}
			clusters++
			if problem := assumesItself(o.Object, deploy); problem != "" {
				t.Errorf("%s: %s", env, problem)
			}
		}
		if clusters == 0 {
			t.Errorf("%s renders no Argo CD cluster Secret", env)
		}
		crafted := map[string]any{
			"metadata":   map[string]any{"name": "cluster-crafted"},
			"stringData": map[string]any{"config": `{"awsAuthConfig":{"clusterName":"c","roleARN":"` + deploy + `"}}`},
		}
		if assumesItself(crafted, deploy) == "" {
			t.Errorf("%s: a cluster Secret assuming %s passed", env, deploy)
		}
	}
}

// assumesItself says why a cluster Secret makes Argo CD assume the role it
// runs as, or "".
func assumesItself(secret map[string]any, deploy string) string {
	var config struct {
		AWSAuthConfig struct{ RoleARN string } `json:"awsAuthConfig"`
	}
	if err := json.Unmarshal([]byte(str(secret, "stringData", "config")), &config); err != nil {
		return fmt.Sprintf("cluster Secret %s: config: %v", str(secret, "metadata", "name"), err)
	}
	if config.AWSAuthConfig.RoleARN == deploy {
		return fmt.Sprintf("cluster Secret %s makes Argo CD assume %s, the role it runs as", str(secret, "metadata", "name"), deploy)
	}
	return ""
}

// TestClusterAutoscalerPairsImageAndChart: a #EKSVersions row pins the
// Cluster Autoscaler's image and chart together, and a pair whose minors
// disagree (image 1.35 on a chart of appVersion 1.34, whose ClusterRole
// lacks the resource.k8s.io rule 1.35 waits on), a chart the table does not
// know, or an image of another minor than the cluster is an error that
// names the fix, not a render.
func TestClusterAutoscalerPairsImageAndChart(t *testing.T) {
	// Every row holds, not only the ones an env uses today.
	_, schema := schemaValue(t)
	rows, err := schema.LookupPath(cue.MakePath(cue.Def("#EKSVersions"))).Fields()
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		pinned := rows.Value().LookupPath(cue.ParsePath("clusterAutoscaler.pinned"))
		if err := pinned.Validate(cue.Concrete(true)); err != nil {
			t.Errorf("#EKSVersions[%q]: %v", rows.Selector().Unquoted(), err)
		}
	}

	row := `clusterAutoscaler: {image: "v1.35.0", chart: "9.54.1"}`
	for _, tc := range []struct{ name, row, want string }{
		{"chart of an older minor", `clusterAutoscaler: {image: "v1.35.0", chart: "9.52.1"}`, `Cluster Autoscaler image v1.35.0 on chart 9.52.1 (appVersion 1.34.1)`},
		{"image of another minor", `clusterAutoscaler: {image: "v1.30.0", chart: "9.54.1"}`, `Cluster Autoscaler image v1.30.0 on chart 9.54.1 (appVersion 1.35.0)`},
		{"chart not in the table", `clusterAutoscaler: {image: "v1.35.0", chart: "9.99.0"}`, `chart 9.99.0 is not in #ClusterAutoscalerCharts`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := copyModule(t, "schema/aws_eks.cue", row, tc.row)
			_, err := generator.Render(context.Background(), generator.Options{Root: root, Envs: []string{"small"}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("rendered with %s: err = %v, want one saying %q", tc.row, err, tc.want)
			}
			t.Logf("caught: %v", err)
		})
	}
}
