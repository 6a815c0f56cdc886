#!/bin/sh
# modes.sh - every -o hazard=MODE is a working filesystem without the shim
# (the bugs only matter under memory reclaim): posix and a short workload
# in each, with a journal; an unknown mode is refused with status 2.
. "$top_srcdir/tests/txfs/lib.sh"
set -u
POSIX=$top_builddir/tests/txfs/posix
for h in none nofs-missing noio-missing txn-nesting scope-leak needless-nofs own-mount \
	gfp-kernel-under-lock vmalloc-nofs needless-gfp-nofs; do
	mnt=$TMPD/m-$h
	txfs_mount "$mnt" -o hazard=$h -o journal="$TMPD/j-$h" || exit 1
	WORKLOAD_FILES=50 sh "$top_srcdir/tests/workload.sh" "$mnt" >/dev/null ||
		{ echo "FAIL: workload in hazard=$h"; exit 1; }
	"$POSIX" "$mnt" >"$TMPD/posix.out" || { cat "$TMPD/posix.out"; echo "FAIL: posix in hazard=$h"; exit 1; }
	txfs_umount "$mnt"
	echo "ok: hazard=$h works"
done
mkdir -p "$TMPD/m-bad"
"$TXFS" -f -o hazard=bogus "$TMPD/m-bad" 2>"$TMPD/err"
rc=$?
[ $rc = 2 ] && grep -q "unknown hazard mode 'bogus'" "$TMPD/err" ||
	{ echo "FAIL: hazard=bogus: status $rc, stderr: $(cat "$TMPD/err")"; exit 1; }
is_mounted "$TMPD/m-bad" && { echo "FAIL: mounted with a bad hazard mode"; exit 1; }
echo "ok: unknown hazard mode refused"
