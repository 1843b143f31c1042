package awstwin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

const (
	testAccount  = "123456789012"
	testIssuer   = "https://kubernetes.default.svc.cluster.local"
	testProvider = "https://oidc.eks.us-east-1.amazonaws.com/id/TESTID"
	testRole     = "arn:aws:iam::123456789012:role/eso"
)

type fakeDirectory struct {
	iam *IAM
	sas map[string]*corev1.ServiceAccount
}

func (f *fakeDirectory) IAM(context.Context) (*IAM, error) { return f.iam, nil }

func (f *fakeDirectory) ServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if sa := f.sas[ns+"/"+name]; sa != nil {
		return sa, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, name)
}

func trust(sub string) *Policy {
	host := strings.TrimPrefix(testProvider, "https://")
	p, err := ParsePolicy(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{%q:%q,%q:"sts.amazonaws.com"}}}]}`,
		OIDCProviderARN(testAccount, testProvider), host+":sub", sub, host+":aud"))
	if err != nil {
		panic(err)
	}
	return p
}

func mustPolicy(doc string) *Policy {
	p, err := ParsePolicy(doc)
	if err != nil {
		panic(err)
	}
	return p
}

type fixture struct {
	key *ecdsa.PrivateKey
	dir *fakeDirectory
	srv *Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	jwk := JWK{Kid: "k1", Kty: "EC", Crv: "P-256", Alg: "ES256",
		X: base64.RawURLEncoding.EncodeToString(pt[1:33]), Y: base64.RawURLEncoding.EncodeToString(pt[33:])}
	providerARN := OIDCProviderARN(testAccount, testProvider)
	dir := &fakeDirectory{
		iam: &IAM{
			Providers: map[string]*OIDCProvider{providerARN: {ARN: providerARN, URL: testProvider, ClientIDs: []string{"sts.amazonaws.com"}}},
			Roles: map[string]*Role{testRole: {ARN: testRole, Trust: trust("system:serviceaccount:eso:eso"), Policies: []*Policy{
				mustPolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"Resource":"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/*"}}`),
			}}},
		},
		sas: map[string]*corev1.ServiceAccount{"eso/eso": {ObjectMeta: metav1.ObjectMeta{
			Namespace: "eso", Name: "eso", UID: types.UID("uid-1"), Annotations: map[string]string{RoleARNAnnotation: testRole}}}},
	}
	srv := Start(Options{
		Directory: dir, Verifier: Verifier{Issuer: testIssuer, Keys: JWKS{Keys: []JWK{jwk}}},
		ProviderURL: testProvider, Account: testAccount, Logf: t.Logf,
	})
	t.Cleanup(srv.Close)
	return &fixture{key: key, dir: dir, srv: srv}
}

// token signs claims as kube-apiserver does (ES256), with defaults for a
// valid token of ServiceAccount eso/eso.
func (f *fixture) token(t *testing.T, key *ecdsa.PrivateKey, edit func(map[string]any)) string {
	t.Helper()
	now := time.Now().Unix()
	claims := map[string]any{
		"iss": testIssuer, "sub": "system:serviceaccount:eso:eso", "aud": []string{"sts.amazonaws.com"},
		"exp": now + 600, "nbf": now - 5, "iat": now - 5,
		"kubernetes.io": map[string]any{"namespace": "eso", "serviceaccount": map[string]any{"name": "eso", "uid": "uid-1"}},
	}
	if edit != nil {
		edit(claims)
	}
	seg := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := seg(map[string]string{"alg": "ES256", "kid": "k1"}) + "." + seg(claims)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

type stsAnswer struct {
	status    int
	code, msg string
	creds     aws.Credentials
}

func (f *fixture) assume(t *testing.T, role, token string) stsAnswer {
	t.Helper()
	form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"},
		"RoleArn": {role}, "RoleSessionName": {"test"}, "WebIdentityToken": {token}}
	resp, err := http.Post(f.srv.URL+"/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Error struct{ Code, Message string } `xml:"Error"`
		Creds struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
		} `xml:"AssumeRoleWithWebIdentityResult>Credentials"`
	}
	if err := xml.Unmarshal(body, &out); err != nil {
		t.Fatalf("STS answer %d is not XML: %v: %s", resp.StatusCode, err, body)
	}
	return stsAnswer{resp.StatusCode, out.Error.Code, out.Error.Message,
		aws.Credentials{AccessKeyID: out.Creds.AccessKeyID, SecretAccessKey: out.Creds.SecretAccessKey, SessionToken: out.Creds.SessionToken}}
}

