package awstwin

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sivchari/kumo"
)

// RoleARNAnnotation is the ServiceAccount annotation IRSA reads (EKS pod
// identity webhook; External Secrets' provider/aws/auth/auth.go reads it
// too and asks STS for that role).
const RoleARNAnnotation = "eks.amazonaws.com/role-arn"

// Options configure the front.
type Options struct {
	Directory Directory
	// Verifier holds the twin API server's issuer and its JWKS.
	Verifier Verifier
	// ProviderURL is the URL of the IAM OIDC provider (as rendered) that
	// stands for the twin API server's issuer: the twin's issuer is a
	// local one, the rendered provider names EKS's.
	ProviderURL string
	// Account is the AWS account of the IAM objects (LiveDirectory's).
	Account string
	// Logf receives one line per decision; nil discards.
	Logf func(format string, args ...any)
}

// Record is one request the front decided on.
type Record struct {
	Time    time.Time
	Action  string // sts:AssumeRoleWithWebIdentity, secretsmanager:GetSecretValue, ...
	Caller  string // the token's subject, or the assumed role's ARN
	Target  string // the role ARN asked for, or the secret asked for
	Allowed bool
	Why     string
}

// Server is kumo behind the checking front, both on 127.0.0.1.
type Server struct {
	// URL is the front's base URL: give it to clients as the STS and
	// Secrets Manager endpoint.
	URL   string
	opts  Options
	kumo  *kumo.Server
	front *httptest.Server

	mu       sync.Mutex
	sessions map[string]session // by access key id
	records  []Record
}

// session is a set of credentials STS issued.
type session struct {
	roleARN, assumedARN, secretKey, sessionToken, subject string
}

// Start starts kumo and the front (httptest servers bind 127.0.0.1).
func Start(opts Options) *Server {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Server{opts: opts, kumo: kumo.NewServer(), sessions: map[string]session{}}
	s.front = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.front.URL
	return s
}

// Close stops both servers.
func (s *Server) Close() {
	s.front.Close()
	s.kumo.Close()
}

// Records returns what the front decided so far.
func (s *Server) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records...)
}

func (s *Server) record(r Record) {
	r.Time = time.Now()
	s.mu.Lock()
	s.records = append(s.records, r)
	s.mu.Unlock()
	verdict := "DENIED"
	if r.Allowed {
		verdict = "allowed"
	}
	s.opts.Logf("aws stand-in: %s %s by %s on %s: %s", verdict, r.Action, r.Caller, r.Target, r.Why)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if target := r.Header.Get("X-Amz-Target"); strings.HasPrefix(target, "secretsmanager.") {
		s.secretsManager(w, r, strings.TrimPrefix(target, "secretsmanager."), body)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeSTSError(w, http.StatusBadRequest, "InvalidParameterValue", err.Error())
		return
	}
	for k, v := range r.URL.Query() {
		form[k] = v
	}
	if form.Get("Action") != "AssumeRoleWithWebIdentity" {
		writeSTSError(w, http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("the twin's STS stand-in serves AssumeRoleWithWebIdentity only, not %q", form.Get("Action")))
		return
	}
	s.assumeRoleWithWebIdentity(w, r, form, body)
}

