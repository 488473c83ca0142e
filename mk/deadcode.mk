# Dead code: functions no binary of the repository reaches (tools/deadcode).
#
#   make deadcode   golang.org/x/tools/cmd/deadcode, pinned in tools/deadcode/go.mod,
#                   from every main package, the Packer plugin and the Vault engine
#                   (from source, ./cmd/tokenkeeper-vault); run by .ci/run (about a minute on two
#                   cores with a warm cache: it type-checks the Packer and Vault SDKs);
#                   allow.txt entries a binary reaches fail it too

.PHONY: deadcode

## deadcode: fail when a function is reachable from no binary (allowed: tools/deadcode/allow.txt)
deadcode:
	GO=$(GO) tools/deadcode/check.sh
