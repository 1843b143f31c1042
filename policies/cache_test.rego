package cache_test

import data.cache
import data.fixtures

disabled := "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"

optimized := "658327ea-f89d-4fab-a63d-7e88639e58f6"

all_viewer := "216adef6-5c7f-47e4-b989-5492eafa07d3"

all_viewer_except_host := "b689b0a8-53d0-40ab-baf2-68738e2966ac"

host_only := "bf0718e1-ba1e-49d1-88b1-f726733018ae"

catalog_id := "2f3a9c1e-7b4d-4e8a-9c6f-1d2e3f4a5b6c"

personal := {"shared": false, "session": {"cookies": ["session"], "headers": ["Authorization"]}, "assets": []}

ingress(name, path, edge) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
	"metadata": {"name": name, "namespace": "shop", "annotations": {"platform.shop/edge-cache": json.marshal(edge)}},
	"spec": {"rules": [
		{"host": "shop.example.com", "http": {"paths": [{"path": path, "pathType": "Prefix"}]}},
		# the front door's health rule for any host: Exact, not a Prefix path
		{"http": {"paths": [{"path": "/healthz", "pathType": "Exact"}]}},
	]},
}

storefront := ingress("storefront", "/", object.union(personal, {"assets": ["/static/"]}))

catalog := ingress("catalog", "/api/catalog", {"shared": true, "session": {"cookies": [], "headers": []}, "assets": []})

cart := ingress("cart", "/api/cart", personal)

catalog_policy := {
	"apiVersion": "cloudfront.aws.upbound.io/v1beta2", "kind": "CachePolicy",
	"metadata": {"name": "shop-catalog", "annotations": {"crossplane.io/external-name": catalog_id}},
	"spec": {"forProvider": {
		"name": "shop-catalog", "minTtl": 0, "defaultTtl": 60, "maxTtl": 300,
		"parametersInCacheKeyAndForwardedToOrigin": {
			"cookiesConfig": {"cookieBehavior": "none"},
			"headersConfig": {"headerBehavior": "none"},
			"queryStringsConfig": {"queryStringBehavior": "all"},
		},
	}},
}

behaviour(pattern, cache_policy, origin_request_policy) := {
	"pathPattern": pattern, "targetOriginId": "origin",
	"cachePolicyId": cache_policy, "originRequestPolicyId": origin_request_policy,
}

distribution := {
	"apiVersion": "cloudfront.aws.upbound.io/v1beta2", "kind": "Distribution",
	"metadata": {"name": "shop-cdn"},
	"spec": {"forProvider": {
		"origin": [{"originId": "origin", "domainName": "origin.shop.example.com"}],
		"defaultCacheBehavior": {"targetOriginId": "origin", "cachePolicyId": disabled, "originRequestPolicyId": all_viewer},
		"orderedCacheBehavior": [
			behaviour("/api/catalog/*", catalog_id, host_only),
			behaviour("/api/catalog", catalog_id, host_only),
			behaviour("/api/cart/*", disabled, all_viewer),
			behaviour("/api/cart", disabled, all_viewer),
			behaviour("/static/*", optimized, host_only),
		],
	}},
}

good := [storefront, catalog, cart, catalog_policy, distribution]

findings(obj, objs) := r if {
	r := {"deny": {f.rule | some f in cache.deny}, "warn": {f.rule | some f in cache.warn}} with input as obj with data.check as fixtures.check("prod", objs)
}

denied(obj, objs) := findings(obj, objs).deny

warned(obj, objs) := findings(obj, objs).warn

# with_behaviours replaces the ordered behaviours matching patterns.
with_behaviours(d, patterns, cache_policy, origin_request_policy) := fixtures.set(d, "/spec/forProvider/orderedCacheBehavior", [b |
	some old in d.spec.forProvider.orderedCacheBehavior
	b := replaced(old, patterns, cache_policy, origin_request_policy)
])

replaced(old, patterns, c, o) := behaviour(old.pathPattern, c, o) if old.pathPattern in patterns

replaced(old, patterns, _, _) := old if not old.pathPattern in patterns

cart_patterns := {"/api/cart", "/api/cart/*"}

test_platform_is_clean if {
	every obj in good {
		findings(obj, good) == {"deny": set(), "warn": set()}
	}

	# without the env's objects (plain conftest) the rules stay silent
	count(cache.deny) + count(cache.warn) == 0 with input as with_behaviours(distribution, cart_patterns, optimized, all_viewer)
}

