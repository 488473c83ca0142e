# The documentation is tested (test/docs, build tag docscheck).
#
#   make docs-check   every command block README.md or a docs/*.md page tells a
#                     user to run, extracted from its page and run with bash in a
#                     private HOME against the simulators; a failure names the page
#                     and line. The <!-- docs-check … --> annotations are described
#                     in docs/development.md. `make test` runs it. (The package
#                     map, layout map, links and errors-page names are checked by
#                     the ordinary `go test ./test/docs/`.)
#
# Blocks that need Packer or Ansible are skipped when those are missing, except in
# CI (CI set; .ci/run exports CI=true), where Debian's ansible-core is installed
# and the pinned Packer is built first (make e2e needs both anyway).

.PHONY: docs-check

## docs-check: run the examples of README.md and docs/*.md against the simulators
docs-check: build
	$(if $(CI),$(MAKE) ansible-core packer-tools)
	$(GO) vet -tags docscheck ./test/docs/
	@# Blocks run in parallel: build the Packer plugin once first, so none rewrites it under another.
	if test -x '$(PACKER_BIN)'; then $(MAKE) --no-print-directory packer-plugin; \
	else echo "docs-check: WARNING: no Packer at $(PACKER_BIN) (TOKENKEEPER_CACHE=$(TOKENKEEPER_CACHE)): the documented Packer blocks are SKIPPED; make packer-tools builds it, CI=true fails instead" >&2; fi
	TK_DOCS_PACKER=$$(test -x '$(PACKER_BIN)' && echo '$(abspath $(PACKER_BIN))') \
		$(GO) test -tags docscheck -count=1 -timeout 15m -parallel 4 -v ./test/docs/

test: docs-check
