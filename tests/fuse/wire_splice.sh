#!/bin/bash
# Real splicing daemons on the /dev/fuse wire (preload/fuse/wire_splice.c).
# libfuse3's passthrough_ll reads requests by splice when it can grow its
# pipe to max_write + 4 KiB: root here lacks CAP_SYS_RESOURCE and
# pipe-max-size is 1 MiB, so the test builds it with max_write = 131072
# (libfuse 3.14 takes max_write from the filesystem's init, it has no -o
# max_write) and with splice_write + splice_move wanted (READ replies then go
# out by vmsplice + splice).  mergerfs 2.33.5 (-o splice_read,splice_write,
# splice_move, threads=4) has a fixed 1 MiB + 4 KiB buffer, whose pipe
# (rounded to 2 MiB) needs pipe-max-size >= 2 MiB: the test raises
# fs.pipe-max-size until mergerfs's first reader grew its pipe, and puts it
# back at once (and on every exit).
#
# Each runs a write/read workload (writes larger than a page, so WRITE
# requests stay in the pipe) without the shim and under it with
# interval=1 and fuse_transport=wire, under strace -f -e trace=splice: a run
# where no splice from the FUSE fd returned > 0 fails.  Then: the workload's
# digest equal to the plain run's, exit 0, fs_ops and callbacks > 0, an
# absorbed reply of each kind, wire_splice_in > 0, and no notice that the
# wire gave up on the connection.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
. "$top_srcdir/tests/lib/wire.sh"
fsr_require_fuse
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
EX=${FUSE_EXAMPLES:-/usr/share/doc/libfuse3-dev/examples}

fail=0
FAIL() { echo "FAIL: $*"; fail=1; }
for p in strace mergerfs; do
	command -v $p > /dev/null || FAIL "$p is not installed (.ci/deps: strace, mergerfs)"
done
[ $fail = 0 ] || exit 1

