#!/bin/bash
# Real Debian daemons the libfuse wrapping cannot see, on the /dev/fuse wire:
# ntfs-3g and lowntfs-3g (their own fuse-lite, single-threaded) on an mkntfs
# image, and mergerfs with threads=4 (a bundled libfuse 2.9 fork).  Each
# runs the same write/read workload without the shim and with it
# (interval=1): the workload's digest equal, exit 0 after the unmount, no
# hang, wire passes with absorbed FORGET, FSYNC and FLUSH replies.
# None may get a report.  ntfs-3g and mergerfs use their bundled high-level
# library, whose f->lock is held while it allocates and is taken by every
# request, synthetic ones too: that library's code is found inside the
# stripped executable (preload/fuse/wire_bundled.c, said once on stderr) and
# its lock classes are kept out of the graph, as a libfuse DSO's are.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
. "$top_srcdir/tests/lib/wire.sh"
fsr_require_fuse
SHIM=$top_builddir/preload/.libs/libfsreclaim.so

fail=0
FAIL() { echo "FAIL: $*"; fail=1; }
for p in mkntfs ntfs-3g lowntfs-3g mergerfs; do
	command -v $p > /dev/null || FAIL "$p is not installed (.ci/deps: ntfs-3g, mergerfs)"
done
[ $fail = 0 ] || exit 1

fsr_shm_test wired

stat_of() { fsr_stat_of "$@"; }

workload() {
	local d=$1 k
	mkdir -p "$d/a/b" || return 1
	for k in $(seq 12); do
		echo "line $k" >> "$d/a/f"
		cp "$d/a/f" "$d/a/b/g$k"
		cat "$d/a/f" "$d"/a/b/* > /dev/null
		ls -lR "$d" > /dev/null
		sync "$d/a/f"
		[ $((k % 4)) = 0 ] && echo 2 > /proc/sys/vm/drop_caches
	done
	(cd "$d" && find . -path ./.Trash-0 -prune -o -print | grep -v 'System Volume' | sort && find a -type f | sort | xargs cat) | md5sum
}

# run NAME OPTS(-: none) MOUNTPOINT CMD...
run() {
	local name=$1 opts=$2 M=$3; shift 3
	mkdir -p "$M"
	if [ "$opts" = - ]; then
		timeout -k 5 120 "$@" > "$T/$name.log" 2>&1 &
	else
		FSRECLAIM_OPTIONS="$opts" LD_PRELOAD=$SHIM timeout -k 5 120 "$@" > "$T/$name.log" 2>&1 &
	fi
	local pid=$!
	PIDS="$PIDS $pid"
	fsr_wait_mount "$M" $pid || { FAIL "$name: no mount"; cat "$T/$name.log"; return 1; }
	timeout -k 5 60 bash -c "$(declare -f workload); workload $M" > "$T/$name.digest" || FAIL "$name: workload failed"
	fsr_unmount "$M" $pid 300 || FAIL "$name: the daemon did not end after the unmount"
	wait $pid
	echo $? > "$T/$name.rc"
}

check() {     # name
	local n=$1 k
	cmp -s "$T/$n.plain.digest" "$T/$n.wire.digest" || FAIL "$n: workload digest differs from the plain run"
	[ "$(cat "$T/$n.plain.rc")" = 0 ] || FAIL "$n: the plain run exited $(cat "$T/$n.plain.rc")"
	[ "$(cat "$T/$n.wire.rc")" = 0 ] || { FAIL "$n: exit $(cat "$T/$n.wire.rc") under the shim"; tail -40 "$T/$n.wire.log"; }
	[ $(( $(stat_of wire_async "$T/$n.wire.log") + $(stat_of wire_sync "$T/$n.wire.log") )) -gt 0 ] 2>/dev/null || FAIL "$n: no wire pass"
	for k in fs_ops absorbed_forget absorbed_fsync absorbed_flush; do
		[ "$(stat_of $k "$T/$n.wire.log")" -gt 0 ] 2>/dev/null || FAIL "$n: $k=0"
	done
	fsr_wire_reports "$n" "$T/$n.wire.log" -
	grep -q "^fsreclaim: the libfuse linked into .*$n" "$T/$n.wire.log" ||
		FAIL "$n: its bundled libfuse was not found"
	echo "$n: $(grep -m1 -o 'fs_ops=.*' "$T/$n.wire.log") reports: ${fsr_kinds:-none}"
}

truncate -s 64M "$T/ntfs0.img" && mkntfs -F -f -q "$T/ntfs0.img" > /dev/null 2>&1 || FAIL "mkntfs failed"
for d in lowntfs-3g ntfs-3g; do
	for m in plain wire; do
		cp "$T/ntfs0.img" "$T/$d.$m.img"
		o=-; [ $m = wire ] && o="interval=1:stats=1:exitcode=0"
		run "$d.$m" "$o" "$T/$d.$m.mnt" $d -o no_detach "$T/$d.$m.img" "$T/$d.$m.mnt"
	done
done
check lowntfs-3g
check ntfs-3g

for m in plain wire; do
	mkdir -p "$T/mg.$m.a" "$T/mg.$m.b/sub"
	echo a > "$T/mg.$m.a/x"; echo b > "$T/mg.$m.b/sub/y"
	o=-; [ $m = wire ] && o="interval=1:stats=1:exitcode=0"
	run "mergerfs.$m" "$o" "$T/mg.$m.mnt" mergerfs -f -o threads=4 "$T/mg.$m.a:$T/mg.$m.b" "$T/mg.$m.mnt"
done
check mergerfs

[ $fail = 0 ] && echo PASS
exit $fail
