# Versions, releases and the macOS build (goreleaser v2 pinned in tools/release).
#
#   make version           the release of this checkout: the git tag at HEAD,
#                          else the next patch with -dev (tools/release/version.sh);
#                          `make build` and `make packer-plugin` stamp it
#   make version-check     at a release tag, galaxy.yml and CHANGELOG.md name
#                          the same version
#   make cross-check       build and vet for darwin/amd64 and darwin/arm64, compile
#                          every test package for darwin (go test -exec true: built,
#                          not run), and check that a Windows
#                          build stops at the platform constraint (make test runs it)
#   make release-check     goreleaser check on both configurations
#   make release-snapshot  goreleaser release --snapshot --clean: dist/ (tokenkeeper
#                          archives, .deb, .rpm, SBOMs, checksums) and host/packer/dist/
#                          (the Packer plugin's zips and SHA256SUMS)
#   make release-test      checks the snapshot's artifacts, installs its Packer zip
#                          with `packer plugins install --path`, and runs the Packer
#                          e2e suite with the plugin from the zip
#
# goreleaser and cyclonedx-gomod are built from tools/release/go.mod into
# $(TOKENKEEPER_CACHE)/release/<name>_<version>/ (RELEASE_TOOLS), so only the first
# run on a machine pays for the build (goreleaser: many minutes on two cores).

VERSION     := $(shell tools/release/version.sh)
# A tree with uncommitted changes is marked, as git describe --dirty does.
COMMIT      := $(shell c=$$(git rev-parse HEAD 2>/dev/null) && { git diff --quiet HEAD -- || c=$$c-dirty; echo $$c; })
VERSION_PKG := github.com/tokenkeeper/tokenkeeper/internal/version
# Every binary of the tree (tokenkeeper, tokenkeeper-sim, the Packer plugin)
# takes its version from this one package.
VERSION_LDFLAGS := -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT)

RELEASE_DIR   := tools/release
# The per-machine cache Packer and golangci-lint use (mk/packer.mk), so every
# checkout on a machine shares one build.
RELEASE_TOOLS ?= $(TOKENKEEPER_CACHE)/release
tool_version   = $(shell awk '$$1 == "$(1)" && NF > 1 { print $$2; exit }' $(RELEASE_DIR)/go.mod)
GORELEASER_VERSION := $(call tool_version,github.com/goreleaser/goreleaser/v2)
CYCLONEDX_VERSION  := $(call tool_version,github.com/CycloneDX/cyclonedx-gomod)
GORELEASER    := $(RELEASE_TOOLS)/goreleaser_$(GORELEASER_VERSION)/goreleaser
CYCLONEDX     := $(RELEASE_TOOLS)/cyclonedx-gomod_$(CYCLONEDX_VERSION)/cyclonedx-gomod
RELEASE_GO_BUILD := $(GO) build -buildvcs=false -trimpath

.PHONY: version version-check cross-check release-tools release-check release-snapshot release-test

## version: print the release of this checkout
version:
	@echo $(VERSION)

## version-check: at a release tag, galaxy.yml and CHANGELOG.md carry its version
version-check:
	@$(RELEASE_DIR)/version-check.sh $(VERSION)

DARWIN_ARCHS := amd64 arm64

## cross-check: darwin builds, vets and compiles its tests; Windows stops at the platform constraint
cross-check:
	@set -e; for arch in $(DARWIN_ARCHS); do \
		echo "cross-check: darwin/$$arch"; \
		GOOS=darwin GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath $(BUILD_FLAGS) -o /dev/null ./cmd/tokenkeeper; \
		GOOS=darwin GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath $(BUILD_FLAGS) -o /dev/null ./cmd/tokenkeeper-core; \
		GOOS=darwin GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath -o /dev/null ./cmd/tokenkeeper-sim; \
		GOOS=darwin GOARCH=$$arch $(GO) vet ./...; \
		GOOS=darwin GOARCH=$$arch $(GO) vet -tags manpages ./cmd/tokenkeeper-core; \
		GOOS=darwin GOARCH=$$arch $(GO) test -trimpath -vet=off -exec true ./... >/dev/null; \
		(cd $(PACKER_DIR) && GOOS=darwin GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath -o /dev/null . && \
			GOOS=darwin GOARCH=$$arch $(GO) vet ./... && GOOS=darwin GOARCH=$$arch $(GO) vet -tags e2e ./e2e/); \
	done
	@out=$$(GOOS=windows $(GO) build -o /dev/null ./cmd/tokenkeeper ./cmd/tokenkeeper-core 2>&1) && { echo "cross-check: a Windows build succeeded; update the README and internal/platform" >&2; exit 1; }; \
		echo "$$out" | grep -q 'build constraints exclude all Go files in .*internal/platform' || \
		{ echo "cross-check: a Windows build fails, but not at the platform constraint:" >&2; echo "$$out" >&2; exit 1; }; \
		echo "cross-check: windows stops at internal/platform, as documented"

