# Conformance of the simulators with VMware's own clients.
#
#   make conformance-vcd   test/conformance/vcd (its own Go module, so the SDK never
#                          reaches the tokenkeeper binary): go-vcloud-director v2.26.0
#                          logs in to `tokenkeeper-sim vcd` (bin/, from make build) with
#                          a password, with an API token and with a rotating service
#                          account, and reads the session with GetSessionInfo.
#                          `make e2e` runs it.

CONFORMANCE_VCD_DIR := test/conformance/vcd

.PHONY: conformance-vcd

## conformance-vcd: go-vcloud-director v2.26.0 against tokenkeeper-sim vcd
conformance-vcd: build
	cd $(CONFORMANCE_VCD_DIR) && $(GO) vet ./... && \
		TK_CONFORMANCE_SIM=$(abspath $(BIN)/tokenkeeper-sim) $(GO) test $(GOFLAGS_TEST) -count=1 -timeout 5m -v ./...

E2E_TARGETS += conformance-vcd
