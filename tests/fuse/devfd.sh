#!/bin/bash
# fs-reentry when a parent mounted /dev/fuse and passed the daemon
# "/dev/fd/N" as its mountpoint (mount.fuse3 -o drop_privileges, container
# runtimes): devfd_mount opens /dev/fuse, mounts it (mount(2), as root) and
# execs selfcall under the shim with /dev/fd/N; the shim finds the mount by
# the fd's FUSE connection, so selfcall's calls into its own mount are
# reported and fail with EDEADLK instead of hanging, and calls elsewhere
# work.  Then the same with the mount in another mount namespace (--hidden):
# the daemon cannot reach it, and the shim says once that fs-reentry is off
# for it, and why, rather than guessing a mount.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
BIN=$top_builddir/tests/fuse/selfcall
LAUNCH=$top_builddir/tests/fuse/devfd_mount
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
fsr_require_built "$BIN" "$LAUNCH"
fsr_mounted_test devfd mnt
mkdir "$T/mnt2"
ln -s "$M/data" "$T/link-abs"

# ---- the mount visible to the daemon ----
SELFCALL_MOUNT=$M timeout -k 5 60 "$LAUNCH" "$M" -- "$RUN" --opt "log_path=$T/log" --opt interval=0 \
	-- "$BIN" -f @DEVFD@ > "$T/out" 2>&1 &
pid=$!
fsr_wait_mount "$M" $pid
case $? in
2) cat "$T/out"; echo "FAIL: devfd_mount or the daemon died (mount(2) with fd=N needs root)"; exit 1 ;;
1) echo "FAIL: no mount"; exit 1 ;;
esac
fsr_wait_line 200 "^opened:" "$T/out"
if grep -q "^devfd_mount: connection in fdinfo: no" "$T/out"; then
	# an older kernel: the shim cannot find the mount, and must say so (not guess)
	echo "note: this kernel does not name the FUSE connection in fdinfo (Linux < 6.16): checking the notice instead"
	for i in $(seq 100); do grep -q "fs-reentry is off" "$T/out" "$T/log".* 2>/dev/null && break; sleep 0.1; done
	grep -q "fs-reentry is off for the mount behind /dev/fd/[0-9]*: /proc/self/fdinfo" "$T/out" "$T/log".* 2>/dev/null ||
		FAIL "no word that fs-reentry is off on a kernel without fuse_connection in fdinfo"
	fsr_unmount "$M" $pid 200 || FAIL "the daemon did not exit after the unmount"
	wait $pid; pid=
	cat "$T/out"
	exit $fail
fi
grep -q "^devfd_mount: connection in fdinfo: yes" "$T/out" || FAIL "devfd_mount did not say what fdinfo shows"
fsr_bounded_stat "$M/trigger" "$M"
[ $? = 124 ] && FAIL "stat of the trigger hung (the daemon deadlocked on its own mount)"
fsr_wait_line 100 "^closed" "$T/out"
fsr_unmount "$M" $pid 200 || FAIL "the daemon did not exit after the unmount"
wait $pid; rc=$?; pid=
cat "$T/out"; cat "$T/log".* 2>/dev/null
EDEADLK=35
for c in stat-own-mount openat-own-dirfd read-own-file stat-dotdot-own-mount link-abs; do
	grep -qx "$c: errno $EDEADLK" "$T/out" || FAIL "$c did not fail with EDEADLK"
done
for c in stat-root stat-sibling; do
	grep -qx "$c: ok" "$T/out" || FAIL "$c failed (a call off the mount)"
done
grep -qE '^==[0-9]+== ?fsreclaim: ERROR: fs-reentry' "$T/log".* 2>/dev/null || FAIL "no fs-reentry report"
grep -q "own mount $M:" "$T/log".* 2>/dev/null || FAIL "the report does not name the mount $M"
grep -q "fs-reentry is off" "$T/out" "$T/log".* 2>/dev/null && FAIL "the shim says fs-reentry is off for a mount it can find"
[ $rc = 66 ] || FAIL "daemon exit status $rc, expected 66 (exitcode after an ERROR report)"

# ---- the mount in another mount namespace ----
timeout -k 5 60 "$LAUNCH" --hidden "$T/mnt2" -- "$RUN" --opt "log_path=$T/hlog" --opt interval=0 \
	-- "$BIN" -f @DEVFD@ > "$T/hout" 2>&1 &
pid=$!
said=0
for i in $(seq 200); do
	if grep -q "fs-reentry is off for the mount behind /dev/fd/[0-9]*: FUSE connection [0-9]* has no mount in this process's mount namespace" \
		"$T/hout" "$T/hlog".* 2>/dev/null; then said=1; break; fi
	kill -0 $pid 2>/dev/null || break
	sleep 0.1
done
kill -TERM $pid 2>/dev/null
wait $pid; pid=
cat "$T/hout" "$T/hlog".* 2>/dev/null
[ $said = 1 ] || FAIL "no word that fs-reentry is off for a mount the daemon cannot see"
n=$(grep -ho "fs-reentry is off" "$T/hout" "$T/hlog".* 2>/dev/null | wc -l)
[ "$n" -le 1 ] || FAIL "said $n times that fs-reentry is off (once is enough)"
grep -qE 'ERROR: fs-reentry' "$T/hlog".* 2>/dev/null && FAIL "an fs-reentry report for a mount the daemon cannot see"
fsr_is_mounted "$T/mnt2" && FAIL "the hidden mount is visible here"
exit $fail
