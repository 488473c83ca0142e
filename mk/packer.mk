# packer-plugin-tokenkeeper (host/packer, its own Go module).
#
#   make test-packer   unit tests + vet of the plugin module, and a check that
#                      the committed HCL2 spec and .web-docs/ (the integration
#                      docs, from docs/ by packer-sdc renderdocs) match what
#                      packer-generate produces
#   make e2e-packer    a real `packer build` (Packer built from source, pinned)
#                      against `tokenkeeper-sim vcf`, with the plugin installed
#                      through `packer plugins install --path`
#
# Packer and packer-sdc are built from the pinned modules host/packer/tools and
# host/packer/tools/sdc into $(TOKENKEEPER_CACHE)/packer (default
# ~/.cache/tokenkeeper-dev/packer), one directory per version and go.sum, so
# only the first run on a machine pays for the build, whatever the clone.

PACKER_VERSION     := 1.11.2
PACKER_SDK_VERSION := 0.5.4
PACKER_DIR         := host/packer
PACKER_TOOLS_DIR   := $(TOKENKEEPER_CACHE)/packer
# The cache key: the tool's version and the hash of the go.sum it is built from.
packer_sum_key      = $(shell cat $(1) 2>/dev/null | sha256sum | cut -c1-12)
PACKER_BIN         := $(PACKER_TOOLS_DIR)/packer_v$(PACKER_VERSION)-$(call packer_sum_key,$(PACKER_DIR)/tools/go.sum)/packer
PACKER_SDC_BIN     := $(PACKER_TOOLS_DIR)/packer-sdc_v$(PACKER_SDK_VERSION)-$(call packer_sum_key,$(PACKER_DIR)/tools/sdc/go.sum)/packer-sdc
PACKER_PLUGIN_BIN  := $(BIN)/packer-plugin-tokenkeeper
PACKER_GO_BUILD    := $(GO) build -buildvcs=false -trimpath -modfile=tools/go.mod

.PHONY: test-packer packer-generate packer-generate-check packer-plugin packer-tools e2e-packer

## packer-tools: build the pinned Packer and packer-sdc (cached in $(TOKENKEEPER_CACHE)/packer)
packer-tools: $(PACKER_BIN) $(PACKER_SDC_BIN)

# A cold build of Packer takes several minutes on two cores. The go.sum is
# in the cache key, not a prerequisite: a fresh clone's newer files must not
# rebuild what the cache holds. The build goes to a temporary name first, so
# an interrupted build never leaves a binary behind.
$(PACKER_BIN):
	mkdir -p $(dir $@)
	cd $(PACKER_DIR) && timeout 1800 $(PACKER_GO_BUILD) -o $(abspath $@).tmp.$$$$ github.com/hashicorp/packer && \
		mv $(abspath $@).tmp.$$$$ $(abspath $@)

$(PACKER_SDC_BIN):
	mkdir -p $(dir $@)
	cd $(PACKER_DIR)/tools/sdc && timeout 900 $(GO) build -buildvcs=false -trimpath -o $(abspath $@).tmp.$$$$ github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc && \
		mv $(abspath $@).tmp.$$$$ $(abspath $@)

## packer-plugin: build bin/packer-plugin-tokenkeeper
packer-plugin:
	cd $(PACKER_DIR) && timeout 900 $(GO) build -buildvcs=false -ldflags '$(VERSION_LDFLAGS)' -o $(abspath $(PACKER_PLUGIN_BIN)) .

# What packer-generate writes; packer-generate-check fails when it differs from git.
PACKER_GENERATED   := '$(PACKER_DIR)/*.hcl2spec.go' '$(PACKER_DIR)/.web-docs'

## packer-generate: regenerate the data source's HCL2 spec and .web-docs/ with the pinned packer-sdc
packer-generate: $(PACKER_SDC_BIN)
	cd $(PACKER_DIR) && PATH="$(abspath $(dir $(PACKER_SDC_BIN))):$$PATH" timeout 300 $(GO) generate ./...
	cd $(PACKER_DIR) && timeout 120 tools/webdocs.sh $(abspath $(PACKER_SDC_BIN))

## packer-generate-check: fail when the committed HCL2 spec or .web-docs/ is stale
packer-generate-check: packer-generate
	@git diff --exit-code -- $(PACKER_GENERATED) >&2 || { echo "host/packer: generated code or .web-docs is stale: run 'make packer-generate' and commit" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- $(PACKER_GENERATED))" || { echo "host/packer: packer-generate produced uncommitted files:" >&2; git status --porcelain -- $(PACKER_GENERATED) >&2; exit 1; }

## test-packer: the plugin module's vet, unit tests (-race) and generated-code freshness
test-packer: packer-generate-check
	@out=$$(cd $(PACKER_DIR) && gofmt -l .); test -z "$$out" || { echo "gofmt needed in $(PACKER_DIR):"; echo "$$out"; exit 1; } >&2
	cd $(PACKER_DIR) && $(GO) vet ./... && $(GO) vet -tags e2e ./e2e/
	cd $(PACKER_DIR) && $(GO) test $(GOFLAGS_TEST) -count=1 -timeout 5m ./...

## e2e-packer: test-packer, then a real packer build against the VCF simulator
e2e-packer: test-packer build packer-plugin $(PACKER_BIN)
	cd $(PACKER_DIR) && \
		TK_E2E_PACKER=$(abspath $(PACKER_BIN)) \
		TK_E2E_PLUGIN=$(abspath $(PACKER_PLUGIN_BIN)) \
		TK_E2E_TOKENKEEPER=$(abspath $(BIN)/tokenkeeper) \
		TK_E2E_SIM=$(abspath $(BIN)/tokenkeeper-sim) \
		$(GO) test -tags e2e -count=1 -timeout 10m -v ./e2e/

E2E_TARGETS += e2e-packer
