# CloudFront caching. A response CloudFront keeps and keys without the
# session it depends on is served to the next viewer; a behaviour without an
# Ingress path behind it, or one that drops the viewer's Host the Ingress
# routes by, gets the ALB's 404; asset folders that are not cached send
# every request to the origin. What each path's responses depend on (its
# session cookies and headers) and its asset folders are on its Ingress
# (annotation platform.shop/edge-cache, from the service catalogue:
# schema/aws_edge_cache.cue).
package cache

import data.lib

docs := {
	"cache.personalised-path-cached": "A path whose responses depend on the viewer's session (the cookies and headers its Ingress's platform.shop/edge-cache names) is served by a CloudFront behaviour that never caches, or whose cache key holds every one of them: a cache keyed without them hands one viewer's cart to the next.",
	"cache.static-not-cached": "An asset folder of an Ingress (versioned file names) is served by a behaviour that caches, keyed without cookies; otherwise every request for a file reaches the origin.",
	"cache.behavior-without-ingress": "Every ordered cache behaviour's pathPattern is an Ingress path of the set (the path or path/*, as the ALB reads a Prefix path) or one of its asset folders: a behaviour nothing routes caches another service's responses under rules meant for a path that moved.",
	"cache.origin-host": "A behaviour whose origin requests lack the viewer's Host (neither its cache key nor its origin request policy carries it) has Ingress rules for that Host behind it only if they also answer the origin's own name: the ALB routes by host, and answers anything else with its default 404.",
	"cache.unknown-policy": "A behaviour's cachePolicyId and originRequestPolicyId are CloudFront managed policies or the crossplane.io/external-name of a CachePolicy/OriginRequestPolicy in the set: CloudFront refuses a distribution naming a policy that does not exist.",
}

annotation := "platform.shop/edge-cache"

distribution_key := "Distribution.cloudfront.aws.upbound.io"

cache_policy_key := "CachePolicy.cloudfront.aws.upbound.io"

origin_request_policy_key := "OriginRequestPolicy.cloudfront.aws.upbound.io"

ingress_key := "Ingress.networking.k8s.io"

year := 31536000

# CloudFront's managed cache policies, as cache keys (Amazon CloudFront
# Developer Guide, "Use managed cache policies").
managed_cache_policies := {
	"658327ea-f89d-4fab-a63d-7e88639e58f6": key("CachingOptimized", [1, 86400, year], none, none, none),
	"b2884449-e4de-46a7-ac36-70bc7f1ddd6d": key("CachingOptimizedForUncompressedObjects", [1, 86400, year], none, none, none),
	"4135ea2d-6df8-44a3-9df3-4b5a84be39ad": key("CachingDisabled", [0, 0, 0], none, none, none),
	"83da9c7e-98b4-4e11-a168-04f0df8e2c65": key("UseOriginCacheControlHeaders", [0, 0, year], all, origin_cache_control_headers, none),
	"4cc15a8a-d715-48a4-82b8-cc0b614638fe": key("UseOriginCacheControlHeaders-QueryStrings", [0, 0, year], all, origin_cache_control_headers, all),
}

none := {"behavior": "none", "items": set()}

all := {"behavior": "all", "items": set()}

origin_cache_control_headers := {"behavior": "whitelist", "items": {"Host", "Origin", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}}

key(name, ttl, cookies, headers, query_strings) := {
	"name": name,
	"ttl": {"min": ttl[0], "default": ttl[1], "max": ttl[2]},
	"cookies": cookies, "headers": headers, "queryStrings": query_strings,
}

# CloudFront's managed origin request policies, by the headers they forward
# ("Use managed origin request policies").
managed_origin_request_policies := {
	"216adef6-5c7f-47e4-b989-5492eafa07d3": {"name": "AllViewer", "behavior": "allViewer", "items": set()},
	"33f36d7e-f396-46d9-90e0-52428a34d9dc": {"name": "AllViewerAndCloudFrontHeaders-2022-06", "behavior": "allViewerAndWhitelistCloudFront", "items": set()},
	"b689b0a8-53d0-40ab-baf2-68738e2966ac": {"name": "AllViewerExceptHostHeader", "behavior": "allExcept", "items": {"Host"}},
	"59781a5b-3903-41f3-afcb-af62929ccde1": {"name": "CORS-CustomOrigin", "behavior": "whitelist", "items": {"Origin"}},
	"88a5eaf4-2fd4-4709-b370-b4c650ea3fcf": {"name": "CORS-S3Origin", "behavior": "whitelist", "items": {"Origin", "Access-Control-Request-Headers", "Access-Control-Request-Method"}},
	"bf0718e1-ba1e-49d1-88b1-f726733018ae": {"name": "HostHeaderOnly", "behavior": "whitelist", "items": {"Host"}},
	"acba4595-bd28-49b8-b9fe-13317c0390fa": {"name": "UserAgentRefererHeaders", "behavior": "whitelist", "items": {"User-Agent", "Referer"}},
}

