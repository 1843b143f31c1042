#!/usr/bin/env bash
# Installs the system packages the Argo CD end-to-end tests (make e2e-argocd,
# make e2e-twin) run beside the binaries they build: Redis (Argo CD's cache)
# and git (the test's git server, `git http-backend`, and the git
# argocd-repo-server runs). Debian/Ubuntu only;
# needs root or sudo. Does nothing when both are already installed.
set -euo pipefail
if command -v redis-server >/dev/null && command -v git >/dev/null &&
	[ -x "$(git --exec-path)/git-http-backend" ]; then
	exit 0
fi
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# --no-install-recommends: no redis-tools/sentinel, no service to enable.
$sudo apt-get install -y -qq --no-install-recommends redis-server git
# The package may start a system-wide redis on 6379; the test runs its own on a
# free port and needs none.
