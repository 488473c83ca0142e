#!/usr/bin/env bash
# make deadcode: report functions no binary of the repository can reach.
#
# golang.org/x/tools/cmd/deadcode (pinned in tools/deadcode/go.mod) runs
# from every main package of the main module (the CLI, the simulator, the
# demo, ...) and, in its own module, from the Packer plugin, which uses
# host's API the CLI does not (Launch, Transport, SocketPath). A function
# of the main module is dead when neither run reaches it; one of the Packer
# module when its run does not. Tests do not count as callers: a helper
# only tests use belongs in a _test.go file, or in a test-support package
# that no binary imports (internal/sim/simtest).
#
# allow.txt lists the exceptions, each with its reason: public API for Go
# hosts outside this repository.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
GO=${GO:-go}
modfile="$PWD/tools/deadcode/go.mod"
module=github.com/tokenkeeper/tokenkeeper

dc() {
	"$GO" tool -modfile="$modfile" deadcode -filter "^$module/" \
		-f '{{range .Funcs}}{{$.Path}}.{{.Name}} {{.Position}}{{"\n"}}{{end}}' "$@"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2046 # one argument per main package
dc $("$GO" list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./...) | sort > "$tmp/main"
(cd host/packer && dc .) | sed "s| $PWD/| |" | sort > "$tmp/packer"
sed 's/[[:space:]]*#.*//; /^$/d' tools/deadcode/allow.txt | sort -u > "$tmp/allow"

# Dead in the main module: in both reports. Dead in the Packer module: in its own.
{
	join -o 1.1,1.2 <(cut -d' ' -f1,2 "$tmp/main") <(cut -d' ' -f1 "$tmp/packer")
	grep "^$module/host/packer[/.]" "$tmp/packer" || true
} | sort -u | join -v1 - "$tmp/allow" > "$tmp/dead" || true

if [ -s "$tmp/dead" ]; then
	echo "deadcode: no binary reaches these functions; delete them, or move test-only ones into _test.go files:" >&2
	sed 's/^/  /' "$tmp/dead" >&2
	exit 1
fi
echo "deadcode: every function is reachable from a binary ($(wc -l < "$tmp/allow") allowed in tools/deadcode/allow.txt)"
