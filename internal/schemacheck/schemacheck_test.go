package schemacheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

// sharedValidator is built once: New parses every CRD and the built-in bundle.
// It uses the defaults (the CRDs of schema/crds.lock.yaml, the user cache), so
// a cold machine fetches k8s.io/kubernetes through the module proxy here, and
// a failure to fetch fails every test that needs it, with the reason.
var sharedValidator = sync.OnceValues(func() (*Validator, error) { return New(Options{}) })

func validator(t testing.TB) *Validator {
	t.Helper()
	v, err := sharedValidator()
	if err != nil {
		t.Fatalf("schemacheck.New: %v", err)
	}
	return v
}

func parse(t *testing.T, file, doc string) []*manifest.Object {
	t.Helper()
	objs, err := manifest.Parse(file, []byte(doc))
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return objs
}

// lineOf is the 1-based line of the first line of doc containing marker, so
// expected lines are stated by content rather than by counting.
func lineOf(t *testing.T, doc, marker string) int {
	t.Helper()
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("marker %q not in document", marker)
	return 0
}

// want is one expected finding: its path, its full message, and the text of
// the line it must point at.
type want struct {
	path, msg, at string
}

func checkFindings(t *testing.T, doc string, got []finding.Finding, wants []want) {
	t.Helper()
	for _, f := range got {
		if f.Rule != Rule || f.Severity != finding.Deny || f.File == "" || f.Kind == "" || f.Name == "" {
			t.Errorf("finding lacks identity: %+v", f)
		}
	}
	if len(got) != len(wants) {
		t.Errorf("got %d findings, want %d:\n%s", len(got), len(wants), dump(got))
		return
	}
	for _, w := range wants {
		i := slices.IndexFunc(got, func(f finding.Finding) bool { return f.Path == w.path && f.Message == w.msg })
		if i < 0 {
			t.Errorf("missing finding path=%q msg=%q; got:\n%s", w.path, w.msg, dump(got))
			continue
		}
		if line := lineOf(t, doc, w.at); got[i].Line != line {
			t.Errorf("%s: line %d, want %d (%q)", w.msg, got[i].Line, line, w.at)
		}
	}
}

func dump(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.File + ":" + strconv.Itoa(f.Line) + " path=" + f.Path + " " + f.Message + "\n")
	}
	return b.String()
}

