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
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
T=$(mktemp -d /tmp/fsr-lockfs.XXXXXX) || exit 99
M=$T/mnt; mkdir "$M"
pid=
fsr_trap_exit 'fsr_cleanup "$T" $pid' 1
fail=0
FAIL() { echo "FAIL: $*"; fail=1; }
seq 1 3000 > "$T/want"

for mode in handoff inline; do
	rm -f "$T"/log.*
	timeout -k 5 90 "$RUN" --opt interval=1 --opt stats=1 --opt "mode=$mode" --opt timeout_ms=60000 \
		--opt "log_path=$T/log" -- "$BIN" -f "$M" > "$T/out" 2>&1 &
	pid=$!
	fsr_wait_mount "$M" $pid || { FAIL "$mode: no mount"; cat "$T/out"; continue; }
	t0=$(date +%s)
	(
		exec 3> "$M/a"          # a handle open on a: the callbacks fsync it
		echo start >&3
		timeout 60 dd if="$T/want" of="$M/b" bs=512 status=none
	) || FAIL "$mode: the workload failed or hung"
	t1=$(date +%s)
	cmp -s "$T/want" "$M/b" || FAIL "$mode: b differs"
	timeout 20 fusermount3 -u "$M" || { FAIL "$mode: unmount failed"; fusermount3 -u -z "$M"; }
	wait $pid; rc=$?; pid=
	[ $rc = 66 ] || FAIL "$mode: daemon exit status $rc, expected 66"
	log=$(cat "$T"/log.* 2>/dev/null)
	printf '%s\n' "$log" | grep -E '^==[0-9]+== ?fsreclaim: (ERROR|WARNING): ' | sort | uniq -c
	printf '%s\n' "$log" | grep -qE 'fsreclaim: (ERROR: reclaim-deadlock|WARNING: reclaim-lock-inversion)' ||
		FAIL "$mode: no reclaim-deadlock or reclaim-lock-inversion report"
	printf '%s\n' "$log" | grep -q 'reclaim-wait-timeout' && FAIL "$mode: a timeout instead of a deadlock report"
	[ $((t1 - t0)) -le 30 ] || FAIL "$mode: the workload took $((t1 - t0)) s"
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
	t0=$(date +%s)
	(
		exec 3> "$M/a"
		echo start >&3
		timeout 60 dd if="$T/want" of="$M/b" bs=512 status=none
	) || FAIL "flock/inline: the workload failed or hung"
	t1=$(date +%s)
	cmp -s "$T/want" "$M/b" || FAIL "flock/inline: b differs"
	timeout 20 fusermount3 -u "$M" || { FAIL "flock/inline: unmount failed"; fusermount3 -u -z "$M"; }
	wait $pid; rc=$?; pid=
	[ $rc = 66 ] || FAIL "flock/inline: daemon exit status $rc, expected 66"
	grep -q 'ERROR: reclaim-wait-timeout' "$T"/log.* 2>/dev/null || FAIL "flock/inline: no reclaim-wait-timeout report"
	[ $((t1 - t0)) -le 30 ] || FAIL "flock/inline: the workload took $((t1 - t0)) s"
	echo "flock/inline: workload $((t1 - t0)) s, status $rc"
else
	FAIL "flock/inline: no mount"; cat "$T/out"
fi
exit $fail
