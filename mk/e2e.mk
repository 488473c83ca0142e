# e2e: the slow end-to-end suites; each area appends its target to E2E_TARGETS.
.PHONY: e2e
e2e: $(E2E_TARGETS)
