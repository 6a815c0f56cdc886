#!/bin/sh
# Cost of read(2)/write(2)/splice(2) on fds that are not /dev/fuse under the
# shim (the wire transport's one bit test per call, plus fs-reentry's check):
# rw_bench's pipe, regular-file and splice rounds without the shim and under it
# (interval=0), RUNS (7) alternating runs of N (300000) rounds; medians, ns
# per round, and the ratio.  FSRECLAIM_LIB=path/libfsreclaim.so compares
# another build (e.g. one without the wire) instead of this one.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
runs=${RUNS:-7} n=${N:-300000}
bin=$top_builddir/tests/bench/rw_bench
lib=${FSRECLAIM_LIB:-$top_builddir/preload/.libs/libfsreclaim.so}
work=$(mktemp -d /tmp/fsr-rwbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
med() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
pp= pf= px= sp= sf= sx=
for r in $(seq "$runs"); do
	out=$("$bin" "$work/f" "$n") || exit 1
	pp="$pp $(echo "$out" | awk '/^pipe/ { print $2 }')"; pf="$pf $(echo "$out" | awk '/^file/ { print $2 }')"
	px="$px $(echo "$out" | awk '/^splice/ { print $2 }')"
	out=$(LD_PRELOAD=$lib FSRECLAIM_OPTIONS=interval=0 "$bin" "$work/f" "$n") || exit 1
	sp="$sp $(echo "$out" | awk '/^pipe/ { print $2 }')"; sf="$sf $(echo "$out" | awk '/^file/ { print $2 }')"
	sx="$sx $(echo "$out" | awk '/^splice/ { print $2 }')"
done
for w in pipe file splice; do
	case $w in
	pipe) a=$(echo "$pp" | med) b=$(echo "$sp" | med) ;;
	file) a=$(echo "$pf" | med) b=$(echo "$sf" | med) ;;
	splice) a=$(echo "$px" | med) b=$(echo "$sx" | med) ;;
	esac
	echo "  $w: plain $a ns, shim $b ns ($(echo "$b $a" | awk '{ printf "%.3f", $1 / $2 }')x)"
done
