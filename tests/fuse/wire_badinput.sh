#!/bin/bash
# Bad input on the /dev/fuse wire: rawfs (-X KIND, tests/fuse/rawfs.c)
# writes malformed replies (a len that is not the byte count, a unique the
# kernel never issued, also one of the shim's private form, a write shorter
# than a header), reads with a buffer below the kernel's minimum and with a
# header split across iovecs, closes a clone fd with a synthetic request
# unanswered (also after copying it: the request lives on in the copy), and has its connection aborted through fusectl in the middle
# of the workload.  Each runs without the shim and with it (interval=1):
# the daemon goes on (workload digest equal, exit 0) or ends (abort) as
# without the shim, the kernel's answers to its bad input are the same
# ("rawfs: bad-input" lines), nothing hangs, and the shim's notice comes
# once.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
RAWFS=$top_builddir/tests/fuse/rawfs
fsr_shm_test wbad
. "$top_srcdir/tests/lib/wirerun.sh"
WR_ROUNDS=8

outcomes() { grep '^rawfs: bad-input' "$1" | sort; }
once() {   # name pattern: the shim says it exactly once
	local c
	c=$(grep -c "$2" "$T/$1.log")
	[ "$c" = 1 ] || FAIL "$1: the notice '$2' came $c times, not once"
}

