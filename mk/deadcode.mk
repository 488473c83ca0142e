# Dead code: functions no binary of the repository reaches (tools/deadcode).
#
#   make deadcode   golang.org/x/tools/cmd/deadcode, pinned in tools/deadcode/go.mod,
#                   from every main package and the Packer plugin; run by .ci/run
#                   (minutes on two cores: it type-checks the Packer SDK)

.PHONY: deadcode

## deadcode: fail when a function is reachable from no binary (allowed: tools/deadcode/allow.txt)
deadcode:
	GO=$(GO) tools/deadcode/check.sh
