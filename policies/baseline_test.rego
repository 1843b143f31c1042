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
	startswith(f.msg, "Rollout web runs 1 replica(s); prod needs at least 3 (threshold prod.min_replicas in policies/thresholds.rego; to accept an exception, add a waiver")
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
	every n in ["POSTGRES_PASSWORD", "REDIS_AUTH_TOKEN", "secretAccessKey", "apiKey", "API_KEY", "db.password", "client-secret", "AWS_CREDENTIALS", "DB_PWD", "gpgPassphrase", "CREDS", "API_\u212aEY"] {
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
	every pkg in ["replicas", "zones", "secrets", "releases", "datasafety", "parity", "dr", "retry", "stores", "references", "capacity"] {
		count(data[pkg].docs) > 0
		every id, text in data[pkg].docs {
			startswith(id, concat("", [pkg, "."]))
			text != ""
		}
	}
}

# The engine hands each package its env_index precomputed
# (data.check.env_index[pkg]); the rules read it rather than rebuild it.
# Empty tables from the engine therefore change what the rules see.
test_rules_read_env_index_from_the_engine if {
	empty := object.union(fixtures.prod, {"env_index": {
		"lib": {"hpas": {}, "pod_owners": {}, "pod_owners_in": {}, "dir_apps": {}},
		"network": {"policies_by_label": {}, "policies_without_labels": {}},
		"topology": {"installed": {}},
		"secrets": {"producers": {}},
		"zones": {"pdbs": {}},
		"references": {"pods": {}, "producers": {}},
		"dr": {"backups": {}, "encrypted_locations": {}},
		"releases": {"paused_rollouts": {}, "paused_apps": {}},
	}})
	lib.max_replicas(fixtures.rollout) == 9 with data.check as fixtures.prod
	lib.max_replicas(fixtures.rollout) == 3 with data.check as empty
	denied := fixtures.denied(fixtures.rollout, empty)
	"zones.pdb-missing" in denied
	"secrets.missing-secret" in denied
	"dr.writer-unbacked" in fixtures.denied(fixtures.statefulset, empty)
}

# The engine hands env_index over as JSON (internal/checker jsonValue: sets
# become arrays), so the tables go through json.marshal here too: a rule
# that looks a set up by member would find nothing through the engine.
test_inline_env_index_matches_the_engine_shape if {
	chk := object.union(fixtures.prod, {"env_index": json.unmarshal(json.marshal({
		"lib": lib.env_index,
		"secrets": data.secrets.env_index,
		"zones": data.zones.env_index,
		"references": data.references.env_index,
		"network": data.network.env_index,
		"topology": data.topology.env_index,
		"dr": data.dr.env_index,
		"capacity": data.capacity.env_index,
		"stores": data.stores.env_index,
		"retry": data.retry.env_index,
		"awsnetwork": data.awsnetwork.env_index,
		"releases": data.releases.env_index,
	}))}) with data.check as fixtures.prod
	every obj in fixtures.good {
		fixtures.results(obj, chk) == {"deny": set(), "warn": set()}
	}
}

# dir_apps finds, for each folder, the Applications of every source path
# that is a run of whole parts of the folder (a file of it starts with
# path/ or contains /path/): the same as trying every run (dirs_by_parts),
# the empty one where two slashes meet or the folder starts with one, code
# points counted as such; folder drops the last part.
test_dir_apps_and_folder if {
	paths := ["rendered/prod/web", "prod/web/", "web", "rendered", "rendered/prod", "/repo", "repo", "a/", "/", "b", "é/ü", "ü", "other", "eb", "prod/we"]
	apps := [app_at(i, p) | some i, p in paths]
	folders := ["rendered/prod/web", "/repo/rendered", "a//b", "x", "", "/", "é/ü", "rendered/prod/webshop"]
	files := {"ConfigMap": {"": {sprintf("f%d", [i]): concat("", [f, "/x.yaml"]) | some i, f in folders}}}
	chk := {"index": fixtures.index(apps), "files": files}
	every f in folders {
		found := {a.metadata.name | some a in lib.dir_apps[f]} with data.check as chk
		found == {a.metadata.name | some a in apps; trim_suffix(a.spec.source.path, "/") in dirs_by_parts(concat("", [f, "/"]))}
	}
	{a.metadata.name | some a in lib.dir_apps["rendered/prod/web"]} == {"app-0", "app-1", "app-2", "app-3", "app-4"} with data.check as chk
	{a.metadata.name | some a in lib.dir_apps["a//b"]} == {"app-7", "app-8", "app-9"} with data.check as chk
	lib.folder("é/ü/c.yaml") == "é/ü"
	lib.folder("/a.yaml") == ""
	lib.folder("a//b.yaml") == "a/"
	not lib.folder("a.yaml")
}

app_at(i, path) := {
	"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
	"metadata": {"name": sprintf("app-%d", [i]), "namespace": "argocd"},
	"spec": {"source": {"path": path}},
}

dirs_by_parts(file) := {concat("/", array.slice(parts, i, j)) |
	parts := split(file, "/")
	count(parts) > 1
	some i in numbers.range(0, count(parts) - 2)
	some j in numbers.range(i + 1, count(parts) - 1)
	j > i
}