// getSecret calls GetSecretValue signed with creds by the AWS SDK's SigV4
// signer; after, if set, changes the signed request.
func (f *fixture) getSecret(t *testing.T, creds aws.Credentials, id string, after func(*http.Request)) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"SecretId":%q}`, id)
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "secretsmanager", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if after != nil {
		after(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func TestWebIdentityGrantedThenSecretRead(t *testing.T) {
	f := newFixture(t)
	if err := f.srv.PutSecret(t.Context(), "prod/app", `{"password":"s3cr3t-unit"}`); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.PutSecret(t.Context(), "other/app", `{"password":"x"}`); err != nil {
		t.Fatal(err)
	}
	a := f.assume(t, testRole, f.token(t, f.key, nil))
	if a.status != http.StatusOK || a.creds.AccessKeyID == "" || a.creds.SecretAccessKey == "" {
		t.Fatalf("valid token refused: %d %s %s", a.status, a.code, a.msg)
	}
	status, body := f.getSecret(t, a.creds, "prod/app", nil)
	if status != http.StatusOK || !strings.Contains(body, "s3cr3t-unit") {
		t.Fatalf("allowed secret not served: %d %s", status, body)
	}
	refused := func(what, code string, creds aws.Credentials, id string, after func(*http.Request)) {
		t.Helper()
		if status, body := f.getSecret(t, creds, id, after); status != http.StatusBadRequest || !strings.Contains(body, code) {
			t.Errorf("%s: got %d %s, want %s", what, status, body, code)
		}
	}
	refused("secret outside the role's policy", "AccessDeniedException", a.creds, "other/app", nil)
	forged := a.creds
	forged.AccessKeyID = "ASIAFORGED"
	refused("access key STS never issued", "UnrecognizedClientException", forged, "prod/app", nil)
	refused("another session token", "UnrecognizedClientException", a.creds, "prod/app", func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "wrong") })
	wrongKey := a.creds
	wrongKey.SecretAccessKey = "not-the-issued-secret-key"
	refused("signed with another secret key", "InvalidSignatureException", wrongKey, "prod/app", nil)
	refused("body changed after signing", "InvalidSignatureException", a.creds, "prod/app", func(r *http.Request) {
		b := `{"SecretId":"prod/apq"}`
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
	})
	// A missing secret is Secrets Manager's (kumo's) answer, passed through.
	if err := f.srv.DeleteSecret(t.Context(), "prod/app"); err != nil {
		t.Fatal(err)
	}
	if status, body := f.getSecret(t, a.creds, "prod/app", nil); status == http.StatusOK || !strings.Contains(body, "ResourceNotFoundException") {
		t.Errorf("deleted secret: %d %s", status, body)
	}
}

func TestWebIdentityRefusals(t *testing.T) {
	f := newFixture(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := []struct {
		name     string
		role     string
		token    func() string
		setup    func()
		code, in string
	}{
		{name: "signed by another key", token: func() string { return f.token(t, other, nil) }, code: "InvalidIdentityToken", in: "does not verify"},
		{name: "expired", token: func() string {
			return f.token(t, f.key, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
		}, code: "ExpiredTokenException", in: "expired"},
		{name: "other issuer", token: func() string {
			return f.token(t, f.key, func(c map[string]any) { c["iss"] = "https://elsewhere" })
		}, code: "InvalidIdentityToken", in: "issuer"},
		{name: "audience not a client ID", token: func() string {
			return f.token(t, f.key, func(c map[string]any) { c["aud"] = "https://kubernetes.default.svc" })
		}, code: "InvalidIdentityToken", in: "audience"},
		{name: "ServiceAccount names another role", role: "arn:aws:iam::123456789012:role/other",
			token: func() string { return f.token(t, f.key, nil) }, code: "AccessDenied", in: "names role"},
		{name: "ServiceAccount recreated (uid)", token: func() string {
			return f.token(t, f.key, func(c map[string]any) {
				c["kubernetes.io"] = map[string]any{"namespace": "eso", "serviceaccount": map[string]any{"name": "eso", "uid": "uid-old"}}
			})
		}, code: "AccessDenied", in: "uid"},
		{name: "trust policy names another subject", token: func() string { return f.token(t, f.key, nil) },
			setup: func() { f.dir.iam.Roles[testRole].Trust = trust("system:serviceaccount:eso:someone-else") },
			code:  "AccessDenied", in: "does not allow system:serviceaccount:eso:eso"},
		{name: "role missing", token: func() string { return f.token(t, f.key, nil) },
			setup: func() { delete(f.dir.iam.Roles, testRole) }, code: "AccessDenied", in: "no role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				c.setup()
			}
			role := testRole
			if c.role != "" {
				role = c.role
			}
			a := f.assume(t, role, c.token())
			if a.status == http.StatusOK || a.code != c.code || !strings.Contains(a.msg, c.in) {
				t.Errorf("got %d %s %q, want %s mentioning %q", a.status, a.code, a.msg, c.code, c.in)
			}
		})
	}
	for _, r := range f.srv.Records() {
		if r.Allowed {
			t.Errorf("a refused request was recorded as allowed: %+v", r)
		}
	}
}

func TestEvaluate(t *testing.T) {
	p := mustPolicy(`{"Version":"2012-10-17","Statement":[
		{"Sid":"read","Effect":"Allow","Action":"secretsmanager:Get*","Resource":"arn:aws:secretsmanager:*:1:secret:prod/*"},
		{"Sid":"nodb","Effect":"Deny","Action":"*","Resource":"arn:aws:secretsmanager:*:1:secret:prod/db/*"}]}`)
	for _, c := range []struct {
		action, resource string
		allowed          bool
	}{
		{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:1:secret:prod/cart/redis-abcdef", true},
		{"SecretsManager:getsecretvalue", "arn:aws:secretsmanager:us-east-1:1:secret:prod/x-abcdef", true}, // actions ignore case
		{"secretsmanager:PutSecretValue", "arn:aws:secretsmanager:us-east-1:1:secret:prod/x-abcdef", false},
		{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:1:secret:PROD/x-abcdef", false}, // resources do not
		{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:1:secret:prod/db/orders-abcdef", false},
	} {
		d, err := Evaluate(Request{Action: c.action, Resource: c.resource}, p)
		if err != nil || d.Allowed != c.allowed {
			t.Errorf("%s on %s: allowed %v (%s, %v), want %v", c.action, c.resource, d.Allowed, d.Why, err, c.allowed)
		}
	}
	like := mustPolicy(`{"Statement":{"Effect":"Allow","Principal":{"Federated":"arn:p"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"p:sub":"system:serviceaccount:shop:*"}}}}`)
	for sub, want := range map[string]bool{"system:serviceaccount:shop:cart": true, "system:serviceaccount:kube-system:x": false} {
		d, err := Evaluate(Request{Action: "sts:AssumeRoleWithWebIdentity", Federated: "arn:p", Context: map[string]string{"P:SUB": sub}}, like)
		if err != nil || d.Allowed != want {
			t.Errorf("StringLike sub %s: %v %v, want %v", sub, d.Allowed, err, want)
		}
	}
	if d, _ := Evaluate(Request{Action: "sts:AssumeRoleWithWebIdentity", Federated: "arn:other", Context: map[string]string{"p:sub": "system:serviceaccount:shop:cart"}}, like); d.Allowed {
		t.Error("a trust policy allowed another identity provider")
	}
	unknown := mustPolicy(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`)
	if _, err := Evaluate(Request{Action: "a:b", Resource: "r"}, unknown); err == nil {
		t.Error("an operator the stand-in does not model was accepted")
	}
}
