# Secrets from Vault ({vault: …} references, plugin/vault) against a real Vault.
#
#   make vaultdev    build the dev Vault server (tools/vaultdev, its own Go module:
#                    Vault 1.14.1's in-memory core with the kv, approle, userpass and
#                    jwt backends) into $(TOKENKEEPER_CACHE)/vaultdev, one directory
#                    per Vault version and go.sum, so only the first run on a machine
#                    pays for the build (minutes, ~1.2 GB of build cache)
#   make e2e-vault   the Vault end-to-end suite (test/e2e, build tag vault): token,
#                    token file, AppRole and JWT auth against the dev Vault and the
#                    VCF and VCD simulators

VAULTDEV_VERSION := 1.14.1
VAULTDEV_DIR     := tools/vaultdev
VAULTDEV_BIN     := $(TOKENKEEPER_CACHE)/vaultdev/vaultdev_v$(VAULTDEV_VERSION)-$(shell cat $(VAULTDEV_DIR)/go.sum 2>/dev/null | sha256sum | cut -c1-12)/vaultdev

.PHONY: vaultdev test-vaultdev e2e-vault

## vaultdev: build the dev Vault server (cached in $(TOKENKEEPER_CACHE)/vaultdev)
vaultdev: $(VAULTDEV_BIN)

# The go.sum is in the cache key, not a prerequisite (see packer.mk); the
# build goes to a temporary name first, so an interrupted build leaves
# nothing behind.
$(VAULTDEV_BIN):
	mkdir -p $(dir $@)
	cd $(VAULTDEV_DIR) && CGO_ENABLED=0 timeout 3600 $(GO) build -buildvcs=false -trimpath -o $(abspath $@).tmp.$$$$ . && \
		mv $(abspath $@).tmp.$$$$ $(abspath $@)

## test-vaultdev: gofmt and vet of the dev Vault module
test-vaultdev:
	@out=$$(cd $(VAULTDEV_DIR) && gofmt -l .); test -z "$$out" || { echo "gofmt needed in $(VAULTDEV_DIR):"; echo "$$out"; exit 1; } >&2
	cd $(VAULTDEV_DIR) && timeout 3600 $(GO) vet ./...

## e2e-vault: the Vault end-to-end suite against the dev Vault
e2e-vault: $(VAULTDEV_BIN)
	$(GO) vet -tags vault ./test/e2e/
	TK_VAULTDEV=$(abspath $(VAULTDEV_BIN)) $(GO) test -tags vault -count=1 -timeout 15m -run '^TestVault' -v ./test/e2e/

E2E_TARGETS += e2e-vault

# docs/vault.md runs the dev Vault as `vaultdev`: docs-check finds it on PATH
# (built first in CI, where a missing tool fails the check instead of
# skipping it).
docs-check: export PATH := $(abspath $(dir $(VAULTDEV_BIN))):$(PATH)
docs-check: $(if $(CI),$(VAULTDEV_BIN))
