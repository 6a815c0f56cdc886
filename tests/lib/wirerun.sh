# wirerun.sh - run a FUSE daemon with and without the shim on the same
# workload, and check what the wire transport did (sourced by the wire_*.sh
# tests after tests/lib/mount.sh).  The caller sets T (a scratch dir), PIDS
# and SHIM.
#
#   wr_run NAME OPTS(- for no shim) CMD...   mount on $T/NAME.m (the last
#       argument), run wr_workload, unmount; leaves $T/NAME.digest, .log
#       (the daemon's stderr), .rc (its exit status)
#   wr_check NAME PLAIN [unseen]              the shim's run against the plain one
#   wr_need_absorbed NAME                     a wire pass and an absorbed reply of each kind
#   (fsr_stat_of KEY LOG, from tests/lib/wire.sh: KEY= of the first stats line)

fail=0
FAIL() { echo "FAIL: $*"; fail=1; }

# fsr_stat_of (KEY= of the first stats line) and fsr_wire_reports
. "$top_srcdir/tests/lib/wire.sh"

# the tree every wire test daemon serves: f0.. and d/g0.. (rawfs has them;
# a passthrough source is made with wr_tree)
wr_tree() {
	mkdir -p "$1/d"
	for i in 0 1 2; do echo "f$i" > "$1/f$i"; echo "g$i" > "$1/d/g$i"; done
}

# reads, listings, stats, fsync, and dropped dentry/inode caches so that the
# kernel sends its own FORGETs; a handle open all along, so that every pass
# has one to call back on.  The digest on stdout.
wr_workload() {
	local d=$1 k
	exec 9< "$d/f0"
	for k in $(seq "${WR_ROUNDS:-15}"); do
		cat "$d"/f* "$d"/d/g* > /dev/null
		ls -l "$d" "$d/d" > /dev/null
		stat "$d/f1" "$d/d/g2" > /dev/null
		sync "$d/f1" "$d/d"
		[ $((k % 5)) = 0 ] && echo 2 > /proc/sys/vm/drop_caches 2>/dev/null
	done
	(cd "$d" && ls -lR --time-style=+ . && cat f* d/*) | md5sum
}

wr_run() {
	local name=$1 opts=$2; shift 2
	local M=$T/$name.m
	mkdir -p "$M"
	if [ "$opts" = - ]; then
		timeout -k 5 90 "$@" "$M" > "$T/$name.log" 2>&1 &
	else
		FSRECLAIM_OPTIONS="$opts" LD_PRELOAD=$SHIM timeout -k 5 90 "$@" "$M" > "$T/$name.log" 2>&1 &
	fi
	local pid=$!
	PIDS="$PIDS $pid"
	if ! fsr_wait_mount "$M" $pid; then
		FAIL "$name: no mount"; cat "$T/$name.log"; return 1
	fi
	timeout -k 5 60 bash -c "$(declare -f wr_workload); WR_ROUNDS=${WR_ROUNDS:-15} wr_workload $M" \
		> "$T/$name.digest" || FAIL "$name: workload failed"
	fsr_unmount "$M" $pid 200 || FAIL "$name: the daemon did not end after the unmount"
	wait $pid
	echo $? > "$T/$name.rc"
}

wr_check() {
	local n=$1 p=$2 unseen=${3:-}
	[ -f "$T/$n.rc" ] || return
	cmp -s "$T/$n.digest" "$T/$p.digest" || FAIL "$n: workload digest differs from the plain run"
	[ "$(cat "$T/$n.rc")" = 0 ] || { FAIL "$n: daemon exit $(cat "$T/$n.rc")"; tail -40 "$T/$n.log"; }
	grep -q "rawfs: ERROR" "$T/$n.log" && { FAIL "$n: the daemon found a protocol error"; grep "rawfs: ERROR" "$T/$n.log" | head -5; }
	[ "$(fsr_stat_of hazards "$T/$n.log")" = 0 ] || { FAIL "$n: reports on a correct daemon"; cat "$T/$n.log"; }
	[ -n "$unseen" ] || [ "$(fsr_stat_of fs_ops "$T/$n.log")" -gt 0 ] 2>/dev/null || FAIL "$n: fs_ops=0"
	echo "$n: $(grep -m1 -o 'fs_ops=.*' "$T/$n.log")"
}

wr_need_absorbed() {
	local n=$1 k
	[ $(( $(fsr_stat_of wire_async "$T/$n.log") + $(fsr_stat_of wire_sync "$T/$n.log") )) -gt 0 ] 2>/dev/null || FAIL "$n: no wire pass"
	for k in callbacks absorbed_forget absorbed_fsync absorbed_flush; do
		[ "$(fsr_stat_of $k "$T/$n.log")" -gt 0 ] 2>/dev/null || FAIL "$n: $k=0"
	done
}

# the libfuse3 example FILE.c (libfuse3-dev) built into $T/bin/NAME with
# the extra link arguments given (e.g. libfuse3.a)
wr_example() {
	local file=$1 name=$2 ex=${FUSE_EXAMPLES:-/usr/share/doc/libfuse3-dev/examples} f
	shift 2
	mkdir -p "$T/bin"
	for f in "$file" passthrough_helpers.h; do
		if [ -f "$ex/$f" ]; then cp "$ex/$f" "$T/bin/"; elif [ -f "$ex/$f.gz" ]; then zcat "$ex/$f.gz" > "$T/bin/$f"; fi
	done
	gcc -w -O2 -D_FILE_OFFSET_BITS=64 -I"$T/bin" "$T/bin/$file" -o "$T/bin/$name" "$@"
}