// assumeRoleWithWebIdentity checks the token and the role's trust policy as
// AWS STS does (IAM user guide, "Creating a role for OIDC federation" and
// "Available keys for AWS OIDC federation"), then lets kumo issue the
// credentials and remembers them.
func (s *Server) assumeRoleWithWebIdentity(w http.ResponseWriter, r *http.Request, form url.Values, body []byte) {
	roleARN := form.Get("RoleArn")
	rec := Record{Action: "sts:AssumeRoleWithWebIdentity", Target: roleARN, Caller: "(unverified token)"}
	status, code, why, claims := s.checkWebIdentity(r.Context(), roleARN, form.Get("WebIdentityToken"))
	if claims != nil {
		rec.Caller = claims.Subject
	}
	if code != "" {
		rec.Why = code + ": " + why
		s.record(rec)
		writeSTSError(w, status, code, why)
		return
	}
	resp, respBody, err := s.forward(r, body)
	if err != nil {
		writeSTSError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	var issued struct {
		Result struct {
			Credentials struct {
				AccessKeyID     string `xml:"AccessKeyId"`
				SecretAccessKey string `xml:"SecretAccessKey"`
				SessionToken    string `xml:"SessionToken"`
			} `xml:"Credentials"`
			AssumedRoleUser struct {
				Arn string `xml:"Arn"`
			} `xml:"AssumedRoleUser"`
		} `xml:"AssumeRoleWithWebIdentityResult"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := xml.Unmarshal(respBody, &issued); err != nil || issued.Result.Credentials.AccessKeyID == "" {
			writeSTSError(w, http.StatusInternalServerError, "InternalFailure", fmt.Sprintf("kumo's answer has no credentials (%v): %s", err, respBody))
			return
		}
		s.mu.Lock()
		s.sessions[issued.Result.Credentials.AccessKeyID] = session{
			roleARN: roleARN, assumedARN: issued.Result.AssumedRoleUser.Arn, secretKey: issued.Result.Credentials.SecretAccessKey,
			sessionToken: issued.Result.Credentials.SessionToken, subject: claims.Subject,
		}
		s.mu.Unlock()
		rec.Allowed, rec.Why = true, why
		s.record(rec)
	}
	copyResponse(w, resp, respBody)
}

// checkWebIdentity returns an STS error code and message, or code "" and
// why the request is allowed.
func (s *Server) checkWebIdentity(ctx context.Context, roleARN, token string) (status int, code, why string, claims *Claims) {
	claims, err := s.opts.Verifier.Verify(token)
	if err != nil {
		if strings.HasPrefix(err.Error(), "token expired") {
			return http.StatusBadRequest, "ExpiredTokenException", err.Error(), nil
		}
		return http.StatusBadRequest, "InvalidIdentityToken", err.Error(), nil
	}
	denied := func(format string, args ...any) (int, string, string, *Claims) {
		return http.StatusForbidden, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity: " + fmt.Sprintf(format, args...), claims
	}
	// The Kubernetes side, which AWS does not see but IRSA relies on: the
	// token is a live ServiceAccount's, and that ServiceAccount names the
	// role asked for.
	ns, name := claims.Kube.Namespace, claims.Kube.ServiceAccount.Name
	if claims.Subject != serviceAccountSubject(ns, name) {
		return denied("subject %q is not the token's ServiceAccount %s/%s", claims.Subject, ns, name)
	}
	sa, err := s.opts.Directory.ServiceAccount(ctx, ns, name)
	if err != nil {
		return denied("ServiceAccount %s/%s: %v", ns, name, err)
	}
	if string(sa.UID) != claims.Kube.ServiceAccount.UID {
		return denied("ServiceAccount %s/%s has uid %s, the token was issued for uid %s", ns, name, sa.UID, claims.Kube.ServiceAccount.UID)
	}
	if got := sa.Annotations[RoleARNAnnotation]; got != roleARN {
		return denied("ServiceAccount %s/%s names role %q in %s, not %q", ns, name, got, RoleARNAnnotation, roleARN)
	}
	// The AWS side: the OIDC provider, its client IDs, the role's trust policy.
	iam, err := s.opts.Directory.IAM(ctx)
	if err != nil {
		return http.StatusInternalServerError, "InternalFailure", err.Error(), claims
	}
	providerARN := OIDCProviderARN(s.opts.Account, s.opts.ProviderURL)
	provider := iam.Providers[providerARN]
	if provider == nil {
		return http.StatusBadRequest, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for " + s.opts.ProviderURL, claims
	}
	var aud string
	for _, id := range provider.ClientIDs {
		if claims.hasAudience(id) {
			aud = id
		}
	}
	if aud == "" {
		return http.StatusBadRequest, "InvalidIdentityToken", fmt.Sprintf("Incorrect token audience: %v is none of the provider's client IDs %v", claims.Audience, provider.ClientIDs), claims
	}
	role := iam.Roles[roleARN]
	if role == nil {
		return denied("no role %s in account %s", roleARN, s.opts.Account)
	}
	host := trimScheme(s.opts.ProviderURL)
	d, err := Evaluate(Request{
		Action: "sts:AssumeRoleWithWebIdentity", Federated: providerARN,
		Context: map[string]string{host + ":sub": claims.Subject, host + ":aud": aud},
	}, role.Trust)
	if err != nil {
		return denied("trust policy of %s: %v", roleARN, err)
	}
	if !d.Allowed {
		return denied("the trust policy of %s does not allow %s (aud %s) through %s: %s", roleARN, claims.Subject, aud, providerARN, d.Why)
	}
	return 0, "", "trust policy " + d.Why, claims
}

// secretsManager serves a Secrets Manager call only when it is signed
// (SigV4) with credentials STS issued here, with their session token, and
// only what the assumed role's policies allow on the secret's ARN.
func (s *Server) secretsManager(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	action := "secretsmanager:" + op
	var in struct{ SecretId string }
	_ = json.Unmarshal(body, &in)
	rec := Record{Action: action, Target: in.SecretId, Caller: "(unsigned)"}
	sig, err := parseSigV4(r.Header.Get("Authorization"))
	if err != nil {
		rec.Why = err.Error()
		s.record(rec)
		writeJSONError(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	}
	s.mu.Lock()
	sess, ok := s.sessions[sig.accessKey]
	s.mu.Unlock()
	if !ok || sess.sessionToken != r.Header.Get("X-Amz-Security-Token") {
		rec.Caller, rec.Why = sig.accessKey, "credentials STS did not issue"
		s.record(rec)
		writeJSONError(w, http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	if err := sig.verify(r, body, sess.secretKey); err != nil {
		rec.Caller, rec.Why = sess.assumedARN, err.Error()
		s.record(rec)
		writeJSONError(w, http.StatusBadRequest, "InvalidSignatureException", err.Error())
		return
	}
	rec.Caller = sess.assumedARN
	resource := in.SecretId
	if !strings.HasPrefix(resource, "arn:") {
		// A secret's ARN ends in its name, a dash and six random characters.
		resource = "arn:aws:secretsmanager:" + sig.region + ":" + s.opts.Account + ":secret:" + in.SecretId + "-Tw1nXy"
	}
	iam, err := s.opts.Directory.IAM(r.Context())
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "InternalServiceError", err.Error())
		return
	}
	role := iam.Roles[sess.roleARN]
	d := Decision{Why: "the role no longer exists"}
	if role != nil {
		if d, err = Evaluate(Request{Action: action, Resource: resource}, role.Policies...); err != nil {
			d = Decision{Why: err.Error()}
		}
		if len(role.Unknown) > 0 {
			d.Why += fmt.Sprintf(" (attached policies not known here: %v)", role.Unknown)
		}
	}
	if !d.Allowed {
		rec.Why = d.Why
		s.record(rec)
		writeJSONError(w, http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
			"User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action (twin IAM stand-in: %s)",
			sess.assumedARN, action, in.SecretId, action, d.Why))
		return
	}
	rec.Allowed, rec.Why = true, d.Why
	resp, respBody, err := s.forward(r, body)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "InternalServiceError", err.Error())
		return
	}
	if resp.StatusCode != http.StatusOK {
		rec.Why += fmt.Sprintf("; Secrets Manager answered %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	s.record(rec)
	copyResponse(w, resp, respBody)
}

// forward sends the request on to kumo.
func (s *Server) forward(r *http.Request, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, s.kumo.URL+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func copyResponse(w http.ResponseWriter, resp *http.Response, body []byte) {
	for k, v := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// writeSTSError writes an STS (query protocol) error as AWS does.
func writeSTSError(w http.ResponseWriter, status int, code, msg string) {
	type errorBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	out, _ := xml.Marshal(struct {
		XMLName   xml.Name  `xml:"ErrorResponse"`
		Xmlns     string    `xml:"xmlns,attr"`
		Error     errorBody `xml:"Error"`
		RequestID string    `xml:"RequestId"`
	}{Xmlns: "https://sts.amazonaws.com/doc/2011-06-15/", Error: errorBody{Type: "Sender", Code: code, Message: msg}, RequestID: "twin-sts"})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// writeJSONError writes an awsJson1_1 error as Secrets Manager does.
func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

// PutSecret creates or updates a Secrets Manager secret directly in kumo
// (the account's administrator seeding it, not through the check).
func (s *Server) PutSecret(ctx context.Context, name, value string) error {
	err := s.kumoCall(ctx, "CreateSecret", map[string]string{"Name": name, "SecretString": value})
	if err != nil && strings.Contains(err.Error(), "ResourceExistsException") {
		// kumo's storage lives as long as the test binary: a second twin
		// in the same run finds the first one's secrets.
		err = s.kumoCall(ctx, "PutSecretValue", map[string]string{"SecretId": name, "SecretString": value})
	}
	return err
}

// DeleteSecret deletes a secret at once (no recovery window).
func (s *Server) DeleteSecret(ctx context.Context, name string) error {
	return s.kumoCall(ctx, "DeleteSecret", map[string]any{"SecretId": name, "ForceDeleteWithoutRecovery": true})
}

func (s *Server) kumoCall(ctx context.Context, op string, in any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.kumo.URL+"/", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager."+op)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("secretsmanager %s: %d %s", op, resp.StatusCode, out)
	}
	return nil
}
