#!/bin/bash
# notify-in-op, the held-lock half: notifylock (tests/fuse/notifylock.c, in
# the shape of libfuse's notify_inval_inode example) sends INVAL_INODE from
# a thread outside every op while it holds the mutex its getattr and read
# ops take, which libfuse's documentation forbids (the kernel may wait in
# the notification for an op that waits for the mutex).  Under the libfuse
# wrapping (fuse_transport=auto) and on the wire (fuse_transport=wire),
# multi- and single-threaded: one notify-in-op report naming the mutex and
# no other report, in the text log and in the JSON output; a suppression
# of the notifier's function drops it.  The same daemon with -c (notifies
# after unlocking): no report.  notifylock2 (tests/fuse/notifylock2.c, built
# where libfuse2 is) is the same daemon on libfuse2's high level, whose ops
# the libfuse wrapping marks as libfuse3's.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
BINS=$top_builddir/tests/fuse/notifylock
[ "${fsr_fuse2:-1}" = 1 ] && BINS="$BINS $top_builddir/tests/fuse/notifylock2"   # libfuse2 built
fsr_require_built $BINS
fsr_mounted_test notifylock

# run NAME OPTIONS ARGS...: mount, read the file 20 times, unmount
run() {
	local name=$1 opts=$2 M=$T/$1.m; shift 2
	mkdir -p "$M"
	FSRECLAIM_OPTIONS="$opts" LD_PRELOAD=$SHIM timeout -k 5 60 "$BIN" -f "$@" "$M" > "$T/$name.log" 2>&1 &
	pid=$!
	fsr_wait_mount "$M" $pid || { FAIL "$name: no mount"; cat "$T/$name.log"; pid=; return 1; }
	timeout 30 bash -c 'for i in $(seq 20); do cat "$1/counter" > /dev/null || exit 1; ls "$1" > /dev/null; done' _ "$M" ||
		FAIL "$name: workload failed"
	fsr_unmount "$M" $pid 100 || FAIL "$name: the daemon did not end after the unmount"
	wait $pid; echo $? > "$T/$name.rc"; pid=
	grep -q "^notifylock: reads=[1-9][0-9]* notifies=[1-9][0-9]* errors=0" "$T/$name.log" ||
		{ FAIL "$name: the daemon read or notified nothing, or a notification failed"; tail -5 "$T/$name.log"; }
	[ "$(cat "$T/$name.rc")" = 0 ] || FAIL "$name: daemon exit $(cat "$T/$name.rc")"
}
kinds() { sed -n 's/^SUMMARY: fsreclaim: \([a-z-]*\).*/\1/p' "$1" | sort | uniq -c | tr -s ' ' | tr '\n' ';'; }

for BIN in $BINS; do
for tr in auto wire; do
	for st in "" -s; do
		n=$(basename "$BIN").$tr$st
		run "$n" "stats=1:exitcode=0:fuse_transport=$tr:json_path=$T/$n.json" $st || continue
		k=$(kinds "$T/$n.log")
		[ "$k" = " 1 notify-in-op;" ] || { FAIL "$n: reports '$k', want one notify-in-op"; cat "$T/$n.log"; }
		grep -A30 "fsreclaim: ERROR: notify-in-op" "$T/$n.log" | grep -q "content_lock\|notifylock" ||
			{ FAIL "$n: the report names neither the mutex nor the daemon"; grep -A30 "notify-in-op" "$T/$n.log"; }
		grep -q "while holding" "$T/$n.log" || FAIL "$n: not reported as a held lock"
		grep -q '"kind": *"notify-in-op"' "$T/$n.json"* 2>/dev/null || FAIL "$n: no notify-in-op in the JSON output"
		echo "$n: $(grep -m1 -o 'FUSE notification .*lock' "$T/$n.log" | cut -c1-150)"
		# suppressed by the notifier's function
		echo "notify-in-op:updater" > "$T/supp"
		run "$n.supp" "stats=1:fuse_transport=$tr:suppressions=$T/supp" $st || continue
		k=$(kinds "$T/$n.supp.log")
		[ -z "$k" ] || FAIL "$n.supp: reports '$k' with notify-in-op:updater suppressed"
		# the correct daemon: notifies after unlocking
		run "$n.ok" "stats=1:fuse_transport=$tr" -c $st || continue
		k=$(kinds "$T/$n.ok.log")
		[ -z "$k" ] || { FAIL "$n.ok: reports '$k' on the correct daemon"; cat "$T/$n.ok.log"; }
		echo "$n.ok: no report"
	done
done
done
[ $fail = 0 ] && echo PASS
exit $fail