test_personal_path_on_a_shared_cache if {
	d := with_behaviours(distribution, cart_patterns, optimized, all_viewer)
	denied(d, fixtures.swap(good, d)) == {"cache.personalised-path-cached"}

	# the front door, by the default behaviour
	front := fixtures.set(distribution, "/spec/forProvider/defaultCacheBehavior/cachePolicyId", optimized)
	denied(front, fixtures.swap(good, front)) == {"cache.personalised-path-cached"}
}

custom_policy(name, id, params) := {
	"apiVersion": "cloudfront.aws.upbound.io/v1beta2", "kind": "CachePolicy",
	"metadata": {"name": name, "annotations": {"crossplane.io/external-name": id}},
	# no TTLs: the API's defaults (a day, a year)
	"spec": {"forProvider": {"name": name, "parametersInCacheKeyAndForwardedToOrigin": params}},
}

per_viewer_id := "11111111-2222-3333-4444-555555555555"

test_a_cache_keyed_on_the_whole_session_is_no_leak if {
	keyed := custom_policy("per-viewer", per_viewer_id, {
		"cookiesConfig": {"cookieBehavior": "whitelist", "cookies": {"items": ["session"]}},
		"headersConfig": {"headerBehavior": "whitelist", "headers": {"items": ["authorization"]}},
	})
	d := with_behaviours(distribution, cart_patterns, per_viewer_id, all_viewer)
	objs := array.concat(fixtures.swap(good, d), [keyed])
	denied(d, objs) == set()

	# every cookie but another one: the session is in the key
	all_but := fixtures.set(keyed, "/spec/forProvider/parametersInCacheKeyAndForwardedToOrigin/cookiesConfig", {"cookieBehavior": "allExcept", "cookies": {"items": ["tracking"]}})
	denied(d, array.concat(fixtures.swap(good, d), [all_but])) == set()
}

test_a_cache_keyed_on_part_of_the_session if {
	cookie_only := custom_policy("per-cookie", per_viewer_id, {
		"cookiesConfig": {"cookieBehavior": "whitelist", "cookies": {"items": ["session"]}},
		"headersConfig": {"headerBehavior": "none"},
	})
	d := with_behaviours(distribution, cart_patterns, per_viewer_id, all_viewer)
	denied(d, array.concat(fixtures.swap(good, d), [cookie_only])) == {"cache.personalised-path-cached"}

	# every cookie except the session one
	except_session := fixtures.set(cookie_only, "/spec/forProvider/parametersInCacheKeyAndForwardedToOrigin/cookiesConfig", {"cookieBehavior": "allExcept", "cookies": {"items": ["session"]}})
	denied(d, array.concat(fixtures.swap(good, d), [except_session])) == {"cache.personalised-path-cached"}
}

# The forwardedValues of a behaviour without a cache policy: what the
# Distribution had before the policies (every cookie, the Host, 300 s).
legacy_page := {
	"targetOriginId": "origin", "maxTtl": 300, "defaultTtl": 0, "minTtl": 0,
	"forwardedValues": {"cookies": {"forward": "all"}, "headers": ["Host"], "queryString": true},
}

test_legacy_forwarded_values if {
	# every cookie, but not Authorization, in the key of a page kept 300 s
	d := fixtures.set(distribution, "/spec/forProvider/defaultCacheBehavior", legacy_page)
	denied(d, fixtures.swap(good, d)) == {"cache.personalised-path-cached"}

	# every header: the whole session is in the key
	all_headers := fixtures.set(d, "/spec/forProvider/defaultCacheBehavior/forwardedValues/headers", ["*"])
	denied(all_headers, fixtures.swap(good, all_headers)) == set()

	# nothing forwarded (no forwardedValues): kept a day by default, per path; no Host either
	bare := fixtures.set(distribution, "/spec/forProvider/defaultCacheBehavior", {"targetOriginId": "origin"})
	denied(bare, fixtures.swap(good, bare)) == {"cache.personalised-path-cached", "cache.origin-host"}

	# a whitelist of cookies without the session one, kept 0 s: never cached
	uncached := fixtures.set(d, "/spec/forProvider/defaultCacheBehavior", object.union(legacy_page, {"maxTtl": 0, "forwardedValues": {"cookies": {"forward": "whitelist", "whitelistedNames": ["currency"]}, "headers": ["Host"], "queryString": false}}))
	denied(uncached, fixtures.swap(good, uncached)) == set()
}