func TestCraftedMistakes(t *testing.T) {
	v := validator(t)
	tests := []struct {
		name  string
		doc   string
		wants []want
	}{
		{
			name: "misspelled Rollout field",
			doc: `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: cart
  namespace: shop
spec:
  selector:
    matchLabels: {app: cart}
  template:
    metadata:
      labels: {app: cart}
    spec:
      containers:
      - name: cart
        image: cart:1
  strategy:
    blueGreen:
      activeServis: cart
      previewService: cart-preview
`,
			wants: []want{
				{"spec.strategy.blueGreen.activeServis", "spec.strategy.blueGreen.activeServis: unknown field", "activeServis:"},
				{"spec.strategy.blueGreen.activeService", "spec.strategy.blueGreen.activeService: required field missing", "blueGreen:"},
			},
		},
		{
			name: "wrong type in a built-in kind",
			doc: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: three
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: web:1
`,
			wants: []want{{"spec.replicas", `spec.replicas: expected integer, got string "three"`, "replicas:"}},
		},
		{
			name: "missing required field in an Argo CD Application",
			doc: `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: app
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://example.com/repo.git
    path: rendered/prod/app
`,
			wants: []want{{"spec.destination", "spec.destination: required field missing", "spec:"}},
		},
		{
			name: "bad enum in an ExternalSecret",
			doc: `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: creds
  namespace: shop
spec:
  secretStoreRef:
    kind: ClusterSecretStore
    name: aws
  target:
    creationPolicy: Foo
`,
			wants: []want{{"spec.target.creationPolicy", `spec.target.creationPolicy: "Foo" is not one of [Owner Orphan Merge None CreateOrMerge]`, "creationPolicy:"}},
		},
		{
			name: "unknown kind in a built-in group",
			doc: `apiVersion: apps/v1
kind: Deploymnt
metadata:
  name: web
`,
			wants: []want{{"", "kind Deploymnt does not exist in apps/v1 (Kubernetes " + DefaultKubernetesVersion + ")", "apiVersion:"}},
		},
		{
			name: "apiVersion known nowhere",
			doc: `apiVersion: widgets.example.com/v1
kind: Widget
metadata:
  name: w
`,
			wants: []want{{"", "no schema for widgets.example.com/v1 Widget: not a Kubernetes " + DefaultKubernetesVersion +
				" built-in, no CRD in " + v.CRDDir() + ", not declared schemaless", "apiVersion:"}},
		},
		{
			name: "CRD version not served",
			doc: `apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata:
  name: creds
`,
			wants: []want{{"", "ExternalSecret.external-secrets.io version v1beta1 is not served (served: v1; " +
				filepath.Join(v.CRDDir(), "external-secrets", "external-secrets.io_externalsecrets.yaml") + ")", "apiVersion:"}},
		},
		{
			name: "CRD version not defined",
			doc: `apiVersion: argoproj.io/v1beta1
kind: Rollout
metadata:
  name: cart
`,
			wants: []want{{"", "Rollout.argoproj.io has no version v1beta1 in " +
				filepath.Join(v.CRDDir(), "argo-rollouts", "rollout-crd.yaml") + " (served: v1alpha1)", "apiVersion:"}},
		},
		{
			name: "unknown fields in metadata and a nested list item of a built-in kind",
			doc: `apiVersion: v1
kind: Service
metadata:
  name: web
  lables:
    app: web
spec:
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPortt: 8080
`,
			wants: []want{
				{"metadata.lables", "metadata.lables: unknown field", "lables:"},
				{"spec.ports.0.targetPortt", "spec.ports.0.targetPortt: unknown field", "targetPortt:"},
			},
		},
		{
			name: "unknown metadata field in a CRD kind",
			doc: `apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: p
  namespace: argocd
  anotations: {a: b}
spec: {}
`,
			wants: []want{{"metadata.anotations", "metadata.anotations: unknown field", "anotations:"}},
		},
		{
			name: "int-or-string and quantity",
			doc: `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  selector:
    matchLabels: {app: db}
  updateStrategy:
    rollingUpdate:
      maxUnavailable: true
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: postgres:17
        resources:
          requests:
            cpu: two cores
            memory: 1Gi
`,
			wants: []want{
				{"spec.updateStrategy.rollingUpdate.maxUnavailable", "spec.updateStrategy.rollingUpdate.maxUnavailable: expected integer or string, got boolean true", "maxUnavailable:"},
				{"spec.template.spec.containers.0.resources.requests.cpu", `spec.template.spec.containers.0.resources.requests.cpu: "two cores" is not a valid quantity: not a Kubernetes quantity (e.g. 500m, 2Gi, 1.5)`, "cpu:"},
			},
		},
		{
			name: "Crossplane v1beta1 singleton block given as an object, and a typo",
			doc: `apiVersion: eks.aws.upbound.io/v1beta1
kind: NodeGroup
metadata:
  name: ng
spec:
  forProvider:
    region: us-east-1
    regionn: us-east-2
    scalingConfig:
      desiredSize: 3
      maxSize: 6
      minSize: 3
`,
			wants: []want{
				{"spec.forProvider.regionn", "spec.forProvider.regionn: unknown field", "regionn:"},
				{"spec.forProvider.scalingConfig", "spec.forProvider.scalingConfig: expected array, got object", "scalingConfig:"},
			},
		},
		{
			name: "Crossplane required parameter (CEL rule) missing",
			doc: `apiVersion: eks.aws.upbound.io/v1beta2
kind: NodeGroup
metadata:
  name: ng
spec:
  forProvider:
    region: us-east-1
`,
			wants: []want{{"spec", "spec.forProvider.scalingConfig is a required parameter", "spec:"}},
		},
		{
			name: "Crossplane CEL rule satisfied through initProvider or waived by observe-only management",
			doc: `apiVersion: eks.aws.upbound.io/v1beta2
kind: NodeGroup
metadata:
  name: init
spec:
  forProvider:
    region: us-east-1
  initProvider:
    scalingConfig: {desiredSize: 1, maxSize: 2, minSize: 1}
---
apiVersion: eks.aws.upbound.io/v1beta2
kind: NodeGroup
metadata:
  name: observed
spec:
  managementPolicies: [Observe]
  forProvider:
    region: us-east-1
`,
		},
		{
			name: "CEL rules with duration comparisons",
			doc: `apiVersion: aws.upbound.io/v1beta1
kind: ProviderConfig
metadata:
  name: default
spec:
  credentials:
    source: IRSA
  reconciliationPolicy:
    exponentialFailureRateLimiter:
      baseDelay: 500ms
      maxDelay: 30s
`,
			wants: []want{
				{"spec.reconciliationPolicy.exponentialFailureRateLimiter.baseDelay", "spec.reconciliationPolicy.exponentialFailureRateLimiter.baseDelay: baseDelay must be at least 1s", "baseDelay:"},
				{"spec.reconciliationPolicy.exponentialFailureRateLimiter.maxDelay", "spec.reconciliationPolicy.exponentialFailureRateLimiter.maxDelay: maxDelay must be at least 60s", "maxDelay:"},
			},
		},
		{
			name: "valid objects pass",
			doc: `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations: {argocd.argoproj.io/sync-wave: "3"}
spec:
  minAvailable: 50%
  selector:
    matchLabels: {app: web}
---
apiVersion: eks.aws.upbound.io/v1beta1
kind: NodeGroup
metadata:
  name: ng
spec:
  forProvider:
    region: us-east-1
    scalingConfig:
    - desiredSize: 3
      maxSize: 6
      minSize: 3
`,
		},
		{
			name: "schemaless kinds are not checked",
			doc: `apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata:
  name: hourly
policy:
  anything: [goes, here]
---
apiVersion: portworx.io/v1beta2
kind: VolumePlacementStrategy
metadata:
  name: zones
spec:
  whatever: 1
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := v.Validate(parse(t, "crafted.yaml", tt.doc), "prod")
			checkFindings(t, tt.doc, got, tt.wants)
			for _, f := range got {
				if f.Env != "prod" || f.File != "crafted.yaml" {
					t.Errorf("finding env/file = %q/%q, want prod/crafted.yaml", f.Env, f.File)
				}
			}
		})
	}
}

