# The exec credential helper and the agent (host/exec, plugin/agent, cmd/tokenkeeper front, cmd/tokenkeeper-core CLI).
#
#   make bench-exec  `tokenkeeper get` with a warm agent against the start of a
#                    minimal Go binary, interleaved in one run (metric get/hello,
#                    target <= 2), and the agent's resident memory idle with 10
#                    profiles holding tokens (metric agent-RSS-MiB, target <= 20);
#                    get/hello-median is the same ratio of medians, steadier on a
#                    loaded machine. TK_BENCH_GOFLAGS adds `go build` flags to the
#                    measured binary, e.g. TK_BENCH_GOFLAGS='-tags=grpcnotrace' or
#                    TK_BENCH_GOFLAGS='-tags=grpcnotrace|-ldflags=-s -w' ("|" separates
#                    flags that hold spaces)
#   make e2e-exec    the end-to-end exec suite alone (real binaries against
#                    `tokenkeeper-sim vcf --tls`); `make test` runs it too, as
#                    ordinary Go tests (skipped under -short)

.PHONY: bench-exec e2e-exec

## bench-exec: get with a warm agent vs a minimal Go binary; agent RSS idle with 10 profiles
bench-exec:
	$(GO) test -count=1 -timeout 10m -run '^$$' -bench '^BenchmarkExecGetWarmAgent$$' -benchtime 300x ./test/e2e/

## e2e-exec: the exec/agent end-to-end tests (100 parallel gets, 3 s tokens for 20 s, bad input, lockout, other uid)
e2e-exec:
	$(GO) test $(GOFLAGS_TEST) -count=1 -timeout 10m -run '^TestExec' -v ./test/e2e/
