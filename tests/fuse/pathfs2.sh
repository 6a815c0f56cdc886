#!/bin/bash
# A libfuse2 high-level daemon that keeps no file handle (tests/fuse/pathfs2:
# fi->fh is 0 for every open file, as in many path-based daemons): two
# files open at once, the first renamed, the second closed.  The shim's
# flush/fsync callbacks (interval=1, both modes) must name the renamed
# file by its new path, and never the closed one: its handle is released
# though the other open file has the same fh.  The daemon checks every
# flush and fsync path against the files open now.  Then a third file stays
# open (fh 0) while a create fails (pathfs2's nolookup: libfuse2 releases
# it inside the create, before any reply, a release the shim recorded no
# handle for): the shim must still call the open file back after it.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
BIN=$top_builddir/tests/fuse/pathfs2
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
T=$(mktemp -d /tmp/fsr-pathfs2.XXXXXX) || exit 99
pid=
fsr_trap_exit 'fsr_cleanup "$T" $pid' 1
fail=0
FAIL() { echo "FAIL: $*"; fail=1; }

writes() { local i; for i in $(seq 40); do echo "line $i" >&"$1" || return 1; done; }
workload() {   # on the mount $1
	set -e
	exec 3> "$1/a"
	writes 3
	exec 4> "$1/b"
	writes 4
	mv "$1/a" "$1/a.renamed"      # the open file renamed
	exec 4>&-                     # the other one closed: released
	writes 3
	exec 3>&-
	for i in $(seq 20); do ls -l "$1" > /dev/null; stat "$1/a.renamed" > /dev/null; done
	exec 5> "$1/kept"             # open (fh 0) across a create released inside it
	writes 5
	if : 2> /dev/null > "$1/nolookup"; then echo "the create of nolookup succeeded"; exit 1; fi
	for i in $(seq 20); do echo "more $i" >&5; ls "$1" > /dev/null; done
	exec 5>&-
	set +e
}

for mode in handoff inline; do
	n=pathfs2.$mode
	S=$T/$n.src M=$T/$n.mnt; mkdir -p "$S" "$M"
	timeout -k 5 60 "$RUN" --opt interval=1 --opt stats=1 --opt "mode=$mode" --opt "log_path=$T/$n.log" -- \
		"$BIN" "$S" "$M" -f > "$T/$n.out" 2>&1 &
	pid=$!
	fsr_wait_mount "$M" $pid
	case $? in
	2) cat "$T/$n.out"; FAIL "$n: daemon died"; continue ;;
	1) FAIL "$n: no mount"; continue ;;
	esac
	( workload "$M" ) > "$T/$n.work" 2>&1 || { FAIL "$n: workload failed"; cat "$T/$n.work"; }
	fusermount -u "$M" 2>/dev/null || fsr_unmount "$M" $pid
	wait $pid; pid=
	line=$(grep "^pathfs2: [0-9]* checks" "$T/$n.out")
	echo "$n: $line"
	[ -n "$line" ] || { FAIL "$n: no summary line"; cat "$T/$n.out"; continue; }
	re='^pathfs2: [0-9]* checks \(([0-9]*) by the shim, ([0-9]*) on renamed files\), ([0-9]*) wrong$'
	[[ $line =~ $re ]] || { FAIL "$n: summary line not understood"; continue; }
	shim=${BASH_REMATCH[1]} renamed=${BASH_REMATCH[2]} wrong=${BASH_REMATCH[3]}
	[ "$wrong" = 0 ] || { FAIL "$n: $wrong flush/fsync calls named a file not open"; grep "not an open" "$T/$n.out" | sort | uniq -c | head -5; }
	[ "$shim" -gt 0 ] || FAIL "$n: no flush/fsync callback by the shim"
	[ "$renamed" -gt 0 ] || FAIL "$n: no callback by the shim named the renamed file's new path"
	grep -q "release of .*gone" "$T/$n.out" && FAIL "$n: a release named a file that is gone"
	after=$(sed -n 's/^pathfs2: \([0-9]*\) shim callbacks after a failed create$/\1/p' "$T/$n.out")
	echo "$n: ${after:-no} shim callbacks after the failed create"
	[ -n "$after" ] || FAIL "$n: the create of nolookup was not released inside it"
	[ "${after:-0}" -gt 0 ] || FAIL "$n: no callback after the failed create (its release took kept's handle)"
done
[ $fail = 0 ] && echo PASS
exit $fail
