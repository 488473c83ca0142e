# The exec path against its peers (issue 16): the figures of `tokenkeeper get`.
#
#   make bench-front   every figure of the exec path and plugin mode, each with
#                      its target, then a summary of them and the load average
#                      at the start and the end. One interleaved run per ratio:
#                      TK_BENCH_PAIRS (100) pairs, A then B, the order swapped
#                      every pair, TK_BENCH_ROUNDS (3) rounds; the figure is the
#                      median of the per-pair ratios:
#                        warm `tokenkeeper get` / a static Go hello-world   <= 1.6
#                        warm get / `git credential-cache get`, both under
#                          `sh -c`                                          <= 1.2
#                        warm get / kubelogin `get-token` from its cache     <= 0.6
#                        cold get (no agent) / the full binary's cold get    <= 1
#                          (`tokenkeeper-core get`; the same binary while
#                          bin/ has no tokenkeeper-core, as the output says)
#                      beside them a reference without a target: the floor,
#                      static Go hello-world / git credential-cache get, both
#                      under `sh -c` (no Go helper's warm get can come lower);
#                      and, as `make bench-plugin` and `make bench-exec` take
#                      them, plugin-mode GetToken / an empty gRPC round trip
#                      (<= 1.3) and the agent's RSS idle with 10 profiles
#                      (<= 20 MiB). It measures bin/ as `make build` leaves it
#                      (TOKENKEEPER_BIN=DIR measures another build). Benchmarks
#                      report: a missed target fails nothing, a failed command
#                      (non-zero exit, empty output) fails the run.
#   make kubelogin     build the pinned kubelogin (v1.34.0, tools/kubelogin: a
#                      `tool` directive in a module of its own) into
#                      $(TOKENKEEPER_CACHE)/kubelogin, keyed by version and go.sum
#   make bench-git     install Debian's git when git is missing
#   make bench-smoke   a quick run of the harness (.ci/run runs it): warm get vs
#                      hello-world and vs kubelogin, and plugin mode, with
#                      TK_BENCH_PAIRS=2 TK_BENCH_ROUNDS=1; its figures mean
#                      nothing, a broken peer (kubelogin's cache file, a
#                      command that fails) fails it
#
# tools/kubelogin/go.sum is committed: the checksum database has no entry for
# kubelogin, so its first resolution took GONOSUMDB=github.com/int128/kubelogin
# (`go mod tidy` in tools/kubelogin); with the committed go.sum, building needs
# no exception. Built static (CGO_ENABLED=0), as kubelogin's Linux releases are.

KUBELOGIN_DIR     := tools/kubelogin
KUBELOGIN_VERSION := $(shell sed -n 's/^\tgithub.com\/int128\/kubelogin \(v[^ ]*\).*/\1/p' $(KUBELOGIN_DIR)/go.mod)
KUBELOGIN_KEY     := $(KUBELOGIN_VERSION)-$(shell cat $(KUBELOGIN_DIR)/go.sum 2>/dev/null | sha256sum | cut -c1-12)
KUBELOGIN_BIN     := $(TOKENKEEPER_CACHE)/kubelogin/kubelogin_$(KUBELOGIN_KEY)/kubelogin

FRONT_BENCH_ENV := TOKENKEEPER_BIN=$(TOKENKEEPER_BIN) TK_KUBELOGIN=$(KUBELOGIN_BIN)

.PHONY: kubelogin bench-git bench-front bench-smoke

## kubelogin: build the pinned kubelogin (v1.34.0) into the cache
kubelogin: $(KUBELOGIN_BIN)

# No file prerequisites: the path names the version and go.sum. The build
# goes to a temporary name first, so an interrupted build leaves no binary.
$(KUBELOGIN_BIN):
	@test -n "$(KUBELOGIN_VERSION)" || { echo "$(KUBELOGIN_DIR)/go.mod pins no kubelogin version" >&2; exit 1; }
	mkdir -p $(dir $@)
	cd $(KUBELOGIN_DIR) && CGO_ENABLED=0 timeout 1800 $(GO) build -buildvcs=false -trimpath -o $@.tmp.$$$$ github.com/int128/kubelogin && \
		mv $@.tmp.$$$$ $@

## bench-git: install Debian's git when git is missing (bench-front compares against git credential-cache)
bench-git:
	@command -v git >/dev/null 2>&1 || { \
		echo "git not found: installing Debian's git" >&2; \
		timeout 600 apt-get update && \
		DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y git; }

# One run of go test, one interleaved comparison per benchmark (-benchtime
# 1x). Its FIGURE lines make the summary; the exit status is go test's.
## bench-front: warm get vs hello, git credential-cache, kubelogin; cold get vs the full binary; plugin ratio; agent RSS
bench-front: build bench-git $(KUBELOGIN_BIN)
	@out=$$(mktemp) && echo "load average at start: $$(cat /proc/loadavg)" && \
	{ { $(FRONT_BENCH_ENV) $(GO) test -count=1 -timeout 60m -run '^$$' -bench '^Benchmark(PluginGetToken$$|Front|AgentRSS$$)' -benchtime 1x ./test/e2e/; \
	    echo $$? > $$out.rc; } 2>&1 | tee $$out; } && \
	echo "load average at end: $$(cat /proc/loadavg)" && \
	echo "figures (median of per-pair ratios; target; load average when taken):" && \
	sed -n 's/^.*FIGURE /  /p' $$out; \
	rc=$$(cat $$out.rc 2>/dev/null || echo 1); rm -f $$out $$out.rc; exit $$rc

## bench-smoke: the bench harness, quickly (2 pairs, 1 round): warm get vs hello and kubelogin, plugin mode
bench-smoke: build $(KUBELOGIN_BIN)
	TK_BENCH_PAIRS=2 TK_BENCH_ROUNDS=1 $(FRONT_BENCH_ENV) timeout 300 $(GO) test -count=1 -timeout 4m -run '^$$' \
		-bench '^Benchmark(FrontWarm(Hello|Kubelogin)|PluginGetToken)$$' -benchtime 1x ./test/e2e/
