package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/ecommerce-platform/gitops/internal/finding"
)

// SARIF 2.1.0, the subset GitHub code scanning reads: tool.driver.rules,
// results with ruleId/ruleIndex/level/message and a physical location whose
// URI is relative to the repository root (uriBaseId %SRCROOT%).
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	FullDescription      sarifMessage `json:"fullDescription"` // GitHub requires it
	Help                 sarifMessage `json:"help"`            // GitHub requires it
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID       string             `json:"ruleId"`
	RuleIndex    int                `json:"ruleIndex"`
	Level        string             `json:"level"`
	Message      sarifMessage       `json:"message"`
	Locations    []sarifLocation    `json:"locations"`
	Related      []sarifLocation    `json:"relatedLocations,omitempty"`
	Suppressions []sarifSuppression `json:"suppressions,omitempty"`
	Properties   map[string]string  `json:"properties,omitempty"`
}

type sarifLocation struct {
	ID               int           `json:"id,omitempty"`
	Message          *sarifMessage `json:"message,omitempty"`
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI       string `json:"uri"`
			URIBaseID string `json:"uriBaseId"`
		} `json:"artifactLocation"`
		Region struct {
			StartLine   int `json:"startLine"`
			StartColumn int `json:"startColumn,omitempty"`
		} `json:"region"`
	} `json:"physicalLocation"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

func level(s finding.Severity) string {
	if s == finding.Deny {
		return "error"
	}
	return "warning"
}

func writeSARIF(w io.Writer, r Result) error {
	run := sarifRun{
		Tool:    sarifTool{Driver: sarifDriver{Name: "render-check", Version: toolVersion(), InformationURI: "https://github.com/ecommerce-platform/gitops", Rules: []sarifRule{}}},
		Results: []sarifResult{},
	}
	// Every documented rule is listed (code scanning shows them even when
	// nothing fires), plus any undocumented rule that produced a finding.
	index := map[string]int{}
	ids := slices.Collect(maps.Keys(r.Rules))
	for _, f := range r.Findings {
		if _, ok := r.Rules[f.Rule]; !ok && !slices.Contains(ids, f.Rule) {
			ids = append(ids, f.Rule)
		}
	}
	slices.Sort(ids)
	for i, id := range ids {
		index[id] = i
		desc := cmp.Or(r.Rules[id], "render check rule "+id)
		rule := sarifRule{
			ID:               id,
			ShortDescription: sarifMessage{Text: desc},
			FullDescription:  sarifMessage{Text: desc},
			Help:             sarifMessage{Text: desc + " Fix the field the result points at (the fix belongs in the CUE under envs/ or schema/, then re-render), or add a waiver with reason, owner and expiry to policies/waivers.yaml."},
		}
		rule.DefaultConfiguration.Level = "error"
		if strings.HasPrefix(desc, "Warning:") || slices.ContainsFunc(r.Findings, func(f finding.Finding) bool { return f.Rule == id && f.Severity == finding.Warn }) {
			rule.DefaultConfiguration.Level = "warning"
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, rule)
	}
	for _, f := range r.Findings {
		res := sarifResult{
			RuleID:    f.Rule,
			RuleIndex: index[f.Rule],
			Level:     level(f.Severity),
			Message:   sarifMessage{Text: fmt.Sprintf("%s (%s, %s)", f.Message, object(f), f.Env)},
			Properties: map[string]string{
				"env": f.Env, "kind": f.Kind, "namespace": f.Namespace, "name": f.Name,
			},
		}
		if f.Path != "" {
			res.Properties["path"] = f.Path
		}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = uri(f.File)
		loc.PhysicalLocation.ArtifactLocation.URIBaseID = "%SRCROOT%"
		loc.PhysicalLocation.Region.StartLine = max(f.Line, 1) // SARIF lines start at 1
		res.Locations = []sarifLocation{loc}
		// Traced to CUE: the env (or schema) line is where the alert belongs,
		// the rendered file and the other CUE lines are related.
		if len(f.Source) > 0 {
			var related []sarifLocation
			for i, src := range f.Source {
				var l sarifLocation
				l.PhysicalLocation.ArtifactLocation.URI = uri(src.File)
				l.PhysicalLocation.ArtifactLocation.URIBaseID = "%SRCROOT%"
				l.PhysicalLocation.Region.StartLine = max(src.Line, 1)
				l.PhysicalLocation.Region.StartColumn = src.Column
				if i == 0 {
					res.Locations = []sarifLocation{l}
					continue
				}
				l.ID = i + 1
				l.Message = &sarifMessage{Text: "also set by this CUE"}
				related = append(related, l)
			}
			loc.ID = 1
			loc.Message = &sarifMessage{Text: "the rendered object"}
			res.Related = append([]sarifLocation{loc}, related...)
		}
		if f.Waived != "" {
			res.Suppressions = []sarifSuppression{{Kind: "external", Justification: f.Waived}}
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
}

// toolVersion is the module version the binary was built from, which code
// scanning uses to tell tool versions apart. SARIF validators want it to
// start with a digit: no leading v, and "0.0.0-devel" for a local build.
func toolVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "0.0.0-devel"
}