external_name(obj) := obj.metadata.annotations["crossplane.io/external-name"]

custom(k, id) := [o | some o in lib.objects(k, ""); external_name(o) == id]

# cache_key is what a behaviour keys its cache on, and for how long it keeps
# a response: a managed policy, a CachePolicy of the set (by its
# external name, the id CloudFront gave it), or the legacy forwardedValues.
cache_key(b) := managed_cache_policies[b.cachePolicyId]

cache_key(b) := custom_key(custom(cache_policy_key, b.cachePolicyId)[0].spec.forProvider) if {
	not managed_cache_policies[b.cachePolicyId]
}

cache_key(b) := legacy_key(b) if not b.cachePolicyId

custom_key(fp) := {
	"ttl": ttl(fp, "minTtl", "defaultTtl", "maxTtl"),
	"cookies": config(object.get(params, "cookiesConfig", {}), "cookieBehavior", "cookies"),
	"headers": config(object.get(params, "headersConfig", {}), "headerBehavior", "headers"),
	"queryStrings": config(object.get(params, "queryStringsConfig", {}), "queryStringBehavior", "queryStrings"),
} if params := fp.parametersInCacheKeyAndForwardedToOrigin

# The API's defaults when a TTL is not set.
ttl(obj, lo, def, hi) := {"min": object.get(obj, lo, 0), "default": object.get(obj, def, 86400), "max": object.get(obj, hi, year)}

config(c, behavior, items) := {"behavior": object.get(c, behavior, "none"), "items": {x | some x in object.get(c, [items, "items"], [])}}

legacy_key(b) := {
	"ttl": ttl(b, "minTtl", "defaultTtl", "maxTtl"),
	"cookies": {"behavior": object.get(fv, ["cookies", "forward"], "none"), "items": {x | some x in object.get(fv, ["cookies", "whitelistedNames"], [])}},
	"headers": {"behavior": "whitelist", "items": {x | some x in object.get(fv, "headers", [])}},
	"queryStrings": {"behavior": legacy_query_strings[object.get(fv, "queryString", false)], "items": set()},
} if fv := object.get(b, "forwardedValues", {})

legacy_query_strings := {true: "all", false: "none"}

caches(k) if k.ttl.max > 0

keyed(k, "cookie", name) if k.cookies.behavior == "all"

keyed(k, "cookie", name) if {
	k.cookies.behavior == "whitelist"
	name in k.cookies.items
}

keyed(k, "cookie", name) if {
	k.cookies.behavior == "allExcept"
	not name in k.cookies.items
}

keyed(k, "header", name) if lower(name) in {lower(h) | some h in k.headers.items}

# A legacy behaviour forwarding "*" keys on every header.
keyed(k, "header", _) if "*" in k.headers.items

keys_cookies(k) if k.cookies.behavior != "none"

# host_forwarded: the origin request carries the viewer's Host, from the
# cache key or the origin request policy.
host_forwarded(b) if keyed(cache_key(b), "header", "Host")

host_forwarded(b) if orp_forwards_host(origin_request_policy(b))

origin_request_policy(b) := managed_origin_request_policies[b.originRequestPolicyId]

origin_request_policy(b) := config(custom(origin_request_policy_key, b.originRequestPolicyId)[0].spec.forProvider.headersConfig, "headerBehavior", "headers") if {
	not managed_origin_request_policies[b.originRequestPolicyId]
}

# known_policies: both policies of a behaviour are known (cache.unknown-policy
# reports the others).
known_policies(b) if {
	cache_key(b)
	not b.originRequestPolicyId
}

known_policies(b) if {
	cache_key(b)
	origin_request_policy(b)
}

orp_forwards_host(p) if p.behavior in {"allViewer", "allViewerAndWhitelistCloudFront"}

orp_forwards_host(p) if {
	p.behavior == "whitelist"
	"host" in {lower(h) | some h in p.items}
}

orp_forwards_host(p) if {
	p.behavior == "allExcept"
	not "host" in {lower(h) | some h in p.items}
}

