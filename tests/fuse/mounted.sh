#!/bin/bash
# Mounted test of reclaim into the FUSE ops of unmodified daemons: libfuse3's
# examples (hello, passthrough, passthrough_fh, passthrough_ll, also -s) and
# Debian's fuse-overlayfs (libfuse3), bindfs (libfuse2, also
# --multithreaded), libfuse2's fusexmp_fh and our ll2fs (tests/fuse/ll2fs.c,
# a libfuse2 low-level passthrough, also -s, that checks its own lookup
# counts: an unbalanced forget makes it print "ll2fs: ERROR" and exit 1);
# and three that load libfuse at run time, each a small passthrough:
# fusepy (ctypes, libfuse2), pyfuse3 (Cython, libfuse3, one nonblocking trio
# reader), Fuse.pm (Perl XS, libfuse2): the wire transport serves them, so
# they get asynchronous callbacks served by their own readers (each kind
# absorbed, no synchronous pass, never "not visible").
# For each, the same workload runs without the shim and with
# it in both modes (interval=1, stats=1): the resulting trees (names, types,
# sizes, modes, link targets, contents) must be equal, fs_ops counted,
# callbacks made wherever the daemon has fsync/flush or a low-level forget,
# the unmount clean and the daemon's exit status 0.  One run starts
# passthrough_ll without -f (it daemonizes) and still gets its stats line.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
EX=${FUSE_EXAMPLES:-/usr/share/doc/libfuse3-dev/examples}
. "$top_srcdir/tests/lib/tree.sh"

if [ ! -c /dev/fuse ]; then echo "SKIP: /dev/fuse is missing"; exit 77; fi

