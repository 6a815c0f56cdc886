#!/bin/bash
# A single-threaded FUSE daemon whose op stats, openat(dirfd)s and reads on
# its own mount: each call is an fs-reentry report and fails with EDEADLK
# instead of hanging; calls off the mount (including the directory hidden
# under the mountpoint) still work.  An op that returns with a NOFS scope
# open is a scope-leak naming the op.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
BIN=$top_builddir/tests/fuse/selfcall
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
fsr_require_built "$BIN"
fsr_mounted_test selfcall mnt
echo under > "$M/under"
# symlinks for selfcall.c's links_calls (none of them on the mount itself)
ln -s "$M/data" "$T/link-abs"
ln -s "$T/chain2" "$T/chain1"; ln -s "$M/data" "$T/chain2"
ln -s mnt/data "$T/link-rel"
ln -s "$M" "$T/link-dir"
mkdir -p "$T/deep/a" "$T/src" "$T/other"; ln -s deep/a "$T/dl"
ln -s loop2 "$T/loop1"; ln -s loop1 "$T/loop2"
echo f > "$T/src/file"; ln -s file "$T/src/link-in"
echo f > "$T/other/f"; ln -s ../other/f "$T/src/link-out"

timeout -k 5 60 "$RUN" --opt "log_path=$T/log" --opt interval=0 -- "$BIN" -f "$M" > "$T/out" 2>&1 &
pid=$!
fsr_wait_mount "$M" $pid
case $? in
2) cat "$T/out"; echo "FAIL: daemon died"; exit 1 ;;
1) echo "FAIL: no mount"; exit 1 ;;
esac
fsr_wait_line 200 "^opened:" "$T/out"
fsr_bounded_stat "$M/trigger" "$M"
[ $? = 124 ] && FAIL "stat of the trigger hung"
fsr_wait_line 100 "^closed" "$T/out"
fsr_bounded_stat "$M/leak" "$M"
[ $? = 124 ] && FAIL "stat of leak hung"
# threads started inside an op (issue 11 item 25)
fsr_bounded_stat "$M/helper" "$M"
[ $? = 124 ] && FAIL "stat of helper hung (a helper thread of the op reached the mount)"
fsr_bounded_stat "$M/helper-late" "$M"
fsr_bounded_stat "$M/late-go" "$M"
fsr_wait_line 100 "^helper-after-op" "$T/out"
timeout 20 fusermount3 -u "$M" || { FAIL "unmount failed"; fusermount3 -u -z "$M"; }
wait $pid; rc=$?
cat "$T/out"; cat "$T/log".* 2>/dev/null
EDEADLK=35
for c in stat-own-mount stat-own-mount-heap stat-own-mount-mapped-long openat-own-dirfd read-own-file \
	stat-dotdot-own-mount openat-hidden-up-own-mount; do
	grep -qx "$c: errno $EDEADLK" "$T/out" || FAIL "$c did not fail with EDEADLK"
done
for c in helper-thread-stat helper-grandchild-stat; do
	grep -qx "$c: errno $EDEADLK" "$T/out" || FAIL "$c: a thread the op started is not part of the op"
done
grep -qx "helper-after-op: ok" "$T/out" || FAIL "a thread stays part of its op after the op returned"
grep -q "in a thread started inside FUSE op 'lookup'" "$T/log".* || FAIL "the report does not say the thread was started inside the op"
for c in stat-root openat-hidden-dir stat-sibling; do
	grep -qx "$c: ok" "$T/out" || FAIL "$c failed (a call off the mount)"
done
# through symlinks: into the mount, or not (the link itself, a loop, links
# elsewhere: no report, the real call's result)
for c in link-abs link-abs-open link-chain link-rel link-rel-openat link-chain-fstatat link-dir-descend \
	link-dir-slash-lstat dotdot-after-link-into-mount proc-fd-own-file proc-fd-own-dir-descend proc-fd-then-link; do
	grep -qx "$c: errno $EDEADLK" "$T/out" || FAIL "$c did not fail with EDEADLK"
done
for c in link-abs-lstat link-abs-readlink link-abs-nofollow link-chain-fstatat-nofollow \
	dotdot-after-link-off-mount link-loop src-link-in src-link-out proc-fd-own-file-lstat proc-fd-off-mount; do
	grep -qx "$c: ok" "$T/out" || FAIL "$c: not the real call's result (a false fs-reentry?)"
done
grep -q '/link-abs")' "$T/log".* || FAIL "no report names the symlink's path"
n=$(cat "$T/log".* 2>/dev/null | grep -cE '^==[0-9]+== ?fsreclaim: ERROR: fs-reentry')
[ "$n" -ge 1 ] || FAIL "no fs-reentry report"
grep -q "SUMMARY: fsreclaim: fs-reentry" "$T/log".* || FAIL "no SUMMARY line"
grep -q "lookup" "$T/log".* || FAIL "the report does not name the op (lookup)"
grep -q "WARNING: scope-leak" "$T/log".* || FAIL "no scope-leak report for the scope left open in lookup"
grep -q "FUSE op lookup returns" "$T/log".* || FAIL "the scope-leak report does not name the op"
[ $rc = 66 ] || FAIL "daemon exit status $rc, expected 66 (exitcode after an ERROR report)"
exit $fail