base=/tmp; [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
T=$(mktemp -d "$base/fsr-wsplice.XXXXXX") || exit 99
PIDS=""
PIPE_MAX=$(cat /proc/sys/fs/pipe-max-size)
restore_pipe_max() { [ "$(cat /proc/sys/fs/pipe-max-size)" = "$PIPE_MAX" ] || echo "$PIPE_MAX" > /proc/sys/fs/pipe-max-size; }
fsr_trap_exit 'restore_pipe_max; fsr_cleanup "$T" $PIDS'

stat_of() { fsr_stat_of "$@"; }

workload() {
	local d=$1 k
	mkdir -p "$d/a/b" || return 1
	exec 9< "$d/seed"     # a handle open all along: every pass has one to call back on
	for k in $(seq 10); do
		echo "line $k" >> "$d/a/f"
		head -c $((k * 20000)) "$d/seed" > "$d/a/b/g$k"
		cat "$d/a/f" "$d"/a/b/* > /dev/null
		ls -lR "$d" > /dev/null
		sync "$d/a/f"
		[ $((k % 4)) = 0 ] && echo 2 > /proc/sys/vm/drop_caches
	done
	exec 9<&-
	(cd "$d" && find . | sort && find . -type f | sort | xargs cat) | md5sum
}

# run NAME OPTS(-: none) MOUNTPOINT CMD...: the shim's runs under strace
run() {
	local name=$1 opts=$2 M=$3; shift 3
	mkdir -p "$M"
	if [ "$opts" = - ]; then
		timeout -k 5 120 "$@" > "$T/$name.log" 2>&1 &
	else
		# one file per thread (-ff): no "<unfinished ...>" lines to join;
		# --seccomp-bpf: only the traced calls stop the daemon
		FSRECLAIM_OPTIONS="$opts" timeout -k 5 120 strace -ff -qq --seccomp-bpf -o "$T/$name.st" -e trace=openat,splice,fcntl \
			-E LD_PRELOAD="$SHIM" "$@" > "$T/$name.log" 2>&1 &
	fi
	local pid=$!
	PIDS="$PIDS $pid"
	fsr_wait_mount "$M" $pid || { FAIL "$name: no mount"; cat "$T/$name.log"; return 1; }
	if [ -n "${RAISED:-}" ]; then
		# until the first reader grew its pipe (each grows it at its first
		# request after INIT), then pipe-max-size goes back
		local i
		for i in $(seq 100); do
			cat "$T/$name".st.* 2>/dev/null | grep -q "F_SETPIPE_SZ, [0-9]*) = [0-9]" && break
			stat "$M" > /dev/null
			sleep 0.1
		done
		restore_pipe_max
	fi
	timeout -k 5 90 bash -c "$(declare -f workload); workload $M" > "$T/$name.digest" || FAIL "$name: workload failed"
	fsr_unmount "$M" $pid 300 || FAIL "$name: the daemon did not end after the unmount"
	wait $pid
	echo $? > "$T/$name.rc"
}

# check NAME ALLOWED-KIND(or -)
check() {
	local n=$1 allow=$2 k
	cmp -s "$T/$n.plain.digest" "$T/$n.wire.digest" || FAIL "$n: workload digest differs from the plain run"
	[ "$(cat "$T/$n.plain.rc")" = 0 ] || FAIL "$n: the plain run exited $(cat "$T/$n.plain.rc")"
	[ "$(cat "$T/$n.wire.rc")" = 0 ] || { FAIL "$n: exit $(cat "$T/$n.wire.rc") under the shim"; tail -40 "$T/$n.wire.log"; }
	# splice(FUSE fd, NULL, pipe, NULL, ...) = N > 0, the FUSE fd being the daemon's open of /dev/fuse
	local fd spliced
	cat "$T/$n.wire".st.* > "$T/$n.wire.strace"
	fd=$(grep -m1 -o 'openat(AT_FDCWD, "/dev/fuse", [^)]*) *= *[0-9]*' "$T/$n.wire.strace" | sed 's/.*= *//')
	spliced=$(grep -c "^splice(${fd:-x}, NULL, [0-9]*, NULL, [0-9]*, [A-Z_0-9|]*) *= *[1-9]" "$T/$n.wire.strace")
	[ "${spliced:-0}" -gt 0 ] || { FAIL "$n: no splice from the FUSE fd returned > 0 (strace)"; grep -m5 "splice\|SETPIPE" "$T/$n.wire.strace"; }
	for k in fs_ops callbacks absorbed_forget absorbed_fsync absorbed_flush wire_splice_in; do
		[ "$(stat_of $k "$T/$n.wire.log")" -gt 0 ] 2>/dev/null || FAIL "$n: $k=0"
	done
	grep -q "the wire stops following" "$T/$n.wire.log" && { FAIL "$n: the wire gave up on the connection"; grep "the wire stops" "$T/$n.wire.log"; }
	fsr_wire_reports "$n" "$T/$n.wire.log" "$allow"
	echo "$n: $spliced splices from fd $fd; $(grep -m1 -o 'callbacks=.*' "$T/$n.wire.log") reports: ${fsr_kinds:-none}"
}

head -c 300000 /dev/urandom > "$T/seed"
# a synchronous pass waits for its reply at most timeout_ms, and its
# allocator reports reclaim-wait-timeout after as long: on a loaded machine
# (make -j check, a shared CI runner) a 5 s default is too short to mean a hang
SLOW=timeout_ms=30000

# passthrough_ll with max_write = 131072 and splice_write/splice_move wanted
mkdir -p "$T/bin"
for f in passthrough_ll.c passthrough_helpers.h; do
	if [ -f "$EX/$f" ]; then cp "$EX/$f" "$T/bin/"; elif [ -f "$EX/$f.gz" ]; then zcat "$EX/$f.gz" > "$T/bin/$f"; fi
done
sed '/^static void lo_init(void \*userdata,/,/^{/ s/^{$/{\n\tconn->max_write = 131072;\n\tconn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;/' \
	"$T/bin/passthrough_ll.c" > "$T/bin/pll_splice.c"
grep -q "conn->max_write = 131072" "$T/bin/pll_splice.c" || FAIL "passthrough_ll.c: lo_init not found"
if gcc -w -O2 -D_FILE_OFFSET_BITS=64 -I"$T/bin" "$T/bin/pll_splice.c" -o "$T/bin/pll_splice" \
	$(pkg-config --cflags --libs fuse3) 2>/dev/null; then
	for m in plain wire; do
		mkdir -p "$T/pll.$m.src"
		cp "$T/seed" "$T/pll.$m.src/seed"
		o=-; [ $m = wire ] && o="interval=1:stats=1:fuse_transport=wire:$SLOW"
		run "pll.$m" "$o" "$T/pll.$m.mnt" "$T/bin/pll_splice" -f -o "source=$T/pll.$m.src" "$T/pll.$m.mnt"
	done
	check pll -
	[ "$(stat_of wire_splice_out "$T/pll.wire.log")" -gt 0 ] 2>/dev/null || FAIL "pll: no spliced reply read (wire_splice_out=0)"
else
	FAIL "cannot build passthrough_ll from $EX (libfuse3-dev)"
fi

# mergerfs with splice_read, splice_write, splice_move and 4 threads
for m in plain wire; do
	mkdir -p "$T/mg.$m.a" "$T/mg.$m.b/sub"
	cp "$T/seed" "$T/mg.$m.a/seed"; echo b > "$T/mg.$m.b/sub/y"
	o=-; [ $m = wire ] && o="interval=1:stats=1:exitcode=0:$SLOW"
	RAISED=
	if [ $m = wire ]; then
		echo 2097152 > /proc/sys/fs/pipe-max-size || FAIL "cannot raise fs.pipe-max-size"
		RAISED=1
	fi
	run "mergerfs.$m" "$o" "$T/mg.$m.mnt" mergerfs -f -o threads=4,splice_read,splice_write,splice_move \
		"$T/mg.$m.a:$T/mg.$m.b" "$T/mg.$m.mnt"
	restore_pipe_max
done
# mergerfs's bundled libfuse is found by its code range (wire_bundled.c):
# no report at all
check mergerfs -

[ $fail = 0 ] && echo PASS
exit $fail
