#!/bin/sh
# make stress: txfs under the shim, N parallel clients for a set time with a
# random reclaim schedule, in both modes and for several seeds.
#   STRESS_SECONDS (30) STRESS_CLIENTS (4) STRESS_SEEDS ("1 2") STRESS_MODES ("handoff inline")
#   STRESS_HAZARD (none)
# Each second it prints the operations done so far.  At the end: every
# client's files checked against its manifest after a remount from the
# journal, the hazard count (zero is required with hazard=none), and a hang
# detector: no progress for 20 s dumps every thread's stack (gdb) and fails.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse "cannot mount"
secs=${STRESS_SECONDS:-30} nclients=${STRESS_CLIENTS:-4}
seeds=${STRESS_SEEDS:-1 2} modes=${STRESS_MODES:-handoff inline} hazard=${STRESS_HAZARD:-none}
txfs=$top_builddir/fusefs/txfs run=$top_builddir/preload/fsreclaim-run
client=$top_srcdir/tests/stress/client.py
fsr_work_dir stress

mount_txfs() { # mount_txfs OPTS...: txfs under the shim, journal in $work
	"$run" "$@" -- "$txfs" -f -o journal="$work/journal" -o hazard="$hazard" "$mnt" 2>"$work/daemon.err" &
	pid=$!
	fsr_wait_mount "$mnt" "$pid"
	case $? in
	2) echo "FAIL: txfs died at mount"; cat "$work/daemon.err"; exit 1 ;;
	1) echo "FAIL: mount timed out"; exit 1 ;;
	esac
}
unmount_txfs() {
	fsr_unmount "$mnt" "$pid" 300 ||
		{ echo "FAIL: txfs did not exit after unmount"; dump; kill -9 "$pid"; exit 1; }
	wait "$pid"; rc=$?; pid=
	return $rc
}
dump() {
	echo "--- every thread of txfs (pid $pid):"
	timeout 60 gdb -p "$pid" -batch -ex "thread apply all bt" 2>/dev/null | grep -E '^(Thread|#)'
}

bad=0
for mode in $modes; do
for seed in $seeds; do
	rm -f "$work/journal" "$work"/j.* "$work"/log.*
	mount_txfs --opt mode="$mode" --opt seed="$seed" --opt interval=20 --opt probability=50 \
		--opt json_path="$work/j" --opt log_path="$work/log" --opt stats=1 --opt timeout_ms=10000
	c=0; cpids=
	while [ $c -lt "$nclients" ]; do
		python3 "$client" "$mnt/c$c" $((seed * 100 + c)) "$secs" "$work/p$c" 2>"$work/c$c.err" &
		cpids="$cpids $!"; c=$((c+1))
	done
	t=0 stall=0 last=-1
	while :; do
		sleep 1; t=$((t+1))
		total=0 done=0
		for f in "$work"/p*; do
			[ -f "$f" ] || continue
			n=$(cut -d' ' -f1 "$f"); total=$((total + ${n:-0}))
			grep -q done "$f" && done=$((done+1))
		done
		echo "stress mode=$mode seed=$seed t=${t}s ops=$total"
		[ "$done" = "$nclients" ] && break
		if [ "$total" = "$last" ]; then stall=$((stall+1)); else stall=0; fi
		last=$total
		if [ $stall -ge 20 ]; then
			echo "FAIL: no progress for 20 s: hang"; dump; exit 1
		fi
		[ $t -gt $((secs + 120)) ] && { echo "FAIL: clients did not finish"; dump; exit 1; }
	done
	for p in $cpids; do wait "$p" || { bad=1; cat "$work"/c*.err; }; done
	rm -f "$work"/p*
	# 66: the shim's exitcode after reports, expected with a hazard mode
	unmount_txfs || { [ "$hazard" != none ] && [ "$rc" = 66 ]; } ||
		{ echo "FAIL: txfs exit status $rc"; cat "$work/daemon.err"; bad=1; }
	# integrity: remount from the journal (no shim) and check every manifest
	"$txfs" -f -o journal="$work/journal" "$mnt" 2>>"$work/daemon.err" &
	pid=$!
	fsr_wait_mount "$mnt" "$pid" || { echo "FAIL: remount"; exit 1; }
	for c in $(seq 0 $((nclients - 1))); do
		if ! (cd "$mnt/c$c" && sed 's/^\(.*\) \(.*\)$/\2  \1/' .manifest | sha256sum -c --quiet -); then
			echo "FAIL: integrity of client $c after remount"; bad=1
		fi
	done
	unmount_txfs || true
	hz=$(cat "$work"/j.* 2>/dev/null | grep -c '"kind"')
	echo "stress mode=$mode seed=$seed: $(grep -h 'fsreclaim: stats' "$work"/log.* | tail -n1) hazards_reported=$hz"
	if [ "$hazard" = none ] && [ "$hz" != 0 ]; then
		echo "FAIL: hazard=none produced reports:"; cat "$work"/log.*; bad=1
	fi
done
done
[ $bad = 0 ] && echo "stress: PASS" || echo "stress: FAIL"
exit $bad
