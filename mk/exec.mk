# The exec credential helper and the agent (host/exec, plugin/agent, cmd/tokenkeeper front, cmd/tokenkeeper-core CLI).
#
#   make bench-exec  warm `tokenkeeper get` against a static Go hello-world (one
#                    interleaved run: the median of the per-pair ratios, target
#                    <= 1.6) and the agent's resident memory idle with 10 profiles
#                    (target <= 20 MiB), both of bin/ as `make build` leaves it
#                    (TOKENKEEPER_BIN=DIR measures another build); `make bench-front`
#                    (mk/front.mk) runs these and the other peers of `get`
#   make e2e-exec    the end-to-end exec suite alone (real binaries against
#                    `tokenkeeper-sim vcf --tls`); `make test` runs it too, as
#                    ordinary Go tests (skipped under -short)

.PHONY: bench-exec e2e-exec

## bench-exec: get with a warm agent vs a static Go hello-world; agent RSS idle with 10 profiles
bench-exec: build
	TOKENKEEPER_BIN=$(TOKENKEEPER_BIN) $(GO) test -count=1 -timeout 20m -run '^$$' -bench '^Benchmark(FrontWarmHello|AgentRSS)$$' -benchtime 1x ./test/e2e/

## e2e-exec: the exec/agent end-to-end tests (100 parallel gets, 3 s tokens for 20 s, bad input, lockout, other uid)
e2e-exec:
	$(GO) test $(GOFLAGS_TEST) -count=1 -timeout 10m -run '^TestExec' -v ./test/e2e/