# behaviours of a Distribution: [field path, behaviour].
behaviours(d) := array.concat(
	[[["spec", "forProvider", "defaultCacheBehavior"], d.spec.forProvider.defaultCacheBehavior]],
	[[["spec", "forProvider", "orderedCacheBehavior", i], b] | some i, b in object.get(d.spec.forProvider, "orderedCacheBehavior", [])],
)

# serving is the [path, behaviour] CloudFront applies to a request path of
# the input Distribution: the first ordered behaviour whose pattern matches,
# else the default.
serving(request) := behaviours(input)[min(matching(request)) + 1] if count(matching(request)) > 0

serving(request) := behaviours(input)[0] if count(matching(request)) == 0

# matching lists the ordered behaviours whose pattern matches the request.
# A pattern matches only requests that begin with its literal start (the
# text before its first wildcard), so the candidates are looked up by each
# start of the request instead of trying every behaviour: the distribution
# has behaviours per service and is asked about every Ingress path of the
# set, which tried one by one is quadratic in services.
matching(request) := {i |
	some n in numbers.range(0, count(request))
	some i in ordered_starts[substring(request, 0, n)]
	matches(input.spec.forProvider.orderedCacheBehavior[i].pathPattern, request)
}

# ordered_starts[start] lists the behaviours whose pattern has that literal
# start. A complete rule, so it is built once per evaluation: a partial set
# looked up by key is evaluated again for every lookup.
ordered_starts := {start: ids |
	some start, ids in ordered_by_start
}

ordered_by_start[literal_start(b.pathPattern)] contains i if {
	some i, b in object.get(input.spec.forProvider, "orderedCacheBehavior", [])
}

literal_start(pattern) := split(split(pattern, "*")[0], "?")[0]

# A CloudFront path pattern: * is any run of characters, ? one.
matches(pattern, path) if regex.match(concat("", ["^", replace(replace(regex.replace(pattern, `[.+^$(){}|\[\]\\]`, `\${0}`), "*", ".*"), "?", "."), "$"]), path)

# The Ingress paths of the set, with the catalogue's cache settings.
ingress_paths contains {"ingress": ing, "path": p.path, "hosts": hosts(ing, p.path), "edge": edge} if {
	some by_name in lib.index[ingress_key]
	some same_name in by_name
	some ing in same_name
	edge := json.unmarshal(ing.metadata.annotations[annotation])
	some rule in ing.spec.rules
	some p in rule.http.paths
	p.pathType == "Prefix"
}

hosts(ing, path) := {object.get(rule, "host", "") | some rule in ing.spec.rules; some p in rule.http.paths; p.path == path}

dir(path) := trim_suffix(path, "/")

# probes are request paths under an Ingress path: the path and one below it.
probes(path) := {path, concat("/", [dir(path), "x"])}

# patterns an Ingress path stands behind (what schema/aws_edge_cache.cue makes).
patterns_of(ip) := {dir(ip.path), concat("", [dir(ip.path), "/*"])} | {concat("", [a, "*"]) | some a in ip.edge.assets} if ip.path != "/"

patterns_of(ip) := {concat("", [a, "*"]) | some a in ip.edge.assets} if ip.path == "/"

# behind lists the Ingress paths behind a behaviour.
behind(b) := object.get(paths_by_pattern, b.pathPattern, set()) if b.pathPattern

# paths_by_pattern[pattern] holds the Ingress paths standing behind it.
paths_by_pattern[pattern] contains ip if {
	some ip in ingress_paths
	some pattern in patterns_of(ip)
}

behind(b) := {ip | some ip in ingress_paths; ip.path == "/"} if not b.pathPattern

session(edge) := {["cookie", c] | some c in edge.session.cookies} | {["header", h] | some h in edge.session.headers}

# cache.personalised-path-cached: a session-dependent path on a behaviour
# that caches with a key missing part of the session.
deny contains lib.finding("cache.personalised-path-cached", msg, path) if {
	input.kind == "Distribution" # the kind first: OPA's rule index skips the rule for other kinds
	lib.key(input) == distribution_key
	lib.has_inventory
	some ip in ingress_paths
	some [kind, name] in session(ip.edge)
	some request in probes(ip.path)
	[path, b] := serving(request)
	k := cache_key(b)
	caches(k)
	not keyed(k, kind, name)
	msg := sprintf("Distribution %s: behaviour %s caches %s (Ingress %s/%s) for up to %ds with a cache key without the %s %s its responses depend on: one viewer's response would be served to the next (or, when it is not forwarded, one anonymous response to all); key it on the session, or use CachingDisabled (4135ea2d-6df8-44a3-9df3-4b5a84be39ad)", [input.metadata.name, object.get(b, "pathPattern", "(default)"), request, lib.namespace(ip.ingress), ip.ingress.metadata.name, k.ttl.max, kind, name])
}

