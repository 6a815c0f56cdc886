#!/bin/bash
# Mounted test of libfuse 3.17's entry points.  Daemons built against 3.17
# (Debian trixie) bind fuse_session_new_versioned, _fuse_new_31 and
# fuse_main_real_versioned @FUSE_3.17 instead of the 3.0/3.1 names, and
# load libfuse3.so.4.  This machine's libfuse3 is older, so a private build
# of 3.17.2 (tests/lib/libfuse317.sh, cached; .ci/ensure-deps fetches and
# builds it) serves: its examples passthrough_ll (also -s) and passthrough
# (high level) are built against it and run with LD_LIBRARY_PATH on it,
# without the shim and under fsreclaim-run (interval=1, stats=1) in both
# modes.  Checked: the binaries bind the 3.17 symbols, the process maps
# the 3.17 library and no other libfuse3, the trees equal the run without
# the shim (O_TMPFILE too: 3.17's tmpfile op), fs_ops > 0, callbacks > 0,
# hazards=0, clean unmount, exit status 0.  The same examples built against
# this machine's libfuse3 headers run on 3.17 too (a libfuse3.so.3 link to
# it): they bind fuse_session_new@FUSE_3.0 and fuse_main_real@FUSE_3.0,
# which 3.17 keeps and which call fuse_session_new_versioned inside, so the
# shim sees the same session twice and must wrap it once.  A missing 3.17
# build is a failure, not a skip.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
L317=$top_srcdir/tests/lib/libfuse317.sh
. "$top_srcdir/tests/lib/mount.sh"
. "$top_srcdir/tests/lib/tree.sh"
fsr_require_fuse

fail=0
FAIL() { echo "FAIL: $*"; fail=1; }
[ -f "$SHIM" ] || { echo "FAIL: $SHIM not built"; exit 1; }

# ---- libfuse 3.17.2: built once, cached (a few seconds when only the tarball is there) ----
P=$(sh "$L317" prefix)
if ! sh "$L317" check && ! timeout -k 5 150 sh "$L317" build; then
	echo "FAIL: libfuse 3.17.2 is not built in $P and cannot be built here."
	echo "  Get it with: sh $L317 fetch build   (or run .ci/ensure-deps as root)"
	echo "  It downloads Debian's fuse3_3.17.2.orig.tar.gz (md5-checked) and needs meson and ninja-build;"
	echo "  FSR_CACHE=DIR puts the cache elsewhere than $(dirname "$P")."
	exit 1
fi
LIB=$P/lib/libfuse3.so.3.17.2
[ -f "$LIB" ] || { echo "FAIL: $LIB missing (remove $P and build again)"; exit 1; }

