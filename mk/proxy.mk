# The local auth proxy (host/proxy, `tokenkeeper proxy`, `exec --proxy`).
#
#   make e2e-proxy    the acceptance runs against the real binaries: a curl loop
#                     on the socket and a Python requests.Session on the port for
#                     three lifetimes of `tokenkeeper-sim vcf --access-ttl 4s` and
#                     of a 3 s-idle `vcd` legacy session (every request 200, one
#                     login); /_sim/expire under 100 clients (one refresh); 1 GiB up
#                     and down under 50 MiB peak RSS; plus the quick proxy tests
#                     `make test` runs too (redirect, canary, other uid, loopback).
#                     Not under -race: it tests the binary (built without it), and
#                     the race detector makes the test's own 1 GiB streams crawl;
#                     host/proxy's unit tests run with -race in `make test`.
#   make bench-proxy  requests per second and the latency the proxy adds (p50,
#                     p99; target p50 <= 1 ms) against direct requests with a
#                     static token, interleaved in one run, and the load average
#
# The Python client needs requests: Debian's python3-requests is installed when
# /usr/bin/python3 cannot import it (no package index is reachable here).

PROXY_PYTHON ?= /usr/bin/python3

.PHONY: proxy-python e2e-proxy bench-proxy

## proxy-python: install Debian's python3 and python3-requests when $(PROXY_PYTHON) cannot import requests
proxy-python:
	@$(PROXY_PYTHON) -c 'import requests' >/dev/null 2>&1 || { \
		echo "$(PROXY_PYTHON) cannot import requests: installing Debian's python3-requests" >&2; \
		timeout 600 apt-get update && \
		DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y python3 python3-requests curl; }

## e2e-proxy: the auth proxy's acceptance runs (lifetimes, expiry under load, 1 GiB bodies, other uid)
e2e-proxy: proxy-python
	TK_E2E_PROXY=1 TK_E2E_PYTHON=$(PROXY_PYTHON) $(GO) test -count=1 -timeout 15m -run '^TestProxy' -v ./test/e2e/

## bench-proxy: rps and added p50/p99 latency through the proxy vs direct with a static token
bench-proxy:
	$(GO) test -count=1 -timeout 10m -run '^$$' -bench '^BenchmarkProxy$$' -benchtime 2000x ./test/e2e/

bench: bench-proxy

E2E_TARGETS += e2e-proxy