// Every bad object of a multi-document file is reported, each at its own lines.
func TestMultiDocumentReportsEveryBadObject(t *testing.T) {
	doc := `apiVersion: v1
kind: Service
metadata:
  name: first
spec:
  ports:
  - port: eighty
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: fine
data:
  key: value
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: third
spec:
  replicaz: 3
  strategy:
    blueGreen:
      activeService: third
      autoPromotionEnabled: "no"
`
	got := validator(t).Validate(parse(t, "multi.yaml", doc), "dr")
	checkFindings(t, doc, got, []want{
		{"spec.ports.0.port", `spec.ports.0.port: expected integer, got string "eighty"`, "port: eighty"},
		{"spec.replicaz", "spec.replicaz: unknown field", "replicaz:"},
		{"spec.strategy.blueGreen.autoPromotionEnabled", `spec.strategy.blueGreen.autoPromotionEnabled: expected boolean, got string "no"`, "autoPromotionEnabled:"},
	})
	names := map[string]bool{}
	for _, f := range got {
		names[f.Kind+"/"+f.Name] = true
	}
	if !names["Service/first"] || !names["Rollout/third"] || names["ConfigMap/fine"] {
		t.Errorf("objects reported = %v, want Service/first and Rollout/third only", names)
	}
}

// The committed render must be valid: a finding here is a bug in schema/*.cue.
func TestCommittedRenderIsValid(t *testing.T) {
	for _, env := range []string{"prod", "dr"} {
		t.Run(env, func(t *testing.T) {
			objs, err := manifest.Load(filepath.Join("..", "..", "rendered", env))
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) == 0 {
				t.Fatal("rendered/" + env + " has no objects")
			}
			// Against the release the env's cluster runs, as render check does.
			version, err := TargetVersion(objs)
			if err != nil || version == "" {
				t.Fatalf("rendered/%s declares no Kubernetes release (%s): %v", env, KubernetesVersionAnnotation, err)
			}
			v, err := New(Options{KubernetesVersion: version})
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Validate(objs, env); len(got) > 0 {
				t.Errorf("rendered/%s has %d schema findings:\n%s", env, len(got), dump(got))
			}
			c := v.Coverage(objs)
			if c.Unknown != 0 || c.BuiltIn == 0 || c.CRD == 0 {
				t.Errorf("coverage = %+v, want built-in and CRD objects and no unknown", c)
			}
			for _, s := range c.Schemaless {
				if _, ok := schemalessReason(s.APIVersion, s.Kind); !ok || s.Objects == 0 {
					t.Errorf("schemaless entry %+v is not from the declared list", s)
				}
			}
			if c.BuiltIn+c.CRD+c.Unknown+countSchemaless(c) != len(objs) {
				t.Errorf("coverage %+v does not add up to %d objects", c, len(objs))
			}
		})
	}
}

