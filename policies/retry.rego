# Retry: Argo CD Applications that recover on their own from a failed sync.
package retry

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {"retry.sync-window": "Auto-synced Applications retry a failed sync for at least the env's min_sync_retry_minutes (policies/thresholds.rego), past the platform's slowest dependency."}

# Argo CD's defaults when a retry block leaves a field out
# (pkg/apis/application/v1alpha1: DefaultSyncRetryDuration, Factor, MaxDuration).
default_backoff := {"duration": "5s", "factor": 2, "maxDuration": "3m"}

# retry.sync-window: Argo CD never retries a failed sync of the same revision
# once the retry limit is spent, even with self-heal: an Application that
# failed because a dependency was not ready yet (a secret store, a certificate
# still validating, a restore still running) stays failed until someone
# commits or clicks. The retries must outlast the slowest dependency.
deny contains lib.finding("retry.sync-window", msg, ["spec", "syncPolicy"]) if {
	input.kind == "Application"
	startswith(input.apiVersion, "argoproj.io/")
	input.spec.syncPolicy.automated
	need := lib.thresholds.min_sync_retry_minutes
	minutes := sync_minutes(object.get(input.spec.syncPolicy, ["retry"], {"limit": 0}))
	minutes < need
	msg := sprintf("Application %s retries a failed sync for %.1f minute(s), %s needs at least %d (min_sync_retry_minutes in policies/thresholds.rego): set spec.syncPolicy.retry (limit, backoff) so a bootstrap race heals by itself", [input.metadata.name, minutes, lib.env, need])
}

# sync_minutes: the env's Applications share a few retry blocks, each
# worked out once per env (env_index) rather than once per Application.
sync_minutes(retry) := idx.minutes[json.marshal(retry)]

sync_minutes(retry) := retry_minutes(retry) if not idx.minutes[json.marshal(retry)]

# env_index: derived once per env by the engine (data.check.env_index);
# computed inline without it. Keyed by the block's JSON text: the engine
# hands the table over as JSON, whose keys are strings.
env_index := {"minutes": {json.marshal(retry): retry_minutes(retry) |
	some by_ns in object.get(lib.index, ["Application.argoproj.io"], {})
	some same_name in by_ns
	some app in same_name
	retry := object.get(app.spec.syncPolicy, ["retry"], {"limit": 0})
}}

idx := data.check.env_index.retry if data.check.env_index.retry

else := env_index

# retry_minutes is how long Argo CD keeps retrying: the sum of its waits,
# duration * factor^n capped at maxDuration, for each of limit retries.
# A negative limit retries forever.
retry_minutes(retry) := 1000000 if object.get(retry, ["limit"], 0) < 0

retry_minutes(retry) := minutes if {
	limit := object.get(retry, ["limit"], 0)
	limit >= 0
	backoff := object.union(default_backoff, object.get(retry, ["backoff"], {}))
	first := seconds(backoff.duration)
	cap := seconds(backoff.maxDuration)
	waits := [min([first * power(backoff.factor, n), cap]) |
		some n in numbers.range(0, limit)
		n < limit
	]
	minutes := sum(waits) / 60
}

# seconds of an Argo CD duration: a number of seconds, or a Go duration.
seconds(d) := to_number(d) if regex.match(`^[0-9]+$`, d)

seconds(d) := time.parse_duration_ns(d) / 1e9 if not regex.match(`^[0-9]+$`, d)

# power is base^n for a whole n >= 0 (Rego has no exponent operator).
power(base, n) := product([base | some i in numbers.range(0, n); i < n])
