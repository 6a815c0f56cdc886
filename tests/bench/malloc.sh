#!/bin/sh
# malloc.sh - the shim's cost on the malloc family, against plain glibc.
# For each workload (malloc/free and realloc chains, mixed 16 B-64 KiB and
# small 16-512 B) and 1, 2 and 8 threads, RUNS (default 9) rounds, alternating:
#   plain    no shim
#   forward  tests/bench/forward.c, a preload that only forwards to __libc_*
#            (the floor: the cost of interposing at all; compiled here with
#            $CC, skipped without)
#   idle     shim, interval=0
#   inline   shim, interval=1000 mode=inline, one cheap shrinker
#   handoff  shim, interval=1000 mode=handoff, one cheap shrinker
# Prints the median ns/op of each and its ratio to plain, idle's ratio to
# forward, and checks the targets: idle <= 1.02x of forward (mixed, small;
# 1 and 2 threads), inline <= 1.15x of plain.
# Then kmalloc: the same workloads through fsr_kmalloc(n, FSR_GFP_KERNEL)
# under the idle shim, against plain malloc without it (target <= 1.05x
# mixed, 1.10x small, as idle malloc).
# CLOCK=cpu (default; CPU time of the process per op, steadier on a shared
# machine) or CLOCK=wall.  Not a test: a miss prints MISS and exits 1.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
runs=${RUNS:-9}
clock=${CLOCK:-cpu}
case $clock in cpu) key=cpu_ns_per_op ;; wall) key=ns_per_op ;; *) echo "CLOCK=cpu|wall" >&2; exit 2 ;; esac
bin=$top_builddir/tests/bench/malloc_bench
shim=${FSR_SHIM:-$top_builddir/preload/.libs/libfsreclaim.so}
[ -x "$bin" ] || { echo "malloc.sh: $bin not built (make bench)" >&2; exit 2; }
[ -f "$shim" ] || { echo "malloc.sh: no shim at $shim" >&2; exit 2; }
unset FSRECLAIM_OPTIONS LD_PRELOAD
tmp=$(mktemp -d /tmp/fsr-mbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

variants="plain idle inline handoff"
if ${CC:-cc} -O2 -fPIC -shared -fno-plt "$top_srcdir/tests/bench/forward.c" -o "$tmp/forward.so" -ldl 2>/dev/null; then
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
printf ' %8s\n' idle/fwd
for w in mixed small realloc-mixed realloc-small; do
	for t in 1 2 8; do
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
			inline.*) lim=1.15 ;;
			*) lim= ;;
			esac
			if [ -n "$lim" ] && awk -v r="$r" -v l="$lim" 'BEGIN { exit !(r > l) }'; then
				flag="$flag MISS($v>$lim)"
				miss=1
			fi
		done
		if [ -s "$tmp/$w.$t.forward" ]; then
			f=$(median <"$tmp/$w.$t.forward") i=$(median <"$tmp/$w.$t.idle")
			r=$(ratio "$i" "$f")
			printf ' %7sx' "$r"
			case $w.$t in
			mixed.[12]|small.[12])
				if awk -v r="$r" 'BEGIN { exit !(r > 1.02) }'; then flag="$flag MISS(idle>1.02x fwd)"; miss=1; fi ;;
			esac
		fi
		echo "$flag"
	done
done
echo "($clock ns per op, medians of $runs alternating runs; ratios to plain, idle/fwd to forward;"
echo " targets: idle <= 1.02x of forward on mixed and small with 1 and 2 threads (8: information);"
echo " inline interval=1000 <= 1.15x of plain; handoff: no target)"
echo
printf '%-14s %3s %8s %8s %7s %8s %7s\n' workload thr malloc kmalloc ratio named ratio
for w in mixed small; do
	for t in 1 2; do
		for r in $(seq "$runs"); do
			one plain $w $t >>"$tmp/k$w.$t.plain"
			one idle kmalloc-$w $t >>"$tmp/k$w.$t.idle"
			one idle kmalloc-named-$w $t >>"$tmp/k$w.$t.named"
		done
		base=$(median <"$tmp/k$w.$t.plain")
		m=$(median <"$tmp/k$w.$t.idle")
		r=$(ratio "$m" "$base")
		mn=$(median <"$tmp/k$w.$t.named")
		rn=$(ratio "$mn" "$base")
		lim=1.05; [ $w = small ] && lim=1.10
		flag=
		if awk -v r="$r" -v l="$lim" 'BEGIN { exit !(r > l) }'; then
			flag=" MISS(kmalloc>$lim)"
			miss=1
		fi
		printf '%-14s %3s %8.2f %8.2f %6.3fx %8.2f %6.3fx%s\n' "kmalloc-$w" "$t" "$base" "$m" "$r" "$mn" "$rn" "$flag"
	done
done
echo "(kmalloc: fsr_kmalloc(n, FSR_GFP_KERNEL) from fsreclaim.h, named: the shim's exported"
echo " fsr_kmalloc by dlsym; both + free under the idle shim, interval=0, against plain malloc/free"
echo " without the shim; targets for kmalloc: <= 1.05x mixed, 1.10x small; named: no target)"
exit $miss