func countSchemaless(c Coverage) int {
	n := 0
	for _, s := range c.Schemaless {
		n += s.Objects
	}
	return n
}

func TestCoverageSummary(t *testing.T) {
	doc := `apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: p}
---
apiVersion: stork.libopenstorage.org/v1alpha1
kind: BackupLocation
metadata: {name: s3}
---
apiVersion: nowhere.example.com/v1
kind: Thing
metadata: {name: t}
`
	c := validator(t).Coverage(parse(t, "c.yaml", doc))
	if c.BuiltIn != 1 || c.CRD != 1 || c.Unknown != 1 || len(c.Schemaless) != 1 || c.Schemaless[0].Kind != "BackupLocation" {
		t.Fatalf("coverage = %+v", c)
	}
	s := c.String()
	for _, part := range []string{"2 objects checked", "1 schemaless", "1 unknown", "schemaless: validated by CUE only: stork.libopenstorage.org/v1alpha1 BackupLocation (1)"} {
		if !strings.Contains(s, part) {
			t.Errorf("summary %q lacks %q", s, part)
		}
	}
}

// Validate may be called from many goroutines at once (run with -race).
func TestConcurrentValidate(t *testing.T) {
	v := validator(t)
	objs, err := manifest.Load(filepath.Join("..", "..", "rendered"))
	if err != nil {
		t.Fatal(err)
	}
	bad := parse(t, "bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {portz: []}\n")
	objs = append(objs, bad...)
	var wg sync.WaitGroup
	results := make([][]finding.Finding, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = v.Validate(objs, "prod")
		}()
	}
	wg.Wait()
	for i, r := range results {
		if len(r) != 1 || r[0].Path != "spec.portz" {
			t.Errorf("run %d: got\n%s want one finding at spec.portz", i, dump(r))
		}
	}
}

