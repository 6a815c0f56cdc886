#!/bin/sh
# Lock-heavy microbenchmark, plain vs under the shim: uncontended and
# 2-thread contended lock / malloc+free / unlock.  For each of RUNS (5)
# rounds, alternating: plain, shim with interval=0 (tracking and the graph
# only), shim with the defaults (interval=100: passes too).  Prints the
# median ns/op of each variant and its ratio to plain, by wall time and by
# process CPU time (steadier when the machine is busy).  Target: <= 1.5x.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
runs=${RUNS:-5} n=${N:-4000000}
prog=$top_builddir/tests/bench/lock_bench
run=$top_builddir/preload/fsreclaim-run
[ -x "$prog" ] || { echo "build $prog first (make check TESTS=)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/fsr-lockbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
one() { # VARIANT MODE CMD...: appends wall and cpu ns/op
	v=$1 m=$2; shift 2
	out=$(timeout 300 "$@" "$m" "$n") || { echo "run failed: $*" >&2; exit 1; }
	echo "$out" | sed -n 's/^ns_per_op=\([0-9.]*\) .*/\1/p' >>"$tmp/$m.$v.wall"
	echo "$out" | sed -n 's/.*cpu_ns_per_op=\([0-9.]*\).*/\1/p' >>"$tmp/$m.$v.cpu"
}
echo "lock bench: $runs rounds of $n iterations, medians (ratio to plain)"
for mode in uncontended contended; do
	for i in $(seq "$runs"); do
		one plain $mode "$prog"
		one idle $mode "$run" --opt interval=0 -- "$prog"
		one default $mode "$run" -- "$prog"
	done
	for k in wall cpu; do
		p=$(median "$tmp/$mode.plain.$k") i=$(median "$tmp/$mode.idle.$k") d=$(median "$tmp/$mode.default.$k")
		awk -v m="$mode" -v k="$k" -v p="$p" -v i="$i" -v d="$d" 'BEGIN {
			printf "%-12s %-4s plain %6.2f ns/op | interval=0 %6.2f (%.2fx) | default %6.2f (%.2fx)\n",
				m, k, p, i, i / p, d, d / p }'
	done
done
