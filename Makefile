# One command renders, one tests. Everything runs from the repository root.
GO      ?= go
RENDER  := $(GO) run ./cmd/render
CRDS    ?= ../shared/crds

.PHONY: render verify test golden check fmt bench e2e e2e-argocd

## render: write rendered/<env>/ from envs/ + schema/ (what Argo CD applies)
render:
	$(RENDER)

## verify: fail with a diff when rendered/ is stale or hand-edited
verify:
	$(RENDER) --check

## test: every test: Go (golden files, CLI, policies, schemas) and rendered/ up to date
test:
	$(GO) vet ./...
	$(GO) test ./...
	$(RENDER) --check

## golden: regenerate the golden files of the test fixtures, on purpose
golden:
	$(GO) test ./generator/ -run TestGolden -update

## check: schema validation and policies over rendered/
check:
	$(RENDER) check

## policy: Rego unit tests (100% coverage gate), engine and report tests, then check rendered/
policy:
	$(GO) test ./policies/ ./internal/checker/ ./internal/report/
	$(RENDER) check --crds $(CRDS)

## fmt: format Go and CUE
fmt:
	gofmt -w $$(git ls-files '*.go')
	$(GO) run cuelang.org/go/cmd/cue fmt ./...
