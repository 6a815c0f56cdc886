#!/bin/sh
# locks.sh - the cost of lock tracking, against plain glibc and a forwarding
# preload (forward.c: the cost of interposing at all, the noise floor).
# Cases (lock_bench.c, each thread on its own locks, uncontended): plain
# lock/unlock, nested 2-deep and 4-deep, rwlock read, and the lock
# benchmark (lock, malloc+free, unlock); 1, 2 and 8 threads.  RUNS (9)
# alternating rounds of: plain, forward, shim idle (interval=0), shim at
# the defaults.  Prints medians of CPU ns per iteration (CLOCK=wall for wall
# time), shim - forward, and shim / plain, and the load before and after
# (uptime).  Targets (issue 15, 1 and 2 threads, idle): shim - forward
# <= 3 ns for plain lock+unlock, <= 5 ns nested 4-deep; the lock benchmark
# <= 1.25x plain.  Each row with a target says ok or MISS against it (8
# threads and the other cases are for information).  Not a test: a miss
# exits 1.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
runs=${RUNS:-9} iters=${ITERS:-4000000}
clock=${CLOCK:-cpu}
case $clock in cpu) key=cpu_ns_per_op ;; wall) key=ns_per_op ;; *) echo "CLOCK=cpu|wall" >&2; exit 2 ;; esac
bin=$top_builddir/tests/bench/lock_bench
shim=${FSR_SHIM:-$top_builddir/preload/.libs/libfsreclaim.so}
[ -x "$bin" ] || { echo "locks.sh: $bin not built (make bench)" >&2; exit 2; }
[ -f "$shim" ] || { echo "locks.sh: no shim at $shim" >&2; exit 2; }
unset FSRECLAIM_OPTIONS LD_PRELOAD
tmp=$(mktemp -d /tmp/fsr-lbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -O2 -fPIC -shared "$top_srcdir/tests/bench/forward.c" -o "$tmp/forward.so" -ldl ||
	{ echo "locks.sh: cannot build the forwarding preload" >&2; exit 2; }

one() { # VARIANT CASE THREADS -> ns per iteration
	case $1 in
	plain) "$bin" "$2" "$3" "$iters" ;;
	forward) LD_PRELOAD=$tmp/forward.so "$bin" "$2" "$3" "$iters" ;;
	idle) FSRECLAIM_OPTIONS=interval=0 LD_PRELOAD=$shim "$bin" "$2" "$3" "$iters" ;;
	default) LD_PRELOAD=$shim "$bin" "$2" "$3" "$iters" ;;
	esac | tr ' ' '\n' | sed -n "s/^$key=//p"
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

miss=0
echo "load before: $(uptime)"
printf '%-8s %3s %8s %8s %8s %8s %9s %7s %7s\n' case thr plain forward idle default idle-fwd idle/pl def/pl
for c in plain nested2 nested4 rwread malloc; do
	for t in 1 2 8; do
		for r in $(seq "$runs"); do
			for v in plain forward idle default; do one $v $c $t >>"$tmp/$c.$t.$v"; done
		done
		p=$(median <"$tmp/$c.$t.plain") f=$(median <"$tmp/$c.$t.forward")
		i=$(median <"$tmp/$c.$t.idle") d=$(median <"$tmp/$c.$t.default")
		flag=" (info)"
		case $c.$t in
		plain.[12]) lim="d 3" ;;
		nested4.[12]) lim="d 5" ;;
		malloc.[12]) lim="r 1.25" ;;
		*) lim= ;;
		esac
		if [ -n "$lim" ]; then
			b="<= ${lim#* }$([ "${lim% *}" = d ] && echo ' ns' || echo x)"
			if awk -v k="${lim% *}" -v l="${lim#* }" -v p="$p" -v f="$f" -v i="$i" \
				'BEGIN { exit !(k == "d" ? i - f > l : i / p > l) }'; then
				flag=" MISS($b)"
				miss=1
			else
				flag=" ok($b)"
			fi
		fi
		awk -v c="$c" -v t="$t" -v p="$p" -v f="$f" -v i="$i" -v d="$d" -v fl="$flag" 'BEGIN {
			printf "%-8s %3d %8.2f %8.2f %8.2f %8.2f %+9.2f %6.2fx %6.2fx%s\n", c, t, p, f, i, d, i - f, i / p, d / p, fl }'
	done
done
echo "load after: $(uptime)"
echo "($clock ns per iteration, medians of $runs alternating runs of $iters iterations;"
echo " idle = interval=0, default = the contract's defaults; targets for 1 and 2 threads:"
echo " idle - forward <= 3 ns plain, <= 5 ns nested4; malloc idle <= 1.25x plain)"
exit $miss
