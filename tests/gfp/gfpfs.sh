#!/bin/bash
# gfpfs.sh - the FUSE-op callbacks (fsync, flush) each GFP mask lets a pass
# make, in a mounted daemon (tests/gfp/gfpfs.c), both pass modes, interval=1:
# only GFP_KERNEL outside a NOFS/NOIO scope gets callbacks (on "g", which the
# client keeps open); GFP_NOFS,
# GFP_NOIO, GFP_NOWAIT, GFP_ATOMIC and GFP_KERNEL in a scope get none.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
BIN=$top_builddir/tests/gfp/gfpfs
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
fsr_mounted_test gfpfs mnt
for mode in handoff inline; do
	timeout -k 5 60 "$RUN" --opt interval=1 --opt "mode=$mode" -- "$BIN" -f "$M" >"$T/out" 2>&1 &
	pid=$!
	fsr_wait_mount "$M" $pid || { FAIL "$mode: no mount"; cat "$T/out"; continue; }
	(
		exec 5<"$M/g"             # open, idle: the callbacks' target
		exec 3>"$M/f"
		for i in $(seq 30); do printf 'block %d\n' "$i" >&3; done
		exec 3>&- 5<&-
	)
	timeout 20 fusermount3 -u "$M" || { FAIL "$mode: unmount failed"; fusermount3 -u -z "$M"; }
	wait $pid; rc=$?; pid=
	[ $rc = 0 ] || FAIL "$mode: daemon exit status $rc"
	line=$(grep '^gfpfs:' "$T/out")
	echo "$mode: $line"
	case $line in
	*" GFP_KERNEL=0 "*|"") FAIL "$mode: GFP_KERNEL got no FUSE callbacks"; cat "$T/out" ;;
	esac
	for m in GFP_NOFS GFP_NOIO GFP_NOWAIT GFP_ATOMIC GFP_KERNEL_in_nofs_scope GFP_KERNEL_in_noio_scope; do
		echo "$line" | grep -q " $m=0\b" || FAIL "$mode: $m got FUSE callbacks: $line"
	done
done
exit $fail
