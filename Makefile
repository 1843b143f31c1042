# One command renders, one tests. Everything runs from the repository root.
GO      ?= go
RENDER  := $(GO) run ./cmd/render
# CRDS: a folder of the CRDs of schema/crds.lock.yaml to verify and use (e.g.
# ../shared/crds); empty: the verified cache that `make crds` fills.
CRDS    ?=
CRDFLAG  = $(if $(CRDS),--crds $(CRDS))

.PHONY: render verify test golden check policy crds fmt fmt-check bench e2e e2e-argocd e2e-twin peers conftest-compat

## render: write rendered/<env>/ from envs/ + schema/ (what Argo CD applies)
render:
	$(RENDER)

## verify: fail with a diff when rendered/ is stale or hand-edited
verify:
	$(RENDER) --check

## test: python3 installed when missing (hack/install-test-deps.sh), rendered/ up to date and clean first (the readable answers, about a second each), then every Go test (-timeout: cmd/render alone reached go test's default 10 min on a loaded 2-core machine)
test:
	hack/install-test-deps.sh
	$(RENDER) --check
	$(RENDER) check
	$(GO) vet ./...
	$(GO) test -timeout 30m ./...

## golden: regenerate the golden files of the test fixtures, on purpose
golden:
	$(GO) test ./generator/ -run TestGolden -update

## crds: the upstream CRDs of schema/crds.lock.yaml, verified, into the user cache (from ../shared/crds where it matches, else the module proxy or the pinned release URL); prints their folder
crds:
	$(RENDER) crds fetch $(CRDFLAG)

## check: schema validation and policies over rendered/
check:
	$(RENDER) check

## policy: Rego unit tests (100% coverage gate), engine and report tests, then check rendered/
policy:
	$(GO) test ./policies/ ./internal/checker/ ./internal/report/
	$(RENDER) check $(CRDFLAG)

## fmt: format Go, CUE and Rego (cue and opa are pinned by the tool directives of go.mod)
fmt:
	gofmt -w $$(git ls-files '*.go')
	$(GO) tool cue fmt --files .
	$(GO) tool opa fmt -w policies/
	$(GO) mod tidy
	cd e2e && $(GO) mod tidy

## fmt-check: fail listing what make fmt would change (CI runs it)
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) tool cue fmt --check --files .
	$(GO) tool opa fmt --list --fail policies/
	$(GO) mod tidy -diff
	cd e2e && $(GO) mod tidy -diff

## peers: kube-score v1.20.0 (built once per machine from the module proxy) on rendered/, Rollouts as Deployments; any finding not in peers/kube-score-accepted.yaml fails
peers:
	cd peers && $(GO) test -count=1 ./...

## conftest-compat: the policies run unchanged under the opa and conftest CLIs (built from the module proxy, about 4 min cold): opa test with 100% coverage, opa fmt, conftest verify, conftest test on rendered/<env>, a bad object fails
conftest-compat:
	policies/conftest-compat.sh

## e2e: apply rendered/ to a real kube-apiserver + etcd (built once per machine, cached in ~/.cache/platform-e2e)
e2e:
	cd e2e && $(GO) run ./cmd/e2e-binaries >/dev/null
	crds=$$($(RENDER) crds fetch $(CRDFLAG)) && cd e2e && E2E_CRDS=$$crds $(GO) test -count=1 -timeout 60m ./...

## e2e-argocd: Argo CD v3.6.1 itself (built once per machine) syncs rendered/prod from a local git server: all Applications Synced, one auto-sync, one prune
e2e-argocd:
	e2e/hack/install-deps.sh
	cd e2e && $(GO) run ./cmd/e2e-binaries -argocd >/dev/null
	crds=$$($(RENDER) crds fetch $(CRDFLAG)) && cd e2e && E2E_ARGOCD_TEST=1 E2E_CRDS=$$crds $(GO) test -count=1 -v -timeout 60m ./argocd/

## e2e-twin: Argo CD v3.6.1 (argocd-cm from bootstrap/argocd-values.yaml) syncs rendered/<env> from its root app onto the real kube-scheduler, kube-controller-manager (HPA controller behind a metrics.k8s.io stand-in), Argo Rollouts and External Secrets (on kumo behind an STS/IAM stand-in) with kwok nodes in three zones (built once per machine): bring-up, blue-green release and abort, zone loss, zone drain, secrets, autoscaling, DR failover
e2e-twin:
	e2e/hack/install-deps.sh
	cd e2e && $(GO) run ./cmd/e2e-binaries -twin >/dev/null
	crds=$$($(RENDER) crds fetch $(CRDFLAG)) && cd e2e && E2E_TWIN_TEST=1 E2E_CRDS=$$crds $(GO) test -count=1 -v -timeout 60m ./twin/

## bench: the performance table of BENCHMARKS.md (peers built from the module proxy)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 5x ./generator/ ./internal/checker/ ./internal/schemacheck/
	bench/run
