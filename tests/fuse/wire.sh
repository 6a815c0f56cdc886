#!/bin/bash
# The /dev/fuse wire transport end to end.  rawfs (tests/fuse/rawfs.c, a
# daemon that speaks /dev/fuse itself as Rust's fuser does, and counts its
# own lookups and handles: a FORGET below zero, or a FLUSH/FSYNC/RELEASE of
# a handle it never gave, is an "rawfs: ERROR" and exit status 1) in several
# shapes: one reader; 4 readers on clone fds; replies written by another
# thread; readv with an 80-byte first iovec; no READDIRPLUS; requests
# spliced into a pipe and replies vmspliced and spliced out of one (the wire
# reads them through tee; rawfs counts its spliced traffic); spliced, and
# closing the pipes it did not make (the wire's tee pipe: it must make a
# new one); a splice pipe made by a raw syscall (the wire cannot read it:
# it must say so and stay out of the way);
# an INVAL_INODE sent from inside FLUSH (notify-in-op); replies to synthetic
# requests held back 2 s (a kernel RELEASE must wait for them); a lock held over an
# allocation that a synchronous pass's reader needs (reclaim-deadlock);
# lookups answered on
# an fd the shim cannot see (lookup-drift).  A correct run has no report,
# so a lookup-drift there would be the ledger's own error.
# Then libfuse3's passthrough_ll forced onto fuse_transport=wire (and auto,
# where the libfuse wrapping keeps it).
#
# Each run: the same workload (reads, listings, stats, fsync, and dropped
# dentry/inode caches so that the kernel sends its own FORGETs) without the
# shim and with it (interval=1): the workload's digest equal, the daemon's
# exit 0, hazards=0, wire passes made and absorbed replies of each kind, and
# rawfs received requests with the shim's private unique (bit 62).
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
RAWFS=$top_builddir/tests/fuse/rawfs
EX=${FUSE_EXAMPLES:-/usr/share/doc/libfuse3-dev/examples}

fsr_shm_test wire

. "$top_srcdir/tests/lib/wirerun.sh"
# the runner is tests/lib/wirerun.sh's (the workload, plain against shim)
stat_of() { fsr_stat_of "$@"; }
run() { wr_run "$@"; }
check() {     # name plain-name [unseen]: the shim's run against the plain one (unseen: the wire stays out)
	wr_check "$@"
	[ -f "$T/$1.log" ] && echo "$1: $(grep -o 'private=[0-9]*' "$T/$1.log")"
}
need_absorbed() { wr_need_absorbed "$@"; }

