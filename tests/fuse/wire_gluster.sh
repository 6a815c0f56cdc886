#!/bin/bash
# glusterfs' FUSE bridge on the /dev/fuse wire: glusterfs 10.3 (Debian's
# glusterfs-client) on a local volfile (storage/posix only; glusterfs puts
# its mount/fuse xlator on top), no glusterd.  Its fuse.so reads requests
# with readv into an 80-byte header iovec and a 128 KiB iobuf, its nodeids
# are its inode pointers (a FORGET or a synthetic request on a node it
# freed is a wild pointer), and its replies come from whichever thread ends
# the fop.  With reader-thread-count 1 (asynchronous passes only: the one
# reader is never waited for) and 4 (synchronous passes: a reader parked
# in the kernel is woken for them), in fuse_transport=auto and =wire
# (glusterfs has no libfuse: both are the wire), interval=1: the workload's
# digest and glusterfs' exit status as without the shim (15: it ends itself
# with SIGTERM after the unmount), no hang (bounded), fs_ops, callbacks and
# absorbed FORGET, FSYNC and FLUSH replies above zero, wire_sync above zero
# with 4 readers and zero with 1.  Before the kernel's request went first
# after a synthetic one, the single reader only ever got synthetic requests
# (each allocation of the reader queued one) and the workload's CREATE was
# never served.
#
# glusterfs gets reports, on its own locks; each is triaged in the README
# ("glusterfs on the wire").  Every report must be one of the kinds and
# lock pairs of the table below (by the frames that hold the lock over the
# allocation and that take it in reclaim): any other fails the test.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/lib/mount.sh"
fsr_require_fuse
GL=$(command -v glusterfs || ls /usr/sbin/glusterfs 2>/dev/null)
[ -n "$GL" ] && [ -x "$GL" ] || { echo "SKIP: no glusterfs binary (Debian: glusterfs-client)"; exit 77; }
SHIM=$top_builddir/preload/.libs/libfsreclaim.so
fsr_shm_test wgluster
. "$top_srcdir/tests/lib/wirerun.sh"

XD=$("$GL" --print-xlatordir 2>/dev/null)
[ -f "$XD/storage/posix.so" ] && [ -f "$XD/mount/fuse.so" ] ||
	{ echo "FAIL: glusterfs without its xlators ($XD: storage/posix.so, mount/fuse.so; Debian: glusterfs-common)"; exit 1; }

