#!/bin/sh
# Faults on a live mount (issue 6): txfs under the shim is killed (SIGKILL,
# SIGTERM, SIGINT) while the workload runs with a pass on every allocation,
# in both modes: no hang, and after a remount every file fsync'd before the
# kill is intact.  Then exec of fusermount3: with -o auto_unmount libfuse
# execs fusermount3, which inherits the shim; the mount must work, and when
# the daemon is killed fusermount3 must unmount it.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse "cannot mount txfs"
txfs=$top_builddir/fusefs/txfs run=$top_builddir/preload/fsreclaim-run
T=$(mktemp -d /tmp/fsr-txfs-faults.XXXXXX)
mnt=$T/mnt pid=
fsr_trap_exit 'fsr_cleanup "$T" $pid'
mkdir -p "$mnt"
fail=0
ok() { echo "ok   $*"; }
no() { echo "FAIL $*"; fail=1; }

for mode in handoff inline; do
	for sig in KILL TERM INT; do
		rm -f "$T/journal"
		# a shell starts background jobs with SIGINT ignored, and libfuse
		# keeps an ignored signal ignored: give the daemon the default back
		env --default-signal=INT "$run" --opt interval=1 --opt mode=$mode --opt log_path="$T/log" -- \
			"$txfs" -f -o journal="$T/journal" "$mnt" 2>"$T/err" &
		pid=$!
		fsr_wait_mount "$mnt" $pid || { no "$mode/$sig: mount"; cat "$T/err"; break 2; }
		head -c 300000 /dev/urandom > "$T/keep"
		python3 -c 'import os,sys; d=open(sys.argv[1],"rb").read(); fd=os.open(sys.argv[2], os.O_CREAT|os.O_WRONLY, 0o644); os.write(fd, d); os.fsync(fd); os.close(fd)' "$T/keep" "$mnt/keep"
		timeout 60 "$top_srcdir/tests/workload.sh" "$mnt" >/dev/null 2>&1 &
		wl=$!
		sleep 1
		kill -s $sig $pid
		i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
		if kill -0 $pid 2>/dev/null; then
			no "$mode/SIG$sig: txfs still alive 10 s after the signal"; kill -9 $pid
		fi
		wait $pid 2>/dev/null; pid=
		fusermount3 -u -z "$mnt" 2>/dev/null
		wait $wl 2>/dev/null
		# remount the same journal without the shim: the fsync'd file is back
		"$txfs" -f -o journal="$T/journal" "$mnt" 2>>"$T/err" &
		pid=$!
		fsr_wait_mount "$mnt" $pid || { no "$mode/$sig: remount"; cat "$T/err"; break 2; }
		if cmp -s "$T/keep" "$mnt/keep" && ls "$mnt" >/dev/null; then
			ok "$mode/SIG$sig during the workload: no hang, fsync'd data intact after remount"
		else
			no "$mode/SIG$sig: fsync'd data lost or mount broken after remount"
		fi
		fsr_unmount "$mnt" $pid || no "$mode/$sig: unmount of the remount"
		wait $pid 2>/dev/null; pid=
	done
done

# exec of fusermount3 (auto_unmount): it runs with the shim preloaded
"$run" --opt interval=1 --opt stats=1 --opt log_path="$T/am" -- \
	"$txfs" -f -o auto_unmount "$mnt" 2>"$T/err" &
pid=$!
if fsr_wait_mount "$mnt" $pid; then
	echo data > "$mnt/f" && [ "$(cat "$mnt/f")" = data ] || no "auto_unmount: the mount does not work"
	helper=$(pgrep -f "fusermount3 .*auto_unmount.* $mnt\$" | head -n1)   # this mount's, not another test's
	if [ -n "$helper" ] && tr '\0' '\n' < /proc/$helper/environ | grep -q 'LD_PRELOAD=.*libfsreclaim'; then
		ok "fusermount3 was exec'd with the shim preloaded (pid $helper)"
	else
		no "auto_unmount: no fusermount3 helper with the shim found"
	fi
	# fusermount3 wakes when the daemon's end of its socket closes, then
	# unmounts only if opening the mountpoint fails with ENOTCONN (the
	# connection gone).  A dying daemon's socket can be released before
	# its /dev/fuse (the kernel releases an exiting task's files in its
	# own order): an open that lands in between waits for the daemon, is
	# failed with ECONNABORTED when /dev/fuse goes, and fusermount3 takes
	# the mount for someone else's and leaves it (3.14, and libfuse's
	# master still; under the soak's load 6 of 60 kills left the mount
	# without the shim, 3 of 60 with it).  So the connection is aborted first
	# (fusectl, as root), the daemon stopped so that it cannot notice,
	# then killed: fusermount3's open always finds ENOTCONN.
	kill -STOP $pid
	fsr_abort_conn "$mnt" > /dev/null ||
		echo "note: cannot abort the connection (not root?): fusermount3 may race with the daemon's exit"
	kill -9 $pid; wait $pid 2>/dev/null; pid=
	i=0; while fsr_is_mounted "$mnt" && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
	if fsr_is_mounted "$mnt"; then
		no "auto_unmount: fusermount3 did not unmount after the daemon was killed"
	else
		ok "daemon killed: fusermount3 (under the shim) unmounted it"
	fi
	if grep -h 'fsreclaim: stats' "$T"/am.* >/dev/null 2>&1; then
		ok "fusermount3 under the shim wrote its stats: $(grep -h 'fsreclaim: stats' "$T"/am.* | head -n1)"
	fi
	if grep -q '==[0-9]*==fsreclaim' "$T"/am.* 2>/dev/null; then
		no "reports under auto_unmount:"; cat "$T"/am.*
	fi
else
	no "auto_unmount: mount failed"; cat "$T/err"
fi
exit $fail
