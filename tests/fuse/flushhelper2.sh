#!/bin/bash
# A single-threaded libfuse2 high-level daemon whose flush starts a thread
# that stats a name on the daemon's own mount and joins it
# (tests/fuse/pathfs2 with PATHFS2_FLUSH_HELPER=1, -s): the thread is part
# of the op, for the kernel's flush (close) and for the shim's flush
# callbacks (interval=1, while the file is written) alike, so each stat is
# an fs-reentry report and fails with EDEADLK; nothing hangs.  Without
# that, the daemon's one thread waits for its helper, which waits for the
# daemon.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
BIN=$top_builddir/tests/fuse/pathfs2
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
fsr_mounted_test flushhelper2 mnt
S=$T/src; mkdir "$S"
EDEADLK=35

# on the mount $1: helper open while other inodes' requests come (the
# shim calls back no handle of an inode a request works on), then closed
# (the kernel's flush)
workload() {
	local i
	exec 3> "$1/helper" || return 1
	for i in $(seq 20); do echo "line $i" >&3 && ls "$1" > /dev/null || return 1; done
	exec 3>&-
}

PATHFS2_FLUSH_HELPER=1 timeout -k 5 90 "$RUN" --opt interval=1 --opt "log_path=$T/log" -- \
	"$BIN" "$S" "$M" -f -s > "$T/out" 2>&1 &
pid=$!
fsr_wait_mount "$M" $pid
case $? in
2) cat "$T/out"; echo "FAIL: daemon died"; exit 1 ;;
1) echo "FAIL: no mount"; exit 1 ;;
esac
fsr_bounded "$M" 30 workload "$M"
rc=$?
[ $rc = 124 ] && FAIL "the workload hung (a flush's helper thread reached the mount)"
[ $rc = 0 ] || [ $rc = 124 ] || FAIL "the workload failed ($rc)"
fusermount -u "$M" 2>/dev/null || fsr_unmount "$M" $pid
wait $pid; drc=$?; pid=
grep "^flush-helper\|^pathfs2" "$T/out"
grep -qx "flush-helper (kernel): errno $EDEADLK" "$T/out" ||
	FAIL "the kernel's flush: its helper's stat of the mount did not fail with EDEADLK"
grep -qx "flush-helper (shim): errno $EDEADLK" "$T/out" ||
	FAIL "the shim's flush callback: its helper's stat of the mount did not fail with EDEADLK"
grep -q "^flush-helper.*: ok" "$T/out" && FAIL "a flush's helper reached the mount"
grep -q "in a thread started inside FUSE op 'flush'" "$T/log".* ||
	FAIL "no fs-reentry report says the thread was started inside the flush"
grep -q "SUMMARY: fsreclaim: fs-reentry" "$T/log".* || FAIL "no fs-reentry SUMMARY line"
[ $drc = 66 ] || FAIL "daemon exit status $drc, expected 66 (exitcode after an ERROR report)"
[ $fail = 0 ] && echo PASS
exit $fail
