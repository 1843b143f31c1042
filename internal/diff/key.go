package diff

import (
	"fmt"
	"strconv"
	"strings"
)

// KeyField is one field a reviewer checks first in an added object.
type KeyField struct {
	Label string `json:"label"`
	Value string `json:"value"`
	// Keys is the field's path as map keys and list indices, for tracing
	// it back to the CUE.
	Keys []string `json:"-"`
}

// keyFields say, per field path (a "*" stands for every list item), what a
// reviewer of an added object wants to see without opening it: what runs
// (image by digest), how many (replicas, the autoscaler's range), where it
// is published (ingress paths), which secrets it reads (keys, never
// values) and what it connects to (the database host).
var keyFields = []struct{ label, path string }{
	{"image", "spec.template.spec.containers.*.image"},
	{"replicas", "spec.replicas"},
	{"HPA min", "spec.minReplicas"},
	{"HPA max", "spec.maxReplicas"},
	{"ingress path", "spec.rules.*.http.paths.*.path"},
	{"secret key", "spec.data.*.secretKey"},
	{"secret from", "spec.data.*.remoteRef.key"},
	{"database", "spec.template.spec.containers.*.env.*"},
	{"volume size", "spec.volumeClaimTemplates.*.spec.resources.requests.storage"},
	{"cache path", "spec.forProvider.orderedCacheBehavior.*.pathPattern"},
}

// Key lists the key fields an object has, in keyFields order.
func Key(kind string, body map[string]any) []KeyField {
	var out []KeyField
	for _, kf := range keyFields {
		collect(body, strings.Split(kf.path, "."), nil, func(keys []string, v any) {
			if kf.label == "database" {
				// The env var the database template sets names its host.
				m, ok := v.(map[string]any)
				if !ok || m["name"] != "DATABASE_HOST" {
					return
				}
				v, keys = m["value"], with(keys, "value")
			}
			if v == nil || Sensitive(kind, strings.Join(keys, "."), v) {
				return
			}
			out = append(out, KeyField{Label: kf.label, Value: fmt.Sprint(v), Keys: keys})
		})
	}
	return out
}

// collect calls found for every value at path under v ("*": each item).
func collect(v any, path, keys []string, found func([]string, any)) {
	if len(path) == 0 {
		found(keys, v)
		return
	}
	switch t := v.(type) {
	case map[string]any:
		if x, ok := t[path[0]]; ok {
			collect(x, path[1:], with(keys, path[0]), found)
		}
	case []any:
		if path[0] == "*" {
			for i, x := range t {
				collect(x, path[1:], with(keys, strconv.Itoa(i)), found)
			}
		}
	}
}
