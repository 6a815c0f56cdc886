#!/bin/sh
# posix.sh - tests/txfs/posix (every op, with its error cases) on txfs:
# in memory, multi-threaded; with a journal; and single-threaded (-s).
. "$top_srcdir/tests/txfs/lib.sh"
set -u
POSIX=$top_builddir/tests/txfs/posix
[ -x "$POSIX" ] || { echo "FAIL: $POSIX not built"; exit 1; }
n=0
for mode in memory journal single; do
	n=$((n + 1))
	mnt=$TMPD/mnt$n
	case $mode in
	memory) txfs_mount "$mnt" || exit 1 ;;
	journal) txfs_mount "$mnt" -o journal="$TMPD/journal" || exit 1 ;;
	single) txfs_mount "$mnt" -s || exit 1 ;;
	esac
	"$POSIX" "$mnt" || { echo "FAIL: posix ($mode)"; exit 1; }
	left=$(ls -A "$mnt" | wc -l)
	[ "$left" = 0 ] || { echo "FAIL: $left entries left ($mode)"; exit 1; }
	txfs_umount "$mnt"
	kill -0 "$TXFS_PID" 2>/dev/null && { echo "FAIL: txfs still running after unmount"; exit 1; }
	echo "ok: posix ($mode)"
done
# the journal of the posix run replays to an empty tree
txfs_mount "$TMPD/mnt-replay" -o journal="$TMPD/journal" || exit 1
left=$(ls -A "$TMPD/mnt-replay" | wc -l)
[ "$left" = 0 ] || { echo "FAIL: replayed posix journal is not empty ($left)"; exit 1; }
grep -q "replayed [0-9]* records (0 failed)" "$TMPD/txfs.log" ||
	{ echo "FAIL: replay of the posix journal had failures:"; cat "$TMPD/txfs.log"; exit 1; }
txfs_umount "$TMPD/mnt-replay"
echo "ok: posix journal replays"
