#!/usr/bin/env bash
# Builds (or finds in the cache) the kube-apiserver and etcd the e2e tests run,
# at low priority, and prints their paths. Run it ahead of `make e2e` to warm
# the cache; the tests do the same thing themselves when the cache is cold.
#   E2E_CACHE_DIR   where to cache (default: <user cache dir>/platform-e2e)
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./cmd/e2e-binaries "$@"
