#!/bin/bash
# A READDIRPLUS reply over 4 KiB, spliced, is counted whole by the wire's
# ledger (wire_splice.c reads all of it, not only the first 4 KiB it tees
# for every reply): the ledger stays exact, so lookup-drift stays on.
#
# rawfs -W lists a directory w/ of 40 files (the reply is about 6.5 KiB:
# the kernel since 6.14 asks READDIRPLUS for up to max_pages pages, for
# ls's 32 KiB getdents buffer), spliced both ways (-s -S), with a pass at
# every allocation and the kernel's FORGETs brought by dropping caches.
# The stats line's wire_inexact counts connections whose ledger went
# inexact: 0 here (1 before: the records past 4 KiB went uncounted), and
# the same listing written with writev is 0 as well.  rawfs -D (lookups
# answered on an fd the shim cannot follow) must still give 1 and its
# lookup-drift report (before, spliced, the listing made the ledger
# inexact first and the drift went unreported).
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
RAWFS=$top_builddir/tests/fuse/rawfs

fsr_shm_test dirplus
fail=0
FAIL() { echo "FAIL: $*"; fail=1; }
. "$top_srcdir/tests/lib/wire.sh"

# run NAME OPTS RAWFS-ARGS...: the listing workload on $T/NAME.m
run() {
	local name=$1 opts=$2; shift 2
	local M=$T/$name.m k
	mkdir -p "$M"
	FSRECLAIM_OPTIONS="$opts" LD_PRELOAD=$SHIM timeout -k 5 90 $RAWFS "$@" "$M" > "$T/$name.log" 2>&1 &
	local pid=$!
	PIDS="$PIDS $pid"
	fsr_wait_mount "$M" $pid || { FAIL "$name: no mount"; cat "$T/$name.log"; return 1; }
	for k in 1 2 3 4 5 6 7 8; do
		ls -l "$M/w" "$M" > /dev/null || FAIL "$name: ls failed"
		cat "$M/w/w0$k" "$M/f$k" > /dev/null || FAIL "$name: cat failed"
		[ $((k % 2)) = 0 ] && echo 2 > /proc/sys/vm/drop_caches 2>/dev/null
	done
	[ "$(ls "$M/w" | wc -l)" = 40 ] || FAIL "$name: w/ does not list 40 files"
	fsr_unmount "$M" $pid 200 || FAIL "$name: the daemon did not end after the unmount"
	wait $pid
	echo $? > "$T/$name.rc"
}

run splice "interval=1:stats=1" -W -s -S
log=$T/splice.log
big=$(sed -n 's/.*dirplus_max=\([0-9]*\).*/\1/p' "$log")
if [ "${big:-0}" -le 4096 ]; then
	echo "SKIP: the kernel asked READDIRPLUS for at most 4 KiB (largest reply ${big:-none}): nothing over 4 KiB to read (kernel before 6.14?)"
	exit 77
fi
[ "$(cat "$T/splice.rc")" = 0 ] || { FAIL "splice: rawfs exit $(cat "$T/splice.rc")"; tail -20 "$log"; }
v=$(sed -n 's/.*spliced_out=\([0-9]*\).*/\1/p' "$log")
[ "${v:-0}" -gt 0 ] || FAIL "splice: rawfs spliced no reply"
[ "$(fsr_stat_of wire_splice_out "$log")" -gt 0 ] 2>/dev/null || FAIL "splice: the wire read no spliced reply"
[ "$(fsr_stat_of callbacks "$log")" -gt 0 ] 2>/dev/null || FAIL "splice: no callbacks"
grep -q "the wire stops following" "$log" && FAIL "splice: the wire gave up on spliced traffic"
fsr_wire_reports splice "$log" -
inexact=$(fsr_stat_of wire_inexact "$log")
[ "$inexact" = 0 ] || FAIL "splice: READDIRPLUS replies of up to $big bytes spliced: wire_inexact='$inexact', not 0"
echo "splice: READDIRPLUS replies up to $big bytes spliced, wire_inexact=${inexact:-none} $(grep -m1 -o 'wire_splice_in=.*' "$log")"

# the same listing written with writev: read whole already
run writev "interval=1:stats=1" -W
inexact=$(fsr_stat_of wire_inexact "$T/writev.log")
[ "$(cat "$T/writev.rc")" = 0 ] || FAIL "writev: rawfs exit $(cat "$T/writev.rc")"
fsr_wire_reports writev "$T/writev.log" -
[ "$inexact" = 0 ] || FAIL "writev: wire_inexact='$inexact', not 0"
echo "writev: wire_inexact=${inexact:-none}"

# a ledger that does drift: counted (and the drift reported)
run drift "interval=1:stats=1:exitcode=0" -W -s -S -D
inexact=$(fsr_stat_of wire_inexact "$T/drift.log")
grep -q "^SUMMARY: fsreclaim: lookup-drift " "$T/drift.log" || FAIL "drift: no lookup-drift report"
[ "${inexact:-0}" -ge 1 ] 2>/dev/null || FAIL "drift: wire_inexact='$inexact' after a drift"
echo "drift: $(grep -c '^SUMMARY: fsreclaim: lookup-drift ' "$T/drift.log") lookup-drift report(s), wire_inexact=${inexact:-none}"

exit $fail
