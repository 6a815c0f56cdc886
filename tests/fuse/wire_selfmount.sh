#!/bin/bash
# `mergerfs /a:/b /a`: a branch that is also the mountpoint (trapexit/
# mergerfs#1040).  mergerfs (a bundled libfuse: only the wire sees its ops)
# then reaches its own mount from inside its ops, and without the shim the
# first listing hangs (the daemon waits for itself; the plain run here is
# aborted through fusectl after 5 s).  Under the shim the call to the own
# mount is an fs-reentry report and fails with EDEADLK: the listing ends,
# the other branch's file is read, and mergerfs exits after the unmount.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
command -v mergerfs > /dev/null || { echo "FAIL: mergerfs is not installed (.ci/deps)"; exit 1; }
fsr_shm_test wself
fail=0
FAIL() { echo "FAIL: $*"; fail=1; }

# start NAME OPTS(-: no shim): mergerfs A:B A on $T/NAME.a
start() {
	local a=$T/$1.a b=$T/$1.b
	mkdir -p "$a" "$b"
	echo a > "$a/x"; echo b > "$b/y"
	if [ "$2" = - ]; then
		timeout -k 5 60 mergerfs -f -o threads=4,nonempty "$a:$b" "$a" > "$T/$1.log" 2>&1 &
	else
		FSRECLAIM_OPTIONS=$2 LD_PRELOAD=$SHIM timeout -k 5 60 mergerfs -f -o threads=4,nonempty "$a:$b" "$a" \
			> "$T/$1.log" 2>&1 &
	fi
	pid=$!
	PIDS="$PIDS $pid"
	fsr_wait_mount "$a" $pid || { FAIL "$1: no mount"; cat "$T/$1.log"; return 1; }
}

# without the shim: the hang this is about (shown, not required)
if start plain -; then
	fsr_bounded_stat "$T/plain.a/x" "$T/plain.a" 5
	echo "plain: stat of the own branch's file: status $? (124: it hung and was aborted)"
	fsr_unmount "$T/plain.a" $pid 50 || fusermount3 -u -z "$T/plain.a" 2>/dev/null
fi

i=0
for o in "stats=1:exitcode=0" "stats=1:exitcode=0:interval=1"; do
	i=$((i + 1)) n=shim$i
	start $n "$o" || continue
	a=$T/$n.a
	timeout 20 ls "$a" > "$T/$n.ls"; rc=$?
	[ $rc = 124 ] && { FAIL "$n: ls of the mount hung"; fsr_abort_conn "$a"; }
	grep -qx y "$T/$n.ls" || FAIL "$n: the other branch's file is not listed (ls status $rc)"
	[ "$(timeout 20 cat "$a/y")" = b ] || FAIL "$n: the other branch's file cannot be read"
	fsr_unmount "$a" $pid 200 || FAIL "$n: mergerfs did not end after the unmount"
	wait $pid; rc=$?
	[ $rc = 0 ] || FAIL "$n: mergerfs exit $rc"
	grep -q "^SUMMARY: fsreclaim: fs-reentry " "$T/$n.log" || { FAIL "$n: no fs-reentry report"; tail -30 "$T/$n.log"; }
	grep -q "inside FUSE op .* reaches the daemon's own mount $a" "$T/$n.log" || FAIL "$n: the report does not name the own mount"
	echo "$n ($o): $(grep -c '^SUMMARY: fsreclaim: fs-reentry ' "$T/$n.log") fs-reentry reports, $(grep -m1 -o 'fs_ops=[0-9]*' "$T/$n.log")"
done

[ $fail = 0 ] && echo PASS
exit $fail
