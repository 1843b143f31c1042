// Package report writes findings in the formats CI and people read: text,
// json (the contract other tools parse), sarif (GitHub code scanning), junit
// (CI dashboards) and github (workflow command annotations).
package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ecommerce-platform/gitops/internal/finding"
)

// Formats lists the accepted --format values.
var Formats = []string{"text", "json", "sarif", "junit", "github"}

// Object is one checked object, for formats that list passes too (junit).
type Object struct {
	Env, File, Kind, Namespace, Name string
	Line                             int
}

// Result is what a check run produced.
type Result struct {
	Envs     []string // envs checked, in order
	Objects  []Object // every object checked
	Findings []finding.Finding
	// Rules describes rule ids (SARIF lists them with their descriptions).
	Rules map[string]string
}

// Write renders r in format to w.
func Write(w io.Writer, format string, r Result) error {
	switch format {
	case "text":
		return writeText(w, r)
	case "json":
		return writeJSON(w, r)
	case "sarif":
		return writeSARIF(w, r)
	case "junit":
		return writeJUnit(w, r)
	case "github":
		return writeGitHub(w, r)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

func status(f finding.Finding) string {
	if f.Waived != "" {
		return "waived"
	}
	return string(f.Severity)
}

func object(f finding.Finding) string {
	if f.Namespace == "" {
		return f.Kind + "/" + f.Name
	}
	return f.Kind + "/" + f.Namespace + "/" + f.Name
}

func writeText(w io.Writer, r Result) error {
	var deny, warn, waived int
	for _, f := range r.Findings {
		fmt.Fprintf(w, "%s:%d: %s [%s] %s (%s): %s", f.File, f.Line, status(f), f.Rule, object(f), f.Env, f.Message)
		if f.Waived != "" {
			fmt.Fprintf(w, " -- waived: %s", f.Waived)
		}
		fmt.Fprintln(w)
		for _, src := range f.Source {
			fmt.Fprintf(w, "    from %s:%d:%d\n", src.File, src.Line, src.Column)
		}
		switch {
		case f.Waived != "":
			waived++
		case f.Severity == finding.Deny:
			deny++
		default:
			warn++
		}
	}
	_, err := fmt.Fprintf(w, "checked %d object(s) in %s: %d denied, %d warning(s), %d waived\n",
		len(r.Objects), strings.Join(r.Envs, ", "), deny, warn, waived)
	return err
}

func writeJSON(w io.Writer, r Result) error {
	fs := r.Findings
	if fs == nil {
		fs = []finding.Finding{} // the contract: "findings": [] when clean
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Findings []finding.Finding `json:"findings"`
	}{fs})
}

// uri makes a file path a SARIF artifact URI relative to the repository
// root (the working directory): forward slashes, no leading ./.
func uri(file string) string {
	if filepath.IsAbs(file) {
		if wd, err := filepath.Abs("."); err == nil {
			if rel, err := filepath.Rel(wd, file); err == nil && !strings.HasPrefix(rel, "..") {
				file = rel
			}
		}
	}
	return filepath.ToSlash(filepath.Clean(file))
}

func writeGitHub(w io.Writer, r Result) error {
	for _, f := range r.Findings {
		level := "error"
		switch {
		case f.Waived != "":
			level = "notice"
		case f.Severity == finding.Warn:
			level = "warning"
		}
		msg := fmt.Sprintf("%s (%s, %s)", f.Message, object(f), f.Env)
		if f.Waived != "" {
			msg += " -- waived: " + f.Waived
		}
		// The CUE line first: that is the line a pull request changed, and
		// GitHub shows annotations on the files of the diff.
		if len(f.Source) > 0 {
			src := f.Source[0]
			fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", level, ghProp(src.File), src.Line, max(src.Column, 1), ghProp(f.Rule),
				ghData(fmt.Sprintf("%s (rendered as %s:%d)", msg, uri(f.File), max(f.Line, 1))))
		}
		fmt.Fprintf(w, "::%s file=%s,line=%d,title=%s::%s\n", level, ghProp(uri(f.File)), max(f.Line, 1), ghProp(f.Rule), ghData(msg))
	}
	return nil
}

// ghData and ghProp escape workflow command values as the runner expects.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// JUnit: a testsuite per env, a testcase per object; denies are failures,
// warnings and waivers go to system-out. Findings not about a checked object
// (waivers, parity) get a testcase of their own.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func writeJUnit(w io.Writer, r Result) error {
	type key struct{ env, file, kind, ns, name string }
	envs := slices.Clone(r.Envs)
	byKey := map[key][]finding.Finding{}
	var order []key
	for _, o := range r.Objects {
		k := key{o.Env, o.File, o.Kind, o.Namespace, o.Name}
		if _, ok := byKey[k]; !ok {
			byKey[k] = nil
			order = append(order, k)
		}
	}
	for _, f := range r.Findings {
		k := key{f.Env, f.File, f.Kind, f.Namespace, f.Name}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], f)
		if !slices.Contains(envs, f.Env) {
			envs = append(envs, f.Env)
		}
	}
	out := junitSuites{}
	for _, env := range envs {
		s := junitSuite{Name: env}
		if env == "" {
			s.Name = "all"
		}
		for _, k := range order {
			if k.env != env {
				continue
			}
			name := k.kind + "/" + k.name
			if k.ns != "" {
				name = k.kind + "/" + k.ns + "/" + k.name
			}
			c := junitCase{Name: name, Classname: s.Name + "." + k.kind, File: uri(k.file)}
			var fails, notes []string
			var rules []string
			for _, f := range byKey[k] {
				line := fmt.Sprintf("%s:%d: [%s] %s", uri(f.File), f.Line, f.Rule, f.Message)
				if f.Severity == finding.Deny && f.Waived == "" {
					fails = append(fails, line)
					rules = append(rules, f.Rule)
				} else {
					notes = append(notes, status(f)+" "+line)
				}
			}
			if len(fails) > 0 {
				c.Failure = &junitFailure{Message: fmt.Sprintf("%d denied: %s", len(fails), strings.Join(slices.Compact(rules), ", ")), Type: "deny", Text: strings.Join(fails, "\n")}
				s.Failures++
			}
			c.SystemOut = strings.Join(notes, "\n")
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		out.Suites = append(out.Suites, s)
		out.Tests += s.Tests
		out.Failures += s.Failures
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
