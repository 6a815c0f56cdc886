#!/bin/bash
# A low-level daemon that answers lookups later, from another thread
# (asyncll): fsreclaim's lookup callbacks get their replies after the
# callback is over, and must still give back each reference with a forget.
# Both modes, multi- and single-threaded, interval=1.  The kernel's own
# references are dropped before the unmount (drop_caches), so the daemon's
# lookup counts must all be back at zero at destroy; it checks that, and
# that no forget was for more than it had looked up.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
BIN=$top_builddir/tests/fuse/asyncll
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
fsr_require_built "$BIN"
if ! [ -w /proc/sys/vm/drop_caches ]; then
	echo "FAIL: this test drops the kernel's caches (/proc/sys/vm/drop_caches) and must run as root"
	exit 1
fi
fsr_mounted_test asyncll mnt

for mode in handoff inline; do
	for st in "" -s; do
		rm -f "$T"/log.*
		# the daemon's bound only catches a hang that the rounds' bounds
		# below miss (its unmount); the test's own bound is bounded.sh's
		timeout -k 5 280 "$RUN" --opt interval=1 --opt stats=1 --opt "mode=$mode" --opt "log_path=$T/log" -- \
			"$BIN" -f $st "$M" > "$T/out" 2>&1 &
		pid=$!
		fsr_wait_mount "$M" $pid || { FAIL "$mode$st: no mount"; cat "$T/out"; continue; }
		# each round bounded on its own (a hung lookup fails it), not the
		# five together: under a loaded machine (a soak, other tests'
		# mounts) one round of 64 stats took 33 s with every thread of the
		# daemon idle, and the five went past the 60 s they had together
		for round in 1 2 3 4 5; do
			timeout 60 bash -c '
				for i in $(seq -w 0 63); do stat -c %s "$1/f$i" > /dev/null || { echo "stat of f$i failed"; exit 1; }; done
				for i in 01 17 42 63; do c=$(cat "$1/f$i"); [ "$c" = "file $((10#$i))" ] || { echo "f$i reads [$c]"; exit 1; }; done
				sync; echo 2 > /proc/sys/vm/drop_caches' _ "$M"
			r=$?
			[ $r = 0 ] && continue
			if [ $r = 124 ]; then
				FAIL "$mode$st: round $round of the workload did not finish in 60 s; the daemon's threads (a hang, or only a slow machine):"
				for tk in /proc/$(pgrep -P $pid | head -1)/task/*; do
					echo "  $(cut -d' ' -f2,3 $tk/stat 2>/dev/null) $(cat $tk/wchan 2>/dev/null)"
				done
			else
				FAIL "$mode$st: round $round of the workload failed"
			fi
			break
		done
		# the kernel forgets what it held; give the daemon time to take the forgets
		sync; echo 2 > /proc/sys/vm/drop_caches; sleep 1
		timeout 10 stat "$M" > /dev/null   # a round trip: the kernel sends queued forgets first
		timeout 20 fusermount3 -u "$M" || { FAIL "$mode$st: unmount failed"; fusermount3 -u -z "$M"; }
		wait $pid; rc=$?; pid=
		cat "$T/out"
		[ $rc = 0 ] || FAIL "$mode$st: daemon exit status $rc (references not given back, or forgotten twice)"
		grep -q "^asyncll: lookups=[1-9][0-9]* forgets=[0-9]* left=0 errors=0" "$T/out" ||
			FAIL "$mode$st: lookup counts not back at zero"
		st_line=$(grep -h "fsreclaim: stats:" "$T"/log.* 2>/dev/null | tail -1)
		echo "$mode$st: $st_line"
		cb=${st_line##*callbacks=}; cb=${cb%% *}
		[ -n "$cb" ] && [ "$cb" -gt 0 ] || FAIL "$mode$st: no callbacks"
		hz=${st_line##*hazards=}; hz=${hz%% *}
		[ "$hz" = 0 ] || { FAIL "$mode$st: $hz hazards"; cat "$T"/log.*; }
	done
done
exit $fail
