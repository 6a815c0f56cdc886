#!/bin/sh
# Cost of read(2)/write(2)/splice(2) on fds that are not /dev/fuse under the
# shim (the wire transport's one bit test per call, plus fs-reentry's check):
# rw_bench's pipe, regular-file and splice rounds without the shim and under it
# (interval=0).  FSRECLAIM_LIB=path/libfsreclaim.so compares another build
# (e.g. one without the wire) instead of this one.
# Part 1, separate processes: RUNS (7) rounds of a plain and a shim run of N
# (300000) rounds each, the order reversed every other round; medians of the
# ns per round, and the median (lowest-highest) over the rounds of the shim
# run's ratio to the plain run of its round.
# Part 2, interleaved (the target): RUNS processes under the shim, each
# alternating chunks of 50 rounds through the shim's calls and libc's own
# (rw_bench's RW_BENCH_PAIR: the ratio of adjacent chunks, median over the
# run); the median (lowest-highest) of the runs, and the same without the
# shim (both arms libc's: the method's own error).  Target: <= 1.02x for
# pipe and file (splice: information).  A miss prints MISS and exits 1.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
runs=${RUNS:-7} n=${N:-300000}
bin=$top_builddir/tests/bench/rw_bench
lib=${FSRECLAIM_LIB:-$top_builddir/preload/.libs/libfsreclaim.so}
work=$(mktemp -d /tmp/fsr-rwbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
unset RW_BENCH_PAIR
pin=; command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ] && pin="taskset -c $(($(nproc) - 1))"
med() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
lohi() { sort -g "$1" | awk 'NR == 1 { l = $1 } { h = $1 } END { printf "%.3f-%.3f", l, h }'; }
plain() { $pin "$bin" "$work/f" "$@"; }
shim() { LD_PRELOAD=$lib FSRECLAIM_OPTIONS=interval=0 $pin "$bin" "$work/f" "$@"; }
for r in $(seq "$runs"); do
	if [ $((r % 2)) = 1 ]; then a=$(plain "$n") || exit 1; b=$(shim "$n") || exit 1
	else b=$(shim "$n") || exit 1; a=$(plain "$n") || exit 1; fi
	for w in pipe file splice; do
		x=$(echo "$a" | awk -v w=$w '$1 == w { print $2 }') y=$(echo "$b" | awk -v w=$w '$1 == w { print $2 }')
		echo "$x" >>"$work/$w.plain"; echo "$y" >>"$work/$w.shim"
		awk -v a="$x" -v b="$y" 'BEGIN { print b / a }' >>"$work/$w.r"
	done
	RW_BENCH_PAIR=1 shim "$n" >"$work/pair" || exit 1
	RW_BENCH_PAIR=1 plain "$n" >"$work/null" || exit 1
	for w in pipe file splice; do
		awk -v w=pair_$w '$1 == w { print $2 }' "$work/pair" >>"$work/$w.pair"
		awk -v w=pair_$w '$1 == w { print $2 }' "$work/null" >>"$work/$w.null"
	done
done
miss=0
echo "rw.sh ($runs rounds, $n rounds per run, load $(cut -d' ' -f1-3 /proc/loadavg)):"
for w in pipe file splice; do
	pr=$(med <"$work/$w.pair")
	verdict=
	case $w in
	pipe|file)
		if awk -v r="$pr" 'BEGIN { exit !(r > 1.02) }'; then verdict=" MISS(>1.02x)"; miss=1; else verdict=" ok"; fi ;;
	esac
	printf '  %-6s plain %7.1f ns, shim %7.1f ns, ratio %.3fx (%s) | interleaved %.3fx (%s), without the shim %.3fx (%s)%s\n' \
		"$w" "$(med <"$work/$w.plain")" "$(med <"$work/$w.shim")" "$(med <"$work/$w.r")" "$(lohi "$work/$w.r")" \
		"$pr" "$(lohi "$work/$w.pair")" "$(med <"$work/$w.null")" "$(lohi "$work/$w.null")" "$verdict"
done
echo "(separate runs: medians and the median of the rounds' ratios; interleaved: chunks of 50 rounds through"
echo " the shim's and libc's calls in turn, the median of $runs runs; target <= 1.02x, pipe and file)"
exit $miss
