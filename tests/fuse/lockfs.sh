#!/bin/bash
# Reclaim into the FUSE ops finds a real deadlock without hanging: lockfs's
# write allocates under its mutex and its fsync takes it.  In both modes
# (inline hands the pass off, since a tracked lock is held) the shim reports
# the hazard (reclaim-deadlock, or the predicted reclaim-lock-inversion),
# the writes complete with the right data, the unmount is clean, and the
# daemon exits with exitcode (66).  Needs the shim's lock tracking: skipped
# (77) when the shim does not interpose pthread_mutex_lock.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
BIN=$top_builddir/tests/fuse/lockfs
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
if ! nm -D --defined-only "$SHIM" | grep -q ' pthread_mutex_lock$'; then
	echo "FAIL: this shim has no lock tracking (pthread_mutex_lock not interposed)"; exit 1
fi
fsr_require_built "$BIN"
fsr_mounted_test lockfs mnt
seq 1 3000 > "$T/want"

# workload NAME: write b with dd while a handle is open on a (the callbacks
# fsync it): it must end, within 30 s, with the right data; then unmount,
# and the daemon must exit with exitcode (66)
workload() {
	t0=$(date +%s)
	(
		exec 3> "$M/a"
		echo start >&3
		timeout 60 dd if="$T/want" of="$M/b" bs=512 status=none
	) || FAIL "$1: the workload failed or hung"
	secs=$(( $(date +%s) - t0 ))
	cmp -s "$T/want" "$M/b" || FAIL "$1: b differs"
	[ $secs -le 30 ] || FAIL "$1: the workload took $secs s"
	timeout 20 fusermount3 -u "$M" || { FAIL "$1: unmount failed"; fusermount3 -u -z "$M"; }
	wait $pid; rc=$?; pid=
	[ $rc = 66 ] || FAIL "$1: daemon exit status $rc, expected 66"
}

for mode in handoff inline; do
	rm -f "$T"/log.*
	timeout -k 5 90 "$RUN" --opt interval=1 --opt stats=1 --opt "mode=$mode" --opt timeout_ms=60000 \
		--opt "log_path=$T/log" -- "$BIN" -f "$M" > "$T/out" 2>&1 &
	pid=$!
	fsr_wait_mount "$M" $pid || { FAIL "$mode: no mount"; cat "$T/out"; continue; }
	workload "$mode"
	log=$(cat "$T"/log.* 2>/dev/null)
	printf '%s\n' "$log" | grep -E '^==[0-9]+== ?fsreclaim: (ERROR|WARNING): ' | sort | uniq -c
	printf '%s\n' "$log" | grep -qE 'fsreclaim: (ERROR: reclaim-deadlock|WARNING: reclaim-lock-inversion)' ||
		FAIL "$mode: no reclaim-deadlock or reclaim-lock-inversion report"
	printf '%s\n' "$log" | grep -q 'reclaim-wait-timeout' && FAIL "$mode: a timeout instead of a deadlock report"
	printf '%s\n' "$log" | grep "stats:"
done

# The same hazard with a file lock (issue 11 item 22): no tracker sees it, so
# inline mode used to run fsync on the writing thread, which then waited for
# its own flock forever.  Now the pass is handed off: reclaim-wait-timeout,
# the write goes on, the callback finishes once the lock is dropped.
rm -f "$T"/log.*
LOCKFS_FLOCK=$T/flock timeout -k 5 90 "$RUN" --opt interval=1 --opt mode=inline --opt timeout_ms=200 \
	--opt "log_path=$T/log" -- "$BIN" -f "$M" > "$T/out" 2>&1 &
pid=$!
if fsr_wait_mount "$M" $pid; then
	workload flock/inline
	grep -q 'ERROR: reclaim-wait-timeout' "$T"/log.* 2>/dev/null || FAIL "flock/inline: no reclaim-wait-timeout report"
	echo "flock/inline: workload $secs s, status $rc"
else
	FAIL "flock/inline: no mount"; cat "$T/out"
fi
exit $fail
