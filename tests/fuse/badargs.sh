#!/bin/bash
# Every path and fd call the shim interposes, given NULL, an unmapped
# pointer, an over-long path and a bad fd (tests/fuse/badargs.c), returns
# exactly glibc's result and errno under the shim: outside any FUSE op and
# inside one (a lookup of the daemon's trigger).  The lines of a run without
# the shim and of one with it must be equal (no crash, no other errno).
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
BIN=$top_builddir/tests/fuse/badargs
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
fsr_require_built "$BIN"
fsr_mounted_test badargs

# one run: out-file [runner...]: the suite outside an op, then inside the lookup
one() {
	local out=$1; shift
	local M=$T/mnt.$(basename "$out"); mkdir -p "$M"
	(cd "$T" && exec timeout -k 5 120 "$@" "$BIN" "$M") > "$out" 2>"$out.err" &
	pid=$!
	fsr_wait_mount "$M" $pid
	case $? in
	2) cat "$out.err"; FAIL "daemon died ($*)"; return ;;
	1) FAIL "no mount ($*)"; return ;;
	esac
	fsr_bounded_stat "$M/trigger" "$M"
	[ $? = 124 ] && FAIL "stat of the trigger hung ($*)"
	fusermount3 -u "$M" || fusermount3 -u -z "$M"
	wait $pid
	pid=
}
one "$T/plain"
one "$T/shim" "$RUN" --opt "log_path=$T/log" --opt interval=0 --
n=$(grep -c "^op " "$T/plain")
m=$(grep -c "^plain " "$T/plain")
[ "$n" -gt 200 ] && [ "$n" = "$m" ] || FAIL "the suite did not run in both contexts: $m outside, $n inside an op"
if ! diff -u "$T/plain" "$T/shim" > "$T/diff"; then
	FAIL "results under the shim differ from glibc's"; head -60 "$T/diff"
fi
grep -c ": signal" "$T/shim" | sed 's/^/calls killed by a signal under the shim: /'
echo "$m calls outside an op, $n inside, compared"
exit $fail
