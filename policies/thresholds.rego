# Per-env thresholds (data.thresholds[env]): plain data, no rules. They live
# in a Rego file rather than data.json because conftest loads only *.rego from
# -p, so a data.json would need an extra --data flag there; opa test, opa
# eval, conftest and the engine all read this file as it is.
#
# An env without an entry here is unknown: `render check` refuses it (exit 2).
package thresholds

prod := {
	"min_replicas": 3, # Deployments, Rollouts, StatefulSets (not single-writer databases: one pod), HPA minReplicas
	"min_zones": 3, # AZs the EKS node groups of a cluster must reach
	"min_portworx_repl": 3, # Portworx StorageClass repl: one replica per zone
	"require_promotion_gate": true, # blue-green: manual promotion or prePromotionAnalysis
	"parity_peer": "dr", # what prod runs, dr must be able to run
	"min_sync_retry_minutes": 60, # Argo CD retries a failed sync at least this long
}

dr := {
	"min_replicas": 2,
	"restore_source": "prod", # the env whose backups dr restores on failover
	"min_zones": 2,
	"min_portworx_repl": 2,
	"require_promotion_gate": false,
	"min_sync_retry_minutes": 60,
}
