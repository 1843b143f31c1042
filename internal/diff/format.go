package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ecommerce-platform/gitops/internal/finding"
)

// Marker opens the Markdown report, so a workflow can find and update its
// own pull-request comment instead of adding one per push.
const Marker = "<!-- render-diff -->"

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes a terminal-friendly report.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	if r.Empty() {
		fmt.Fprintf(&b, "no change to rendered/ against %s\n", r.Base)
	}
	for _, o := range r.Objects {
		sign := map[Status]string{Added: "+", Removed: "-", Changed: "~"}[o.Status]
		fmt.Fprintf(&b, "%s %s/%s %s %s\n", sign, o.Env, o.App, o.Kind, qualified(o))
		for _, k := range o.Key {
			fmt.Fprintf(&b, "    %s: %s\n", k.Label, k.Value)
		}
		if len(o.Source) > 0 {
			fmt.Fprintf(&b, "    (%s:%d)\n", o.Source[0].File, o.Source[0].Line)
		}
		for _, c := range o.Changes {
			fmt.Fprintf(&b, "    %s", c)
			if len(c.Source) > 0 {
				fmt.Fprintf(&b, "  (%s:%d)", c.Source[0].File, c.Source[0].Line)
			}
			b.WriteString("\n")
		}
	}
	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "\nnew policy findings:\n")
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "  %s %s: %s %s: %s (%s:%d)\n", f.Severity, f.Rule, f.Kind, f.Name, f.Message, f.File, f.Line)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes a pull-request comment: a summary table, then a
// collapsible section per object with its field changes, then the policy
// findings the change introduces.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	b.WriteString(Marker + "\n### Rendered changes against `" + r.Base + "`\n\n")
	if len(r.Objects) == 0 {
		b.WriteString("No change to `rendered/`: Argo CD will apply nothing new.\n")
	} else {
		b.WriteString("| env | app | added | changed | removed |\n|---|---|---:|---:|---:|\n")
		for _, s := range r.Summary {
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d |\n", s.Env, s.App, s.Added, s.Changed, s.Removed)
		}
		b.WriteString("\n")
		for _, o := range r.Objects {
			fmt.Fprintf(&b, "<details><summary>%s/%s: %s <code>%s</code> %s", o.Env, o.App, o.Kind, qualified(o), o.Status)
			if len(o.Changes) > 0 {
				fmt.Fprintf(&b, " (%d field%s)", len(o.Changes), plural(len(o.Changes)))
			}
			b.WriteString("</summary>\n\n")
			fmt.Fprintf(&b, "`%s`", o.File)
			if len(o.Source) > 0 {
				fmt.Fprintf(&b, ", from `%s:%d`", o.Source[0].File, o.Source[0].Line)
			}
			b.WriteString("\n\n")
			if len(o.Key) > 0 {
				b.WriteString("| key field | value |\n|---|---|\n")
				for _, k := range o.Key {
					fmt.Fprintf(&b, "| %s | %s |\n", k.Label, code(k.Value))
				}
				b.WriteString("\n")
			}
			if o.Body != nil {
				// The whole object, secrets redacted, folded away.
				if data, err := yaml.Marshal(o.Body); err == nil {
					b.WriteString("<details><summary>YAML</summary>\n\n```yaml\n" + string(data) + "```\n</details>\n\n")
				}
			}
			if len(o.Changes) > 0 {
				b.WriteString("| field | old | new | set in |\n|---|---|---|---|\n")
				for _, c := range o.Changes {
					src := ""
					if len(c.Source) > 0 {
						src = fmt.Sprintf("`%s:%d`", c.Source[0].File, c.Source[0].Line)
					}
					fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", cell(c.Path), code(c.Old), code(c.New), src)
				}
				b.WriteString("\n")
			}
			b.WriteString("</details>\n")
		}
	}
	b.WriteString("\n### Policy findings introduced\n\n")
	if len(r.Findings) == 0 {
		b.WriteString("None.\n")
	} else {
		b.WriteString("| severity | rule | object | message | where |\n|---|---|---|---|---|\n")
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "| %s | %s | %s %s | %s | %s |\n", severity(f), f.Rule, f.Kind, cell(f.Name), cell(f.Message), where(f))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func qualified(o Object) string {
	if o.Namespace == "" {
		return o.Name
	}
	return o.Namespace + "/" + o.Name
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// cell keeps a value from breaking a Markdown table.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
}

func code(s string) string {
	if s == "" {
		return "_(none)_"
	}
	return "`" + cell(s) + "`"
}

func severity(f finding.Finding) string {
	if f.Severity == finding.Deny {
		return "**deny**"
	}
	return string(f.Severity)
}

// where names the env source line when the finding has one, else the
// rendered file.
func where(f finding.Finding) string {
	if len(f.Source) > 0 {
		return fmt.Sprintf("`%s:%d`", f.Source[0].File, f.Source[0].Line)
	}
	return fmt.Sprintf("`%s:%d`", f.File, f.Line)
}

// NewFindings returns the findings of head that base does not have. A
// finding is the same when its env, rule, object and message are: lines
// move when files change, so they are not compared.
func NewFindings(base, head []finding.Finding) []finding.Finding {
	key := func(f finding.Finding) string {
		return strings.Join([]string{f.Env, f.Rule, string(f.Severity), f.Kind, f.Namespace, f.Name, f.Message}, "\x00")
	}
	seen := map[string]int{}
	for _, f := range base {
		seen[key(f)]++
	}
	out := []finding.Finding{}
	for _, f := range head {
		if seen[key(f)] > 0 {
			seen[key(f)]--
			continue
		}
		out = append(out, f)
	}
	return out
}
