package twin_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ecommerce-platform/gitops/e2e/internal/argocd"
	"github.com/ecommerce-platform/gitops/e2e/internal/awstwin"
	"github.com/ecommerce-platform/gitops/e2e/internal/testrepo"
	"github.com/ecommerce-platform/gitops/e2e/internal/twin"
)

var (
	clusterSecretStoreGVR = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "clustersecretstores"}
	oidcProviderGVR       = schema.GroupVersionResource{Group: "iam.aws.upbound.io", Version: "v1beta1", Resource: "openidconnectproviders"}
	iamRoleGVR            = schema.GroupVersionResource{Group: "iam.aws.upbound.io", Version: "v1beta1", Resource: "roles"}
)

// startExternalSecrets starts the twin's AWS (kumo behind the STS/IAM
// stand-in) for the env's account and its one IAM OIDC provider, seeds
// Secrets Manager with a made-up value for every key the rendered
// ExternalSecrets read, and starts the External Secrets controller on it,
// before Argo CD syncs them.
func (p *platform) startExternalSecrets(t *testing.T, root, bin string) {
	t.Helper()
	ctx := t.Context()
	account, err := testrepo.EnvString(root, env, "platform.account")
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := awstwin.IssuerOf(ctx, p.cs.CoreV1().RESTClient())
	if err != nil {
		t.Fatal(err)
	}
	// The twin's API server issues the tokens; the env's IAM OIDC provider
	// is the one the roles trust for this cluster: it stands for that issuer.
	var providers []*unstructured.Unstructured
	for _, o := range p.rendered(t) {
		if o.GroupVersionKind().GroupKind() == (schema.GroupKind{Group: oidcProviderGVR.Group, Kind: "OpenIDConnectProvider"}) {
			providers = append(providers, o)
		}
	}
	if len(providers) != 1 {
		t.Fatalf("the env declares %d IAM OIDC providers, want one for its cluster", len(providers))
	}
	providerURL, _, _ := unstructured.NestedString(providers[0].Object, "spec", "forProvider", "url")
	p.aws = awstwin.Start(awstwin.Options{
		Directory: awstwin.LiveDirectory{Dyn: p.tw.Dyn, Kube: p.cs, Account: account},
		Verifier:  verifier, ProviderURL: providerURL, Account: account, Logf: t.Logf,
	})
	t.Cleanup(p.aws.Close)
	p.seedSecretsManager(t)
	if err := p.tw.StartExternalSecrets(ctx, twin.ExternalSecretsOptions{Bin: bin, AWSEndpoint: p.aws.URL}); err != nil {
		t.Fatalf("external-secrets: %v", err)
	}
	t.Logf("External Secrets %s started; twin AWS account %s, %s standing for the API server's issuer %s", bin, account, providerURL, verifier.Issuer)
}

// seedSecretsManager writes, for every remote key the rendered
// ExternalSecrets read,
// a JSON secret with a random value per property (the values are never
// logged), and records what each target Secret must then hold.
func (p *platform) seedSecretsManager(t *testing.T) {
	t.Helper()
	remote := map[string]map[string]string{} // remote key -> property -> value
	p.seeded = map[string]map[string]string{}
	for _, es := range p.rendered(t) {
		if es.GroupVersionKind().GroupKind() != (schema.GroupKind{Group: twin.ExternalSecretGVR.Group, Kind: "ExternalSecret"}) {
			continue
		}
		if from, _, _ := unstructured.NestedSlice(es.Object, "spec", "dataFrom"); len(from) > 0 {
			t.Fatalf("ExternalSecret %s/%s uses dataFrom, which the seeding does not cover yet", es.GetNamespace(), es.GetName())
		}
		target := es.GetNamespace() + "/" + twin.ExternalSecretTarget(es)
		p.seeded[target] = map[string]string{}
		items, _, _ := unstructured.NestedSlice(es.Object, "spec", "data")
		for _, it := range items {
			m, _ := it.(map[string]any)
			secretKey, _ := m["secretKey"].(string)
			key, _, _ := unstructured.NestedString(m, "remoteRef", "key")
			property, _, _ := unstructured.NestedString(m, "remoteRef", "property")
			if property == "" {
				t.Fatalf("ExternalSecret %s/%s reads all of %s without a property: seed it as a plain string", es.GetNamespace(), es.GetName(), key)
			}
			if remote[key] == nil {
				remote[key] = map[string]string{}
			}
			if remote[key][property] == "" {
				remote[key][property] = randomValue(t)
			}
			p.seeded[target][secretKey] = remote[key][property]
		}
	}
	keys := make([]string, 0, len(remote))
	p.remote = map[string]string{}
	for key, props := range remote {
		doc, err := json.Marshal(props)
		if err != nil {
			t.Fatal(err)
		}
		p.remote[key] = string(doc)
		if err := p.aws.PutSecret(t.Context(), key, string(doc)); err != nil {
			t.Fatalf("seed %s: %v", key, err)
		}
		keys = append(keys, key)
	}
	sort.Strings(keys)
	t.Logf("seeded Secrets Manager (values made up, not shown): %s", strings.Join(keys, ", "))
}

