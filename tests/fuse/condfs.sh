#!/bin/bash
# Issue 11 item 22: inline mode and a lock no tracker sees.  condfs (libfuse3
# low level) writes under a lock built from a mutex and a condition variable
# (cond), or under a shared flock its open file holds (flock), and its fsync
# takes that lock; lockfs (high level, LOCKFS_COND) the same with the cond
# lock.  Inline at interval=1, an fsync callback from a write's allocation
# waits for its own thread: it used to hang there for ever.  Now it is
# reported (reclaim-wait-timeout, abandoned) after timeout_ms, the write
# goes on, the data is right, the unmount is clean and the daemon exits
# with exitcode (66).  Handoff mode is unchanged (released at timeout_ms,
# the callback finishes once the lock is free).  The flock case runs single
# threaded (-s): its passes between ops are inline then, none is handed off
# because libfuse's worker loop holds a lock of its own (a handed-off fsync
# would wait for b's release, the pass slot with it, until dd is done).  The
# cond cases run multi-threaded: a single-threaded session gets no callback
# while an op (the write) runs.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
fsr_require_built "$top_builddir/tests/fuse/condfs" "$top_builddir/tests/fuse/lockfs"
fsr_mounted_test condfs mnt
seq 1 3000 > "$T/want"

# case NAME MODE ENV... -- DAEMON: mount, write b with a handle open on a,
# check the data, unmount; leaves the log in $T/log.*
case_run() {
	name=$1 mode=$2
	shift 2
	envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	rm -f "$T"/log.*
	env "${envs[@]}" timeout -k 5 90 "$RUN" --opt interval=1 --opt "mode=$mode" --opt timeout_ms=200 \
		--opt stats=1 --opt "log_path=$T/log" -- "$@" -f "$M" > "$T/out" 2>&1 &
	pid=$!
	if ! fsr_wait_mount "$M" $pid; then
		FAIL "$name: no mount"; cat "$T/out"; pid=; return 1
	fi
	(
		exec 3< "$M/a"          # a handle open on a: the callbacks fsync it
		timeout 60 dd if="$T/want" of="$M/b" bs=512 status=none
	) || FAIL "$name: the workload failed or hung"
	cmp -s "$T/want" "$M/b" || FAIL "$name: b differs"
	timeout 20 fusermount3 -u "$M" || { FAIL "$name: unmount failed"; fusermount3 -u -z "$M"; }
	wait $pid; rc=$?; pid=
	[ $rc = 66 ] || FAIL "$name: daemon exit status $rc, expected 66"
	log=$(cat "$T"/log.* 2>/dev/null)
	printf '%s\n' "$log" | grep -E 'fsreclaim: (ERROR|WARNING): ' | sed 's/^==[0-9]*==//' | sort | uniq -c
	printf '%s\n' "$log" | grep 'fsreclaim: stats:'
	return 0
}

# abandoned NAME WAIT: the inline report of an abandoned callback in WAIT
abandoned() {
	printf '%s\n' "$log" | grep -q "ERROR: reclaim-wait-timeout" || FAIL "$1: no reclaim-wait-timeout report"
	printf '%s\n' "$log" | grep -q "an inline reclaim callback on thread [0-9]* waited [0-9]* ms in $2 .* abandoned at that wait" ||
		FAIL "$1: no report of a callback abandoned in $2"
	printf '%s\n' "$log" | grep -q 'cannot be abandoned' && FAIL "$1: a callback that could not be abandoned"
	n=$(printf '%s\n' "$log" | sed -n 's/.*fsreclaim: stats: .* abandoned=\([0-9]*\).*/\1/p' | tail -n 1)
	[ "${n:-0}" -ge 1 ] || FAIL "$1: stats say abandoned=${n:-none}"
}

if case_run cond/inline inline CONDFS_LOCK=cond -- "$top_builddir/tests/fuse/condfs"; then
	abandoned cond/inline pthread_cond_wait
fi
if case_run flock/inline inline CONDFS_LOCK=flock "CONDFS_FILE=$T/lockfile" -- "$top_builddir/tests/fuse/condfs" -s; then
	abandoned flock/inline flock
fi
if case_run hl-cond/inline inline LOCKFS_COND=1 -- "$top_builddir/tests/fuse/lockfs"; then
	abandoned hl-cond/inline pthread_cond_wait
fi
# handoff: as before, the allocator is released at timeout_ms and nothing is abandoned
if case_run cond/handoff handoff CONDFS_LOCK=cond -- "$top_builddir/tests/fuse/condfs"; then
	printf '%s\n' "$log" | grep -q "a reclaim pass handed to the reclaimer thread .* did not finish in" ||
		FAIL "cond/handoff: no handoff reclaim-wait-timeout report"
	printf '%s\n' "$log" | grep -q "abandoned at that wait" && FAIL "cond/handoff: a callback abandoned in handoff mode"
fi
exit $fail
