#!/usr/bin/env bash
# make deadcode: report functions no binary of the repository can reach.
#
# golang.org/x/tools/cmd/deadcode (pinned in tools/deadcode/go.mod) runs
# once per program: from every main package of the main module (the CLI,
# the simulator, the demo, ...); in its own module, from the Packer
# plugin, which uses host's API the CLI does not (Launch, Transport,
# SocketPath); and in its own module, from the Vault engine
# (bin/tokenkeeper-vault), which embeds the keeper and the providers. A
# function is dead when no run whose program links its package reaches it
# (a run that does not link a package says nothing of it). Tests do not
# count as callers: a helper only tests use belongs in a _test.go file, or
# in a test-support package that no binary imports (internal/sim/simtest).
#
# allow.txt lists the exceptions, each with its reason; an entry that a
# binary does reach is an error too, so the list only holds what it must.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
GO=${GO:-go}
modfile="$PWD/tools/deadcode/go.mod"
module=github.com/tokenkeeper/tokenkeeper

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME DIR MAIN...: the program of the main packages MAIN of the module
# in DIR: the packages it links ("NAME pkg", to deps) and the functions of
# this repository it does not reach ("NAME pkg func position", to dead).
run() {
	local name=$1 dir=$2
	shift 2
	(cd "$dir" && "$GO" list -deps "$@") | sed "s|^|$name |" >> "$tmp/deps"
	(cd "$dir" && "$GO" tool -modfile="$modfile" deadcode -filter "^$module/" \
		-f '{{range .Funcs}}{{$.Path}} {{$.Path}}.{{.Name}} {{.Position}}{{"\n"}}{{end}}' "$@") |
		sed "s|^|$name |; s| $PWD/| |" >> "$tmp/dead"
}

# shellcheck disable=SC2046 # one argument per main package
run main . $("$GO" list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./...)
run packer host/packer .
run vault host/vault ./cmd/tokenkeeper-vault

# Reached: some run links the function's package and does not report it.
awk 'FNR == NR { linked[$1 " " $2] = 1; if (!($1 in seen)) { seen[$1] = 1; runs[++n] = $1 }; next }
	{ unreached[$1 " " $3] = 1; pkg[$3] = $2; if (!($3 in pos)) pos[$3] = $4 }
	END {
		for (f in pkg) {
			reached = 0
			for (i = 1; i <= n; i++)
				if ((runs[i] " " pkg[f]) in linked && !((runs[i] " " f) in unreached)) reached = 1
			if (!reached) print f, pos[f]
		}
	}' "$tmp/deps" "$tmp/dead" | sort > "$tmp/unreached"
sed 's/[[:space:]]*#.*//; /^$/d' tools/deadcode/allow.txt | sort -u > "$tmp/allow"

join -v1 "$tmp/unreached" "$tmp/allow" > "$tmp/deadfuncs" || true
join -v2 "$tmp/unreached" "$tmp/allow" > "$tmp/stale" || true
status=0
if [ -s "$tmp/deadfuncs" ]; then
	echo "deadcode: no binary reaches these functions; delete them, or move test-only ones into _test.go files:" >&2
	sed 's/^/  /' "$tmp/deadfuncs" >&2
	status=1
fi
if [ -s "$tmp/stale" ]; then
	echo "deadcode: tools/deadcode/allow.txt allows functions a binary reaches; remove them from it:" >&2
	sed 's/^/  /' "$tmp/stale" >&2
	status=1
fi
[ "$status" = 0 ] || exit 1
echo "deadcode: every function is reachable from a binary ($(wc -l < "$tmp/allow") allowed in tools/deadcode/allow.txt)"
