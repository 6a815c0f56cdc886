#!/bin/sh
# workload-check.sh - the standard workload (tests/workload.sh) on txfs,
# without the shim: in memory, then with a journal; each under 60 s.
. "$top_srcdir/tests/txfs/lib.sh"
set -u
for mode in memory journal; do
	mnt=$TMPD/mnt-$mode
	if [ $mode = journal ]; then
		txfs_mount "$mnt" -o journal="$TMPD/journal" || exit 1
	else
		txfs_mount "$mnt" || exit 1
	fi
	start=$(date +%s)
	timeout 120 sh "$top_srcdir/tests/workload.sh" "$mnt"
	rc=$?
	secs=$(( $(date +%s) - start ))
	[ $rc = 0 ] || { echo "FAIL: workload ($mode) exited $rc"; exit 1; }
	[ $secs -lt 60 ] || { echo "FAIL: workload ($mode) took $secs s (limit 60)"; exit 1; }
	left=$(ls -A "$mnt" | wc -l)
	[ "$left" = 0 ] || { echo "FAIL: $left entries left on $mnt"; exit 1; }
	txfs_umount "$mnt"
	echo "ok: workload ($mode) in $secs s"
done
