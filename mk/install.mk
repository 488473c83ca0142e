# Installing tokenkeeper for the current user (or, with PREFIX, anywhere).
#
#   make install     bin/tokenkeeper, bin/tokenkeeper-core (the full CLI the front
#                    execs, found beside it) and bin/tokenkeeper-sim into $(BINDIR), bash, zsh
#                    and fish completions under $(DATADIR), the Ansible collection
#                    tokenkeeper.vmware (when ansible-galaxy is on PATH) and the
#                    Packer plugin (when packer is on PATH)
#   make uninstall   removes exactly what make install put in place
#
# PREFIX defaults to ~/.local (no root needed; ~/.local/bin is on most PATHs).
# The Ansible collection goes to ANSIBLE_COLLECTIONS_DIR (default
# ~/.ansible/collections, on Ansible's default search path); the Packer plugin to
# Packer's own plugin directory (PACKER_PLUGIN_PATH, else ~/.config/packer/plugins).

PREFIX                  ?= $(HOME)/.local
BINDIR                  ?= $(PREFIX)/bin
DATADIR                 ?= $(PREFIX)/share
BASH_COMPLETION_DIR     ?= $(DATADIR)/bash-completion/completions
ZSH_COMPLETION_DIR      ?= $(DATADIR)/zsh/site-functions
FISH_COMPLETION_DIR     ?= $(DATADIR)/fish/vendor_completions.d
ANSIBLE_COLLECTIONS_DIR ?= $(HOME)/.ansible/collections
ANSIBLE_GALAXY          ?= ansible-galaxy
PACKER                  ?= packer
PACKER_PLUGIN_SOURCE    := github.com/tokenkeeper/tokenkeeper

INSTALL_BINARIES    := tokenkeeper tokenkeeper-core tokenkeeper-sim
INSTALL_COMPLETIONS := $(BASH_COMPLETION_DIR)/tokenkeeper $(ZSH_COMPLETION_DIR)/_tokenkeeper \
	$(FISH_COMPLETION_DIR)/tokenkeeper.fish

.PHONY: install uninstall install-ansible install-packer uninstall-ansible uninstall-packer

## install: binaries, shell completions, Ansible collection and Packer plugin into PREFIX (default ~/.local)
install: build
	install -d '$(BINDIR)' '$(BASH_COMPLETION_DIR)' '$(ZSH_COMPLETION_DIR)' '$(FISH_COMPLETION_DIR)'
	install -m 0755 $(addprefix $(BIN)/,$(INSTALL_BINARIES)) '$(BINDIR)/'
	$(BIN)/tokenkeeper completion bash > '$(BASH_COMPLETION_DIR)/tokenkeeper'
	$(BIN)/tokenkeeper completion zsh > '$(ZSH_COMPLETION_DIR)/_tokenkeeper'
	$(BIN)/tokenkeeper completion fish > '$(FISH_COMPLETION_DIR)/tokenkeeper.fish'
	@$(MAKE) --no-print-directory install-ansible install-packer
	@echo 'installed into $(PREFIX); make sure $(BINDIR) is on PATH'

# The collection is built from host/ansible into a temporary directory and
# installed from that tarball, as a user installing a release would.
install-ansible:
	@if ! command -v $(ANSIBLE_GALAXY) >/dev/null 2>&1; then \
		echo "$(ANSIBLE_GALAXY) not found: not installing the Ansible collection"; exit 0; fi; \
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(ANSIBLE_GALAXY) collection build $(ANSIBLE_DIR) --output-path "$$tmp" && \
	$(ANSIBLE_GALAXY) collection install --force -p '$(ANSIBLE_COLLECTIONS_DIR)' "$$tmp"/tokenkeeper-vmware-*.tar.gz

install-packer:
	@if ! command -v $(PACKER) >/dev/null 2>&1; then \
		echo "$(PACKER) not found: not installing the Packer plugin"; exit 0; fi; \
	$(MAKE) --no-print-directory packer-plugin && \
	$(PACKER) plugins install --path $(PACKER_PLUGIN_BIN) $(PACKER_PLUGIN_SOURCE)

## uninstall: remove what make install installed (same PREFIX)
uninstall: uninstall-ansible uninstall-packer
	rm -f $(addprefix '$(BINDIR)'/,$(INSTALL_BINARIES)) $(foreach f,$(INSTALL_COMPLETIONS),'$(f)')

uninstall-ansible:
	rm -rf '$(ANSIBLE_COLLECTIONS_DIR)/ansible_collections/tokenkeeper/vmware' \
		'$(ANSIBLE_COLLECTIONS_DIR)'/ansible_collections/tokenkeeper.vmware-*.info
	-rmdir '$(ANSIBLE_COLLECTIONS_DIR)/ansible_collections/tokenkeeper' 2>/dev/null

uninstall-packer:
	@if command -v $(PACKER) >/dev/null 2>&1 && $(PACKER) plugins installed 2>/dev/null | grep -q '$(PACKER_PLUGIN_SOURCE)/'; then \
		echo '$(PACKER) plugins remove $(PACKER_PLUGIN_SOURCE)'; $(PACKER) plugins remove $(PACKER_PLUGIN_SOURCE); fi