base=/tmp; [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
T=$(mktemp -d "$base/fsr-mounted.XXXXXX") || exit 99
MOUNTS=() PIDS=()
cleanup() {
	for m in "${MOUNTS[@]}"; do
		grep -q " $m " /proc/mounts 2>/dev/null && fusermount3 -u -z "$m" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail=0
FAIL() { echo "FAIL: $*"; fail=1; }

# ---- build the examples ----
mkdir -p "$T/bin"
for e in hello passthrough passthrough_fh passthrough_ll; do
	src=$EX/$e.c
	[ -f "$src" ] || { [ -f "$src.gz" ] && zcat "$src.gz" > "$T/bin/$e.c" && src=$T/bin/$e.c; }
	if [ ! -f "$src" ]; then FAIL "example $e.c not found in $EX"; continue; fi
	for h in passthrough_helpers.h; do
		[ -f "$EX/$h" ] && cp "$EX/$h" "$T/bin/"
		[ -f "$EX/$h.gz" ] && zcat "$EX/$h.gz" > "$T/bin/$h"
	done
	gcc -w -O2 -D_FILE_OFFSET_BITS=64 -I"$T/bin" "$src" -o "$T/bin/$e" $(pkg-config --cflags --libs fuse3) \
		|| FAIL "cannot build example $e"
done
# the libfuse2 examples (libfuse-dev): fusexmp_fh, a high-level passthrough with fh
EX2=${FUSE2_EXAMPLES:-/usr/share/doc/libfuse-dev/examples}
HAVE_FUSE2_EX=0
if pkg-config --exists fuse && [ -f "$EX2/fusexmp_fh.c" -o -f "$EX2/fusexmp_fh.c.gz" ]; then
	src=$EX2/fusexmp_fh.c
	[ -f "$src" ] || { zcat "$src.gz" > "$T/bin/fusexmp_fh.c"; src=$T/bin/fusexmp_fh.c; }
	gcc -w -O2 "$src" -o "$T/bin/fusexmp_fh" $(pkg-config --cflags --libs fuse) -lulockmgr ||
		FAIL "cannot build the libfuse2 example fusexmp_fh"
	HAVE_FUSE2_EX=1
elif pkg-config --exists fuse; then
	FAIL "the libfuse2 example fusexmp_fh is missing from $EX2 (libfuse-dev)"
fi
OVL=$(command -v fuse-overlayfs) || FAIL "fuse-overlayfs is not installed"
BINDFS=$(command -v bindfs) || FAIL "bindfs is not installed"
[ $fail = 0 ] || exit 1

fsr_tree_data "$T"

wait_mount() {   # mountpoint pid
	local i
	for i in $(seq 200); do
		grep -q " $1 " /proc/mounts && return 0
		[ -n "$2" ] && ! kill -0 "$2" 2>/dev/null && { echo "daemon died before mounting $1"; return 1; }
		sleep 0.1
	done
	echo "timeout waiting for the mount of $1"; return 1
}

workload() { fsr_tree_workload "$1" "$T"; }
# every thread's stack of the daemon started as PID (timeout's child) and its children
stacks() {
	local p
	for p in $(pgrep -P "$1") $(pgrep -P "$(pgrep -P "$1" | head -1)" 2>/dev/null); do
		echo "---- stacks of $p: $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null)"
		timeout 30 gdb -batch -p "$p" -ex "thread apply all bt" 2>/dev/null | grep -E "^(Thread|#)"
	done
}
read_workload() {
	cat "$1/hello" > "$T/hello.out.$2" && ls -la "$1" > /dev/null
}

manifest() { fsr_tree_manifest "$1"; }

bounded() {      # seconds function args...: run a shell function under timeout(1)
	local t=$1; shift
	timeout -k 5 "$t" bash -c "$(declare -f workload read_workload manifest fsr_tree_workload fsr_tree_manifest); \"\$@\"" _ "$@"
}
export T

# one run: name mode(none|handoff|inline) foreground(1|0)
run() {
	local name=$1 mode=$2 fg=$3
	local R=$T/$name.$mode; mkdir -p "$R/src" "$R/mnt" "$R/up" "$R/work" "$R/lower"
	local M=$R/mnt W args=() pre=() log=$R/fsr.log
	MOUNTS+=("$M")
	case $name in
	hello) args=("$T/bin/hello" "$M"); W=$M ;;
	passthrough|passthrough_fh|fusexmp_fh) args=("$T/bin/$name" "$M"); W=$M$R/src ;;
	passthrough_ll) args=("$T/bin/passthrough_ll" -o "source=$R/src" "$M"); W=$M ;;
	passthrough_ll-s) args=("$T/bin/passthrough_ll" -s -o "source=$R/src" "$M"); W=$M ;;
	fuse-overlayfs) args=("$OVL" -o "lowerdir=$R/lower,upperdir=$R/up,workdir=$R/work" "$M"); W=$M ;;
	bindfs) args=("$BINDFS" "$R/src" "$M"); W=$M ;;
	bindfs-mt) args=("$BINDFS" --multithreaded "$R/src" "$M"); W=$M ;;
	ll2fs) args=("$LL2FS" -o "source=$R/src" "$M"); W=$M ;;
	ll2fs-s) args=("$LL2FS" -s -o "source=$R/src" "$M"); W=$M ;;
	# libfuse loaded at run time (ctypes, a Cython module, a Perl XS module)
	fusepy) args=(/usr/bin/python3 "$top_srcdir/tests/fuse/rt_fusepy.py" "$R/src" "$M"); W=$M; fg=0 ;;
	pyfuse3) args=(/usr/bin/python3 "$top_srcdir/tests/fuse/rt_pyfuse3.py" "$R/src" "$M"); W=$M; fg=0 ;;
	fuseperl) args=(perl "$top_srcdir/tests/fuse/rt_fuse.pl" "$R/src" "$M"); W=$M; fg=0 ;;
	esac
	local rtload=0; case $name in fusepy|pyfuse3|fuseperl) rtload=1 ;; esac
	[ "$fg" = 1 ] && args=("${args[0]}" -f "${args[@]:1}")
	if [ "$mode" != none ]; then
		pre=("$RUN" --opt interval=1 --opt stats=1 --opt "mode=${mode%-bg}" --opt "log_path=$log" --)
	fi
	# the daemon's bound is above the sum of its steps' (mount 20, workload
	# 90, manifest 30, unmount 20): a slow run fails at the slow step, not
	# by the daemon killed under a later one (the soak once saw a
	# pyfuse3/handoff workload pass slowly, then its manifest cut at 120 s:
	# ECONNABORTED and a "tree differs" that no data loss caused)
	timeout -k 5 200 "${pre[@]}" "${args[@]}" > "$R/daemon.out" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	if ! wait_mount "$M" "$([ "$fg" = 1 ] || [ $rtload = 1 ] && echo $pid)"; then
		FAIL "$name/$mode: no mount"; cat "$R/daemon.out"; return
	fi
	# each step bounded: a hung mount fails the test, it never hangs it
	if [ $name = hello ]; then
		bounded 30 read_workload "$W" "$mode" || FAIL "$name/$mode: read workload failed"
	else
		if ! bounded 90 workload "$W" > "$R/work.out" 2>&1; then
			FAIL "$name/$mode: workload failed (daemon: ${pre[*]} ${args[*]})"; cat "$R/work.out"
			stacks $pid
		fi
		bounded 30 manifest "$W" > "$T/manifest.$name.$mode" || FAIL "$name/$mode: manifest failed"
	fi
	# ll2fs: make the kernel forget every inode it can (all of them, nothing
	# is open), so that ll2fs sees at unmount whether the lookups and
	# forgets it got netted out: a lookup never forgotten stays live
	local dropped=0
	case $name in ll2fs*)
		if [ -w /proc/sys/vm/drop_caches ]; then
			sync; echo 2 > /proc/sys/vm/drop_caches && dropped=1
			timeout 10 ls "$M" > /dev/null   # a round trip after the forgets
		else
			echo "note: $name/$mode: not root, no drop_caches: lookups never forgotten are not checked"
		fi ;;
	esac
	if ! timeout 20 fusermount3 -u "$M"; then
		FAIL "$name/$mode: unmount failed"; fusermount3 -u -z "$M"
	fi
	local rc=0
	if [ "$fg" = 1 ] || [ $rtload = 1 ]; then
		wait $pid; rc=$?
	else
		wait $pid; rc=$?     # the parent exits once mounted
	fi
	[ $rc = 0 ] || { FAIL "$name/$mode: daemon exit status $rc"; cat "$R/daemon.out"; cat "$log".* 2>/dev/null; }
	case $name in ll2fs*)   # its own check of the lookup counts, at destroy
		grep -q "^ll2fs: destroy: " "$R/daemon.out" || FAIL "$name/$mode: no destroy line from ll2fs"
		if grep -q "^ll2fs: ERROR" "$R/daemon.out"; then
			FAIL "$name/$mode: ll2fs found its lookup counts broken"; grep "^ll2fs: " "$R/daemon.out" | head -20
		fi
		grep -h "^ll2fs: destroy: " "$R/daemon.out" | sed "s|^|$name/$mode: |"
		[ $dropped = 0 ] || grep -q "^ll2fs: destroy: 0 inodes live" "$R/daemon.out" ||
			FAIL "$name/$mode: inodes still live after the kernel forgot all (drop_caches): lookups without a forget" ;;
	esac
	[ "$mode" = none ] && return
	# the stats line (a daemonized child writes it when it exits)
	local st="" i
	for i in $(seq 100); do
		st=$(grep -h "fsreclaim: stats:" "$log".* 2>/dev/null | grep -v "fs_ops=0" | tail -1)
		[ -n "$st" ] && break
		sleep 0.1
	done
	echo "$name/$mode: $st"
	[ -n "$st" ] || { FAIL "$name/$mode: no stats line with fs_ops > 0"; cat "$log".* "$R/daemon.out" 2>/dev/null; return; }
	local cb=${st##*callbacks=}; cb=${cb%% *}
	local hz=${st##*hazards=}; hz=${hz%% *}
	case $name in
	hello) ;;
	fusepy|pyfuse3|fuseperl)   # on the wire: callbacks of each kind, none synchronous
		local said k v; said=$(cat "$R/daemon.out" "$log".* 2>/dev/null)
		grep -q "fsreclaim: cannot find the real" <<< "$said" && FAIL "$name/$mode: libfuse not found"
		grep -q "FUSE ops are not visible" <<< "$said" && FAIL "$name/$mode: says its ops are not visible"
		[ "$cb" -gt 0 ] || FAIL "$name/$mode: no callbacks"
		for k in absorbed_forget absorbed_fsync absorbed_flush; do
			v=$(tr ' ' '\n' <<< "$st" | sed -n "s/^$k=//p")
			[ "${v:-0}" -gt 0 ] || FAIL "$name/$mode: $k=${v:-none}: the wire did not call it back"
		done
		v=$(tr ' ' '\n' <<< "$st" | sed -n "s/^wire_sync=//p")
		[ "${v:-0}" = 0 ] || FAIL "$name/$mode: wire_sync=$v: a pass waited for an interpreter's reader" ;;
	*) [ "$cb" -gt 0 ] || FAIL "$name/$mode: no callbacks";;
	esac
	[ "$hz" = 0 ] || { FAIL "$name/$mode: $hz hazard reports"; cat "$log".*; }
	if grep -q "==[0-9]*==" "$R/daemon.out"; then FAIL "$name/$mode: report on stderr"; cat "$R/daemon.out"; fi
}

