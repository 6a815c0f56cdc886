#!/bin/sh
# icount.sh - instructions per iteration of the micro benchmarks, counted by
# valgrind's callgrind: the stable second measure beside the CPU times of
# malloc.sh and locks.sh (the machine's noise does not move it).
#
#   icount.sh [CASE...]      CASE: malloc:WORKLOAD:THREADS or lock:CASE:THREADS
#                            (default: small and mixed malloc/free, every lock case,
#                            1 thread)
#
# Each case runs twice per variant (plain glibc, forward.c's forwarding
# preload, the idle shim interval=0, the shim at its defaults) with N and 2N
# iterations; the difference of the two totals over N is the cost of one
# iteration without start-up and exit.  Prints one row per case.  Not a
# test: needs valgrind (skips with a message without it).
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
shim=${FSR_SHIM:-$top_builddir/preload/.libs/libfsreclaim.so}
command -v valgrind >/dev/null || { echo "icount.sh: no valgrind" >&2; exit 0; }
unset FSRECLAIM_OPTIONS LD_PRELOAD
tmp=$(mktemp -d /tmp/fsr-icount.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -O2 -fPIC -shared -fno-plt "$top_srcdir/tests/bench/forward.c" -o "$tmp/forward.so" -ldl ||
	{ echo "icount.sh: cannot build forward.c" >&2; exit 2; }
n=${N:-200000}

total() { # VARIANT BIN ARGS... -> instructions of the whole run
	v=$1; shift
	case $v in
	plain) set -- "$@" ;;
	forward) set -- env LD_PRELOAD="$tmp/forward.so" "$@" ;;
	idle) set -- env FSRECLAIM_OPTIONS=interval=0 LD_PRELOAD="$shim" "$@" ;;
	default) set -- env LD_PRELOAD="$shim" "$@" ;;
	esac
	rm -f "$tmp/cg.out"
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" --trace-children=yes "$@" >/dev/null 2>&1
	[ -s "$tmp/cg.out" ] || { echo "icount.sh: callgrind wrote no profile for $*" >&2; exit 2; }
	sed -n 's/^summary: *//p; s/^totals: *//p' "$tmp/cg.out" | head -1
}

cases=${*:-"malloc:small:1 malloc:mixed:1 lock:plain:1 lock:nested2:1 lock:nested4:1 lock:rwread:1 lock:malloc:1"}
printf '%-18s %8s %8s %8s %8s\n' case plain forward idle default
for c in $cases; do
	kind=${c%%:*}; rest=${c#*:}; w=${rest%%:*}; t=${rest#*:}
	case $kind in
	malloc) bin=$top_builddir/tests/bench/malloc_bench; per=$t ;;   # OPS per thread
	lock) bin=$top_builddir/tests/bench/lock_bench; per=1 ;;        # ITERS in all
	*) echo "icount.sh: $c?" >&2; exit 2 ;;
	esac
	[ -x "$bin" ] || { echo "icount.sh: $bin is not built (make bench)" >&2; exit 2; }
	printf '%-18s' "$c"
	for v in plain forward idle default; do
		a=$(total $v "$bin" "$w" "$t" "$n") || exit 2
		b=$(total $v "$bin" "$w" "$t" $((2 * n))) || exit 2
		awk -v a="$a" -v b="$b" -v n="$n" -v p="$per" 'BEGIN { printf " %8.1f", (b - a) / (n * p) }'
	done
	echo
done
