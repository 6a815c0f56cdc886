#!/bin/bash
# Every fuse_reply_* and fuse_req_* that libfuse3 exports is interposed by the
# shim, at the same symbol version: a request the shim makes for a callback
# must never reach real libfuse.
set -u
: "${top_builddir:?}"
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
LIB=
for d in "$(pkg-config --variable=libdir fuse3 2>/dev/null)" /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /usr/lib /lib; do
	[ -n "$d" ] && [ -e "$d/libfuse3.so.3" ] && { LIB=$d/libfuse3.so.3; break; }
done
[ -n "$LIB" ] || { echo "FAIL: libfuse3.so.3 not found"; exit 1; }
[ -f "$SHIM" ] || { echo "FAIL: $SHIM not built"; exit 1; }
syms() { nm -D --defined-only --with-symbol-versions "$1" | awk '{print $3}' | grep -E '^fuse_(reply|req)_' | sed 's/@@*/@/' | sort -u; }
syms "$LIB" > /tmp/fsr-replies.want.$$
syms "$SHIM" > /tmp/fsr-replies.have.$$
missing=$(comm -23 /tmp/fsr-replies.want.$$ /tmp/fsr-replies.have.$$)
n=$(wc -l < /tmp/fsr-replies.want.$$)
rm -f /tmp/fsr-replies.want.$$ /tmp/fsr-replies.have.$$
[ "$n" -gt 20 ] || { echo "FAIL: only $n fuse_reply_/fuse_req_ symbols found in $LIB"; exit 1; }
if [ -n "$missing" ]; then echo "FAIL: not interposed:"; echo "$missing"; exit 1; fi
echo "all $n fuse_reply_*/fuse_req_* of $LIB are interposed"

# libfuse2 too (same names, other versions), when it is installed
LIB2=
for d in "$(pkg-config --variable=libdir fuse 2>/dev/null)" /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /usr/lib /lib; do
	[ -n "$d" ] && [ -e "$d/libfuse.so.2" ] && { LIB2=$d/libfuse.so.2; break; }
done
if [ -n "$LIB2" ] && ! nm -D --with-symbol-versions "$SHIM" | grep -q '@FUSE_2\.'; then
	echo "note: the shim was built without libfuse2 headers: libfuse2's replies not compared"
elif [ -n "$LIB2" ]; then
	syms "$LIB2" > /tmp/fsr-replies.want.$$
	syms "$SHIM" > /tmp/fsr-replies.have.$$
	missing=$(comm -23 /tmp/fsr-replies.want.$$ /tmp/fsr-replies.have.$$)
	n=$(wc -l < /tmp/fsr-replies.want.$$)
	rm -f /tmp/fsr-replies.want.$$ /tmp/fsr-replies.have.$$
	if [ -n "$missing" ]; then echo "FAIL: not interposed (libfuse2):"; echo "$missing"; exit 1; fi
	echo "all $n fuse_reply_*/fuse_req_* of $LIB2 are interposed"
else
	echo "note: libfuse.so.2 not installed, its replies not compared"
fi

# A program that opens /dev/fuse without a libfuse the shim sees (statically
# linked, or its own FUSE code) is told once, with fuse_transport=lib, that
# its ops are not visible; by default the wire transport follows it: no note.
if [ -c /dev/fuse ]; then
	RUN=$top_builddir/preload/fsreclaim-run
	out=$("$RUN" --opt fuse_transport=lib -- sh -c ': 3<>/dev/fuse; : 4<>/dev/fuse' 2>&1)
	n=$(printf '%s\n' "$out" | grep -c "FUSE ops are not visible")
	[ "$n" = 1 ] || { echo "FAIL: expected one 'not visible' note, got $n: $out"; exit 1; }
	out=$("$RUN" -- sh -c ': 3<>/dev/fuse; : 4<>/dev/fuse' 2>&1)
	n=$(printf '%s\n' "$out" | grep -c "FUSE ops are not visible")
	[ "$n" = 0 ] || { echo "FAIL: the 'not visible' note with the wire transport on: $out"; exit 1; }
	echo "the invisible-libfuse note is printed once, and only with fuse_transport=lib"
fi
