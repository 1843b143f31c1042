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
	minutes := retry_minutes(object.get(input.spec.syncPolicy, ["retry"], {"limit": 0}))
	minutes < need
	msg := sprintf("Application %s retries a failed sync for %.1f minute(s), %s needs at least %d (min_sync_retry_minutes in policies/thresholds.rego): set spec.syncPolicy.retry (limit, backoff) so a bootstrap race heals by itself", [input.metadata.name, minutes, lib.env, need])
}

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
