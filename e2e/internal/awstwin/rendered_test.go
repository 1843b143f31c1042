package awstwin

import (
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/ecommerce-platform/gitops/e2e/internal/argosync"
	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
)

// TestRenderedIAMReadsAsAWSWould: LiveDirectory over rendered/prod's IAM
// objects (a fake API server holding them) names the roles and the OIDC
// provider as AWS would, follows the attachments to the policies, and the
// evaluation gives External Secrets' role what the platform means it to
// have: its own ServiceAccount may assume it, another may not; it may read
// the env's secrets and nothing outside its prefix. The twin runs the same
// code against the same objects (TestSecrets).
func TestRenderedIAMReadsAsAWSWould(t *testing.T) {
	root := testrepo.Root(t)
	account, err := testrepo.EnvString(root, "prod", "platform.account")
	if err != nil {
		t.Fatal(err)
	}
	region, err := testrepo.EnvString(root, "prod", "platform.region")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := argosync.Build(filepath.Join(root, "rendered", "prod", "aws-identity"))
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	listKinds := map[schema.GroupVersionResource]string{
		iamRoleGVR: "RoleList", iamPolicyGVR: "PolicyList", iamAttachmentGVR: "RolePolicyAttachmentList", iamOIDCGVR: "OpenIDConnectProviderList",
	}
	var live []runtime.Object
	for _, o := range objs {
		if o.GroupVersionKind().Group == "iam.aws.upbound.io" {
			live = append(live, o)
		}
	}
	dir := LiveDirectory{Dyn: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, listKinds, live...), Account: account}
	iam, err := dir.IAM(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(iam.Providers) != 1 {
		t.Fatalf("%d OIDC providers, want the cluster's one: %v", len(iam.Providers), iam.Providers)
	}
	var provider *OIDCProvider
	for _, p := range iam.Providers {
		provider = p
	}
	roleARN := "arn:aws:iam::" + account + ":role/prod-irsa-external-secrets-external-secrets"
	role := iam.Roles[roleARN]
	if role == nil {
		t.Fatalf("no role %s among %d", roleARN, len(iam.Roles))
	}
	host := strings.TrimPrefix(provider.URL, "https://")
	assume := func(sub string) bool {
		d, err := Evaluate(Request{Action: "sts:AssumeRoleWithWebIdentity", Federated: provider.ARN,
			Context: map[string]string{host + ":sub": sub, host + ":aud": "sts.amazonaws.com"}}, role.Trust)
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	if !assume("system:serviceaccount:external-secrets:external-secrets") {
		t.Error("External Secrets' ServiceAccount may not assume its role")
	}
	if assume("system:serviceaccount:shop:default") {
		t.Error("another ServiceAccount may assume External Secrets' role")
	}
	if len(role.Policies) == 0 || len(role.Unknown) > 0 {
		t.Fatalf("External Secrets' role: %d policies attached, unknown %v", len(role.Policies), role.Unknown)
	}
	read := func(name string) bool {
		d, err := Evaluate(Request{Action: "secretsmanager:GetSecretValue",
			Resource: "arn:aws:secretsmanager:" + region + ":" + account + ":secret:" + name + "-AbCdEf"}, role.Policies...)
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	if !read("prod/cart/redis") {
		t.Error("External Secrets' role may not read prod/cart/redis")
	}
	if read("dr/cart/redis") {
		t.Error("External Secrets' prod role may read dr/ secrets")
	}
}
