package awstwin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// sigV4 is the parsed Authorization header of a Signature Version 4 request
// ("AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/secretsmanager/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=hex").
type sigV4 struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

var sigV4RE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$`)

func parseSigV4(header string) (*sigV4, error) {
	m := sigV4RE.FindStringSubmatch(strings.TrimSpace(header))
	if m == nil {
		return nil, fmt.Errorf("no SigV4 Authorization header")
	}
	return &sigV4{accessKey: m[1], date: m[2], region: m[3], service: m[4], signedHeaders: strings.Split(m[5], ";"), signature: m[6]}, nil
}

// verify recomputes the signature of r (its body given) with secretKey as
// the AWS General Reference, "Signature Version 4 signing process", defines
// it, and reports a mismatch.
func (s *sigV4) verify(r *http.Request, body []byte, secretKey string) error {
	amzDate := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(amzDate, s.date) {
		return fmt.Errorf("X-Amz-Date %q is not of the credential's day %s", amzDate, s.date)
	}
	var canonicalHeaders strings.Builder
	for _, name := range s.signedHeaders {
		var value string
		switch name {
		case "host":
			value = r.Host
		case "content-length":
			value = strconv.FormatInt(r.ContentLength, 10)
		default:
			value = strings.Join(r.Header.Values(name), ",")
		}
		fmt.Fprintf(&canonicalHeaders, "%s:%s\n", name, strings.Join(strings.Fields(value), " "))
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canonical := strings.Join([]string{r.Method, path, canonicalQuery(r.URL.Query()), canonicalHeaders.String(), strings.Join(s.signedHeaders, ";"), payload}, "\n")
	scope := s.date + "/" + s.region + "/" + s.service + "/aws4_request"
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + secretKey)
	for _, part := range []string{s.date, s.region, s.service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(s.signature)) {
		return fmt.Errorf("the request signature we calculated does not match the signature you provided")
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// canonicalQuery sorts and encodes the query as SigV4 wants (RFC 3986,
// spaces as %20).
func canonicalQuery(q url.Values) string {
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, strings.ReplaceAll(url.QueryEscape(k), "+", "%20")+"="+strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}