test: cross-check

## release-tools: build the pinned goreleaser and cyclonedx-gomod (cached in tools/release/.tools)
release-tools: $(GORELEASER) $(CYCLONEDX)

# A cold build of goreleaser takes many minutes on two cores.
$(GORELEASER): $(RELEASE_DIR)/go.mod $(RELEASE_DIR)/go.sum
	@mkdir -p $(dir $@)
	cd $(RELEASE_DIR) && timeout 3600 $(RELEASE_GO_BUILD) -o $(abspath $@).tmp github.com/goreleaser/goreleaser/v2
	mv $@.tmp $@

$(CYCLONEDX): $(RELEASE_DIR)/go.mod $(RELEASE_DIR)/go.sum
	@mkdir -p $(dir $@)
	cd $(RELEASE_DIR) && timeout 900 $(RELEASE_GO_BUILD) -o $(abspath $@).tmp github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod
	mv $@.tmp $@

# The plugin protocol version the Packer plugin speaks, from the plugin itself.
packer_api_version = $$($(PACKER_PLUGIN_BIN) describe | sed -n 's/.*"api_version":"\([^"]*\)".*/\1/p')
RELEASE_ENV = PATH="$(abspath $(dir $(CYCLONEDX))):$$PATH" GOFLAGS="$$($(GO) env GOFLAGS)" GOCACHE="$$($(GO) env GOCACHE)" \
	GOMODCACHE="$$($(GO) env GOMODCACHE)" GOPROXY="$$($(GO) env GOPROXY)"

## release-check: goreleaser check of .goreleaser.yaml and host/packer/.goreleaser.yml
release-check: $(GORELEASER)
	$(GORELEASER) check
	cd $(PACKER_DIR) && API_VERSION=x0.0 $(abspath $(GORELEASER)) check

## release-snapshot: every release artifact, unpublished, into dist/ and host/packer/dist/
release-snapshot: $(GORELEASER) $(CYCLONEDX) packer-plugin
	$(RELEASE_ENV) timeout 3600 $(GORELEASER) release --snapshot --clean
	api=$(packer_api_version); test -n "$$api" || { echo "no api_version in the plugin's describe" >&2; exit 1; }; \
		cd $(PACKER_DIR) && API_VERSION=$$api timeout 3600 $(abspath $(GORELEASER)) release --snapshot --clean --skip=sign

RELEASE_PLUGIN_DIR := $(BIN)/release-plugin

## release-test: check the snapshot's artifacts; packer e2e with the plugin from its zip
release-test: build $(PACKER_BIN)
	TK_RELEASE_DIST=$(abspath dist) TK_RELEASE_PACKER_DIST=$(abspath $(PACKER_DIR)/dist) TK_E2E_PACKER=$(abspath $(PACKER_BIN)) \
		$(GO) test -tags release -count=1 -timeout 10m -v ./test/release/
	rm -rf $(RELEASE_PLUGIN_DIR) && mkdir -p $(RELEASE_PLUGIN_DIR)
	cd $(RELEASE_PLUGIN_DIR) && python3 -m zipfile -e $(abspath $(PACKER_DIR))/dist/packer-plugin-tokenkeeper_v*_$$($(GO) env GOOS)_$$($(GO) env GOARCH).zip . && chmod +x packer-plugin-tokenkeeper_v*
	cd $(PACKER_DIR) && \
		TK_E2E_PACKER=$(abspath $(PACKER_BIN)) \
		TK_E2E_PLUGIN=$$(ls $(abspath $(RELEASE_PLUGIN_DIR))/packer-plugin-tokenkeeper_v*) \
		TK_E2E_TOKENKEEPER=$(abspath $(BIN)/tokenkeeper) \
		TK_E2E_SIM=$(abspath $(BIN)/tokenkeeper-sim) \
		$(GO) test -tags e2e -count=1 -timeout 10m -v ./e2e/
