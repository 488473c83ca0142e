# Plugin mode and the Go host: the demo, the benchmark and the plugin e2e suite.

.PHONY: demo bench-plugin e2e-plugin

## demo: build, start the simulator, launch tokenkeeper as a plugin and narrate its lifecycle
demo: build
	$(GO) run ./examples/demo -bin $(BIN)

## bench-plugin: warm GetToken through the plugin (bin/tokenkeeper) vs an empty gRPC call (ratio; `make bench-front` runs it too)
bench-plugin: build
	TOKENKEEPER_BIN=$(TOKENKEEPER_BIN) $(GO) test -run '^$$' -bench 'BenchmarkPlugin' -benchtime 1x -count 1 ./test/e2e/

## e2e-plugin: the real binary as a go-plugin child against tokenkeeper-sim
e2e-plugin:
	$(GO) test -race -count=1 -timeout 5m -run 'Plugin' ./test/e2e/


