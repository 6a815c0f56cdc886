#!/bin/bash
# A BATCH_FORGET the wire cannot read whole (wire_proto.c, on_request's
# "not whole" branch: wait_syn_all, then the ledger's entries dropped).
#
# The wire parses a readv request from a copy of its first 4 KiB, and a
# spliced one from what it tees (also 4 KiB); a BATCH_FORGET of more than
# 253 nodes is longer.  rawfs -w 300 serves a directory w/ of 300 files;
# a listing gives the kernel (and the ledger) a reference to each, and a
# dropped inode cache makes the kernel forget them all.  rawfs -F waits
# 300 ms after each kernel FORGET, so the rest pile up into one
# BATCH_FORGET (rawfs prints the largest count: the test needs one over
# 253, else it did not test anything).  Then lookups of other files make
# passes, each a synthetic LOOKUP of an entry the ledger still counts.
#
# The wire cannot subtract the forgets past its copy.  Had it kept those
# entries, a pass would look up w/'s files again under the node of w/,
# which the kernel forgot: rawfs errs on any request on a node whose
# lookups were all forgotten ("rawfs: ERROR opcode 1 ... on node 18 (w)").
# With the fallback the ledger drops its entries and says it is inexact
# (wire_inexact=1), and no synthetic request reaches a forgotten node.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
RAWFS=$top_builddir/tests/fuse/rawfs

base=/tmp; [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
T=$(mktemp -d "$base/fsr-forgetbatch.XXXXXX") || exit 99
PIDS=""
fsr_trap_exit 'fsr_cleanup "$T" $PIDS'
fail=0
FAIL() { echo "FAIL: $*"; fail=1; }
. "$top_srcdir/tests/lib/wire.sh"

# run NAME OPTS(- for none) RAWFS-ARGS...: list w/, drop the caches, look up other files
run() {
	local name=$1 opts=$2; shift 2
	local M=$T/$name.m k
	mkdir -p "$M"
	if [ "$opts" = - ]; then
		timeout -k 5 90 $RAWFS "$@" "$M" > "$T/$name.log" 2>&1 &
	else
		FSRECLAIM_OPTIONS="$opts" LD_PRELOAD=$SHIM timeout -k 5 90 $RAWFS "$@" "$M" > "$T/$name.log" 2>&1 &
	fi
	local pid=$!
	PIDS="$PIDS $pid"
	fsr_wait_mount "$M" $pid || { FAIL "$name: no mount"; cat "$T/$name.log"; return 1; }
	exec 9< "$M/f0"      # a handle all along: every pass has one to call back on
	[ "$(ls -l "$M/w" | grep -c ' w[0-9]')" = 300 ] || FAIL "$name: w/ does not list 300 files"
	cat "$M"/w/w1* > /dev/null || FAIL "$name: cat failed"
	sync; echo 2 > /proc/sys/vm/drop_caches
	sleep 1.5            # rawfs reads the first FORGET, waits, reads the rest in one batch
	for k in $(seq 100); do
		stat "$M/f$((k % 10))" "$M/d/g$((k % 5))" > /dev/null || FAIL "$name: stat failed"
	done
	cat "$M/w/w05" > /dev/null || FAIL "$name: cat w/w05 failed"
	exec 9<&-
	fsr_unmount "$M" $pid 200 || FAIL "$name: the daemon did not end after the unmount"
	wait $pid
	echo $? > "$T/$name.rc"
}

check() {     # name: the daemon's own checks, the batch, the wire's
	local n=$1 b
	[ -f "$T/$n.rc" ] || return
	[ "$(cat "$T/$n.rc")" = 0 ] || { FAIL "$n: daemon exit $(cat "$T/$n.rc")"; tail -20 "$T/$n.log"; }
	grep -q "rawfs: ERROR" "$T/$n.log" && { FAIL "$n: the daemon found a protocol error"; grep "rawfs: ERROR" "$T/$n.log" | head -5; }
	b=$(grep -o 'batch_forget_max=[0-9]*' "$T/$n.log" | cut -d= -f2)
	[ "${b:-0}" -gt 253 ] || FAIL "$n: the largest BATCH_FORGET had ${b:-0} entries, not over 253 (not longer than the wire's 4 KiB copy)"
	echo "$n: batch_forget_max=${b:-0}"
}

# the test's premise without the shim: one BATCH_FORGET over 4 KiB
run plain - -v -w 300 -F
check plain
# readv with an 80-byte first iovec (the wire copies 4 KiB), and spliced (it tees 4 KiB)
for s in "v:-v" "s:-s -S"; do
	name=${s%%:*} args=${s#*:}
	run "wire$name" "interval=1:stats=1" $args -w 300 -F
	check "wire$name"
	[ "$(fsr_stat_of hazards "$T/wire$name.log")" = 0 ] || { FAIL "wire$name: reports on a correct daemon"; cat "$T/wire$name.log"; }
	[ "$(fsr_stat_of wire_inexact "$T/wire$name.log")" = 1 ] ||
		FAIL "wire$name: wire_inexact=$(fsr_stat_of wire_inexact "$T/wire$name.log"), not 1 (the batch not read whole)"
	[ "$(fsr_stat_of absorbed_forget "$T/wire$name.log")" -gt 0 ] 2>/dev/null || FAIL "wire$name: absorbed_forget=0"
	p=$(grep -o 'private=[0-9]*' "$T/wire$name.log" | cut -d= -f2)
	[ "${p:-0}" -gt 0 ] || FAIL "wire$name: rawfs received no synthetic request"
	echo "wire$name: $(grep -m1 -o 'wire_async=.*' "$T/wire$name.log"), private=${p:-0}"
done

[ $fail = 0 ] && echo PASS
exit $fail
