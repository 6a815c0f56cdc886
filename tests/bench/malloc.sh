#!/bin/sh
# malloc.sh - the shim's cost on the malloc family, against plain glibc.
# For each workload (malloc/free and realloc chains, mixed 16 B-64 KiB and
# small 16-512 B) and 1 and 2 threads, RUNS (default 7) rounds, alternating:
#   plain    no shim
#   forward  a preload that only forwards to __libc_* (the floor: the cost
#            of interposing at all; compiled here with $CC, skipped without)
#   idle     shim, interval=0
#   inline   shim, interval=1000 mode=inline, one cheap shrinker
#   handoff  shim, interval=1000 mode=handoff, one cheap shrinker
# Prints the median ns/op of each and its ratio to plain, idle's ratio to
# forward (shim/forward: the shim's own cost, replay off), and checks the
# targets: idle <= 1.05x (mixed) / 1.10x (small), inline <= 1.15x.
# CLOCK=cpu (default; CPU time of the process per op, steadier on a shared
# machine) or CLOCK=wall.  Not a test: a miss prints MISS and exits 1.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
runs=${RUNS:-7}
clock=${CLOCK:-cpu}
case $clock in cpu) key=cpu_ns_per_op ;; wall) key=ns_per_op ;; *) echo "CLOCK=cpu|wall" >&2; exit 2 ;; esac
bin=$top_builddir/tests/bench/malloc_bench
shim=${FSR_SHIM:-$top_builddir/preload/.libs/libfsreclaim.so}
[ -x "$bin" ] || { echo "malloc.sh: $bin not built (make bench)" >&2; exit 2; }
[ -f "$shim" ] || { echo "malloc.sh: no shim at $shim" >&2; exit 2; }
unset FSRECLAIM_OPTIONS LD_PRELOAD
tmp=$(mktemp -d /tmp/fsr-mbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/forward.c" <<'C'
#include <stddef.h>
extern void *__libc_malloc(size_t); extern void __libc_free(void *);
extern void *__libc_realloc(void *, size_t); extern void *__libc_calloc(size_t, size_t);
void *malloc(size_t n) { return __libc_malloc(n); }
void free(void *p) { __libc_free(p); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void *calloc(size_t a, size_t b) { return __libc_calloc(a, b); }
C
variants="plain idle inline handoff"
if ${CC:-cc} -O2 -fPIC -shared -fno-plt "$tmp/forward.c" -o "$tmp/forward.so" 2>/dev/null; then
	variants="plain forward idle inline handoff"
fi

one() { # VARIANT WORKLOAD THREADS -> ns/op
	case $1 in
	plain) "$bin" "$2" "$3" ;;
	forward) LD_PRELOAD=$tmp/forward.so "$bin" "$2" "$3" ;;
	idle) FSRECLAIM_OPTIONS=interval=0 LD_PRELOAD=$shim "$bin" "$2" "$3" ;;
	inline) FSRECLAIM_OPTIONS=interval=1000:mode=inline LD_PRELOAD=$shim "$bin" "$2" "$3" ;;
	handoff) FSRECLAIM_OPTIONS=interval=1000:mode=handoff LD_PRELOAD=$shim "$bin" "$2" "$3" ;;
	esac | tr ' ' '\n' | sed -n "s/^$key=//p"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

miss=0
printf '%-14s %3s %8s' workload thr plain
for v in $variants; do [ $v = plain ] || printf ' %8s %7s' "$v" ratio; done
echo
for w in mixed small realloc-mixed realloc-small; do
	for t in 1 2; do
		for r in $(seq "$runs"); do
			for v in $variants; do
				one $v $w $t >>"$tmp/$w.$t.$v"
			done
		done
		base=$(median <"$tmp/$w.$t.plain")
		printf '%-14s %3s %8.2f' "$w" "$t" "$base"
		flag=
		for v in $variants; do
			[ $v = plain ] && continue
			m=$(median <"$tmp/$w.$t.$v")
			r=$(ratio "$m" "$base")
			printf ' %8.2f %6.3fx' "$m" "$r"
			case $v.$w in
			idle.*small) lim=1.10 ;;
			idle.*) lim=1.05 ;;
			inline.*) lim=1.15 ;;
			*) lim= ;;
			esac
			if [ -n "$lim" ] && awk -v r="$r" -v l="$lim" 'BEGIN { exit !(r > l) }'; then
				flag="$flag MISS($v>$lim)"
				miss=1
			fi
		done
		# the shim with replay and passes off against the bare interposer:
		# what the shim's bookkeeping costs beyond interposing at all
		if [ -s "$tmp/$w.$t.forward" ]; then
			printf ' shim/forward %.3fx' "$(ratio "$(median <"$tmp/$w.$t.idle")" "$(median <"$tmp/$w.$t.forward")")"
		fi
		echo "$flag"
	done
done
echo "($clock ns per op, medians of $runs alternating runs; targets: idle <= 1.05x mixed, 1.10x small;"
echo " inline interval=1000 <= 1.15x; forward and handoff: no target)"
exit $miss
