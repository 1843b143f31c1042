// Package awstwin is the twin's AWS: kumo (github.com/sivchari/kumo, an
// in-process AWS emulator) serves Secrets Manager and STS, behind a front
// that does what kumo does not: a STAND-IN for AWS STS's and IAM's checks.
// AssumeRoleWithWebIdentity is granted only for a service-account token the
// twin's API server signed (its OIDC discovery keys), for the audience and
// subject the role's trust policy allows, as AWS STS checks against the
// cluster's IAM OIDC provider; Secrets Manager calls are served only when
// signed (SigV4) with credentials STS issued, and only what the role's
// attached policies allow.
// The IAM Roles, Policies and the OIDC provider are the rendered Crossplane
// objects as they are in the twin's API server (what Crossplane would create
// in AWS), read at every request.
package awstwin

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// Claims are the claims of a Kubernetes service-account token the check
// reads (kube-apiserver pkg/serviceaccount/claims.go).
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  audience `json:"aud"`
	Expiry    int64    `json:"exp"`
	NotBefore int64    `json:"nbf"`
	Kube      struct {
		Namespace      string `json:"namespace"`
		ServiceAccount struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"serviceaccount"`
	} `json:"kubernetes.io"`
}

// audience is a JWT aud claim: one string or a list (RFC 7519 4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("aud is neither a string nor a list of strings")
	}
	*a = many
	return nil
}

// JWKS is a JSON Web Key Set as kube-apiserver serves it at /openid/v1/jwks
// (its signing keys are RSA or ECDSA).
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK is one public key of a JWKS.
type JWK struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (k JWK) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "EC":
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		curve, ok := curves[k.Crv]
		if !ok {
			return nil, fmt.Errorf("key %s: curve %q", k.Kid, k.Crv)
		}
		x, errX := base64.RawURLEncoding.DecodeString(k.X)
		y, errY := base64.RawURLEncoding.DecodeString(k.Y)
		if err := errors.Join(errX, errY); err != nil {
			return nil, fmt.Errorf("key %s: %w", k.Kid, err)
		}
		size := (curve.Params().BitSize + 7) / 8
		point := append([]byte{4}, append(leftPad(x, size), leftPad(y, size)...)...)
		return ecdsa.ParseUncompressedPublicKey(curve, point)
	case "RSA":
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if err := errors.Join(errN, errE); err != nil {
			return nil, fmt.Errorf("key %s: %w", k.Kid, err)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	}
	return nil, fmt.Errorf("key %s: key type %q", k.Kid, k.Kty)
}

func leftPad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(make([]byte, n-len(b)), b...)
}

// Verifier checks service-account tokens as AWS STS checks a web-identity
// token against an IAM OIDC provider: the signature by a key of the issuer's
// JWKS, the issuer, and the validity window (exp, nbf). Audience and
// subject are the trust policy's business (TrustAllows).
type Verifier struct {
	Issuer string
	Keys   JWKS
	// Now defaults to time.Now.
	Now func() time.Time
}

// Verify returns the token's claims if it is valid.
func (v Verifier) Verify(token string) (*Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a signed JWT (want three dot-separated parts)")
	}
	var header struct{ Alg, Kid string }
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	var key *JWK
	for i := range v.Keys.Keys {
		if v.Keys.Keys[i].Kid == header.Kid {
			key = &v.Keys.Keys[i]
		}
	}
	if key == nil {
		return nil, fmt.Errorf("no key %q in the issuer's JWKS", header.Kid)
	}
	pub, err := key.publicKey()
	if err != nil {
		return nil, err
	}
	if err := verifySignature(header.Alg, pub, []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return nil, err
	}
	var c Claims
	if err := decodeSegment(parts[1], &c); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if c.Issuer != v.Issuer {
		return nil, fmt.Errorf("issuer %q is not the OIDC provider's %q", c.Issuer, v.Issuer)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now().Unix()
	if c.Expiry == 0 || t >= c.Expiry {
		return nil, fmt.Errorf("token expired at %s", time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339))
	}
	if c.NotBefore != 0 && t < c.NotBefore {
		return nil, fmt.Errorf("token not valid before %s", time.Unix(c.NotBefore, 0).UTC().Format(time.RFC3339))
	}
	return &c, nil
}

func decodeSegment(s string, into any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// verifySignature checks a JWS signature (RFC 7518 3.3 and 3.4); only the
// algorithms kube-apiserver signs with for its key types.
func verifySignature(alg string, pub crypto.PublicKey, signed, sig []byte) error {
	sum := sha256.Sum256(signed)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if alg != "ES256" || k.Curve != elliptic.P256() {
			return fmt.Errorf("algorithm %s with an ECDSA %s key", alg, k.Curve.Params().Name)
		}
		if len(sig) != 64 {
			return errors.New("ES256 signature is not 64 bytes")
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, sum[:], r, s) {
			return errors.New("signature does not verify with the issuer's key")
		}
		return nil
	case *rsa.PublicKey:
		if alg != "RS256" {
			return fmt.Errorf("algorithm %s with an RSA key", alg)
		}
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig); err != nil {
			return errors.New("signature does not verify with the issuer's key")
		}
		return nil
	}
	return fmt.Errorf("unsupported key %T", pub)
}

// serviceAccountSubject is the sub claim Kubernetes gives a ServiceAccount's
// tokens (k8s.io/apiserver pkg/authentication/serviceaccount).
func serviceAccountSubject(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// hasAudience reports whether aud is among the token's audiences.
func (c *Claims) hasAudience(aud string) bool { return slices.Contains(c.Audience, aud) }

// IssuerOf reads the issuer and signing keys of a kube-apiserver's
// service-account tokens from its OIDC discovery endpoints
// (/.well-known/openid-configuration, /openid/v1/jwks; KEP-1393), as AWS IAM
// reads an OIDC provider's: what the check verifies tokens with.
func IssuerOf(ctx context.Context, rc rest.Interface) (Verifier, error) {
	var discovery struct {
		Issuer string `json:"issuer"`
	}
	var keys JWKS
	for path, into := range map[string]any{"/.well-known/openid-configuration": &discovery, "/openid/v1/jwks": &keys} {
		b, err := rc.Get().AbsPath(path).DoRaw(ctx)
		if err != nil {
			return Verifier{}, fmt.Errorf("GET %s: %w", path, err)
		}
		if err := json.Unmarshal(b, into); err != nil {
			return Verifier{}, fmt.Errorf("GET %s: %w", path, err)
		}
	}
	if discovery.Issuer == "" || len(keys.Keys) == 0 {
		return Verifier{}, fmt.Errorf("the API server publishes no issuer (%q) or no keys (%d)", discovery.Issuer, len(keys.Keys))
	}
	return Verifier{Issuer: discovery.Issuer, Keys: keys}, nil
}
