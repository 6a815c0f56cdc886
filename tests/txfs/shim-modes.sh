#!/bin/sh
# txfs under fsreclaim-run, every hazard mode, both pass modes, with the
# standard workload (tests/workload.sh): each mode's kind must be among the
# reports (read from json_path), the first report's stack must name the
# faulty function, and hazard=none must produce no report at all.
#   SHIM_MODES ("handoff inline")  HAZARDS (all)  SHIM_MODES_TXFS (fusefs/txfs)
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse "cannot mount txfs"
txfs=${SHIM_MODES_TXFS:-$top_builddir/fusefs/txfs} run=$top_builddir/preload/fsreclaim-run
fsr_work_dir modes

# mode  expected kinds (extended regex)  the faulty function the reports must name
# [shim options, comma-separated]  (fusefs/README.md lists where each mode's bug lives)
cases='nofs-missing reclaim-deadlock|reclaim-lock-inversion txn_begin
noio-missing reclaim-deadlock|reclaim-lock-inversion jio_submit
txn-nesting nested-transaction wb_begin
scope-leak scope-leak op_rename
needless-nofs needless-nofs op_readdir detect_needless_nofs=1
own-mount fs-reentry op_create
gfp-kernel-under-lock reclaim-deadlock|reclaim-lock-inversion txn_reserve
vmalloc-nofs vmalloc-gfp-mask txn_vbuf vmalloc_model=legacy
vmalloc-nofs - -
needless-gfp-nofs needless-nofs op_readdir detect_needless_nofs=1
none - -
none - - detect_needless_nofs=1,vmalloc_model=legacy'
fail=0
for smode in ${SHIM_MODES:-handoff inline}; do
echo "$cases" | while read -r hz kinds func xopts; do
	case " ${HAZARDS:-$hz} " in *" $hz "*) ;; *) continue ;; esac
	rm -f "$work"/j.* "$work"/log.* "$work/journal"
	extra=
	for o in $(echo "$xopts" | tr ',' ' '); do extra="$extra --opt $o"; done
	"$run" --opt mode="$smode" --opt json_path="$work/j" --opt log_path="$work/log" --opt stats=1 $extra \
		-- "$txfs" -f -o journal="$work/journal" -o hazard="$hz" "$mnt" 2>"$work/err" &
	pid=$!
	fsr_wait_mount "$mnt" "$pid"
	case $? in
	2) echo "FAIL $smode/$hz: txfs died at mount"; cat "$work/err"; exit 1 ;;
	1) echo "FAIL $smode/$hz: mount timed out"; exit 1 ;;
	esac
	timeout 240 "$top_srcdir/tests/workload.sh" "$mnt" >"$work/wl" 2>&1
	wrc=$?
	fsr_unmount "$mnt" "$pid" 300 || kill -9 "$pid"
	wait "$pid"; rc=$?; pid=
	got=$(cat "$work"/j.* 2>/dev/null | sed -n 's/.*"kind" *: *"\([a-z-]*\)".*/\1/p' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
	if [ "$kinds" = - ]; then
		if [ -n "$got" ] || [ "$rc" != 0 ] || [ "$wrc" != 0 ]; then
			echo "FAIL $smode/$hz${xopts:+ [$xopts]}: expected a clean run, got reports [$got] status $rc workload $wrc"
			head -n 60 "$work"/log.* 2>/dev/null; cat "$work/wl"; exit 1
		fi
	elif ! cat "$work"/j.* 2>/dev/null | grep -Eq "\"kind\" *: *\"($kinds)\""; then
		echo "FAIL $smode/$hz: expected ($kinds), got [$got]"; head -n 60 "$work"/log.* 2>/dev/null; exit 1
	elif ! grep -q "in $func " "$work"/log.*; then
		echo "FAIL $smode/$hz: no report stack names $func"; head -n 80 "$work"/log.*; exit 1
	elif [ "$rc" != 66 ]; then
		[ "$kinds" = needless-nofs ] && [ "$rc" = 0 ] || { echo "FAIL $smode/$hz: txfs status $rc, expected 66"; exit 1; }
	fi
	echo "ok $smode/$hz${xopts:+ [$xopts]}: [$got] status $rc, workload status $wrc"
done || fail=1
done
exit $fail