func randomValue(t *testing.T) string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "twin-" + hex.EncodeToString(b)
}

// readyCondition is an object's Ready condition (ExternalSecret,
// ClusterSecretStore), empty status if it has none.
func readyCondition(o *unstructured.Unstructured) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			status, _ = m["status"].(string)
			reason, _ = m["reason"].(string)
			message, _ = m["message"].(string)
		}
	}
	return status, reason, message
}

// waitSecretsSynced waits for the ClusterSecretStores and every
// ExternalSecret to be Ready.
func (p *platform) waitSecretsSynced(t *testing.T, timeout time.Duration) {
	t.Helper()
	p.eventually(t, timeout, "every ClusterSecretStore and ExternalSecret Ready", func() (bool, string) {
		var waiting []string
		for _, gvr := range []schema.GroupVersionResource{clusterSecretStoreGVR, twin.ExternalSecretGVR} {
			for _, o := range p.list(t, gvr, "") {
				if status, reason, msg := readyCondition(&o); status != "True" {
					waiting = append(waiting, fmt.Sprintf("%s %s/%s: %s %s %s", o.GetKind(), o.GetNamespace(), o.GetName(), status, reason, msg))
				}
			}
		}
		return len(waiting) == 0, strings.Join(waiting, "; ")
	})
}

// checkSeededValues: every target Secret holds exactly the keys its
// ExternalSecret writes, each with the value seeded in Secrets Manager.
func (p *platform) checkSeededValues(t *testing.T) {
	t.Helper()
	for target, want := range p.seeded {
		ns, name, _ := strings.Cut(target, "/")
		sec, err := p.cs.CoreV1().Secrets(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("target Secret %s: %v", target, err)
			continue
		}
		var got []string
		for k := range sec.Data {
			got = append(got, k)
		}
		sort.Strings(got)
		var keys []string
		for k, v := range want {
			keys = append(keys, k)
			if string(sec.Data[k]) != v {
				t.Errorf("Secret %s key %s does not hold the value seeded in Secrets Manager", target, k)
			}
		}
		sort.Strings(keys)
		if !slices.Equal(got, keys) {
			t.Errorf("Secret %s has keys %v, its ExternalSecret writes %v", target, got, keys)
		}
	}
}

