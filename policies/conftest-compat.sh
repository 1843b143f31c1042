#!/usr/bin/env bash
# Checks that the policies run unchanged under the real OPA and conftest CLIs,
# the tools users already know. Builds both from the Go module proxy into a
# temporary folder (opa: the tool go.mod pins; conftest, its own module:
# about 4 min with an empty build cache) unless OPA/CONFTEST point at
# binaries.
#
#   policies/conftest-compat.sh            from the repository root
#   OPA=/path/opa CONFTEST=/path/conftest policies/conftest-compat.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CONFTEST_VERSION=v0.71.1
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
if [[ -z "${OPA:-}" ]]; then
	# The opa tool of go.mod (`go tool opa`): the OPA that render embeds.
	go build -o "$bin/opa" github.com/open-policy-agent/opa
	OPA=$bin/opa
fi
if [[ -z "${CONFTEST:-}" ]]; then
	# conftest is its own module: build it outside this one's go.mod.
	(cd "$bin" && GOFLAGS= GOBIN=$bin go install "github.com/open-policy-agent/conftest@$CONFTEST_VERSION")
	CONFTEST=$bin/conftest
fi

echo "== opa test policies/ (with coverage)"
"$OPA" test policies/
"$OPA" test --coverage --threshold 100 policies/ >/dev/null

echo "== opa fmt --list policies/ (must list nothing)"
unformatted=$("$OPA" fmt --list policies/)
if [[ -n "$unformatted" ]]; then
	echo "not formatted (run opa fmt -w policies/):"
	echo "$unformatted"
	exit 1
fi

echo "== conftest verify -p policies (the same unit tests)"
"$CONFTEST" verify --no-color -p policies

for env in rendered/*/; do
	echo "== conftest test --all-namespaces -p policies $env"
	"$CONFTEST" test --no-color --all-namespaces -p policies "$env" | tail -1
done

echo "== conftest must fail a bad object"
bad=$bin/bad.yaml
cat >"$bad" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: api
        image: registry/api:latest
        env:
        - {name: DB_PASSWORD, value: not-a-real-secret}
YAML
if out=$("$CONFTEST" test --no-color --all-namespaces -p policies "$bad"); then
	echo "conftest passed a bad object:"
	echo "$out"
	exit 1
fi
echo "$out" | grep FAIL
echo "conftest compatibility: OK"
