#!/bin/bash
# libfuse3 linked statically (libfuse3.a from libfuse3-dev), glibc dynamic:
# the shim's symbol wrapping cannot see that libfuse (no libfuse3.so is
# loaded, the daemon calls its own copy), so only the /dev/fuse wire
# serves it.  passthrough_ll (low level) and passthrough (high level) from
# the libfuse3 examples, each single-threaded (-s: asynchronous passes
# only) and with the multi-threaded loop (a parked reader: synchronous
# passes), in fuse_transport=auto and =wire, interval=1: the workload's
# digest as without the shim, exit 0, no report, fs_ops, callbacks and
# absorbed FORGET, FSYNC and FLUSH replies above zero.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
fsr_shm_test wstatic
. "$top_srcdir/tests/lib/wirerun.sh"

A=$(pkg-config --variable=libdir fuse3)/libfuse3.a
[ -f "$A" ] || { echo "FAIL: no $A (libfuse3-dev ships it)"; exit 1; }
CF=$(pkg-config --cflags fuse3)
wr_tree "$T/src"
for ex in passthrough_ll passthrough; do
	# shellcheck disable=SC2086
	wr_example $ex.c $ex $CF "$A" -lpthread -ldl || { FAIL "cannot build $ex.c against $A"; continue; }
	b=$T/bin/$ex
	readelf -d "$b" | grep -q 'NEEDED.*libfuse' && FAIL "$ex: links libfuse3.so, not libfuse3.a"
	readelf -l "$b" | grep -q 'INTERP' || FAIL "$ex: not dynamic (LD_PRELOAD would be ignored)"
	readelf -Ws "$b" | grep -q ' FUNC .* fuse_session_new$' || FAIL "$ex: no libfuse of its own"
	if [ $ex = passthrough_ll ]; then CMD=("$b" -f -o "source=$T/src"); else CMD=("$b" -f -o "modules=subdir,subdir=$T/src"); fi
	for thr in st mt; do
		s=(); [ $thr = st ] && s=(-s)
		n=$ex.$thr
		wr_run "$n.plain" - "${CMD[@]}" "${s[@]}"
		for tr in auto wire; do
			wr_run "$n.$tr" "interval=1:stats=1:fuse_transport=$tr" "${CMD[@]}" "${s[@]}"
			wr_check "$n.$tr" "$n.plain"
			wr_need_absorbed "$n.$tr"
			if [ $thr = mt ]; then
				[ "$(fsr_stat_of wire_sync "$T/$n.$tr.log")" -gt 0 ] 2>/dev/null || FAIL "$n.$tr: wire_sync=0"
			else
				[ "$(fsr_stat_of wire_sync "$T/$n.$tr.log")" = 0 ] || FAIL "$n.$tr: a synchronous pass with one reader"
			fi
			echo "$n.$tr: $(grep -m1 -o 'wire_async=.*' "$T/$n.$tr.log")"
		done
	done
done

[ $fail = 0 ] && echo PASS
exit $fail
