package diff

import (
	"regexp"
	"strings"
)

// Redacted stands in for a value that may be a secret.
const Redacted = "(redacted)"

var (
	// sensitiveName matches field and env var names that hold credentials.
	sensitiveName = regexp.MustCompile(`(?i)(password|passwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential)`)
	// sensitiveValue matches values that are credentials whatever their name:
	// PEM blocks, AWS access key ids, JWTs.
	sensitiveValue = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----|\bAKIA[0-9A-Z]{16}\b|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.`)
)

// Sensitive reports whether the value at path of an object of kind may be a
// secret and must not be shown. Every value of a Secret's data is; so is a
// literal under a credential-like name. References are not secrets: an
// ExternalSecret's remote keys, a secretKeyRef, a *SecretRef.
func Sensitive(kind, path string, v any) bool {
	if s, ok := v.(string); ok && sensitiveValue.MatchString(s) {
		return true
	}
	if kind == "Secret" && (strings.HasPrefix(path, "data") || strings.HasPrefix(path, "stringData")) {
		return true
	}
	if kind == "ExternalSecret" || strings.Contains(path, "secretKeyRef") || strings.Contains(path, "SecretRef") || strings.Contains(path, "secretRef") {
		return false
	}
	return sensitiveName.MatchString(path)
}

// Redact returns v with every sensitive leaf (see Sensitive) replaced by
// Redacted, looking inside maps and lists, so a whole block that appears at
// once cannot carry a secret past the check.
func Redact(kind, path string, v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = Redact(kind, join(path, k), x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			// An item's name says what it holds ({name: DB_PASSWORD, value: ...}).
			at := path + "[]"
			if m, ok := x.(map[string]any); ok {
				if name, ok := m["name"].(string); ok {
					at = path + "[name=" + name + "]"
				}
			}
			out[i] = Redact(kind, at, x)
		}
		return out
	}
	if Sensitive(kind, path, v) {
		return Redacted
	}
	return v
}
