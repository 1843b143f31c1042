package retry_test

import data.fixtures

app(retry) := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": "prod-svc-web", "namespace": "argocd"},
	"spec": {
		"project": "platform-prod",
		"syncPolicy": object.union({"automated": {"prune": true, "selfHeal": true}}, retry),
	},
}

# The platform's retry (schema/argocd_app.cue #SyncRetry): about 107 minutes.
platform_retry := {"retry": {"limit": 24, "refresh": true, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "5m"}}}

test_platform_retry_is_long_enough if {
	count(fixtures.denied(app(platform_retry), fixtures.prod)) == 0
	data.retry.retry_minutes(platform_retry.retry) == 107.5
}

# Argo CD's own example (limit 5, 10s doubling, 3 min cap): about 5 minutes.
test_short_retry_denied if {
	fixtures.only("retry.sync-window", app({"retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}}}), fixtures.prod)
}

test_no_retry_denied if {
	fixtures.only("retry.sync-window", app({}), fixtures.prod)
}

test_defaults_and_plain_seconds if {
	# limit 30 with Argo CD's default backoff: 5+10+...+160 s, then 3 min each.
	data.retry.retry_minutes({"limit": 30}) == (((5 + 10) + (20 + 40)) + ((80 + 160) + (24 * 180))) / 60
	data.retry.retry_minutes({"limit": 2, "backoff": {"duration": "60", "factor": 1, "maxDuration": "1h"}}) == 2
}

test_unlimited_retry_passes if {
	count(fixtures.denied(app({"retry": {"limit": -1}}), fixtures.prod)) == 0
}

test_manual_sync_needs_no_retry if {
	count(fixtures.denied(json.remove(app({}), ["spec/syncPolicy/automated"]), fixtures.prod)) == 0
}

# A retry block's minutes are worked out once per env: from the engine's
# data.check.env_index when it is there (a table claiming 1000 minutes wins
# over the block's own 5), else inline from the Applications of the set.
test_minutes_looked_up_per_env if {
	short := app({"retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}}})
	chk := fixtures.check("prod", [short])
	data.retry.env_index.minutes == {json.marshal(short.spec.syncPolicy.retry): data.retry.retry_minutes(short.spec.syncPolicy.retry)} with data.check as chk
	"retry.sync-window" in fixtures.denied(short, chk)
	engine := object.union(chk, {"env_index": {"retry": {"minutes": {json.marshal(short.spec.syncPolicy.retry): 1000}}}})
	not "retry.sync-window" in fixtures.denied(short, engine)
}
