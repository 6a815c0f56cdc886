#!/bin/bash
# A libfuse linked into the daemon (preload/fuse/wire_bundled.c): lockfs
# (libfuse3's high level, a real deadlock on its own fs_lock) built against
# libfuse3.a, with a helper that calls libstdc++ linked between lockfs.o
# and the library.  On the wire (auto: no dynamic libfuse) the shim must
# find the library's code ("the libfuse linked into"), keep libfuse's own
# locks (f->lock in get_path, the mt loop's lock) out of the reports, and
# still report lockfs's fs_lock; the data stays right and the daemon exits
# 66 (exitcode).  Linked without the helper, the daemon's code calls only
# glibc and cannot be told from its libfuse: the shim says so and excludes
# nothing (lockfs's report stays).
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
A=$(pkg-config --variable=libdir fuse3 2>/dev/null)/libfuse3.a
[ -f "$A" ] || { echo "FAIL: $A missing (.ci/deps: libfuse3-dev)"; exit 1; }
fsr_mounted_test wbundled mnt

cc="gcc -O2 -g -w $(pkg-config --cflags fuse3)"
$cc -c "$top_srcdir/tests/fuse/lockfs.c" -o "$T/lockfs.o" && $cc -c "$top_srcdir/tests/fuse/callout.c" -o "$T/callout.o" &&
	gcc -o "$T/lockfs-callout" "$T/lockfs.o" "$T/callout.o" "$A" -lpthread -ldl -lstdc++ &&
	gcc -o "$T/lockfs-libc" "$T/lockfs.o" "$A" -lpthread -ldl || { echo "FAIL: cannot build lockfs with libfuse3.a"; exit 1; }
seq 1 3000 > "$T/want"

run() {     # NAME: the binary's suffix; leaves its log in $T/NAME.log
	local n=$1
	rm -f "$T"/log.*
	timeout -k 5 90 "$RUN" --opt interval=1 --opt stats=1 --opt mode=handoff --opt timeout_ms=60000 \
		--opt "log_path=$T/log" -- "$T/lockfs-$n" -f "$M" > "$T/$n.out" 2>&1 &
	pid=$!
	fsr_wait_mount "$M" $pid || { FAIL "$n: no mount"; cat "$T/$n.out"; return 1; }
	(
		exec 3> "$M/a"          # a handle open on a: the callbacks fsync it
		echo start >&3
		timeout 60 dd if="$T/want" of="$M/b" bs=512 status=none
	) || FAIL "$n: the workload failed or hung"
	cmp -s "$T/want" "$M/b" || FAIL "$n: b differs"
	timeout 20 fusermount3 -u "$M" || { FAIL "$n: unmount failed"; fusermount3 -u -z "$M"; }
	wait $pid; local rc=$?; pid=
	[ $rc = 66 ] || FAIL "$n: daemon exit status $rc, expected 66"
	cat "$T/$n.out" "$T"/log.* > "$T/$n.log" 2>/dev/null
	grep -E "^SUMMARY|libfuse linked|cannot be told|stats: allocs=[0-9]+ reclaim_passes=[1-9]" "$T/$n.log" | sort | uniq -c
}

run callout
L=$T/callout.log
grep -q "fsreclaim: the libfuse linked into .*lockfs-callout" "$L" || FAIL "callout: the bundled libfuse was not found"
grep -qE "^SUMMARY: fsreclaim: reclaim-(deadlock|lock-inversion) lf_(write|fsync) lockfs.c" "$L" ||
	FAIL "callout: lockfs's own fs_lock hazard is not reported"
others=$(grep "^SUMMARY" "$L" | grep -v " lockfs.c:")
[ -z "$others" ] || FAIL "callout: reports on libfuse's own locks: $others"
grep -q "absorbed_fsync=[1-9]" "$L" || FAIL "callout: not served by the wire (no absorbed fsync)"

run libc
L=$T/libc.log
grep -q "lockfs-libc reads /dev/fuse itself and its own code calls only the C library" "$L" ||
	FAIL "libc: no notice that its libfuse cannot be told apart"
grep -q "fsreclaim: the libfuse linked into" "$L" && FAIL "libc: a libfuse range was taken from a libc-only daemon"
grep -qE "^SUMMARY: fsreclaim: reclaim-(deadlock|lock-inversion) lf_(write|fsync) lockfs.c" "$L" ||
	FAIL "libc: lockfs's own fs_lock hazard is not reported"

[ $fail = 0 ] && echo PASS
exit $fail
