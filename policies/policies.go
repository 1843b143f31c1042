// Package policies embeds the Rego policies and their per-env thresholds, so
// the render binary is self-contained and `opa test policies/` reads the very
// same files.
package policies

import "embed"

// FS holds every *.rego: the policies, their *_test.rego unit tests and
// thresholds.rego (data.thresholds). The waivers file is not embedded: it is
// repository configuration, read from disk by `render check`.
//
//go:embed *.rego
var FS embed.FS
