#!/bin/sh
# Lock-heavy microbenchmark, plain vs under the shim: uncontended and
# 2-thread contended lock / malloc+free / unlock.  For each of RUNS (5)
# rounds, alternating: plain, shim with interval=0 (tracking and the graph
# only), shim with the defaults (interval=100: passes too).  Prints the
# median ns/op of each variant and its ratio to plain.  Target: <= 1.5x.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
runs=${RUNS:-5} n=${N:-2000000}
prog=$top_builddir/tests/bench/lock_bench
run=$top_builddir/preload/fsreclaim-run
[ -x "$prog" ] || { echo "build $prog first (make check TESTS=)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/fsr-lockbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for mode in uncontended contended; do
	for i in $(seq "$runs"); do
		timeout 300 "$prog" $mode "$n" | sed -n 's/ns_per_op=//p' >>"$tmp/$mode.plain"
		timeout 300 "$run" --opt interval=0 -- "$prog" $mode "$n" | sed -n 's/ns_per_op=//p' >>"$tmp/$mode.idle"
		timeout 300 "$run" -- "$prog" $mode "$n" | sed -n 's/ns_per_op=//p' >>"$tmp/$mode.default"
	done
	p=$(median "$tmp/$mode.plain") i=$(median "$tmp/$mode.idle") d=$(median "$tmp/$mode.default")
	awk -v m=$mode -v p="$p" -v i="$i" -v d="$d" -v r="$runs" 'BEGIN {
		printf "%-12s plain %7.2f ns/op | shim interval=0 %7.2f ns/op (%.2fx) | shim default %7.2f ns/op (%.2fx)  [median of %d]\n",
			m, p, i, i / p, d, d / p, r }'
done
