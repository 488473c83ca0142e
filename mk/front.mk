# The exec path against its peers (issue 16): the figures of `tokenkeeper get`.
#
#   make kubelogin     build the pinned kubelogin (v1.34.0, tools/kubelogin: a
#                      `tool` directive in a module of its own) into
#                      $(TOKENKEEPER_CACHE)/kubelogin, keyed by version and go.sum
#
# tools/kubelogin/go.sum is committed: the checksum database has no entry for
# kubelogin, so its first resolution took GONOSUMDB=github.com/int128/kubelogin
# (`go mod tidy` in tools/kubelogin); with the committed go.sum, building needs
# no exception. Built static (CGO_ENABLED=0), as kubelogin's Linux releases are.

KUBELOGIN_DIR     := tools/kubelogin
KUBELOGIN_VERSION := $(shell sed -n 's/^\tgithub.com\/int128\/kubelogin \(v[^ ]*\).*/\1/p' $(KUBELOGIN_DIR)/go.mod)
KUBELOGIN_KEY     := $(KUBELOGIN_VERSION)-$(shell cat $(KUBELOGIN_DIR)/go.sum 2>/dev/null | sha256sum | cut -c1-12)
KUBELOGIN_BIN     := $(TOKENKEEPER_CACHE)/kubelogin/kubelogin_$(KUBELOGIN_KEY)/kubelogin

.PHONY: kubelogin

## kubelogin: build the pinned kubelogin (v1.34.0) into the cache
kubelogin: $(KUBELOGIN_BIN)

# No file prerequisites: the path names the version and go.sum. The build
# goes to a temporary name first, so an interrupted build leaves no binary.
$(KUBELOGIN_BIN):
	@test -n "$(KUBELOGIN_VERSION)" || { echo "$(KUBELOGIN_DIR)/go.mod pins no kubelogin version" >&2; exit 1; }
	mkdir -p $(dir $@)
	cd $(KUBELOGIN_DIR) && CGO_ENABLED=0 timeout 1800 $(GO) build -buildvcs=false -trimpath -o $@.tmp.$$$$ github.com/int128/kubelogin && \
		mv $@.tmp.$$$$ $@