# 4cU: rawfs runs as uid 65534 once mounted (synthetic requests carry its ids);
# 1E: its reader waits in poll(2) before each read of a nonblocking fd (an event loop);
# 1ep, 3ce: the readers wait in poll / epoll_wait before each read of a blocking fd
SHAPES=("1:" "1E:-E" "1ep:-e poll" "3ce:-t 3 -c -e epoll" "4c:-t 4 -c" "4co:-t 4 -c -o" "2v:-t 2 -v" "3ovP:-t 3 -o -v -P" "4cU:-t 4 -c -U" "1sS:-s -S" "4csS:-t 4 -c -s -S")
for s in "${SHAPES[@]}"; do
	name=${s%%:*} args=${s#*:}
	run "raw$name.plain" - $RAWFS $args
	run "raw$name.wire" "interval=1:stats=1" $RAWFS $args
	check "raw$name.wire" "raw$name.plain"
	need_absorbed "raw$name.wire"
	p=$(grep -o 'private=[0-9]*' "$T/raw$name.wire.log" | cut -d= -f2)
	[ "${p:-0}" -gt 0 ] || FAIL "raw$name.wire: rawfs received no synthetic request"
	# more than one reader: synchronous passes (a parked reader woken for
	# them; a reader waiting in poll is not counted as parked: a thread that
	# polls a FUSE fd need not be one that reads it)
	if [ "${name#1}" = "$name" ] && [ "${args#*-e}" = "$args" ]; then
		[ "$(stat_of wire_sync "$T/raw$name.wire.log")" -gt 0 ] 2>/dev/null || FAIL "raw$name.wire: wire_sync=0"
	fi
	# spliced both ways: rawfs got its requests and sent its replies by
	# splice, and the wire read them all from the pipes
	if [ "${args#*-s -S}" != "$args" ]; then
		for k in spliced_in spliced_out; do
			v=$(grep -o "$k=[0-9]*" "$T/raw$name.wire.log" | cut -d= -f2)
			[ "${v:-0}" -gt 0 ] || FAIL "raw$name.wire: rawfs $k=0"
		done
		for k in wire_splice_in wire_splice_out; do
			[ "$(stat_of $k "$T/raw$name.wire.log")" -gt 0 ] 2>/dev/null || FAIL "raw$name.wire: $k=0"
		done
		# every reply rawfs spliced went through the wire's reply path (an
		# absorbed one too: the wire returns its length)
		v=$(grep -o "spliced_out=[0-9]*" "$T/raw$name.wire.log" | cut -d= -f2)
		[ "$(stat_of wire_splice_out "$T/raw$name.wire.log")" -ge "${v:-1}" ] 2>/dev/null ||
			FAIL "raw$name.wire: rawfs spliced $v replies, the wire read fewer"
		grep -q "the wire stops following" "$T/raw$name.wire.log" && FAIL "raw$name.wire: the wire gave up on spliced traffic"
		echo "raw$name.wire: $(grep -o 'spliced_in=[0-9]* spliced_out=[0-9]*' "$T/raw$name.wire.log"), $(grep -m1 -o 'wire_splice_in=.*' "$T/raw$name.wire.log")"
	fi
done

# a synchronous pass whose reader needs the lock the allocator holds
# (rawfs -L: OPEN allocates under the lock FLUSH and FSYNC take): found as a
# reclaim-deadlock, the allocator released, nothing hangs
run rawL.plain - $RAWFS -t 4 -c -L
run rawL.wire "interval=1:stats=1:exitcode=0" $RAWFS -t 4 -c -L
cmp -s "$T/rawL.wire.digest" "$T/rawL.plain.digest" || FAIL "rawL: workload digest differs"
[ "$(cat "$T/rawL.wire.rc")" = 0 ] || FAIL "rawL: daemon exit $(cat "$T/rawL.wire.rc")"
grep -q "^SUMMARY: fsreclaim: reclaim-deadlock " "$T/rawL.wire.log" || { FAIL "rawL: no reclaim-deadlock"; tail -30 "$T/rawL.wire.log"; }
grep -q "^SUMMARY: fsreclaim: reclaim-wait-timeout " "$T/rawL.wire.log" && FAIL "rawL: the allocator waited out its timeout"
echo "rawL: reclaim-deadlock reported, $(grep -m1 -o 'wire_sync=[0-9]*' "$T/rawL.wire.log")"

# the replies to rawfs' first 6 synthetic FSYNC/FLUSH requests come 2 s
# late (-Y), with timeout_ms=200: a kernel RELEASE of such a handle, held
# back for the request, must still wait for its reply (rawfs errs on a
# RELEASE while the reply to a request on that handle is pending); before,
# it went to the daemon at timeout_ms
run rawY.plain - $RAWFS -o -Y
run rawY.wire "interval=1:stats=1:timeout_ms=200" $RAWFS -o -Y
check rawY.wire rawY.plain
need_absorbed rawY.wire

# a daemon that closes fds it does not own (rawfs -C closes every pipe it
# did not make, the wire's tee pipe among them: the read ends after its
# 200th request, the write ends after its 400th): the wire makes a new one
# and goes on (synthetic requests in between and after).  In between, the
# shim's tee into its pipe has no reader: without the SIGPIPE guard
# (wire_splice.c) rawfs died there with status 141, every run
run rawC.plain - $RAWFS -t 2 -s -S -C
run rawC.wire "interval=1:stats=1" $RAWFS -t 2 -s -S -C
check rawC.wire rawC.plain
need_absorbed rawC.wire
p=$(grep -o 'private_after_close=[0-9]*' "$T/rawC.wire.log" | cut -d= -f2)
[ "${p:-0}" -gt 0 ] || FAIL "rawC: no synthetic request after the daemon closed the wire's pipe"
p=$(grep -o 'private_half_closed=[0-9]*' "$T/rawC.wire.log" | cut -d= -f2)
[ "${p:-0}" -gt 0 ] || FAIL "rawC: no synthetic request while the wire's pipe had no read end"
grep -q "the wire stops following" "$T/rawC.wire.log" && FAIL "rawC: the wire gave up after the daemon closed its pipe"
echo "rawC: $(grep -o 'foreign_pipes_closed=[0-9]* private_half_closed=[0-9]* private_after_close=[0-9]*' "$T/rawC.wire.log")"

# splice reads into a pipe of unknown read end: not parsed; said once, the
# connection left alone, nothing broken
run rawsplice.plain - $RAWFS -s -R
run rawsplice.wire "interval=1:stats=1" $RAWFS -s -R
check rawsplice.wire rawsplice.plain unseen
case "$(stat_of wire_async "$T/rawsplice.wire.log")" in ""|0) ;; *) FAIL "rawsplice: wire passes into a connection it does not parse";; esac
grep -q "private=0" "$T/rawsplice.wire.log" || FAIL "rawsplice: synthetic requests into a connection the wire does not parse"
grep -q "a pipe the wire did not see made" "$T/rawsplice.wire.log" || FAIL "rawsplice: no notice that spliced traffic is not followed"