test_assets_not_cached if {
	d := with_behaviours(distribution, {"/static/*"}, disabled, host_only)
	warned(d, fixtures.swap(good, d)) == {"cache.static-not-cached"}
	denied(d, fixtures.swap(good, d)) == set()

	# no behaviour of their own: the front door's, which never caches
	gone := fixtures.set(distribution, "/spec/forProvider/orderedCacheBehavior", [b | some b in distribution.spec.forProvider.orderedCacheBehavior; b.pathPattern != "/static/*"])
	warned(gone, fixtures.swap(good, gone)) == {"cache.static-not-cached"}

	# cached, but a copy per cookie set
	per_cookie := custom_policy("per-cookie", per_viewer_id, {
		"cookiesConfig": {"cookieBehavior": "all"},
		"headersConfig": {"headerBehavior": "none"},
	})
	c := with_behaviours(distribution, {"/static/*"}, per_viewer_id, host_only)
	warned(c, array.concat(fixtures.swap(good, c), [per_cookie])) == {"cache.static-not-cached"}
}

test_behaviour_without_an_ingress if {
	d := fixtures.set(distribution, "/spec/forProvider/orderedCacheBehavior/-", behaviour("/api/search*", disabled, all_viewer))
	denied(d, fixtures.swap(good, d)) == {"cache.behavior-without-ingress"}

	# the cart moved away: its behaviours stayed
	denied(distribution, fixtures.drop(good, cart)) == {"cache.behavior-without-ingress"}
}

test_origin_host_dropped if {
	d := with_behaviours(distribution, cart_patterns, disabled, all_viewer_except_host)
	denied(d, fixtures.swap(good, d)) == {"cache.origin-host"}

	# an Ingress that also answers the origin's name needs no viewer Host
	both := fixtures.set(cart, "/spec/rules/-", {"host": "origin.shop.example.com", "http": {"paths": [{"path": "/api/cart", "pathType": "Prefix"}]}})
	denied(d, fixtures.swap(fixtures.swap(good, d), both)) == set()
}

orp(id, headers) := {
	"apiVersion": "cloudfront.aws.upbound.io/v1beta2", "kind": "OriginRequestPolicy",
	"metadata": {"name": id, "annotations": {"crossplane.io/external-name": id}},
	"spec": {"forProvider": {"headersConfig": headers, "cookiesConfig": {"cookieBehavior": "all"}, "queryStringsConfig": {"queryStringBehavior": "all"}}},
}

orp_id := "99999999-8888-7777-6666-555555555555"

with_policy(d, policy) := array.concat(fixtures.swap(good, d), [policy])

test_custom_origin_request_policies if {
	d := with_behaviours(distribution, cart_patterns, disabled, orp_id)
	denied(d, with_policy(d, orp(orp_id, {"headerBehavior": "whitelist", "headers": {"items": ["Origin"]}}))) == {"cache.origin-host"}
	denied(d, with_policy(d, orp(orp_id, {"headerBehavior": "whitelist", "headers": {"items": ["host"]}}))) == set()
	denied(d, with_policy(d, orp(orp_id, {"headerBehavior": "allViewer"}))) == set()
	denied(d, with_policy(d, orp(orp_id, {"headerBehavior": "allExcept", "headers": {"items": ["X-Debug"]}}))) == set()
	denied(d, with_policy(d, orp(orp_id, {"headerBehavior": "allExcept", "headers": {"items": ["Host"]}}))) == {"cache.origin-host"}
}

test_unknown_policies if {
	typo := with_behaviours(distribution, cart_patterns, "4135ea2d-6df8-44a3-9df3-4b5a84be39ae", all_viewer)
	denied(typo, fixtures.swap(good, typo)) == {"cache.unknown-policy"}

	# the shared path's CachePolicy not bound to its id yet
	denied(distribution, fixtures.drop(good, catalog_policy)) == {"cache.unknown-policy"}

	orp_typo := with_behaviours(distribution, cart_patterns, disabled, orp_id)
	denied(orp_typo, fixtures.swap(good, orp_typo)) == {"cache.unknown-policy"}
}

test_path_patterns if {
	cache.matches("/api/cart/*", "/api/cart/items")
	not cache.matches("/api/cart/*", "/api/cart")
	cache.matches("/api/cart", "/api/cart")
	not cache.matches("/api/cart", "/api/cartography")
	cache.matches("/img/?.png", "/img/a.png")
	not cache.matches("/img/?.png", "/img/ab.png")
	not cache.matches("/a.b", "/axb")
}

test_docs if {
	every id, text in cache.docs {
		startswith(id, "cache.")
		text != ""
	}
}
