#!/bin/sh
# After fork a FUSE session belongs to the process that next reads its
# /dev/fuse fd (issue 11 item 5):
#  1. selfcall (its multi-threaded loop) forks a helper child that allocates (a pass on every
#     allocation) and never reads the fd: the child makes no callback into
#     the daemon's ops, the daemon goes on making them;
#  2. txfs run without -f (libfuse's fuse_daemonize forks, the child serves
#     the mount): the child keeps its callbacks.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
fsr_mounted_test forkown mnt
field() { sed -n "s/.*fsreclaim: stats: .*$1=\([0-9]*\).*/\1/p" "$2" | tail -n 1; }

# 1. a helper child
SELFCALL_FORK=1 timeout -k 5 60 "$RUN" --opt "log_path=$T/log" --opt interval=1 --opt stats=1 \
	-- "$top_builddir/tests/fuse/selfcall" -f "$M" > "$T/out" 2>&1 &
pid=$!
fsr_wait_mount "$M" $pid || { cat "$T/out"; echo "FAIL: no mount"; exit 1; }
fsr_wait_line 200 "^fork-child:" "$T/out"
stat "$M/poke" > /dev/null 2>&1   # a lookup the kernel cannot answer from its cache
fsr_wait_line 200 "^parent-callbacks:" "$T/out"
fsr_wait_line 100 "^closed" "$T/out"
timeout 20 fusermount3 -u "$M" || { FAIL "unmount failed"; fusermount3 -u -z "$M"; }
wait $pid; pid=
child=$(sed -n 's/^fork-child: pid \([0-9]*\) status 0$/\1/p' "$T/out")
if [ -z "$child" ] || [ ! -f "$T/log.$child" ]; then
	FAIL "no helper child ran, or it failed"; cat "$T/out"
else
	cb=$(sed -n 's/^child-callbacks: //p' "$T/out")
	[ "$cb" = 0 ] && echo "ok: the helper child (2000 allocations, interval=1) made no callback" ||
		FAIL "the helper child called the daemon's ops back ${cb:-?} times"
	dcb=$(sed -n 's/^parent-callbacks: //p' "$T/out")
	[ "${dcb:-0}" -gt 0 ] && echo "ok: after its next request the daemon calls back again ($dcb lookups)" ||
		FAIL "the daemon made no callback after the fork and a request (${dcb:-none})"
fi

# 2. txfs daemonized by libfuse
rm -f "$T"/log.*
timeout -k 5 60 "$RUN" --opt "log_path=$T/tlog" --opt interval=1 --opt stats=1 \
	-- "$top_builddir/fusefs/txfs" -o journal="$T/journal" "$M" > "$T/tout" 2>&1
rc=$?
[ $rc = 0 ] || { FAIL "txfs did not daemonize (status $rc)"; cat "$T/tout"; }
fsr_wait_mount "$M" $$ || { echo "FAIL: txfs: no mount"; exit 1; }
exec 3>"$M/held"
echo data >&3
for i in 1 2 3 4 5; do echo $i > "$M/f$i"; ls "$M" > /dev/null; stat "$M/held" > /dev/null; done
exec 3>&-
timeout 20 fusermount3 -u "$M" || { FAIL "txfs: unmount failed"; fusermount3 -u -z "$M"; }
# the daemon (the forked child) writes its stats line at exit
served=
for i in $(seq 100); do
	for f in "$T"/tlog.*; do
		[ -f "$f" ] || continue
		ops=$(field fs_ops "$f")
		[ "${ops:-0}" -gt 0 ] && served=$f
	done
	[ -n "$served" ] && break
	sleep 0.1
done
if [ -z "$served" ]; then
	FAIL "txfs: no process served the mount (no stats line with fs_ops)"; cat "$T"/tlog.* "$T/tout"
else
	cb=$(field callbacks "$served")
	[ "${cb:-0}" -gt 0 ] && echo "ok: the daemonized txfs (${served##*.}) served the mount and made $cb callbacks" ||
		FAIL "the daemonized txfs made no callback (it reads /dev/fuse: the sessions are its own)"
fi
exit $fail