# cache.static-not-cached: an asset folder served uncached or per cookie.
warn contains lib.finding("cache.static-not-cached", msg, path) if {
	input.kind == "Distribution" # the kind first: OPA's rule index skips the rule for other kinds
	lib.key(input) == distribution_key
	lib.has_inventory
	some ip in ingress_paths
	some a in ip.edge.assets
	[path, b] := serving(concat("", [a, "x"]))
	some why in not_cached(cache_key(b))
	msg := sprintf("Distribution %s: the asset folder %s of Ingress %s/%s is served by behaviour %s, which %s: every request for a versioned file reaches the origin; use CachingOptimized (658327ea-f89d-4fab-a63d-7e88639e58f6)", [input.metadata.name, a, lib.namespace(ip.ingress), ip.ingress.metadata.name, object.get(b, "pathPattern", "(default)"), why])
}

not_cached(k) := {"never caches"} if not caches(k)

not_cached(k) := {"keys its cache on cookies (a copy per viewer)"} if {
	caches(k)
	keys_cookies(k)
}

# cache.behavior-without-ingress: an ordered behaviour no Ingress path is behind.
deny contains lib.finding("cache.behavior-without-ingress", msg, path) if {
	input.kind == "Distribution" # the kind first: OPA's rule index skips the rule for other kinds
	lib.key(input) == distribution_key
	lib.has_inventory
	some [path, b] in behaviours(input)
	b.pathPattern
	count(behind(b)) == 0
	msg := sprintf("Distribution %s: behaviour %s is no Ingress path of the set nor an asset folder of one (Ingress paths: %s): its policy applies to responses of whatever the ALB routes there; remove it or fix the path", [input.metadata.name, b.pathPattern, concat(", ", sort({ip.path | some ip in ingress_paths}))])
}

# cache.origin-host: the ALB sees the origin's own name, which no rule of
# the Ingress behind the behaviour answers.
deny contains lib.finding("cache.origin-host", msg, path) if {
	input.kind == "Distribution" # the kind first: OPA's rule index skips the rule for other kinds
	lib.key(input) == distribution_key
	lib.has_inventory
	some [path, b] in behaviours(input)
	known_policies(b)
	not host_forwarded(b)
	origin := [o.domainName | some o in input.spec.forProvider.origin; o.originId == b.targetOriginId][0]
	some ip in behind(b)
	not origin in ip.hosts
	not "" in ip.hosts
	msg := sprintf("Distribution %s: behaviour %s sends its origin requests without the viewer's Host, so the ALB sees %s, which no rule of Ingress %s/%s for %s answers (hosts: %s): every request gets the ALB's 404; forward the Host (HostHeaderOnly bf0718e1-ba1e-49d1-88b1-f726733018ae, AllViewer 216adef6-5c7f-47e4-b989-5492eafa07d3), not AllViewerExceptHostHeader", [input.metadata.name, object.get(b, "pathPattern", "(default)"), origin, lib.namespace(ip.ingress), ip.ingress.metadata.name, ip.path, concat(", ", sort(ip.hosts))])
}

# cache.unknown-policy: a policy id that is neither managed nor in the set.
deny contains lib.finding("cache.unknown-policy", msg, array.concat(path, [field])) if {
	input.kind == "Distribution" # the kind first: OPA's rule index skips the rule for other kinds
	lib.key(input) == distribution_key
	lib.has_inventory
	some [path, b] in behaviours(input)
	some field, [table, k] in {"cachePolicyId": [managed_cache_policies, cache_policy_key], "originRequestPolicyId": [managed_origin_request_policies, origin_request_policy_key]}
	id := b[field]
	not table[id]
	count(custom(k, id)) == 0
	msg := sprintf("Distribution %s: behaviour %s names %s %s, which is neither a CloudFront managed policy (the table in policies/cache.rego) nor the crossplane.io/external-name of a %s in the set: CloudFront refuses the distribution", [input.metadata.name, object.get(b, "pathPattern", "(default)"), field, id, split(k, ".")[0]])
}
