#!/bin/sh
# Cost of the fs-reentry check: reentry_bench's stat() loop outside any FUSE
# op and inside one, without the shim and under it, on a file, a directory
# and a relative path (RUNS (5) alternating rounds of N (1000000) calls;
# medians, ns per call, and the ratio to the run without the shim).  Set
# FSRECLAIM_LIB to compare another build of the shim.  Needs /dev/fuse.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
runs=${RUNS:-5} n=${N:-1000000}
run=$top_builddir/preload/fsreclaim-run bin=$top_builddir/tests/bench/reentry_bench
[ -c /dev/fuse ] || { echo "SKIP: /dev/fuse is missing"; exit 0; }
work=$(mktemp -d /tmp/fsr-rbench.XXXXXX)
trap 'fusermount3 -u -z "$work/mnt" 2>/dev/null; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
mkdir -p "$work/mnt" "$work/deep/a/b/c" && : > "$work/deep/a/b/c/f"
med() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for p in "$work/deep/a/b/c/f" "$work/deep/a/b/c" deep/a/b/c/f; do
	po= pi= so= si=
	for r in $(seq "$runs"); do
		out=$(cd "$work" && timeout 600 "$bin" "$work/mnt" "$p" "$n") || exit 1
		po="$po $(echo "$out" | awk '/^outside/ { print $2 }')"; pi="$pi $(echo "$out" | awk '/^inop/ { print $2 }')"
		out=$(cd "$work" && timeout 600 "$run" --opt interval=0 -- "$bin" "$work/mnt" "$p" "$n" 2>/dev/null) || exit 1
		so="$so $(echo "$out" | awk '/^outside/ { print $2 }')"; si="$si $(echo "$out" | awk '/^inop/ { print $2 }')"
	done
	echo "$p" | sed "s|$work|WORK|"
	for w in outside inop; do
		if [ $w = outside ]; then a=$(echo "$po" | med) b=$(echo "$so" | med); else a=$(echo "$pi" | med) b=$(echo "$si" | med); fi
		echo "  $w: plain $a ns, shim $b ns ($(echo "$b $a" | awk '{ printf "%.2f", $1 / $2 }')x)"
	done
done
