// Tests of the record shape between the log shipper (analytics_shipper.cue)
// and the Spark job (analytics_spark_job.cue): what the rendered Fluent Bit
// filters make of a Kubernetes event and of a JSON log line is what the
// script's filters keep.
package schema_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fluentFilter is one [FILTER] section of the shipper's additionalFilters.
type fluentFilter struct {
	name, match string
	props       [][]string // every other line: key, then its words
}

func parseFilters(t *testing.T, text string) []fluentFilter {
	t.Helper()
	var out []fluentFilter
	for _, section := range strings.Split(text, "[FILTER]")[1:] {
		var f fluentFilter
		for _, line := range strings.Split(section, "\n") {
			words := strings.Fields(line)
			switch {
			case len(words) == 0:
			case strings.EqualFold(words[0], "Name"):
				f.name = strings.ToLower(words[1])
			case strings.EqualFold(words[0], "Match"):
				f.match = words[1]
			default:
				f.props = append(f.props, words)
			}
		}
		out = append(out, f)
	}
	return out
}

// matches is Fluent Bit's tag match: '*' matches any run of characters.
func (f fluentFilter) matches(tag string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(f.match), `\*`, ".*") + "$"
	return regexp.MustCompile(re).MatchString(tag)
}

func (f fluentFilter) prop(key string) string {
	for _, p := range f.props {
		if strings.EqualFold(p[0], key) && len(p) > 1 {
			return p[1]
		}
	}
	return ""
}

// apply is a stand-in for Fluent Bit v4.2.2 (no Fluent Bit here): the modify
// operations as plugins/filter_modify/modify.c applies them (operation names
// case-insensitive, keys exact; Add and Copy skip a record that has the
// target key, Set and Hard_copy overwrite it; rules in their order), and nest
// lift (plugins/filter_nest). The lua filter only sets timestamp and is not
// modelled; any other filter or operation fails the test, so the stand-in
// never passes a configuration it does not know.
func (f fluentFilter) apply(t *testing.T, rec map[string]any) {
	t.Helper()
	switch f.name {
	case "lua":
	case "nest":
		if !strings.EqualFold(f.prop("Operation"), "lift") {
			t.Fatalf("the stand-in models nest lift only: %+v", f)
		}
		under, prefix := f.prop("Nested_under"), f.prop("Add_prefix")
		if inner, ok := rec[under].(map[string]any); ok {
			delete(rec, under)
			for k, v := range inner {
				rec[prefix+k] = v
			}
		}
	case "modify":
		for _, p := range f.props {
			if len(p) < 3 {
				t.Fatalf("modify %v: the stand-in models two-argument operations only", p)
			}
			a, b := p[1], strings.Join(p[2:], " ")
			_, hasA := rec[a]
			_, hasB := rec[b]
			switch strings.ToLower(p[0]) {
			case "add", "add_if_not_present":
				if !hasA {
					rec[a] = b
				}
			case "set":
				rec[a] = b
			case "copy":
				if hasA && !hasB {
					rec[b] = rec[a]
				}
			case "hard_copy":
				if hasA {
					rec[b] = rec[a]
				}
			case "rename":
				if hasA && !hasB {
					rec[b] = rec[a]
					delete(rec, a)
				}
			case "hard_rename":
				if hasA {
					rec[b] = rec[a]
					delete(rec, a)
				}
			default:
				t.Fatalf("modify %v: the stand-in does not model this operation", p)
			}
		}
	default:
		t.Fatalf("filter %s: the stand-in does not model it", f.name)
	}
}

// TestShipperWritesTheShapeTheJobReads: a Kubernetes event as the watch
// delivers it (testdata/k8s-watch-event.json: the object of a `?watch=1`
// event, measured on a kube-apiserver, "kind": "Event"), the same event as a
// LIST item (no kind), and a container's JSON log line with its own kind,
// service and level (merged at the top level by the kubernetes filter,
// `mergeLog: On` with an empty key), through the rendered filter chain, come
// out with the kind the script's events and logs filters select, the service
// the summary groups by (the container's name, "kubernetes" for events) and
// the event's type as level. With `Add kind event` the watched event kept
// "Event" and was dropped: the reviewer's defect 1.
func TestShipperWritesTheShapeTheJobReads(t *testing.T) {
	var filters string
	for _, o := range renderAll(t, repoRoot, "envs")["prod"] {
		if o.Kind() == "Application" && o.Name() == "prod-fluent-bit" {
			filters = str(o.Object, "spec", "source", "helm", "valuesObject", "additionalFilters")
		}
	}
	if filters == "" {
		t.Fatal("prod renders no shipper Application prod-fluent-bit with additionalFilters")
	}
	_, script, _ := sparkScript(t)
	selected := func(name string) string {
		m := regexp.MustCompile(name + ` = records\.where\(F\.col\("kind"\) == "([^"]+)"\)`).FindStringSubmatch(script)
		if m == nil {
			t.Fatalf("the Spark script no longer selects %s by kind: update this test", name)
		}
		return m[1]
	}
	eventKind, logKind := selected("events"), selected("logs")

	data, err := os.ReadFile(filepath.Join("testdata", "k8s-watch-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var watch struct {
		Object map[string]any `json:"object"`
	}
	if err := json.Unmarshal(data, &watch); err != nil {
		t.Fatal(err)
	}
	listed := maps.Clone(watch.Object)
	delete(listed, "kind")
	delete(listed, "apiVersion")
	meta := watch.Object["metadata"].(map[string]any)
	event := map[string]any{"kind": eventKind, "service": "kubernetes", "level": "Normal", "event_uid": meta["uid"], "event_resourceVersion": meta["resourceVersion"]}

	chain := parseFilters(t, filters)
	for _, c := range []struct {
		name, tag string
		rec       map[string]any
		want      map[string]any
	}{
		{"watched event", "events", watch.Object, event},
		{"listed event", "events", listed, event},
		{"JSON log line with its own kind and service", "kube.var.log.containers.checkout-7d9f_shop_checkout-0a1b.log", map[string]any{
			"log": `{"kind":"audit","service":"payments-v2","level":"warn"}`, "stream": "stdout",
			"kind": "audit", "service": "payments-v2", "level": "warn",
			"kubernetes": map[string]any{"pod_name": "checkout-7d9f", "namespace_name": "shop", "container_name": "checkout"},
		}, map[string]any{"kind": logKind, "service": "checkout", "level": "warn"}},
	} {
		rec := maps.Clone(c.rec)
		for _, f := range chain {
			if f.matches(c.tag) {
				f.apply(t, rec)
			}
		}
		for k, v := range c.want {
			if rec[k] != v {
				t.Errorf("%s: %s = %v after the shipper's filters, the Spark job needs %v", c.name, k, rec[k], v)
			}
		}
	}
}
