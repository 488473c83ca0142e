# Issue 10's validity acceptance loops (test/e2e/validity_test.go), minutes
# long against the wall clock, so `make test` skips them:
#
#   make e2e-validity  a 130 s fault loop (5 s tokens; 503, 429, resets, stalls,
#                      expiry, the simulator killed and restarted) where every
#                      `get --min-validity 3s` exits 0 with a token the resource
#                      accepts for 3 s, or 5; and 40 rounds per Cloud Director
#                      profile type against a 4 s idle timeout

.PHONY: e2e-validity

## e2e-validity: the min-validity fault loop and the Cloud Director idle-timeout rounds
e2e-validity:
	TK_E2E_VALIDITY=1 $(GO) test $(GOFLAGS_TEST) -count=1 -timeout 15m -run '^TestValidity' -v ./test/e2e/

E2E_TARGETS += e2e-validity