DAEMONS="hello passthrough passthrough_fh passthrough_ll passthrough_ll-s fuse-overlayfs"
# libfuse2 daemons, when the shim was built with libfuse2 support
if nm -D --with-symbol-versions "$top_builddir/preload/.libs/libfsreclaim.so" | grep -q 'fuse_main_real@FUSE_2.6'; then
	DAEMONS="$DAEMONS bindfs bindfs-mt"
	[ $HAVE_FUSE2_EX = 1 ] && DAEMONS="$DAEMONS fusexmp_fh"
	LL2FS=$top_builddir/tests/fuse/ll2fs
	if [ -x "$LL2FS" ]; then DAEMONS="$DAEMONS ll2fs ll2fs-s"
	else FAIL "$LL2FS was not built (make check builds it where libfuse2 is)"; fi
elif pkg-config --exists fuse; then
	FAIL "libfuse2 is installed but the shim was built without its wrappers"
else
	echo "note: the shim was built without libfuse2 headers (no libfuse-dev): bindfs and fusexmp_fh not tested"
fi
# daemons that load libfuse at run time (.ci/deps: python3-fusepy, python3-pyfuse3, libfuse-perl)
if [ -z "${MOUNTED_NO_RTLOAD:-}" ]; then
	/usr/bin/python3 -c 'import fusepy' 2>/dev/null && DAEMONS="$DAEMONS fusepy" || FAIL "python3-fusepy is not installed"
	/usr/bin/python3 -c 'import pyfuse3, trio' 2>/dev/null && DAEMONS="$DAEMONS pyfuse3" || FAIL "python3-pyfuse3 is not installed"
	perl -MFuse -e 1 2>/dev/null && DAEMONS="$DAEMONS fuseperl" || FAIL "libfuse-perl is not installed"
fi
DAEMONS=${MOUNTED_DAEMONS:-$DAEMONS}   # e.g. MOUNTED_DAEMONS="ll2fs ll2fs-s" to run a few
for d in $DAEMONS; do
	for mode in none handoff inline; do
		run $d $mode 1
	done
	if [ $d = hello ]; then
		for mode in handoff inline; do
			cmp -s "$T/hello.out.none" "$T/hello.out.$mode" || FAIL "hello/$mode: read differs"
		done
		continue
	fi
	for mode in handoff inline; do
		diff -u "$T/manifest.$d.none" "$T/manifest.$d.$mode" > "$T/diff" ||
			{ FAIL "$d/$mode: tree differs from the run without the shim (checksums and sizes: - without, + with)"; head -40 "$T/diff"; }
	done
done
# a daemon that daemonizes (no -f) still writes its stats line
[ -n "${MOUNTED_NO_BG:-}" ] || run passthrough_ll handoff-bg 0
exit $fail
