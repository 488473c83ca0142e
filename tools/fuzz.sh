#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs each Go fuzz target for a bounded time: tools/fuzz.sh GO FUZZTIME
# MINIMIZETIME PARALLEL pkg:Target... (see mk/fuzz.mk). Prints the
# executions of each; fails on a finding.
#
# A finding is a failing input written to testdata/fuzz/<Target>/. Go
# 1.26's fuzz coordinator can also end a clean run with a bare "context
# deadline exceeded" when -fuzztime runs out while a worker is still busy
# (golang/go#75804, fixed in go1.27); such a run wrote no input. It is
# reported, the target's corpus is replayed as an ordinary test, and only a
# failure there counts.
set -euo pipefail
go=$1 fuzztime=$2 minimize=$3 parallel=$4
shift 4
log=$(mktemp)
trap 'rm -f "$log"' EXIT
corpus_files() { if [ -d "$1" ]; then find "$1" -type f | sort; fi; }
for t in "$@"; do
	pkg=${t%%:*} name=${t##*:}
	dir=$pkg/testdata/fuzz/$name
	before=$(corpus_files "$dir")
	if "$go" test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" \
		-fuzzminimizetime "$minimize" -parallel "$parallel" "./$pkg/" >"$log" 2>&1; then
		echo "fuzz: $name ($pkg): $(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2) executions in $fuzztime"
		continue
	fi
	if [ "$(corpus_files "$dir")" = "$before" ] &&
		grep -qx '    context deadline exceeded' "$log" &&
		! grep -q 'Failing input written to' "$log"; then
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		echo "fuzz: $name ($pkg): the run ended on Go's fuzz deadline race (golang/go#75804) with no failing input; replaying its corpus"
		if "$go" test -count=1 -run "^$name\$" "./$pkg/" >"$log" 2>&1; then
			echo "fuzz: $name ($pkg): corpus replay passed; $execs executions in $fuzztime"
			continue
		fi
	fi
	cat "$log"
	echo "fuzz: $name ($pkg) FAILED" >&2
	exit 1
done
