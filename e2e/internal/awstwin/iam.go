package awstwin

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// IAM is the account's IAM as the check sees it: roles and OIDC providers
// by ARN.
type IAM struct {
	Roles     map[string]*Role
	Providers map[string]*OIDCProvider
}

// Role is an IAM role: its trust policy and the permission policies
// attached to it (managed and inline).
type Role struct {
	ARN      string
	Trust    *Policy
	Policies []*Policy
	// Unknown are attached policy ARNs the account does not hold (e.g.
	// AWS-managed ones): they grant nothing here, and are named in denials.
	Unknown []string
}

// OIDCProvider is an IAM OIDC identity provider.
type OIDCProvider struct {
	ARN, URL  string
	ClientIDs []string
}

// Directory is what the check reads on each request: the account's IAM and
// the cluster's ServiceAccounts.
type Directory interface {
	IAM(ctx context.Context) (*IAM, error)
	ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
}

// The Crossplane (Upbound AWS provider) IAM kinds the rendered env declares.
var (
	iamRoleGVR       = schema.GroupVersionResource{Group: "iam.aws.upbound.io", Version: "v1beta1", Resource: "roles"}
	iamPolicyGVR     = schema.GroupVersionResource{Group: "iam.aws.upbound.io", Version: "v1beta1", Resource: "policies"}
	iamAttachmentGVR = schema.GroupVersionResource{Group: "iam.aws.upbound.io", Version: "v1beta1", Resource: "rolepolicyattachments"}
	iamOIDCGVR       = schema.GroupVersionResource{Group: "iam.aws.upbound.io", Version: "v1beta1", Resource: "openidconnectproviders"}
)

// LiveDirectory reads the IAM objects as the API server holds them (what
// Crossplane's provider would create in account Account) and the
// ServiceAccounts, at every call, so a change to either shows at once.
type LiveDirectory struct {
	Dyn     dynamic.Interface
	Kube    kubernetes.Interface
	Account string
}

// ServiceAccount reads a live ServiceAccount.
func (d LiveDirectory) ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	return d.Kube.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
}

// IAM reads the live Crossplane IAM objects into ARNs as AWS would name
// them: a managed resource's AWS name is its crossplane.io/external-name
// annotation, by default its metadata.name (crossplane-runtime
// pkg/meta.GetExternalName; upjet's IAM kinds use the name as given).
func (d LiveDirectory) IAM(ctx context.Context) (*IAM, error) {
	list := func(gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
		l, err := d.Dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", gvr.Resource, err)
		}
		return l.Items, nil
	}
	out := &IAM{Roles: map[string]*Role{}, Providers: map[string]*OIDCProvider{}}
	providers, err := list(iamOIDCGVR)
	if err != nil {
		return nil, err
	}
	for _, o := range providers {
		url, _, _ := unstructured.NestedString(o.Object, "spec", "forProvider", "url")
		ids, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "forProvider", "clientIdList")
		p := &OIDCProvider{ARN: OIDCProviderARN(d.Account, url), URL: url, ClientIDs: ids}
		out.Providers[p.ARN] = p
	}
	policies, err := list(iamPolicyGVR)
	if err != nil {
		return nil, err
	}
	policyByARN, policyByName := map[string]*Policy{}, map[string]string{}
	for _, o := range policies {
		doc, _, _ := unstructured.NestedString(o.Object, "spec", "forProvider", "policy")
		p, err := ParsePolicy(doc)
		if err != nil {
			return nil, fmt.Errorf("Policy %s: %w", o.GetName(), err)
		}
		arn := d.arn("policy", o)
		policyByARN[arn], policyByName[o.GetName()] = p, arn
	}
	roles, err := list(iamRoleGVR)
	if err != nil {
		return nil, err
	}
	roleByName := map[string]*Role{}
	for _, o := range roles {
		doc, _, _ := unstructured.NestedString(o.Object, "spec", "forProvider", "assumeRolePolicy")
		trust, err := ParsePolicy(doc)
		if err != nil {
			return nil, fmt.Errorf("Role %s: assumeRolePolicy: %w", o.GetName(), err)
		}
		r := &Role{ARN: d.arn("role", o), Trust: trust}
		inline, _, _ := unstructured.NestedSlice(o.Object, "spec", "forProvider", "inlinePolicy")
		for _, it := range inline {
			if m, ok := it.(map[string]any); ok {
				if doc, ok := m["policy"].(string); ok {
					p, err := ParsePolicy(doc)
					if err != nil {
						return nil, fmt.Errorf("Role %s: inlinePolicy: %w", o.GetName(), err)
					}
					r.Policies = append(r.Policies, p)
				}
			}
		}
		out.Roles[r.ARN] = r
		roleByName[o.GetName()] = r
		roleByName[externalName(&o)] = r
	}
	attachments, err := list(iamAttachmentGVR)
	if err != nil {
		return nil, err
	}
	for _, o := range attachments {
		// A reference names the Crossplane object; the plain field the AWS name.
		roleName, _, _ := unstructured.NestedString(o.Object, "spec", "forProvider", "role")
		if ref, _, _ := unstructured.NestedString(o.Object, "spec", "forProvider", "roleRef", "name"); ref != "" {
			roleName = ref
		}
		policyARN, _, _ := unstructured.NestedString(o.Object, "spec", "forProvider", "policyArn")
		if ref, _, _ := unstructured.NestedString(o.Object, "spec", "forProvider", "policyArnRef", "name"); ref != "" {
			policyARN = policyByName[ref]
			if policyARN == "" {
				policyARN = "(Policy object " + ref + ", not found)"
			}
		}
		r := roleByName[roleName]
		if r == nil {
			continue // attaching to a role that does not exist fails in AWS too
		}
		if p := policyByARN[policyARN]; p != nil {
			r.Policies = append(r.Policies, p)
		} else {
			r.Unknown = append(r.Unknown, policyARN)
		}
	}
	return out, nil
}

func (d LiveDirectory) arn(kind string, o unstructured.Unstructured) string {
	path, _, _ := unstructured.NestedString(o.Object, "spec", "forProvider", "path")
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + d.Account + ":" + kind + path + externalName(&o)
}

func externalName(o *unstructured.Unstructured) string {
	if n := o.GetAnnotations()["crossplane.io/external-name"]; n != "" {
		return n
	}
	return o.GetName()
}

// OIDCProviderARN is the ARN IAM gives an OIDC provider of url: the URL
// without its scheme (IAM CreateOpenIDConnectProvider).
func OIDCProviderARN(account, url string) string {
	return "arn:aws:iam::" + account + ":oidc-provider/" + trimScheme(url)
}

func trimScheme(url string) string { return strings.TrimPrefix(url, "https://") }