// forceSync makes External Secrets refresh an ExternalSecret now instead of
// after its refreshInterval: a changed annotation changes the resource
// version it compares with status.syncedResourceVersion (external-secrets
// pkg/controllers/externalsecret shouldRefreshPeriodic; the documented
// `kubectl annotate es ... force-sync=$(date +%s)`).
func (p *platform) forceSync(t *testing.T, ns, name string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"force-sync":"%d"}}}`, time.Now().UnixNano())
	if _, err := p.tw.Dyn.Resource(twin.ExternalSecretGVR).Namespace(ns).Patch(t.Context(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// warnings are the messages of the Warning Events about an object seen
// since (whole seconds: Events carry second timestamps).
func (p *platform) warnings(t *testing.T, ns, kind, name string, since time.Time) []string {
	t.Helper()
	evs, err := p.cs.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{
		FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name + ",type=Warning",
	})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range evs.Items {
		if !e.LastTimestamp.Time.Before(since.Truncate(time.Second)) || !e.EventTime.Time.Before(since.Truncate(time.Second)) {
			msgs = append(msgs, e.Message)
		}
	}
	return msgs
}

// waitNotReady waits for the ExternalSecret's Ready=False and then for the
// cause to be visible: cause must appear in its Warning Events or in its
// store's Ready condition (External Secrets v0.16.2 writes a fixed condition
// message, "could not get secret data from provider", and the provider's
// error as a Warning Event; a store that fails validation carries the error
// in its own condition). Only Events since the call count: an earlier
// case's cause must not pass for this one. It returns the messages it found.
func (p *platform) waitNotReady(t *testing.T, ns, name string, cause ...string) []string {
	t.Helper()
	since := time.Now()
	var seen []string
	p.eventually(t, 2*time.Minute, fmt.Sprintf("ExternalSecret %s/%s not Ready, naming %q", ns, name, cause), func() (bool, string) {
		es := p.get(t, twin.ExternalSecretGVR, ns, name)
		status, reason, msg := readyCondition(es)
		if status != "False" {
			return false, "Ready=" + status + " " + msg
		}
		seen = append([]string{"condition: " + reason + ": " + msg}, p.warnings(t, ns, "ExternalSecret", name, since)...)
		store, _, _ := unstructured.NestedString(es.Object, "spec", "secretStoreRef", "name")
		if s, err := p.tw.Dyn.Resource(clusterSecretStoreGVR).Get(t.Context(), store, metav1.GetOptions{}); err == nil {
			_, _, smsg := readyCondition(s)
			seen = append(seen, "store "+store+": "+smsg)
		}
		all := strings.Join(seen, "\n")
		for _, c := range cause {
			if !strings.Contains(all, c) {
				return false, "no message names " + c + ":\n" + all
			}
		}
		return true, ""
	})
	return seen
}

// TestSecrets (issue 17, scenario 3): the ExternalSecrets resolve through
// the token, STS and Secrets Manager, with the values seeded there, and the
// pods' secret references resolve; a wrong role annotation and a missing
// secret each leave an ExternalSecret not Ready with the cause visible, and
// it recovers once the cause is gone.
func TestSecrets(t *testing.T) {
	p := startPlatform(t)
	start := time.Now()
	p.waitSecretsSynced(t, 3*time.Minute)
	t.Logf("every ExternalSecret Ready %s after External Secrets started", time.Since(start).Round(time.Second))
	p.checkSeededValues(t)
	p.checkSecretReferences(t)

	// The IRSA chain really ran: STS granted the store's ServiceAccount its
	// annotated role, and every secret was read with those credentials.
	store := p.get(t, clusterSecretStoreGVR, "", "aws-secrets-manager")
	saName, _, _ := unstructured.NestedString(store.Object, "spec", "provider", "aws", "auth", "jwt", "serviceAccountRef", "name")
	saNS, _, _ := unstructured.NestedString(store.Object, "spec", "provider", "aws", "auth", "jwt", "serviceAccountRef", "namespace")
	sa, err := p.cs.CoreV1().ServiceAccounts(saNS).Get(t.Context(), saName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role := sa.Annotations[awstwin.RoleARNAnnotation]
	subject := "system:serviceaccount:" + saNS + ":" + saName
	granted, read := false, map[string]bool{}
	for _, r := range p.aws.Records() {
		if r.Action == "sts:AssumeRoleWithWebIdentity" && r.Allowed && r.Caller == subject && r.Target == role {
			granted = true
		}
		if r.Action == "secretsmanager:GetSecretValue" && r.Allowed && strings.Contains(r.Caller, ":assumed-role/"+role[strings.LastIndex(role, "/")+1:]+"/") {
			read[r.Target] = true
		}
		if !r.Allowed {
			t.Errorf("the AWS stand-in refused a request while the rendered platform was in place: %+v", r)
		}
	}
	if !granted {
		t.Errorf("STS never granted %s role %s", subject, role)
	}
	for _, es := range p.list(t, twin.ExternalSecretGVR, "") {
		items, _, _ := unstructured.NestedSlice(es.Object, "spec", "data")
		for _, it := range items {
			key, _, _ := unstructured.NestedString(it.(map[string]any), "remoteRef", "key")
			if !read[key] {
				t.Errorf("ExternalSecret %s/%s: Secrets Manager never served %s with the assumed role", es.GetNamespace(), es.GetName(), key)
			}
		}
	}

	const ns, victim = "shop", "cart-credentials"
	es := p.get(t, twin.ExternalSecretGVR, ns, victim)
	items, _, _ := unstructured.NestedSlice(es.Object, "spec", "data")
	if len(items) == 0 {
		t.Fatalf("ExternalSecret %s/%s reads nothing", ns, victim)
	}
	remoteKey, _, _ := unstructured.NestedString(items[0].(map[string]any), "remoteRef", "key")

	t.Run("wrong role annotation", func(t *testing.T) {
		// A commit whose render names another rendered role, whose trust
		// policy names another ServiceAccount, on the store's
		// ServiceAccount (the env edit itself is CUE's business, checked by
		// policy; a hand edit of the live object Argo CD would self-heal).
		// External Secrets reads the annotation each time it builds its
		// AWS session.
		var wrong string
		for _, r := range p.list(t, iamRoleGVR, "") {
			if arn := "arn:aws:iam::" + roleAccount(role) + ":role/" + r.GetName(); arn != role {
				wrong = arn
				break
			}
		}
		if wrong == "" {
			t.Fatal("the env renders a single IAM role: no other role to name")
		}
		file := p.renderedFile(t, "ServiceAccount", saNS, saName)
		p.repo.CommitEdited(t, "the store's ServiceAccount names role "+wrong, func() {
			setFileRoleAnnotation(t, file, wrong)
		})
		p.eventually(t, 2*time.Minute, "Argo CD applying the wrong role", func() (bool, string) {
			sa, err := p.cs.CoreV1().ServiceAccounts(saNS).Get(t.Context(), saName, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			got := sa.Annotations[awstwin.RoleARNAnnotation]
			return got == wrong, "annotation " + got
		})
		p.forceSync(t, ns, victim)
		msgs := p.waitNotReady(t, ns, victim, "AccessDenied", wrong)
		t.Logf("wrong role %s: %s", wrong, strings.Join(msgs, " | "))
		// Argo CD shows why: the store Degraded with STS's refusal, the
		// ExternalSecret Degraded.
		p.waitArgoShows(t, "ClusterSecretStore", "", store.GetName(), "Degraded", "AccessDenied")
		p.waitArgoShows(t, "ExternalSecret", ns, victim, "Degraded", "")
		// Nothing is lost meanwhile: the target keeps the last good value.
		p.checkSeededValues(t)

		// Reverted: the store validates again within its requeue interval;
		// only then the refresh, which would otherwise meet the store's
		// not-ready flood gate and back off (1 s doubling, up to 7 min).
		p.repo.Commit(t, "revert the store's role")
		p.eventually(t, 2*time.Minute, "ClusterSecretStore Ready again", func() (bool, string) {
			status, _, msg := readyCondition(p.get(t, clusterSecretStoreGVR, "", store.GetName()))
			return status == "True", msg
		})
		p.forceSync(t, ns, victim)
		p.waitSecretsSynced(t, 2*time.Minute)
		p.waitApplications(t, 3*time.Minute, true)
	})

	t.Run("missing secret", func(t *testing.T) {
		if err := p.aws.DeleteSecret(t.Context(), remoteKey); err != nil {
			t.Fatal(err)
		}
		p.forceSync(t, ns, victim)
		msgs := p.waitNotReady(t, ns, victim, remoteKey, "Secret does not exist")
		t.Logf("missing %s: %s", remoteKey, strings.Join(msgs, " | "))
		// Argo CD shows the ExternalSecret Degraded with External Secrets'
		// condition message (v0.16.2 writes a fixed one; the missing key
		// is named only in its Events, which Argo CD's UI lists beside it).
		p.waitArgoShows(t, "ExternalSecret", ns, victim, "Degraded", "could not get secret data from provider")
		if err := p.aws.PutSecret(t.Context(), remoteKey, p.remote[remoteKey]); err != nil {
			t.Fatal(err)
		}
		p.forceSync(t, ns, victim)
		p.waitSecretsSynced(t, 2*time.Minute)
		p.checkSeededValues(t)
	})
}

// roleAccount is the account of a role ARN (arn:aws:iam::<account>:role/...).
func roleAccount(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// setFileRoleAnnotation sets the IRSA role annotation of the object in a
// rendered file.
func setFileRoleAnnotation(t *testing.T, file, arn string) {
	t.Helper()
	u := argocd.ReadYAML(t, file)
	ann := u.GetAnnotations()
	if ann[awstwin.RoleARNAnnotation] == "" {
		t.Fatalf("%s has no %s annotation", file, awstwin.RoleARNAnnotation)
	}
	ann[awstwin.RoleARNAnnotation] = arn
	u.SetAnnotations(ann)
	argocd.WriteYAML(t, file, u)
}

// waitArgoShows waits until some Application reports the resource with
// health status and a message containing msg: what an operator sees in
// Argo CD.
func (p *platform) waitArgoShows(t *testing.T, kind, ns, name, status, msg string) {
	t.Helper()
	p.eventually(t, 2*time.Minute, fmt.Sprintf("Argo CD showing %s %s/%s %s %q", kind, ns, name, status, msg), func() (bool, string) {
		apps, err := argocd.Apps(t.Context(), p.tw.Dyn)
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for appName, app := range apps {
			for _, r := range argocd.ResourceHealths(app) {
				if r.Kind != kind || r.Namespace != ns || r.Name != name {
					continue
				}
				if r.Status == status && strings.Contains(r.Message, msg) {
					t.Logf("Argo CD: Application %s shows %s %s/%s %s: %s", appName, kind, ns, name, r.Status, r.Message)
					return true, ""
				}
				seen = append(seen, appName+": "+r.Status+": "+r.Message)
			}
		}
		return false, fmt.Sprintf("seen: %v", seen)
	})
}
