#!/usr/bin/env bash
# Installs the system packages `make test` runs beside Go: python3, which
# compiles the Spark script the analytics state machine uploads and runs its
# day selection (schema TestSparkScriptCompiles, TestSparkScriptKeepsEveryDay:
# schema/testdata/log_summary_days.py needs only python3-minimal's modules).
# Debian/Ubuntu; needs root or sudo. Does nothing when python3 is already
# installed.
set -euo pipefail
if command -v python3 >/dev/null; then
	exit 0
fi
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# python3-minimal holds the interpreter and py_compile, all the test runs.
$sudo apt-get install -y -qq --no-install-recommends python3-minimal
