#!/bin/sh
# Issue 11: the shim never crashes, hangs or misleads the program it watches.
# Each scenario of tests/faults/robust.c runs under fsreclaim-run with the
# options it needs; its status and report kinds are checked here.  Every
# wait in the scenarios is bounded (and this script runs under bounded.sh).
set -u
: "${top_builddir:?}"
prog=$top_builddir/tests/faults/robust
run=$top_builddir/preload/fsreclaim-run
tmp=$(mktemp -d /tmp/fsr-robust.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0

# scenario STATUS KINDS NOKINDS OPTS...: expect exit STATUS, every report kind
# in KINDS (space separated, "-" none) and none of NOKINDS
scenario() {
	name=$1 want=$2 kinds=$3 nokinds=$4
	shift 4
	opts=
	for o in "$@"; do opts="$opts --opt $o"; done
	# shellcheck disable=SC2086
	timeout 60 "$run" $opts -- "$prog" "$name" >"$tmp/out" 2>&1
	rc=$?
	cat "$tmp"/log.* >> "$tmp/out" 2>/dev/null
	rm -f "$tmp"/log.*
	bad=
	[ "$rc" = "$want" ] || bad="status $rc, want $want"
	grep -q '^FAIL' "$tmp/out" && bad="$bad; a check failed"
	for k in $kinds; do
		[ "$k" = - ] && continue
		grep -Eq "fsreclaim: (ERROR|WARNING): $k" "$tmp/out" || bad="$bad; no $k report"
	done
	for k in $nokinds; do
		[ "$k" = - ] && continue
		grep -Eq "fsreclaim: (ERROR|WARNING): $k" "$tmp/out" && bad="$bad; an unexpected $k report"
	done
	if [ -z "$bad" ]; then
		echo "ok   $name ($*)"
	else
		echo "FAIL $name ($*): $bad"
		cat "$tmp/out"
		fail=1
	fi
}

# item 2: the callback outlives its allocator's thread; no SIGSEGV
scenario txn-dead-allocator 0 "reclaim-wait-timeout nested-transaction" - \
	interval=1 mode=handoff timeout_ms=200 exitcode=0
# item 6: no cancellation inside an inline pass
scenario cancel-inline 0 - - interval=1 mode=inline
# item 15
scenario unregister-in-count 0 - - interval=1
for mode in handoff inline; do
	# item 13: limit= with a block older than the shim
	scenario limit-preinit 0 - - interval=0 limit=67108864 mode=$mode
	# item 17: the child's status is its own (the parent exits 66)
	scenario fork-exitcode 66 scope-imbalance - interval=1 mode=$mode
done
# item 18: Linux's memalloc_noio_save() under IO_FLUSHER; and inline mode's
# handed-off pass: the allocator released at timeout_ms, the callback whole
FSRECLAIM_TEST_IO_FLUSHER=1 scenario ioflusher-noio 0 - scope-imbalance interval=1
scenario inline-handoff 66 reclaim-wait-timeout reclaim-deadlock interval=1 mode=inline timeout_ms=200
# item 22: inline mode and a lock the tracker cannot see (a file lock): the
# pass is handed off, reported at timeout_ms, and the program goes on
scenario flock-inline 66 reclaim-wait-timeout - interval=1 mode=inline timeout_ms=200
# and a lock made of a mutex and a condition variable, a semaphore, a flock
# of an open file another thread locked: the callback blocks on its own
# thread, is abandoned at timeout_ms (reported) and the program goes on
scenario condlock-inline 66 reclaim-wait-timeout - interval=1 mode=inline timeout_ms=200
scenario condlock-cleanup 66 reclaim-wait-timeout - interval=1 mode=inline timeout_ms=200
scenario condlock-timed 66 reclaim-wait-timeout - interval=1 mode=inline timeout_ms=200
scenario sem-inline 66 reclaim-wait-timeout - interval=1 mode=inline timeout_ms=200
scenario flock-other-inline 66 reclaim-wait-timeout - interval=1 mode=inline timeout_ms=200
# in C++: the forced unwind runs its destructors (std::unique_lock)
prog=$top_builddir/tests/faults/robust_cxx scenario cxx 66 reclaim-wait-timeout - interval=1 mode=inline timeout_ms=200
prog=$top_builddir/tests/faults/robust
# not abandoned after a critical section of its own: reported, waits on;
# or after it woke another thread, or holding another lock it took
for s in condlock-unsound condlock-woke condlock-holds; do
	ROBUST_LOG=$tmp/log scenario $s 66 reclaim-wait-timeout - interval=1 mode=inline \
		timeout_ms=200 log_path="$tmp/log"
done
exit $fail
