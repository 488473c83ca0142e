# golangci-lint (v2, configuration in .golangci.yml) over both Go modules.
#
#   make lint-go   golangci-lint run in the main module, host/packer, host/vault and host/vault/e2e;
#                  part of `make lint`, hence of `make test`
#
# The version is pinned as a Go tool in a module of its own (tools/lint), so its
# large dependency graph stays out of the main module and tools/go.mod. The built
# binary is cached outside the tree, keyed by that version, so every checkout on a
# machine shares one build (a cold build takes minutes on two cores).

GOLANGCI_LINT_VERSION := $(shell sed -n 's/^\tgithub.com\/golangci\/golangci-lint\/v2 \(v[^ ]*\).*/\1/p' tools/lint/go.mod)
# In the per-machine $(TOKENKEEPER_CACHE) (Makefile), keyed by the version and
# the hash of the go.sum it is built from.
GOLANGCI_LINT_KEY     := $(GOLANGCI_LINT_VERSION)-$(shell cat tools/lint/go.sum 2>/dev/null | sha256sum | cut -c1-12)
GOLANGCI_LINT         := $(TOKENKEEPER_CACHE)/golangci-lint/golangci-lint_$(GOLANGCI_LINT_KEY)/golangci-lint

.PHONY: lint-go golangci-lint

## golangci-lint: build the pinned golangci-lint into the cache (keyed by its version)
golangci-lint: $(GOLANGCI_LINT)

# No file prerequisites: the path names the version and go.sum, and a fresh
# checkout's newer files must not rebuild a cached binary. The build goes to a
# temporary name first, so an interrupted build never leaves a binary behind.
$(GOLANGCI_LINT):
	@test -n "$(GOLANGCI_LINT_VERSION)" || { echo "tools/lint/go.mod pins no golangci-lint/v2 version" >&2; exit 1; }
	mkdir -p $(dir $@)
	cd tools/lint && timeout 2400 $(GO) build -trimpath -o $@.tmp.$$$$ github.com/golangci/golangci-lint/v2/cmd/golangci-lint && \
		mv $@.tmp.$$$$ $@

## lint-go: golangci-lint run (.golangci.yml) in the main module, host/packer, host/vault and host/vault/e2e
lint-go: $(GOLANGCI_LINT)
	timeout 900 $(GOLANGCI_LINT) run --config .golangci.yml ./...
	cd host/packer && timeout 900 $(GOLANGCI_LINT) run --config ../../.golangci.yml ./...
	cd host/vault && timeout 900 $(GOLANGCI_LINT) run --config ../../.golangci.yml ./...
	cd host/vault/e2e && timeout 900 $(GOLANGCI_LINT) run --config ../../../.golangci.yml ./...
