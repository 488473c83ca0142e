# tokenkeeper — every entry point a developer or CI needs.
# Quick start: `make demo`, then `make test`.

GO        ?= go
TOOLS     := $(GO) tool -modfile=tools/go.mod
BIN       := bin
# The tokenkeeper binaries the benchmarks measure (bench-front, bench-exec,
# bench-plugin): bin/ as `make build` leaves it, or another build's directory.
TOKENKEEPER_BIN ?= $(abspath $(BIN))
GOFLAGS_TEST ?= -race
# The per-machine cache of built tools (Packer, golangci-lint, vcsim, release
# tools), each keyed by version and go.sum hash; in bin/ when HOME is unset.
TOKENKEEPER_CACHE ?= $(if $(HOME),$(HOME)/.cache/tokenkeeper-dev,$(CURDIR)/$(BIN)/.cache)

.PHONY: all build test unit generate generate-check lint vet fmt-check demo bench ci clean

all: build

# Static (no cgo): a dynamically linked binary starts ~17% slower and the agent
# needs ~1.5 MiB more; grpcnotrace drops x/net/trace, which nothing here uses.
BUILD_FLAGS ?= -tags grpcnotrace

## build: tokenkeeper (the lean front), tokenkeeper-core (the full CLI it hands the rest to) and tokenkeeper-sim into ./bin, stamped with `make version`
build:
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -ldflags '$(VERSION_LDFLAGS)' -o $(BIN)/ ./cmd/tokenkeeper ./cmd/tokenkeeper-core ./cmd/tokenkeeper-sim

## test: formatting, vet, lint, generated-code freshness and the whole Go suite with -race
test: fmt-check vet lint generate-check unit

# unit fails if the suite touched the invoking user's own runtime directories
# ($XDG_RUNTIME_DIR/tokenkeeper, ~/.cache/tokenkeeper/run-<host>): every test
# must give what it starts a private one.
unit:
	@snap=$$(mktemp) && $(GO) run ./internal/rundir/snapshot > "$$snap" && \
	$(GO) test $(GOFLAGS_TEST) -count=1 -timeout 8m ./... && \
	$(GO) run ./internal/rundir/snapshot -compare "$$snap"; status=$$?; rm -f "$$snap"; exit $$status

$(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/buf: tools/go.mod tools/go.sum
	GOFLAGS=-modfile=tools/go.mod $(GO) build -o $(BIN)/ \
		github.com/bufbuild/buf/cmd/buf \
		google.golang.org/protobuf/cmd/protoc-gen-go \
		google.golang.org/grpc/cmd/protoc-gen-go-grpc

## generate: regenerate the committed gRPC code with the pinned generators
generate: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc
	$(BIN)/buf generate

## generate-check: fail when the committed generated code is stale
generate-check: generate
	@git diff --exit-code -- proto/ || { echo "generated code is stale: run 'make generate' and commit" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- proto/)" || { echo "generate produced untracked files in proto/" >&2; git status --porcelain -- proto/ >&2; exit 1; }

## lint: buf lint on the proto contract, golangci-lint on both Go modules (mk/lint.mk)
lint: $(BIN)/buf lint-go
	$(BIN)/buf lint

vet:
	$(GO) vet ./...

# Every Go file in the tree (not only tracked ones, so it also checks an
# export without .git); host/packer/.tools (an old cache) holds only built binaries.
fmt-check:
	@out=$$(find . -name '*.go' -not -path './host/packer/.tools/*' -not -path './bin/*' -print0 | xargs -0 gofmt -l); \
	test -z "$$out" || { echo "gofmt needed on:"; echo "$$out"; exit 1; } >&2

## ci: what .ci/run runs: the README's test command, then the slow end-to-end suites
ci: test e2e

clean:
	rm -rf $(BIN)

# Each area adds its own targets (demo, bench, e2e-*) in mk/*.mk.
-include mk/*.mk

## bench: every benchmark: the exec path against its peers, plugin GetToken, agent memory (bench-front), the auth proxy (bench-proxy)
bench: bench-front

## e2e: the slow end-to-end suites (Ansible, Packer); each mk/*.mk appends to E2E_TARGETS
.PHONY: e2e
e2e: build $(E2E_TARGETS)
