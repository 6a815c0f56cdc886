#!/bin/bash
# libfuse2's high level releases a handle inside the request that opened
# it when the reply fails (an interrupted open or create: the kernel no
# longer waits, the reply gets ENOENT) and when a create's lookup fails
# (before any reply).  tests/fuse/cancel2 makes those requests in-process
# (no kernel: a channel of its own fails the replies), with one other file
# kept open, all with fh 0; the shim's flush/fsync callbacks (interval=1,
# both modes) must name the kept file only: none of the three released
# handles is left in the ledger, and no release took the kept file's.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
BIN=$top_builddir/tests/fuse/cancel2
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
T=$(mktemp -d /tmp/fsr-cancel2.XXXXXX) || exit 99
trap 'rm -rf "$T"' EXIT
fail=0
FAIL() { echo "FAIL: $*"; fail=1; }
for mode in handoff inline; do
	timeout -k 5 60 "$RUN" --opt interval=1 --opt "mode=$mode" --opt "log_path=$T/$mode.log" -- "$BIN" \
		> "$T/$mode.out" 2>&1
	rc=$?
	sed "s/^/$mode: /" "$T/$mode.out"
	[ $rc = 0 ] || FAIL "$mode: cancel2 exit status $rc"
	grep -qx "cancel2: done" "$T/$mode.out" || { FAIL "$mode: cancel2 did not finish"; continue; }
	grep -q "^cancel2: [a-z/]* .*failed\|did not fail" "$T/$mode.out" && FAIL "$mode: a request did not go as planned"
	n=$(sed -n 's|^cancel2: /keep \([0-9]*\)$|\1|p' "$T/$mode.out")
	[ "${n:-0}" -gt 0 ] || FAIL "$mode: the kept file was never called back (a release took its handle?)"
	for p in /a /new /nolookup; do
		grep -qx "cancel2: released $p" "$T/$mode.out" || FAIL "$mode: libfuse2 did not release $p"
		grep -q "^cancel2: $p [0-9]" "$T/$mode.out" && FAIL "$mode: $p was called back after its release"
	done
	grep -q "^cancel2: released /keep" "$T/$mode.out" && FAIL "$mode: /keep was released"
done
[ $fail = 0 ] && echo PASS
exit $fail
