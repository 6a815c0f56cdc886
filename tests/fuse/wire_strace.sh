#!/bin/bash
# Nothing is lost on the wire, checked from outside: strace records every
# read/readv/write/writev of the daemon's /dev/fuse fds while the shim runs
# passes on every allocation (interval=1), and tests/fuse/wire_decode.py
# decodes them as the kernel saw them, without the shim's counts: no reply
# with a private (synthetic) unique reached the kernel, the kernel's FORGETs
# never exceed the references its accepted replies gave, every request got
# its reply.  On rawfs (one reader; 4 readers on clone fds with replies from
# another thread) and libfuse3's passthrough_ll forced onto
# fuse_transport=wire, and linked with libfuse3.a (auto); ntfs-3g,
# lowntfs-3g and mergerfs threads=4 (auto: the wire); the workload's
# digest as without the shim, and the shim really made passes (absorbed
# replies of each kind).  First the
# decoder must catch a doctored trace (a private reply, an over-forget).
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
command -v strace > /dev/null || { echo "FAIL: strace is not installed (.ci/deps)"; exit 1; }
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
RAWFS=$top_builddir/tests/fuse/rawfs
DECODE=$top_srcdir/tests/fuse/wire_decode.py
fsr_shm_test wstrace
. "$top_srcdir/tests/lib/wirerun.sh"

# the decoder's own check: LOOKUP 0x2 -> node 5 once, then a FORGET of 2
# references of node 5 and a reply with unique 1<<62|2
python3 - "$T/doctored" <<'EOF'
import struct, sys
def x(b): return ''.join('\\x%02x' % c for c in b)
fd = '3<\\x2f\\x64\\x65\\x76\\x2f\\x66\\x75\\x73\\x65<char 10:229>>'
lk = struct.pack('<IIQQIIIHH', 42, 1, 2, 1, 0, 0, 0, 0, 0) + b'f\0'
rp = struct.pack('<IiQ', 144, 0, 2) + struct.pack('<Q', 5) + bytes(120)
fg = struct.pack('<IIQQIIIHH', 48, 2, 4, 5, 0, 0, 0, 0, 0) + struct.pack('<Q', 2)
pv = struct.pack('<IiQ', 16, 0, (1 << 62) | 2)
with open(sys.argv[1], 'w') as f:
    f.write('read(%s, "%s", 1052672) = %d\n' % (fd, x(lk), len(lk)))
    f.write('write(%s, "%s", %d) = %d\n' % (fd, x(rp), len(rp), len(rp)))
    f.write('read(%s, "%s", 1052672) = %d\n' % (fd, x(fg), len(fg)))
    f.write('write(%s, "%s", %d) = %d\n' % (fd, x(pv), len(pv), len(pv)))
EOF
out=$(python3 "$DECODE" "$T/doctored"); rc=$?
echo "doctored: $out" | head -3
[ $rc = 1 ] || FAIL "the decoder passed a doctored trace"
printf '%s\n' "$out" | grep -q "private unique" || FAIL "the decoder missed a private reply"
printf '%s\n' "$out" | grep -q "node 0x5: the kernel forgot 2 references, the replies gave 1" || FAIL "the decoder missed an over-forget"

# traced NAME OPTS CMD...: CMD under strace with the shim (strace itself unshimmed)
traced() {
	local name=$1 opts=$2; shift 2
	mkdir -p "$T/$name.tr"
	wr_run "$name" - strace -ff -o "$T/$name.tr/t" -yy -xx -s 1000000 -e trace=read,readv,write,writev,splice \
		-E LD_PRELOAD="$SHIM" -E FSRECLAIM_OPTIONS="$opts" "$@"
	local d
	d=$(python3 "$DECODE" "$T/$name.tr"/t.*) || { FAIL "$name: the trace shows lost or leaked messages"; }
	printf '%s: %s\n' "$name" "$d" | head -12
	rm -rf "$T/$name.tr"
}

