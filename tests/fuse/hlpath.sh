#!/bin/bash
# High-level callbacks name a handle's current path (libfuse passes its
# node's path): tests/fuse/hlpath (libfuse3 and libfuse2 builds) checks the
# path of every flush and fsync against its fh's file while a file stays
# open across a rename, a rename of its directory, a hidden unlink and a
# rename over another open file; the shim's callbacks (interval=1, both
# modes) must name the right file too.  Inline mode runs with -o hard_remove:
# the file a rename replaces is then unlinked, not hidden, and has no path.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
fsr_mounted_test hlpath

writes() { local i; for i in $(seq 40); do echo "line $i" >&"$1" || return 1; done; }
workload() {   # on the mount $1
	set -e
	mkdir "$1/d"
	exec 3> "$1/d/a"
	writes 3
	mv "$1/d/a" "$1/d/b"          # the open file renamed
	writes 3
	mv "$1/d" "$1/e"              # its directory renamed
	writes 3
	exec 4> "$1/e/c"
	writes 4
	rm "$1/e/c"                   # unlinked while open: libfuse hides it
	writes 4
	exec 5> "$1/e/x"
	writes 5
	mv "$1/e/b" "$1/e/x"          # the open x replaced by the open b (hard_remove: x not hidden)
	writes 3
	writes 5                      # its callbacks must not name b's path, x's is gone
	exec 3>&- 4>&- 5>&-
	set +e
}

BINS=$top_builddir/tests/fuse/hlpath
[ -x "$top_builddir/tests/fuse/hlpath2" ] && BINS="$BINS $top_builddir/tests/fuse/hlpath2"
for bin in $BINS; do
	[ -x "$bin" ] || { FAIL "$bin not built"; continue; }
	for mode in handoff inline; do
		n=$(basename "$bin").$mode
		S=$T/$n.src M=$T/$n.mnt; mkdir -p "$S" "$M"
		hr=; [ $mode = inline ] && hr=1
		HLPATH_HARD_REMOVE=$hr timeout -k 5 60 "$RUN" --opt interval=1 --opt stats=1 --opt "mode=$mode" \
			--opt "log_path=$T/$n.log" -- "$bin" "$S" "$M" -f > "$T/$n.out" 2>&1 &
		pid=$!
		fsr_wait_mount "$M" $pid
		case $? in
		2) cat "$T/$n.out"; FAIL "$n: daemon died"; continue ;;
		1) FAIL "$n: no mount"; continue ;;
		esac
		( workload "$M" ) > "$T/$n.work" 2>&1 || { FAIL "$n: workload failed"; cat "$T/$n.work"; }
		fusermount3 -u "$M" 2>/dev/null || fusermount -u "$M" 2>/dev/null || fsr_unmount "$M"
		wait $pid; pid=
		line=$(grep "^hlpath: [0-9]* checks" "$T/$n.out")
		echo "$n: $line"
		[ -n "$line" ] || { FAIL "$n: no summary line"; cat "$T/$n.out"; continue; }
		shim=$(sed -n 's/^hlpath: [0-9]* checks (\([0-9]*\) by the shim).*/\1/p' <<< "$line")
		wrong=$(sed -n 's/^hlpath: .*, \([0-9]*\) wrong$/\1/p' <<< "$line")
		[ "$wrong" = 0 ] || { FAIL "$n: $wrong flush/fsync calls named another file or none"; grep "names\|no path" "$T/$n.out" | head -5; }
		[ "$shim" -gt 0 ] || FAIL "$n: no flush callback by the shim"
	done
done
exit $fail
