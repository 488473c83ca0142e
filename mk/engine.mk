# The Vault secrets engine (host/vault, its own Go module; issue 15).
#
#   make engine        bin/tokenkeeper-vault, the external Vault plugin
#   make test-engine   vet and unit tests of the engine module (in-process
#                      backend over Vault's sdk, against the simulators)
#   make e2e-engine    the engine registered in a real Vault core's plugin
#                      catalog (Vault 1.14.1's test cluster, three HA nodes;
#                      module host/vault/e2e) and mounted, against
#                      tokenkeeper-sim vcf and vcd: fleet load, fleet lockout,
#                      failover, least privilege, and the Ansible lookup
#                      (real ansible-playbook) and Packer data source (real
#                      packer build) against a profile of provider vault;
#                      figures in bin/engine-e2e-figures.txt
#
# The e2e module links the whole Vault core: its first build on a machine
# takes minutes on two cores (Go's build cache keeps it, keyed by go.sum,
# for every later run and every clone).

ENGINE_DIR     := host/vault
ENGINE_BIN     := $(BIN)/tokenkeeper-vault
ENGINE_FIGURES := $(BIN)/engine-e2e-figures.txt

.PHONY: engine test-engine e2e-engine bench-engine

## engine: build bin/tokenkeeper-vault, the Vault secrets engine plugin
engine:
	cd $(ENGINE_DIR) && CGO_ENABLED=0 timeout 900 $(GO) build -buildvcs=false -o $(abspath $(ENGINE_BIN)) ./cmd/tokenkeeper-vault

## test-engine: vet and unit tests of the engine module
test-engine:
	cd $(ENGINE_DIR) && $(GO) vet ./... && $(GO) test $(GOFLAGS_TEST) -count=1 -timeout 5m ./...

# packer-tools and packer-plugin, not $(PACKER_BIN): packer.mk is read after
# this file, so its variables are still empty in a prerequisite list here.
## e2e-engine: the engine as a real Vault plugin in a three-node Vault cluster against tokenkeeper-sim
e2e-engine: build engine test-engine ansible-core packer-tools packer-plugin
	rm -f $(ENGINE_FIGURES)
	cd $(ENGINE_DIR)/e2e && $(GO) vet ./... && \
		TOKENKEEPER_BIN=$(abspath $(BIN)) TOKENKEEPER_VAULT_ENGINE=$(abspath $(ENGINE_BIN)) \
		TOKENKEEPER_ANSIBLE_PLAYBOOK=$$(command -v ansible-playbook) \
		TOKENKEEPER_ANSIBLE_COLLECTION=$(abspath $(ANSIBLE_DIR)) \
		TOKENKEEPER_PACKER=$(abspath $(PACKER_BIN)) TOKENKEEPER_PACKER_PLUGIN=$(abspath $(PACKER_PLUGIN_BIN)) \
		TOKENKEEPER_E2E_FIGURES=$(abspath $(ENGINE_FIGURES)) \
		timeout 1800 $(GO) test -count=1 -timeout 25m ./...; \
		status=$$?; cat $(abspath $(ENGINE_FIGURES)) 2>/dev/null; exit $$status

E2E_TARGETS += e2e-engine

## bench-engine: a warm token/<name> read inside the engine, without Vault's transport
bench-engine:
	cd $(ENGINE_DIR) && $(GO) test -run '^$$' -bench BenchmarkTokenRead -benchtime 3s -count 1 ./engine/
