# vCenter conformance: tokenkeeper against VMware's own simulator and client.
#
#   make vcsim                 build the vcsim binary of govmomi v0.46.3 (tools/vcsim,
#                              a `tool` directive in a module of its own) into
#                              $(TOKENKEEPER_CACHE)/vcsim, keyed by version and go.sum
#   make conformance-vcenter   test/conformance/vcenter (its own Go module with govmomi
#                              v0.52.0, so govmomi never reaches the tokenkeeper
#                              binary): bin/tokenkeeper against the vcsim binary (login,
#                              the header at the tagging and content library resources,
#                              a wrong password = exit 3 after one failed login, logout
#                              = 401; a vcsim that accepts any password is refused), the
#                              vcsim library with a session idle timeout (expiry
#                              recovered, keepalive), govmomi's REST client against
#                              `tokenkeeper-sim vcenter` (both endpoint generations),
#                              and a real ansible-playbook calling vcsim through the
#                              lookup across several idle timeouts with one login.
#                              `make e2e` runs it.
#
# v0.46.3 is the last govmomi whose vcsim the module proxy serves as a package
# of the tagged module (later releases moved it into an untagged nested module).
# A cold build of vcsim takes 2-5 minutes on two cores, of the test module about
# as long; both land in the Go build cache, and the binary in TOKENKEEPER_CACHE.
# The suite runs without -race: what it tests runs in child processes
# (tokenkeeper, tokenkeeper-sim, vcsim, ansible-playbook), and a race build of
# govmomi's simulator would double the cold build for nothing of ours.

VCSIM_DIR            := tools/vcsim
CONFORMANCE_VC_DIR   := test/conformance/vcenter
VCSIM_VERSION        := $(shell sed -n 's/^\tgithub.com\/vmware\/govmomi \(v[^ ]*\).*/\1/p' $(VCSIM_DIR)/go.mod)
VCSIM_KEY            := $(VCSIM_VERSION)-$(shell cat $(VCSIM_DIR)/go.sum 2>/dev/null | sha256sum | cut -c1-12)
VCSIM_BIN            := $(TOKENKEEPER_CACHE)/vcsim/vcsim_$(VCSIM_KEY)/vcsim

.PHONY: vcsim conformance-vcenter

## vcsim: build the pinned vcsim (govmomi v0.46.3) into the cache
vcsim: $(VCSIM_BIN)

# No file prerequisites: the path names the version and go.sum. The build
# goes to a temporary name first, so an interrupted build leaves no binary.
$(VCSIM_BIN):
	@test -n "$(VCSIM_VERSION)" || { echo "$(VCSIM_DIR)/go.mod pins no govmomi version" >&2; exit 1; }
	mkdir -p $(dir $@)
	cd $(VCSIM_DIR) && timeout 1800 $(GO) build -buildvcs=false -trimpath -o $@.tmp.$$$$ github.com/vmware/govmomi/vcsim && \
		mv $@.tmp.$$$$ $@

## conformance-vcenter: tokenkeeper against vcsim, govmomi's REST client against tokenkeeper-sim vcenter, Ansible against vcsim
conformance-vcenter: build $(VCSIM_BIN) ansible-core
	cd $(CONFORMANCE_VC_DIR) && $(GO) vet ./... && \
		TK_CONFORMANCE_TOKENKEEPER=$(abspath $(BIN)/tokenkeeper) \
		TK_CONFORMANCE_SIM=$(abspath $(BIN)/tokenkeeper-sim) \
		TK_VCSIM=$(VCSIM_BIN) \
		timeout 1500 $(GO) test -count=1 -timeout 20m -v ./...

E2E_TARGETS += conformance-vcenter