// The derived schemas are cached: a second New needs neither the go command
// nor the network.
func TestBuiltinSchemasAreCachedForOfflineUse(t *testing.T) {
	cache := t.TempDir()
	if _, err := New(Options{CacheDir: cache}); err != nil {
		t.Fatalf("cold New: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, DefaultKubernetesVersion, "builtin-v1.json")); err != nil {
		t.Fatalf("no cached bundle: %v", err)
	}
	t.Setenv("PATH", "") // no go command: only the cache can answer
	v, err := New(Options{CacheDir: cache})
	if err != nil {
		t.Fatalf("warm New without the go command: %v", err)
	}
	got := v.Validate(parse(t, "x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: 1}\n"), "prod")
	if len(got) != 1 || got[0].Path != "data.k" {
		t.Errorf("got\n%s want one finding at data.k", dump(got))
	}
}

func TestUnknownKubernetesVersionFailsClearly(t *testing.T) {
	_, err := New(Options{KubernetesVersion: "v1.37.999", CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "k8s.io/kubernetes@v1.37.999") {
		t.Fatalf("New with a version that does not exist: err = %v, want one naming k8s.io/kubernetes@v1.37.999", err)
	}
}

func TestMissingCRDDirFailsClearly(t *testing.T) {
	_, err := New(Options{CRDDir: filepath.Join(t.TempDir(), "nope")})
	if err == nil || !strings.Contains(err.Error(), "nope") || !strings.Contains(err.Error(), EnvCRDDir) {
		t.Fatalf("err = %v, want one naming the directory and %s", err, EnvCRDDir)
	}
}

// StandaloneSchema documents are what bench/schema feeds kubeconform: they
// must compile on their own and judge like the validator.
func TestStandaloneSchemaIsSelfContained(t *testing.T) {
	v := validator(t)
	for _, tc := range []struct{ apiVersion, kind, bad string }{
		{"apps/v1", "StatefulSet", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"a"},"spec":{"replicas":"x"}}`},
		{"argoproj.io/v1alpha1", "Rollout", `{"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","metadata":{"name":"a","lables":{}},"spec":{}}`},
	} {
		doc, err := v.StandaloneSchema(tc.apiVersion, tc.kind)
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		c.UseLoader(noNetwork{})
		if err := c.AddResource("urn:test", doc); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile("urn:test")
		if err != nil {
			t.Fatalf("%s %s: standalone schema does not compile: %v", tc.apiVersion, tc.kind, err)
		}
		var bad any
		if err := json.Unmarshal([]byte(tc.bad), &bad); err != nil {
			t.Fatal(err)
		}
		if s.Validate(bad) == nil {
			t.Errorf("%s %s: standalone schema accepts %s", tc.apiVersion, tc.kind, tc.bad)
		}
	}
	if _, err := v.StandaloneSchema("stork.libopenstorage.org/v1alpha1", "SchedulePolicy"); err == nil {
		t.Error("a schemaless kind has a standalone schema")
	}
}

// The environment variables stand in for flags the CLI does not pass.
func TestEnvironmentOverridesDefaults(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "elsewhere")
	t.Setenv(EnvCRDDir, missing)
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("with %s=%s: err = %v, want it to name that directory", EnvCRDDir, missing, err)
	}
	t.Setenv(EnvCRDDir, "")
	t.Setenv(EnvKubernetesVersion, "v1.37.998")
	t.Setenv(EnvCacheDir, t.TempDir())
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "k8s.io/kubernetes@v1.37.998") {
		t.Errorf("with %s=v1.37.998: err = %v, want it to name that version", EnvKubernetesVersion, err)
	}
}

// A field the API gained after the cluster's release passes a newer schema
// and is a finding against the release the set declares: EKS would reject
// or drop it. (PodSpec.schedulingGroup is in v1.37, not in v1.35.)
func TestFieldNewerThanTheClusterIsAFinding(t *testing.T) {
	doc := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  annotations:
    platform.shop/kubernetes-version: %s
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      schedulingGroup:
        podGroupName: api
      containers:
      - name: api
        image: api@sha256:0000000000000000000000000000000000000000000000000000000000000000
`
	for _, tc := range []struct {
		release string
		wants   []want
	}{
		{"v1.37.2", nil},
		{"v1.35.4", []want{{path: "spec.template.spec.schedulingGroup", msg: "spec.template.spec.schedulingGroup: unknown field", at: "schedulingGroup:"}}},
	} {
		t.Run(tc.release, func(t *testing.T) {
			d := fmt.Sprintf(doc, tc.release)
			objs := parse(t, "api.yaml", d)
			version, err := TargetVersion(objs)
			if err != nil || version != tc.release {
				t.Fatalf("TargetVersion = %q, %v; want %s", version, err, tc.release)
			}
			v, err := New(Options{KubernetesVersion: version})
			if err != nil {
				t.Fatal(err)
			}
			checkFindings(t, d, v.Validate(objs, "prod"), tc.wants)
		})
	}
}

func TestTargetVersionDisagreementFails(t *testing.T) {
	objs := parse(t, "two.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: a, annotations: {platform.shop/kubernetes-version: v1.35.4}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, annotations: {platform.shop/kubernetes-version: v1.37.2}}
`)
	if _, err := TargetVersion(objs); err == nil || !strings.Contains(err.Error(), "v1.35.4") || !strings.Contains(err.Error(), "v1.37.2") {
		t.Fatalf("want an error naming both releases, got %v", err)
	}
	bad := parse(t, "bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {platform.shop/kubernetes-version: \"1.35\"}}\n")
	if _, err := TargetVersion(bad); err == nil || !strings.Contains(err.Error(), "bad.yaml:1") {
		t.Fatalf("want an error naming the file and line, got %v", err)
	}
}