base=/tmp; [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
T=$(mktemp -d "$base/fsr-fuse317.XXXXXX") || exit 99
PIDS=
fsr_trap_exit 'fsr_cleanup "$T" $PIDS' 1
mkdir "$T/bin"
for e in passthrough_ll passthrough; do
	gcc -w -O2 -D_FILE_OFFSET_BITS=64 -I"$P/share/examples" -I"$P/include/fuse3" "$P/share/examples/$e.c" \
		-o "$T/bin/$e" -L"$P/lib" -lfuse3 -lpthread || FAIL "cannot build $e against libfuse 3.17"
done
# the examples of this machine's libfuse3 (as mounted.sh builds them)
EX=${FUSE_EXAMPLES:-/usr/share/doc/libfuse3-dev/examples}
for e in passthrough_ll passthrough; do
	src=$EX/$e.c
	[ -f "$src" ] || { [ -f "$src.gz" ] && zcat "$src.gz" > "$T/bin/$e.old.c" && src=$T/bin/$e.old.c; }
	[ -f "$src" ] || { FAIL "example $e.c not found in $EX"; continue; }
	mkdir -p "$T/old"
	for h in passthrough_helpers.h; do
		[ -f "$EX/$h" ] && cp "$EX/$h" "$T/old/"
		[ -f "$EX/$h.gz" ] && zcat "$EX/$h.gz" > "$T/old/$h"
	done
	gcc -w -O2 -D_FILE_OFFSET_BITS=64 -I"$T/old" "$src" -o "$T/bin/$e.old" $(pkg-config --cflags --libs fuse3) ||
		FAIL "cannot build the system's example $e"
done
mkdir "$T/compat"
ln -s "$LIB" "$T/compat/libfuse3.so.3"
[ $fail = 0 ] || exit 1

# ---- what the daemons bind: only 3.17's constructors, from libfuse3.so.4 ----
undef() { nm -D --undefined-only --with-symbol-versions "$1" | awk '{print $2}'; }
for e in passthrough_ll passthrough; do
	readelf -d "$T/bin/$e" | grep -q 'NEEDED.*\[libfuse3\.so\.4\]' || FAIL "$e does not need libfuse3.so.4"
done
undef "$T/bin/passthrough_ll" | grep -qx 'fuse_session_new_versioned@FUSE_3.17' ||
	FAIL "passthrough_ll does not bind fuse_session_new_versioned@FUSE_3.17"
undef "$T/bin/passthrough_ll" | grep -q '^fuse_session_new@' && FAIL "passthrough_ll binds the old fuse_session_new"
undef "$T/bin/passthrough" | grep -qx 'fuse_main_real_versioned@FUSE_3.17' ||
	FAIL "passthrough does not bind fuse_main_real_versioned@FUSE_3.17"
undef "$T/bin/passthrough_ll.old" | grep -qx 'fuse_session_new@FUSE_3.0' ||
	FAIL "the system's passthrough_ll does not bind fuse_session_new@FUSE_3.0"
undef "$T/bin/passthrough.old" | grep -qx 'fuse_main_real@FUSE_3.0' ||
	FAIL "the system's passthrough does not bind fuse_main_real@FUSE_3.0"
echo "passthrough_ll binds: $(undef "$T/bin/passthrough_ll" | grep -E '3\.17|session_(new|loop|mount)' | tr '\n' ' ')"
echo "passthrough binds: $(undef "$T/bin/passthrough" | grep fuse_ | tr '\n' ' ')"
# the high-level chain the shim relies on: libfuse calls these through its PLT
for s in _fuse_new_31@@FUSE_3.17 fuse_session_new_versioned@@FUSE_3.17; do
	readelf -rW "$LIB" | awk '/JUMP_SLOT|GLOB_DAT/ {print $5}' | grep -qx "$s" ||
		FAIL "libfuse 3.17 does not call $s through its PLT: the shim cannot see it"
done

# ---- the shim: the 3.17 constructors, and every function of 3.17 given a request ----
defs() { nm -D --defined-only --with-symbol-versions "$1" | awk '{print $3}' | sed 's/@@*/@/' | sort -u; }
defs "$SHIM" > "$T/shim.syms"
for s in fuse_session_new_versioned _fuse_new_31 _fuse_new_30; do
	grep -qx "$s@FUSE_3.17" "$T/shim.syms" || FAIL "the shim does not define $s@FUSE_3.17"
done
defs "$LIB" | grep -E '^fuse_(reply|req|passthrough)_' > "$T/lib.req"
missing=$(comm -23 "$T/lib.req" "$T/shim.syms")
[ -z "$missing" ] || FAIL "not interposed (3.17): $(echo $missing)"
echo "all $(wc -l < "$T/lib.req") fuse_reply_*/fuse_req_*/fuse_passthrough_* of libfuse 3.17 are interposed"

# ---- mounted runs ----
fsr_tree_data "$T"
export T
# O_TMPFILE goes to 3.17's tmpfile op (low level): its outcome must not change under the shim
tmpfile_step() {
	python3 - "$1" <<'PY'
import os, sys
try:
    fd = os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(fd, b"tmpfile data")
    os.fsync(fd)
    print("tmpfile:", os.pread(fd, 12, 0).decode())
    os.close(fd)
except OSError as e:
    print("tmpfile: errno", e.errno)
PY
}
bounded() {      # seconds function args...
	local t=$1; shift
	timeout -k 5 "$t" bash -c "$(declare -f fsr_tree_workload fsr_tree_manifest tmpfile_step); \"\$@\"" _ "$@"
}

run() {          # name mode(none|handoff|inline)
	local name=$1 mode=$2
	local R=$T/$name.$mode; mkdir -p "$R/src" "$R/mnt"
	local M=$R/mnt W args=() pre=() log=$R/fsr.log libs=$P/lib
	case $name in
	passthrough_ll) args=("$T/bin/passthrough_ll" -f -o "source=$R/src" "$M"); W=$M ;;
	passthrough_ll-s) args=("$T/bin/passthrough_ll" -f -s -o "source=$R/src" "$M"); W=$M ;;
	passthrough) args=("$T/bin/passthrough" -f "$M"); W=$M$R/src ;;
	passthrough_ll-old) args=("$T/bin/passthrough_ll.old" -f -o "source=$R/src" "$M"); W=$M; libs=$T/compat ;;
	passthrough-old) args=("$T/bin/passthrough.old" -f "$M"); W=$M$R/src; libs=$T/compat ;;
	esac
	[ "$mode" != none ] &&
		pre=("$RUN" --opt interval=1 --opt stats=1 --opt "mode=$mode" --opt "log_path=$log" --)
	LD_LIBRARY_PATH=$libs timeout -k 5 120 "${pre[@]}" "${args[@]}" > "$R/daemon.out" 2>&1 &
	local pid=$!
	PIDS="$PIDS $pid"
	if ! fsr_wait_mount "$M" $pid; then
		FAIL "$name/$mode: no mount"; cat "$R/daemon.out"; return
	fi
	# the daemon is timeout's child (fsreclaim-run execs it): what it really loaded
	local dpid maps
	dpid=$(pgrep -P $pid | head -1)
	maps=$(awk '{print $6}' "/proc/$dpid/maps" 2>/dev/null | sort -u)
	printf '%s\n' "$maps" | grep -qx "$LIB" || FAIL "$name/$mode: $LIB is not mapped by pid $dpid"
	printf '%s\n' "$maps" | grep 'libfuse3\.so' | grep -vx "$LIB" | sed "s|^|FAIL: $name/$mode: another libfuse3 mapped: |" | grep . && fail=1
	if [ "$mode" != none ]; then
		printf '%s\n' "$maps" | grep -q '/libfsreclaim\.so$' || FAIL "$name/$mode: the shim is not mapped"
	fi
	bounded 90 fsr_tree_workload "$W" "$T" > "$R/work.out" 2>&1 || { FAIL "$name/$mode: workload failed"; cat "$R/work.out"; }
	case $name in
	passthrough_ll*) bounded 30 tmpfile_step "$W" > "$T/tmpfile.$name.$mode" 2>&1 ;;
	esac
	bounded 30 fsr_tree_manifest "$W" > "$T/manifest.$name.$mode" || FAIL "$name/$mode: manifest failed"
	if ! timeout 20 fusermount3 -u "$M"; then
		FAIL "$name/$mode: unmount failed"; fusermount3 -u -z "$M"
	fi
	wait $pid; local rc=$?
	[ $rc = 0 ] || { FAIL "$name/$mode: daemon exit status $rc"; cat "$R/daemon.out" "$log".* 2>/dev/null; }
	if grep -q "cannot find the real\|ops table" "$R/daemon.out"; then
		FAIL "$name/$mode: the shim missed a libfuse function"; cat "$R/daemon.out"
	fi
	[ "$mode" = none ] && return
	local st
	st=$(grep -h "fsreclaim: stats:" "$log".* 2>/dev/null | tail -1)
	echo "$name/$mode: $st"
	[ -n "$st" ] || { FAIL "$name/$mode: no stats line"; cat "$R/daemon.out"; return; }
	local ops=${st##*fs_ops=}; ops=${ops%% *}
	local cb=${st##*callbacks=}; cb=${cb%% *}
	local hz=${st##*hazards=}; hz=${hz%% *}
	[ "$ops" -gt 0 ] || FAIL "$name/$mode: fs_ops=0: the daemon's ops were not wrapped"
	[ "$cb" -gt 0 ] || FAIL "$name/$mode: no callbacks"
	[ "$hz" = 0 ] || { FAIL "$name/$mode: $hz hazard reports"; cat "$log".*; }
	if grep -q "==[0-9]*==" "$R/daemon.out"; then FAIL "$name/$mode: report on stderr"; cat "$R/daemon.out"; fi
}

for d in passthrough_ll passthrough_ll-s passthrough passthrough_ll-old passthrough-old; do
	for mode in none handoff inline; do
		run $d $mode
	done
	for mode in handoff inline; do
		diff -u "$T/manifest.$d.none" "$T/manifest.$d.$mode" > "$T/diff" ||
			{ FAIL "$d/$mode: tree differs from the run without the shim"; head -40 "$T/diff"; }
		[ -f "$T/tmpfile.$d.none" ] || continue
		cmp -s "$T/tmpfile.$d.none" "$T/tmpfile.$d.$mode" ||
			FAIL "$d/$mode: O_TMPFILE gave '$(cat "$T/tmpfile.$d.$mode")', without the shim '$(cat "$T/tmpfile.$d.none")'"
	done
done
[ -f "$T/tmpfile.passthrough_ll.none" ] && echo "passthrough_ll without the shim: $(cat "$T/tmpfile.passthrough_ll.none")"
exit $fail
