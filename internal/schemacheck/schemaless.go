package schemacheck

import "slices"

// SchemalessAPI is an API that upstream registers without a schema, so the
// API server checks nothing and the project's CUE definitions are its only
// schema. Objects of these kinds are counted, not validated, and not flagged.
type SchemalessAPI struct {
	GroupVersion string
	Kinds        []string // empty: every kind of the group/version
	Reason       string
}

// Schemaless lists the APIs declared schemaless. A CRD for one of these kinds
// found in the CRD directory takes precedence: then it is validated.
var Schemaless = []SchemalessAPI{
	{
		GroupVersion: "stork.libopenstorage.org/v1alpha1",
		Reason:       "Stork registers its CRDs at runtime with x-kubernetes-preserve-unknown-fields; validated by CUE only (schema/portworx.cue)",
	},
	{
		GroupVersion: "portworx.io/v1beta2",
		Kinds:        []string{"VolumePlacementStrategy"},
		Reason:       "Portworx registers VolumePlacementStrategy at runtime with x-kubernetes-preserve-unknown-fields; validated by CUE only (schema/portworx.cue)",
	},
}

func schemalessReason(apiVersion, kind string) (string, bool) {
	for _, s := range Schemaless {
		if s.GroupVersion == apiVersion && (len(s.Kinds) == 0 || slices.Contains(s.Kinds, kind)) {
			return s.Reason, true
		}
	}
	return "", false
}
