package checker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/ecommerce-platform/gitops/internal/finding"
	"github.com/ecommerce-platform/gitops/internal/manifest"
)

// Waiver accepts one rule's findings on one object for a while, with a
// reason and an owner. Past its expiry date it stops waiving and becomes a
// deny finding itself, so waivers cannot be forgotten.
type Waiver struct {
	Rule    string `yaml:"rule"`
	Object  string `yaml:"object"` // Kind/namespace/name, or Kind/name when cluster-scoped
	Env     string `yaml:"env"`    // empty: every env
	Reason  string `yaml:"reason"`
	Owner   string `yaml:"owner"`
	Expires string `yaml:"expires"` // YYYY-MM-DD, the last day it waives

	File    string    `yaml:"-"`
	Line    int       `yaml:"-"`
	expires time.Time `yaml:"-"`
}

// Rules of the findings waivers produce.
const (
	RuleWaiverExpired = "waiver.expired"
	RuleWaiverUnused  = "waiver.unused"
)

// LoadWaivers reads a waivers file ({waivers: [...]}). A missing file is no
// waivers; a malformed one is a *manifest.Error naming file and line.
func LoadWaivers(file string) ([]Waiver, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &manifest.Error{File: file, Msg: "cannot read: " + err.Error()}
	}
	return ParseWaivers(file, data)
}

// ParseWaivers reads waivers from YAML.
func ParseWaivers(file string, data []byte) (ws []Waiver, err error) {
	defer func() {
		if r := recover(); r != nil { // yaml.v3 may panic on malformed input
			ws, err = nil, &manifest.Error{File: file, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	var doc struct {
		Waivers []yaml.Node `yaml:"waivers"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, &manifest.Error{File: file, Msg: "invalid waivers: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	for _, n := range doc.Waivers {
		var w Waiver
		if err := n.Decode(&w); err != nil {
			return nil, &manifest.Error{File: file, Line: n.Line, Msg: "invalid waiver: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		}
		w.File, w.Line = file, n.Line
		for _, f := range []struct{ name, v string }{{"rule", w.Rule}, {"object", w.Object}, {"reason", w.Reason}, {"owner", w.Owner}, {"expires", w.Expires}} {
			if strings.TrimSpace(f.v) == "" {
				return nil, &manifest.Error{File: file, Line: n.Line, Msg: "waiver has no " + f.name}
			}
		}
		if parts := strings.Split(w.Object, "/"); len(parts) < 2 || len(parts) > 3 {
			return nil, &manifest.Error{File: file, Line: n.Line, Msg: fmt.Sprintf("waiver object %q: want Kind/namespace/name or Kind/name", w.Object)}
		}
		w.expires, err = time.Parse(time.DateOnly, w.Expires)
		if err != nil {
			return nil, &manifest.Error{File: file, Line: n.Line, Msg: fmt.Sprintf("waiver expires %q: want YYYY-MM-DD", w.Expires)}
		}
		ws = append(ws, w)
	}
	return ws, nil
}

func (w *Waiver) matches(f *finding.Finding) bool {
	if w.Rule != f.Rule || (w.Env != "" && w.Env != f.Env) {
		return false
	}
	obj := f.Kind + "/" + f.Namespace + "/" + f.Name
	if f.Namespace == "" {
		return w.Object == obj || w.Object == f.Kind+"/"+f.Name
	}
	return w.Object == obj
}

// expired reports whether today is past the waiver's last day.
func (w *Waiver) expired(today time.Time) bool {
	y, m, d := today.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).After(w.expires)
}

// Waives reports whether a live (unexpired) waiver covers f.
func Waives(ws []Waiver, f finding.Finding, today time.Time) bool {
	return slices.ContainsFunc(ws, func(w Waiver) bool { return w.matches(&f) && !w.expired(today) })
}

// ApplyWaivers marks findings a live waiver covers as waived, adds a deny for
// every expired waiver (its findings stay failing) and a warning for every
// waiver of a checked env that matched nothing. envs are the envs checked.
func ApplyWaivers(fs []finding.Finding, ws []Waiver, envs []string, today time.Time) []finding.Finding {
	checked := map[string]bool{}
	for _, e := range envs {
		checked[e] = true
	}
	used := make([]bool, len(ws))
	for i := range fs {
		for j := range ws {
			if !ws[j].matches(&fs[i]) {
				continue
			}
			used[j] = true
			if !ws[j].expired(today) {
				fs[i].Waived = fmt.Sprintf("%s (owner %s, until %s)", ws[j].Reason, ws[j].Owner, ws[j].Expires)
			}
		}
	}
	for j, w := range ws {
		if w.Env != "" && !checked[w.Env] {
			continue
		}
		base := finding.Finding{File: w.File, Line: w.Line, Kind: "Waiver", Name: w.Object, Env: w.Env}
		switch {
		case w.expired(today):
			base.Rule, base.Severity = RuleWaiverExpired, finding.Deny
			base.Message = fmt.Sprintf("waiver of %s on %s (owner %s) expired on %s: fix the finding or renew the waiver", w.Rule, w.Object, w.Owner, w.Expires)
			fs = append(fs, base)
		case !used[j]:
			base.Rule, base.Severity = RuleWaiverUnused, finding.Warn
			base.Message = fmt.Sprintf("waiver of %s on %s (owner %s) matches no finding: remove it", w.Rule, w.Object, w.Owner)
			fs = append(fs, base)
		}
	}
	finding.Sort(fs)
	return fs
}
