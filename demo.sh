#!/bin/sh
# The main job: build fsreclaim, mount txfs under the shim with one classic
# reclaim bug switched on, run the standard workload, show the report; then
# the same with the bug fixed (hazard=none) and show that it is clean.
# The buggy run's reports are also written as SARIF, and its lock graph
# and reports as a picture and a page (fsreclaim-report) in _demo/report/.
#   ./demo.sh [HAZARD]     (default nofs-missing; see README for the modes:
#   nofs-missing noio-missing txn-nesting scope-leak needless-nofs own-mount
#   gfp-kernel-under-lock vmalloc-nofs needless-gfp-nofs)
# As root on a fresh Debian machine it installs the packages it needs.
set -u
top=$(cd "$(dirname "$0")" && pwd)
hazard=${1:-nofs-missing}
"$top/.ci/ensure-deps" --packages || exit 2
[ -e /dev/fuse ] || { echo "demo.sh: /dev/fuse is missing: cannot mount txfs" >&2; exit 2; }

build=$top/_demo
echo "== building in $build"
[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1) || exit 1
mkdir -p "$build" && cd "$build" || exit 1
[ -f Makefile ] || "$top/configure" -q >/dev/null || exit 1
make -j"$(nproc)" >make.log 2>&1 || { tail -n 30 make.log; exit 1; }

work=$(mktemp -d /tmp/fsr-demo.XXXXXX)
mnt=$work/mnt pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	fusermount3 -u -z "$mnt" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir -p "$mnt"

run_one() { # run_one HAZARD: mount txfs under the shim, workload, unmount
	h=$1
	rm -f "$work"/journal "$work"/log.* "$work"/json.* "$work"/graph.*
	opts="--opt log_path=$work/log --opt stats=1"
	opts="$opts --opt json_path=$work/json --opt graph_path=$work/graph --opt sarif_path=$work/sarif --opt source_root=$top"
	case $h in
	needless-nofs|needless-gfp-nofs) opts="$opts --opt detect_needless_nofs=1" ;;
	vmalloc-nofs) opts="$opts --opt vmalloc_model=legacy" ;;   # a bug on kernels before 5.17
	esac
	echo
	echo "== txfs -o hazard=$h under fsreclaim-run, workload: tests/workload.sh"
	"$build/preload/fsreclaim-run" $opts -- "$build/fusefs/txfs" -f \
		-o journal="$work/journal" -o hazard="$h" "$mnt" &
	pid=$!
	i=0
	while ! grep -q " $mnt " /proc/mounts; do
		kill -0 "$pid" 2>/dev/null || { echo "txfs did not mount"; return 1; }
		i=$((i+1)); [ $i -gt 200 ] && { echo "mount timed out"; return 1; }
		sleep 0.1
	done
	timeout 300 "$top/tests/workload.sh" "$mnt" || echo "(workload status $?)"
	fusermount3 -u "$mnt" || fusermount3 -u -z "$mnt"
	wait "$pid"; rc=$?; pid=
	if grep -q '^==[0-9]*==fsreclaim' "$work"/log.* 2>/dev/null; then
		# the first report in full, then one line per further report
		awk '/^==[0-9]+==fsreclaim/{n++} n==1' "$work"/log.*
		echo "== all reports of this run:"
		grep -h '^SUMMARY: fsreclaim' "$work"/log.* | sort | uniq -c
	else
		echo "no reports"
	fi
	grep -h 'fsreclaim: stats' "$work"/log.*
	echo "txfs exit status: $rc (66 = reports were printed, 0 = clean)"
	if [ "$h" != none ]; then
		out=$build/report
		rm -rf "$out" && mkdir -p "$out"
		cp "$work"/sarif.*.sarif "$out/fsreclaim.sarif" 2>/dev/null
		cp "$work"/graph.*.dot "$out/graph.dot" 2>/dev/null
		"$top/tools/fsreclaim-report" -o "$out" "$work"/json.* "$out/graph.dot" >/dev/null &&
			echo "== the lock graph: $out/graph.svg, the reports as a page: $out/report.html, SARIF: $out/fsreclaim.sarif"
	fi
}

run_one "$hazard"
run_one none