WR_ROUNDS=6
for s in "1:" "4co:-t 4 -c -o"; do
	name=raw${s%%:*} args=${s#*:}
	# shellcheck disable=SC2086
	wr_run "$name.plain" - "$RAWFS" $args
	# shellcheck disable=SC2086
	traced "$name.st" "interval=1:stats=1" "$RAWFS" $args
	wr_check "$name.st" "$name.plain"
	wr_need_absorbed "$name.st"
done

# pll NAME OPTS LINK...: passthrough_ll built with LINK, plain and traced
pll() {
	local name=$1 opts=$2
	shift 2
	wr_example passthrough_ll.c "$name" "$@" || { FAIL "cannot build passthrough_ll with $*"; return; }
	local cmd=("$T/bin/$name" -f -o "source=$T/src")
	wr_run "$name.plain" - "${cmd[@]}"
	traced "$name.st" "$opts" "${cmd[@]}"
	wr_check "$name.st" "$name.plain"
	wr_need_absorbed "$name.st"
}
wr_tree "$T/src"
# shellcheck disable=SC2046
pll pll "interval=1:stats=1:fuse_transport=wire" $(pkg-config --cflags --libs fuse3)
# linked with libfuse3.a: the wire in auto (only it sees that libfuse)
# shellcheck disable=SC2046
pll plls "interval=1:stats=1" $(pkg-config --cflags fuse3) "$(pkg-config --variable=libdir fuse3)/libfuse3.a" -lpthread -ldl

# Real daemons the libfuse wrapping cannot see (as wire_daemons.sh runs
# them): ntfs-3g and lowntfs-3g (fuse-lite, one reader, read + writev) on an
# mkntfs image holding the workload's tree, and mergerfs with threads=4
# (its bundled libfuse 2.9 fork).  mergerfs runs without splice_read/
# splice_write: spliced traffic is not in the trace (the decoder fails on
# a splice of a FUSE fd), and wire_splice.sh runs the splice configuration.
# Bounded: WR_ROUNDS rounds, each daemon once plain and once traced.
for p in mkntfs ntfs-3g lowntfs-3g mergerfs; do
	command -v $p > /dev/null || FAIL "$p is not installed (.ci/deps: ntfs-3g, mergerfs)"
done
if command -v mkntfs ntfs-3g lowntfs-3g mergerfs > /dev/null; then
	truncate -s 64M "$T/ntfs.img" && mkntfs -F -f -q "$T/ntfs.img" > /dev/null 2>&1 || FAIL "mkntfs failed"
	mkdir -p "$T/ntfs.mk"
	ntfs-3g -o no_detach "$T/ntfs.img" "$T/ntfs.mk" > "$T/ntfs.mk.log" 2>&1 &
	pid=$!
	if fsr_wait_mount "$T/ntfs.mk" $pid; then
		wr_tree "$T/ntfs.mk"
		fsr_unmount "$T/ntfs.mk" $pid 100 || FAIL "ntfs-3g did not end after making the image"
	else
		FAIL "cannot mount the new ntfs image"; cat "$T/ntfs.mk.log"
	fi
	wait $pid
	for d in ntfs-3g lowntfs-3g; do
		cp "$T/ntfs.img" "$T/$d.plain.img"; cp "$T/ntfs.img" "$T/$d.st.img"
		wr_run "$d.plain" - $d -o no_detach "$T/$d.plain.img"
		traced "$d.st" "interval=1:stats=1" $d -o no_detach "$T/$d.st.img"
		wr_check "$d.st" "$d.plain"
		wr_need_absorbed "$d.st"
		rm -f "$T/$d.plain.img" "$T/$d.st.img"
	done
	mkdir -p "$T/mg.b"; wr_tree "$T/mg.a"
	wr_run mergerfs.plain - mergerfs -f -o threads=4 "$T/mg.a:$T/mg.b"
	traced mergerfs.st "interval=1:stats=1" mergerfs -f -o threads=4 "$T/mg.a:$T/mg.b"
	wr_check mergerfs.st mergerfs.plain
	wr_need_absorbed mergerfs.st
fi

[ $fail = 0 ] && echo PASS
exit $fail
