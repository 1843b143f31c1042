#!/usr/bin/env bash
# Validates `render check --format sarif` with Microsoft's SARIF Multitool
# (npm @microsoft/sarif-multitool-linux), rule kinds Sarif (the 2.1.0 spec)
# and Gh (what GitHub code scanning requires). Any error or warning fails.
#
#   policies/sarif-validate.sh [render check args...]     from the repository root
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm install --silent --no-audit --no-fund @microsoft/sarif-multitool-linux@5.7.0 >/dev/null)
tool=$tmp/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
chmod u+x "$tool"
go run ./cmd/render check --format sarif "$@" >"$tmp/check.sarif" || [[ $? == 1 ]]
out=$(DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 "$tool" validate "$tmp/check.sarif" -o "$tmp/validation.sarif" --log ForceOverwrite --rule-kind "Sarif;Gh")
if grep -qE ": (error|warning) " <<<"$out"; then
	echo "$out"
	exit 1
fi
echo "SARIF valid (Sarif + GitHub rules): $(grep -c '"ruleId"' "$tmp/check.sarif") result(s)"