# the new checks: a notification from inside an op on its own node
# (notify-in-op), and a ledger the kernel's FORGETs exceed (lookup-drift:
# rawfs -D answers lookups on an fd the shim cannot know)
for k in n:notify-in-op D:lookup-drift; do
	f=${k%%:*} kind=${k#*:}
	run "raw$f.plain" - $RAWFS -$f
	run "raw$f.wire" "interval=1:stats=1:exitcode=0" $RAWFS -$f
	cmp -s "$T/raw$f.wire.digest" "$T/raw$f.plain.digest" || FAIL "raw$f: workload digest differs"
	[ "$(cat "$T/raw$f.wire.rc")" = 0 ] || FAIL "raw$f: daemon exit $(cat "$T/raw$f.wire.rc")"
	grep -q "^SUMMARY: fsreclaim: $kind " "$T/raw$f.wire.log" || { FAIL "raw$f: no $kind report"; cat "$T/raw$f.wire.log"; }
	others=$(sed -n 's/^SUMMARY: fsreclaim: \([a-z-]*\).*/\1/p' "$T/raw$f.wire.log" | grep -vx "$kind")
	[ -z "$others" ] || FAIL "raw$f: other reports: $others"
	echo "raw$f: $kind reported"
done

# a reader that waits for input before it reads (rawfs -E: in poll on a
# nonblocking fd, as pyfuse3's trio loop does; -e MODE: in poll, ppoll,
# select or epoll_wait on a blocking fd, as a loop that watches other fds
# too does) is woken for a pass made while the mount is idle: rawfs -I
# allocates once outside every request for each line written to its FIFO,
# three times, and says whether a synthetic request was served within 20 s
# and how many kernel requests came meanwhile.  A file is held open by
# another process (a handle and a regular file in the ledger, and no FLUSH
# from this shell's children closing an inherited fd).  Without the
# wake-up written for a reader that is not parked in read, a pass with no
# kernel request meanwhile was "not served" (2 of 3 in most runs; with a
# blocking fd the wake-up was written only for a reader parked in read, so
# a poll, select or epoll waiter was never woken: 3 of 3 not served)
idle_run() {   # name rawfs-args...
	local name=$1 M=$T/$1.m i k ipid holder rc; shift
	mkdir -p "$M"; mkfifo "$T/$name.fifo"
	# IDLE_REPORTS: the reports allowed (checked below), which must not
	# change the daemon's exit status (66 after a report)
	FSRECLAIM_OPTIONS="interval=1:stats=1${IDLE_REPORTS:+:exitcode=0}" LD_PRELOAD=$SHIM timeout -k 5 120 $RAWFS "$@" -I "$T/$name.fifo" "$M" > "$T/$name.log" 2>&1 &
	ipid=$!; PIDS="$PIDS $ipid"
	if ! fsr_wait_mount "$M" $ipid; then
		FAIL "$name: no mount"; cat "$T/$name.log"; return
	fi
	exec 8> "$T/$name.fifo"
	cat "$M/f0" "$M/f1" > /dev/null; ls -l "$M/d" > /dev/null
	sleep 600 < "$M/f0" & holder=$!
	for i in 1 2 3; do
		echo go >&8
		k=0
		while [ "$(grep -c 'rawfs: idle pass' "$T/$name.log")" -lt $i ] && [ $k -lt 150 ]; do sleep 0.2; k=$((k + 1)); done
	done
	exec 8>&-
	kill $holder; wait $holder 2>/dev/null
	fsr_unmount "$M" $ipid 100 || FAIL "$name: the daemon did not end after the unmount"
	wait $ipid; rc=$?
	[ $rc = 0 ] || { FAIL "$name: daemon exit $rc"; tail -20 "$T/$name.log"; }
	grep -q "rawfs: ERROR" "$T/$name.log" && { FAIL "$name: the daemon found a protocol error"; grep "rawfs: ERROR" "$T/$name.log" | head -5; }
	if [ -n "${IDLE_REPORTS:-}" ]; then     # rawfs -D: its lookups are unseen, a kernel FORGET may drift
		others=$(sed -n 's/^SUMMARY: fsreclaim: \([a-z-]*\).*/\1/p' "$T/$name.log" | grep -vx "$IDLE_REPORTS")
		[ -z "$others" ] || { FAIL "$name: reports: $others"; cat "$T/$name.log"; }
	else
		[ "$(fsr_stat_of hazards "$T/$name.log")" = 0 ] || { FAIL "$name: reports on a correct daemon"; cat "$T/$name.log"; }
	fi
	[ "$(grep -c 'rawfs: idle pass: served' "$T/$name.log")" = 3 ] ||
		{ FAIL "$name: a pass made while the reader waited for input ($*) was not served"; grep "idle pass" "$T/$name.log"; }
	[ "$(grep -c 'rawfs: idle pass: served (kernel requests meanwhile: 0)' "$T/$name.log")" -ge 1 ] ||
		FAIL "$name: no idle pass was served without a kernel request to carry it"
	echo "$name ($*): $(grep -c 'rawfs: idle pass: served' "$T/$name.log") of 3 idle passes served, $(grep -c 'pass: served (kernel requests meanwhile: 0)' "$T/$name.log") with no kernel request meanwhile"
}
idle_run rawidle -E
for m in poll ppoll select epoll; do
	idle_run "rawidle_$m" -e $m
done
# the wake-up needs a regular file the kernel holds: here the ledger has
# no entry at all (rawfs -D answers lookups on an fd the shim cannot see,
# -P lists without READDIRPLUS), only the handle of the file held open.
# The node of an open handle does (before, only a counted entry of a
# regular file did, and no pass was served: 0 of 3)
IDLE_REPORTS=lookup-drift idle_run rawidle_noent -e poll -D -P

# fuse_transport=lib: the wire does nothing
run rawlib.wire "interval=1:stats=1:fuse_transport=lib" $RAWFS
check rawlib.wire raw1.plain unseen
[ "$(stat_of wire_async "$T/rawlib.wire.log")" = "" ] || FAIL "rawlib: wire passes with fuse_transport=lib"
grep -q "private=0" "$T/rawlib.wire.log" || FAIL "rawlib: synthetic requests with fuse_transport=lib"

# passthrough_ll (libfuse3) on the wire, and in auto (the libfuse wrapping keeps it)
mkdir -p "$T/bin"
for f in passthrough_ll.c passthrough_helpers.h; do
	if [ -f "$EX/$f" ]; then cp "$EX/$f" "$T/bin/"; elif [ -f "$EX/$f.gz" ]; then zcat "$EX/$f.gz" > "$T/bin/$f"; fi
done
if gcc -w -O2 -D_FILE_OFFSET_BITS=64 -I"$T/bin" "$T/bin/passthrough_ll.c" -o "$T/bin/passthrough_ll" \
	$(pkg-config --cflags --libs fuse3) 2>/dev/null; then
	mkdir -p "$T/src/d"
	for i in 0 1 2; do echo "f$i" > "$T/src/f$i"; echo "g$i" > "$T/src/d/g$i"; done
	PLL=("$T/bin/passthrough_ll" -f -o "source=$T/src")
	run pll.plain - "${PLL[@]}"
	run pll.wire "interval=1:stats=1:fuse_transport=wire" "${PLL[@]}"
	check pll.wire pll.plain
	need_absorbed pll.wire
	run pll.auto "interval=1:stats=1" "${PLL[@]}"
	check pll.auto pll.plain
	[ "$(stat_of wire_async "$T/pll.auto.log")" = "" ] || FAIL "pll.auto: the wire served a session the libfuse wrapping has"
	[ "$(stat_of callbacks "$T/pll.auto.log")" -gt 0 ] 2>/dev/null || FAIL "pll.auto: no libfuse callbacks"
else
	FAIL "cannot build passthrough_ll from $EX (libfuse3-dev)"
fi

[ $fail = 0 ] && echo PASS
exit $fail
