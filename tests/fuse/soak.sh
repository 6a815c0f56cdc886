#!/bin/bash
# make soak: each mounted daemon test of tests/fuse/mounted.sh, SOAK_RUNS
# times (50) per daemon (each run: without the shim, handoff, inline, all
# with interval=1), under `stress-ng --cpu 2 --vm 1` for the whole soak.
# Not part of make check.  A failing run prints mounted.sh's own messages
# (the failing command, the checksum difference, every thread's stack of a
# daemon whose workload failed); the summary gives the runs that passed per
# daemon.  SOAK_DAEMONS picks daemons (default: mounted.sh's list).
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUNS=${SOAK_RUNS:-50}
DAEMONS=${SOAK_DAEMONS:-"hello passthrough passthrough_fh passthrough_ll passthrough_ll-s fuse-overlayfs bindfs bindfs-mt fusexmp_fh ll2fs ll2fs-s fusepy pyfuse3 fuseperl"}
command -v stress-ng > /dev/null || { echo "soak: stress-ng is not installed (.ci/deps)"; exit 1; }
T=$(mktemp -d /tmp/fsr-soak.XXXXXX) || exit 99
stress-ng --cpu 2 --vm 1 --vm-bytes 128M --timeout 0 > "$T/stress.log" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
fail=0 summary=
for d in $DAEMONS; do
	ok=0
	for i in $(seq "$RUNS"); do
		if MOUNTED_DAEMONS=$d MOUNTED_NO_BG=1 timeout -k 10 900 "$top_srcdir/tests/fuse/mounted.sh" > "$T/out" 2>&1; then
			ok=$((ok + 1))
		else
			fail=1
			echo "soak: $d run $i/$RUNS FAILED:"; cat "$T/out"
		fi
	done
	echo "soak: $d: $ok of $RUNS runs passed"
	summary="$summary$d $ok/$RUNS; "
done
echo "soak summary: $summary"
exit $fail
