#!/usr/bin/env bash
# Fuzzes one target for a while: tools/fuzz/run.sh TARGET TIME PACKAGE (GO names the go command).
#
# Go 1.26's fuzzing coordinator can fail a run exactly at the -fuzztime boundary with a bare
# "context deadline exceeded" when a worker is still busy, most often on a loaded machine, although
# nothing was found (golang/go#75804, fixed in Go 1.27). A real finding always writes its input to
# testdata/fuzz/ and says "Failing input written to"; so a failed run that says neither that nor
# anything but the deadline counts as passed, with a warning. Every other failure fails. Drop this
# script for a plain `go test -fuzz` once go.mod moves to Go 1.27.
set -uo pipefail
target=$1 fuzztime=$2 pkg=$3
go=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$go" test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ] && grep -q 'context deadline exceeded' "$log" &&
	! grep -q 'Failing input written' "$log" &&
	! grep -E -q '^\s+[A-Za-z0-9_]+\.go:[0-9]+:|panic:' "$log"; then
	echo "warning: $target: the fuzzing run ended on Go's deadline race (golang/go#75804) with nothing found; counted as passed" >&2
	exit 0
fi
exit "$rc"
