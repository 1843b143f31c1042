package baseline_test

import data.fixtures
import data.lib

# The compliant fixture env passes every rule in both envs: each failing test
# elsewhere therefore fails because of the one thing it breaks.
test_good_set_is_clean_in_prod if {
	every obj in fixtures.good {
		fixtures.results(obj, fixtures.prod) == {"deny": set(), "warn": set()}
	}
}

test_good_set_is_clean_in_dr if {
	every obj in fixtures.good {
		fixtures.results(obj, fixtures.dr) == {"deny": set(), "warn": set()}
	}
}

# Findings carry msg (conftest), rule and path (the engine's line lookup).
test_finding_shape if {
	r := fixtures.results(fixtures.set(fixtures.rollout, "/spec/replicas", 1), fixtures.prod)
	some f in r.deny
	f.rule == "replicas.min"
	f.path == ["spec", "replicas"]
	f.msg == "Rollout web runs 1 replica(s); prod needs at least 3"
}

# Without data.check (plain conftest) the env comes from the object's label,
# else prod, the strictest; unknown labels fall back to prod too.
test_env_from_engine if {
	lib.env == "dr" with data.check as {"env": "dr"} with input as fixtures.rollout
}

test_env_from_label if {
	lib.env == "dr" with input as {"metadata": {"labels": {"platform.shop/env": "dr"}}}
}

test_env_default_prod if {
	lib.env == "prod" with input as {"metadata": {"labels": {"platform.shop/env": "staging"}}}
}

test_without_inventory_cross_resource_rules_stay_silent if {
	not lib.has_inventory
	r := fixtures.results(fixtures.rollout, {}) with data.check as {}
	count(r.deny) == 0
}

test_selector_operators if {
	labels := {"app": "web", "tier": "front"}
	lib.selects({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["back"]}]}, labels)
	lib.selects({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, labels)
	lib.selects({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, labels)
	not lib.selects({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, labels)
	not lib.selects({"matchLabels": {"app": "api"}}, labels)
	lib.selects({}, labels)
}

test_sensitive_names if {
	every n in ["POSTGRES_PASSWORD", "REDIS_AUTH_TOKEN", "secretAccessKey", "apiKey", "API_KEY", "db.password", "client-secret", "AWS_CREDENTIALS"] {
		lib.sensitive(n)
	}
	every n in ["PGDATA", "MONKEY", "KEYBOARD", "SECRET_NAME", "KEY_ID", "TOKEN_URL", "STORAGE_CLASS", "PASSWORD_FILE"] {
		not lib.sensitive(n)
	}
}

test_pod_spec_paths if {
	lib.pod_spec_path({"kind": "Pod"}) == ["spec"]
	lib.pod_spec_path({"kind": "CronJob"}) == ["spec", "jobTemplate", "spec", "template", "spec"]
	lib.pod_labels({"kind": "Pod", "metadata": {"labels": {"a": "b"}}}) == {"a": "b"}
}

# Every package documents its rules (the engine reads docs for SARIF).
test_every_package_documents_its_rules if {
	every pkg in ["replicas", "zones", "secrets", "releases", "datasafety", "parity", "dr"] {
		count(data[pkg].docs) > 0
		every id, text in data[pkg].docs {
			startswith(id, concat("", [pkg, "."]))
			text != ""
		}
	}
}
