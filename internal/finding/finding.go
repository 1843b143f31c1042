// Package finding is the one shape every check reports in: schema validation,
// policies and parity all produce Findings, and every output format reads them.
package finding

import (
	"cmp"
	"slices"
)

// Severity of a finding. Only Deny fails a check (exit 1).
type Severity string

const (
	Deny Severity = "deny"
	Warn Severity = "warn"
)

// Source is a position in the CUE that produced a value (envs/ or schema/).
type Source struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column,omitempty"`
}

// Finding is one problem with one object. File and Line point at the offending
// field in the rendered YAML when it can be found, else at the object's first line.
type Finding struct {
	Rule      string   `json:"rule"`
	Severity  Severity `json:"severity"`
	Message   string   `json:"message"`
	File      string   `json:"file"`
	Line      int      `json:"line"`
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Env       string   `json:"env"`
	// Path is the offending field as a dotted path (spec.replicas), when known.
	Path string `json:"path,omitempty"`
	// Keys is Path unambiguously: map keys and decimal list indices, for
	// tracing the field back to its CUE source.
	Keys []string `json:"-"`
	// Waived carries the waiver's reason when a waiver covers this finding.
	Waived string `json:"waived,omitempty"`
	// Source lists the CUE positions behind the offending field, most specific first.
	Source []Source `json:"source,omitempty"`
}

// Sort orders findings by file, line, rule and message, so output is stable.
func Sort(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.Env, b.Env),
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message),
		)
	})
}

// Denied reports whether any finding that is not waived denies.
func Denied(fs []Finding) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Severity == Deny && f.Waived == "" })
}
