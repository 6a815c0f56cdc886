#!/bin/bash
# mounted.sh with every daemon it runs forced onto fuse_transport=wire (the
# libfuse3 and libfuse2 ones, and those on a libfuse loaded at run time,
# then go over the /dev/fuse wire, unwrapped): the same checks (trees equal
# to the plain runs, exit 0, no report; ll2fs checks its own lookup counts),
# and the wire really served them: passes and absorbed replies on the
# libfuse3 examples, fuse-overlayfs, libfuse2's fusexmp_fh and ll2fs (low
# level, multi-threaded and -s), bindfs, fusepy, pyfuse3 and Fuse.pm.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
out=$(FSRECLAIM_OPTIONS=fuse_transport=wire bash "$top_srcdir/tests/fuse/mounted.sh" 2>&1)
rc=$?
printf '%s\n' "$out"
[ $rc = 77 ] && exit 77
fail=$rc
for d in passthrough_ll passthrough passthrough_fh fuse-overlayfs fusexmp_fh ll2fs ll2fs-s bindfs fusepy pyfuse3 fuseperl; do
	line=$(printf '%s\n' "$out" | grep -m1 "^$d/handoff: fsreclaim: stats:")
	for k in absorbed_forget absorbed_fsync absorbed_flush; do
		v=$(printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$k=//p")
		[ "${v:-0}" -gt 0 ] || { echo "FAIL: $d on the wire: $k=${v:-none}"; fail=1; }
	done
done
exit $fail