# the daemon's stats line: the one with the wire's counters (glusterfs'
# mount helper children print their own before it)
gl_stat() {
	grep -m1 -o "fsreclaim: stats:.* wire_async=.*" "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# one line per report: KIND|HELD|TAKEN, HELD the frames that hold the lock
# over the allocation (a lock-inversion: frames 1-3 of that stack; a
# deadlock: where the allocating thread took it), TAKEN where reclaim takes
# it (frames 0-2; a deadlock: frame 0 of the callback's wait); a frame is
# its function, or its object when unnamed (fuse.so and posix.so are
# stripped)
gl_sigs() {
	awk '
	function fr(l,   m) {
		if (match(l, / in [^ ]+/)) { m = substr(l, RSTART + 4, RLENGTH - 4); sub(/\+0x.*/, "", m); return m }
		if (match(l, /\([^ ()+]+\+0x/)) { m = substr(l, RSTART + 1, RLENGTH - 4); return m }
		return "?"
	}
	/^==[0-9]+==fsreclaim: (WARNING|ERROR): / { kind = $3; held = ""; taken = ""; st = ""; next }
	kind == "" { next }
	/^  [a-z].* held here while allocating/ { st = "H"; n = 0; next }
	/^  lock@.* taken here by the allocating thread:/ { st = "h"; n = 0; next }
	/^  reclaim takes .* here:/ || /^  reclaim callback waits for .* here:/ { st = "T"; n = 0; next }
	/^  [a-z]/ { st = ""; next }
	/^    #[0-9]+ 0x/ {
		if (st == "H" && n >= 1 && n <= 3) held = held " " fr($0)
		if (st == "h" && n == 0) held = " " fr($0)
		if (st == "T" && n <= 2) taken = taken " " fr($0)
		n++; next
	}
	/^SUMMARY: fsreclaim: / { print kind "|" substr(held, 2) "|" substr(taken, 2); kind = "" }
	' "$1"
}

# the triage (README): label, kind, HELD and TAKEN (extended regexes)
TRIAGE='
sync_mutex  reclaim-lock-inversion ^inode_table_with_invalidator   ^fuse\.so
itable      reclaim-lock-inversion ^__inode_path                   ^inode_(ref|unref)
itable      reclaim-deadlock       ^(inode_path|inode_link)$       ^inode_(ref|unref)
inode_lock  reclaim-lock-inversion ^posix\.so                      ^(inode_ctx_get0|fd_unref|posix\.so)
inode_lock  reclaim-deadlock       ^posix\.so$                     ^(fd_unref|posix\.so)
fd_lock     reclaim-deadlock       ^posix\.so$                     ^fd_ctx_get
fd_open     reclaim-lock-inversion ^fuse\.so                       ^fd_ctx_get
dict        reclaim-lock-inversion dict_setn                       ^dict_(setn|getn)
'
gl_triage() {    # NAME LOG: FAIL on a report not in TRIAGE; prints the labels' counts
	local n=$1 log=$2 sig lab kind h t found counts="" k=0
	while IFS= read -r sig; do
		k=$((k + 1))
		found=""
		while read -r lab kind h t; do
			[ -n "$lab" ] || continue
			[ "${sig%%|*}" = "$kind" ] || continue
			local rest=${sig#*|}
			echo "${rest%%|*}" | grep -Eq "$h" && echo "${rest#*|}" | grep -Eq "$t" && { found=$lab; break; }
		done <<< "$TRIAGE"
		if [ -n "$found" ]; then
			counts="$counts $found"
		else
			FAIL "$n: a report not triaged: $sig"
			awk -v k=$k '/^==[0-9]+==fsreclaim: (WARNING|ERROR): /{ i++ } i == k' "$log" | sed '/^SUMMARY: /q'

		fi
	done < <(gl_sigs "$log")
	echo "$n: reports:$(echo "$counts" | tr ' ' '\n' | sed '/^$/d' | sort | uniq -c | awk '{printf " %s=%s", $2, $1}')"
}

gl_run() {      # NAME OPTS READERS
	local n=$1 o=$2 r=$3
	mkdir -p "$T/$n.brick"
	wr_tree "$T/$n.brick"
	cat > "$T/$n.vol" <<-EOF
	volume posix
	    type storage/posix
	    option directory $T/$n.brick
	end-volume
	EOF
	wr_run "$n" "$o" "$GL" -N -f "$T/$n.vol" --log-file="$T/$n.glusterfs.log" --reader-thread-count="$r"
}

for r in 1 4; do
	p=gl$r.plain
	gl_run $p - $r
	[ -s "$T/$p.digest" ] || { FAIL "$p: no workload digest"; continue; }
	for tr in auto wire; do
		n=gl$r.$tr
		gl_run $n "interval=1:stats=1:fuse_transport=$tr" $r
		[ -f "$T/$n.rc" ] || continue
		cmp -s "$T/$n.digest" "$T/$p.digest" || FAIL "$n: workload digest differs from the plain run"
		[ "$(cat "$T/$n.rc")" = "$(cat "$T/$p.rc")" ] ||
			{ FAIL "$n: glusterfs exit $(cat "$T/$n.rc"), $(cat "$T/$p.rc") without the shim"; tail -40 "$T/$n.log"; }
		grep -q "fsreclaim: stats:.* wire_async=" "$T/$n.log" || { FAIL "$n: no stats line of the wire"; cat "$T/$n.log"; continue; }
		[ $(( $(gl_stat wire_async "$T/$n.log") + $(gl_stat wire_sync "$T/$n.log") )) -gt 0 ] 2>/dev/null || FAIL "$n: no wire pass"
		for k in fs_ops callbacks absorbed_forget absorbed_fsync absorbed_flush; do
			[ "$(gl_stat $k "$T/$n.log")" -gt 0 ] 2>/dev/null || FAIL "$n: $k=0"
		done
		if [ $r = 4 ]; then
			[ "$(gl_stat wire_sync "$T/$n.log")" -gt 0 ] 2>/dev/null || FAIL "$n: wire_sync=0 with 4 readers"
		else
			[ "$(gl_stat wire_sync "$T/$n.log")" = 0 ] || FAIL "$n: a synchronous pass with one reader"
		fi
		[ "$(gl_stat hazards "$T/$n.log")" = "$(gl_sigs "$T/$n.log" | wc -l)" ] ||
			FAIL "$n: hazards=$(gl_stat hazards "$T/$n.log"), but $(gl_sigs "$T/$n.log" | wc -l) reports read"
		gl_triage "$n" "$T/$n.log"
		grep -m1 -o "fs_ops=.* wire_async=.*" "$T/$n.log" | sed "s/^/$n: /"
	done
done

[ $fail = 0 ] && echo PASS
exit $fail
