#!/bin/bash
# What a high-level daemon's fsync and flush see when fsreclaim calls them
# back (both modes, single- and multi-threaded): fuse_get_context() with the
# daemon's private data, only between init and destroy, only on open handles.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
BIN=$top_builddir/tests/fuse/ctxcheck
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
fsr_require_built "$BIN"
fsr_mounted_test ctxcheck mnt

for mode in handoff inline; do
	for st in "" -s; do
		rm -f "$T"/log.*
		timeout -k 5 60 "$RUN" --opt interval=1 --opt stats=1 --opt "mode=$mode" --opt "log_path=$T/log" -- \
			"$BIN" -f $st "$M" > "$T/out" 2>&1 &
		pid=$!
		fsr_wait_mount "$M" $pid || { FAIL "$mode$st: no mount"; cat "$T/out"; continue; }
		(
			exec 3> "$M/f"
			for i in $(seq 50); do echo "line $i" >&3; done
			exec 4< "$M/f"
			for i in $(seq 20); do echo "more $i" >&3; head -c 10 <&4 > /dev/null; done
			exec 3>&- 4<&-
		)
		n=$(wc -l < "$M/f")
		[ "$n" = 70 ] || FAIL "$mode$st: file has $n lines, expected 70"
		timeout 20 fusermount3 -u "$M" || { FAIL "$mode$st: unmount failed"; fusermount3 -u -z "$M"; }
		wait $pid; rc=$?; pid=
		[ $rc = 0 ] || FAIL "$mode$st: daemon exit status $rc"
		cat "$T/out"
		grep -q "^ctxcheck: calls=[0-9]* bad=0 private=1" "$T/out" || FAIL "$mode$st: bad contexts"
		st_line=$(grep -h "fsreclaim: stats:" "$T"/log.* 2>/dev/null | tail -1)
		echo "$mode$st: $st_line"
		cb=${st_line##*callbacks=}; cb=${cb%% *}
		[ -n "$cb" ] && [ "$cb" -gt 0 ] || FAIL "$mode$st: no callbacks"
	done
done
exit $fail