for s in "badlen:" "unique:-t 2 -c" "short:" "smallread:" "smallread:-t 3 -c"; do
	k=${s%%:*} args=${s#*:}
	n=$k$(echo "$args" | tr -d ' -')
	# shellcheck disable=SC2086
	wr_run "$n.plain" - "$RAWFS" -X $k $args
	# shellcheck disable=SC2086
	wr_run "$n.wire" "interval=1:stats=1" "$RAWFS" -X $k $args
	wr_check "$n.wire" "$n.plain"
	wr_need_absorbed "$n.wire"
	[ -n "$(outcomes "$T/$n.plain.log")" ] || FAIL "$n: the plain run made no bad input"
	[ "$(outcomes "$T/$n.plain.log")" = "$(outcomes "$T/$n.wire.log")" ] ||
		{ FAIL "$n: the kernel's answers differ under the shim"; diff <(outcomes "$T/$n.plain.log") <(outcomes "$T/$n.wire.log"); }
	outcomes "$T/$n.wire.log" | sed "s/^/$n: /"
done
once badlen.wire "fsreclaim: a malformed FUSE message"
once short.wire "fsreclaim: a malformed FUSE message"
once uniquet2c.wire "fsreclaim: a reply to the private unique"

# a clone fd closed with a synthetic FLUSH read on it and unanswered: the
# request ends with the fd (as the kernel ends that fd's requests), so
# nothing waits for its reply, and the other reader serves on
wr_run closefd.plain - "$RAWFS" -t 2 -c -X closefd
wr_run closefd.wire "interval=1:stats=1" "$RAWFS" -t 2 -c -X closefd
wr_check closefd.wire closefd.plain
grep -q "rawfs: closed clone fd" "$T/closefd.wire.log" || FAIL "closefd: the clone fd was not closed mid-request"
grep -q "held back for a synthetic request waited" "$T/closefd.wire.log" && FAIL "closefd: a kernel FORGET/RELEASE waited for the closed fd's request"
grep -q "^SUMMARY: fsreclaim: reclaim-wait-timeout" "$T/closefd.wire.log" && FAIL "closefd: an allocator waited for the closed fd's request"
once closefd.wire "fsreclaim: a FUSE fd closed with"

# the same, but the reader first copied its fd (dup, dup2, dup3, fcntl
# F_DUPFD, SCM_RIGHTS to itself, and through libc's syscall(3): SYS_dup,
# SYS_dup3, SYS_fcntl F_DUPFD_CLOEXEC, which wire_syscall.c follows; rawfs
# -X dupclose, each way in turn) and
# answers the FLUSH on the copy: the open file lives on (the kernel ends
# its requests only with its last fd), so the synthetic request does too,
# moved to the copy, and its reply there is absorbed, not passed to the
# kernel as a reply to a request the wire no longer has
wr_run dupclose.plain - "$RAWFS" -t 2 -c -X dupclose
wr_run dupclose.wire "interval=1:stats=1" "$RAWFS" -t 2 -c -X dupclose
wr_check dupclose.wire dupclose.plain
wr_need_absorbed dupclose.wire
for how in dup dup2 dup3 F_DUPFD SCM_RIGHTS syscall-dup syscall-dup3 syscall-F_DUPFD_CLOEXEC; do
	grep -q "rawfs: dupclose $how:" "$T/dupclose.wire.log" || FAIL "dupclose: no copy made with $how"
done
grep -q "fsreclaim: a reply to the private unique" "$T/dupclose.wire.log" &&
	FAIL "dupclose: a synthetic request's reply on the copy of its fd was not absorbed"
grep -q "fsreclaim: a FUSE fd closed with" "$T/dupclose.wire.log" &&
	FAIL "dupclose: synthetic requests ended with an fd whose open file lives on in a copy"
echo "dupclose: $(grep -c 'rawfs: dupclose' "$T/dupclose.wire.log") copies, $(grep -m1 -o 'absorbed_flush=[0-9]*' "$T/dupclose.wire.log")"

# the connection aborted (fusectl) after the third round of the workload,
# while passes run on every allocation: rawfs ends as without the shim
abort_run() {   # name opts
	local name=$1 opts=$2 M=$T/$1.m
	mkdir -p "$M"
	if [ "$opts" = - ]; then
		timeout -k 5 60 "$RAWFS" -t 2 -c -X abort "$M" > "$T/$name.log" 2>&1 &
	else
		FSRECLAIM_OPTIONS=$opts LD_PRELOAD=$SHIM timeout -k 5 60 "$RAWFS" -t 2 -c -X abort "$M" > "$T/$name.log" 2>&1 &
	fi
	local pid=$!
	PIDS="$PIDS $pid"
	fsr_wait_mount "$M" $pid || { FAIL "$name: no mount"; return 1; }
	WR_ROUNDS=3 timeout -k 5 30 bash -c "$(declare -f wr_workload); wr_workload $M" > /dev/null || FAIL "$name: workload failed before the abort"
	fsr_abort_conn "$M" > /dev/null || FAIL "$name: cannot abort the connection"
	WR_ROUNDS=2 timeout -k 5 30 bash -c "$(declare -f wr_workload); wr_workload $M" > /dev/null 2>&1
	local i=0
	while kill -0 $pid 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	kill -0 $pid 2>/dev/null && FAIL "$name: the daemon still runs 20 s after the abort"
	fusermount3 -u -z "$M" 2>/dev/null
	wait $pid
	echo $? > "$T/$name.rc"
}
abort_run abort.plain -
abort_run abort.wire "interval=1:stats=1"
[ "$(outcomes "$T/abort.plain.log")" = "$(outcomes "$T/abort.wire.log")" ] ||
	{ FAIL "abort: the readers ended otherwise under the shim"; diff <(outcomes "$T/abort.plain.log") <(outcomes "$T/abort.wire.log"); }
outcomes "$T/abort.wire.log" | sed "s/^/abort: /"
[ "$(cat "$T/abort.wire.rc")" = "$(cat "$T/abort.plain.rc")" ] ||
	FAIL "abort: exit $(cat "$T/abort.wire.rc") under the shim, $(cat "$T/abort.plain.rc") without"
grep -q "rawfs: ERROR" "$T/abort.wire.log" && { FAIL "abort: protocol errors"; grep "rawfs: ERROR" "$T/abort.wire.log" | head -3; }
[ "$(fsr_stat_of absorbed_forget "$T/abort.wire.log")" -gt 0 ] 2>/dev/null || FAIL "abort: no pass ran before the abort"
once abort.wire "fsreclaim: the FUSE connection was aborted"
echo "abort: exit $(cat "$T/abort.wire.rc") (without the shim $(cat "$T/abort.plain.rc")), $(grep -m1 -o 'wire_async=.*' "$T/abort.wire.log")"

[ $fail = 0 ] && echo PASS
exit $fail
