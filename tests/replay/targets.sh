#!/bin/sh
# Handle targets replayed (issue 13), on both transports: txfs holds three
# files open (made by mknod, so that no CREATE handle of theirs is still
# being released when they are opened: the open order is fixed) while one
# sequential client makes directories; every allocation that may reclaim
# is a pass whose callbacks are fsync and flush of one handle.  One pass of
# that run is replayed (times=1) with its target part changed:
#   - no target: the first eligible handle (F);
#   - a held handle other than F: that one is chosen again;
#   - a handle the kernel does not hold: F instead, and the output says so.
# libfuse transport: the passes come outside ops (txfs scopes its own
# allocations NOFS, so passes with callbacks are libfuse's, between
# requests), replayed by site key (site/HASH/K, the K-th occurrence of its
# top frame in the process) with /target=hHASH.  fuse_transport=wire
# (txfs's libfuse3 session left unwrapped, the wire's synthetic
# FSYNC/FLUSH): passes inside the wire's op mkdir, replayed by the
# record line (replay=@PATH), whose targets are named.  Both transports
# name the held handles alike and, for the same three handles held, choose
# the same first eligible one (one ledger, preload/fuse/ledger.c).  Then
# the same for entry targets (callbacks=forget: a LOOKUP of an entry, by
# its path): on the wire, which replay.sh does not cover, and on the
# libfuse transport by its site key (replay.sh replays them by a report's
# key); the names compared.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
. "$top_srcdir/tests/lib/mount.sh"
PATH=$top_builddir/preload:$PATH
export PATH
txfs=$top_builddir/fusefs/txfs
fsr_require_fuse "cannot mount txfs"
fsr_work_dir targets
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
no() { echo "FAIL $*"; fail=$((fail + 1)); }

workload() {
	/usr/bin/python3 -c 'import os, sys; [os.mknod(p, 0o100644) for p in sys.argv[1:]]' "$mnt/a1" "$mnt/a2" "$mnt/a3" || return 1
	exec 3<"$mnt/a1" 4<"$mnt/a2" 5<"$mnt/a3"
	for w in 1 2 3 4; do mkdir "$mnt/d$w" || return 1; done
	exec 3<&- 4<&- 5<&-
	rm -rf "$mnt"/d* "$mnt"/a*
}
# run OUT OPTS...: txfs under the shim with OPTS (--opt ...), the
# workload, unmount; the daemon's output in OUT, its record in OUT.rec
run() {
	out=$1; shift
	rm -f "$work"/rec.* "$work/journal"
	# shellcheck disable=SC2068
	fsreclaim-run --opt callbacks=$cbs --opt record="$work/rec" $@ -- \
		"$txfs" -f -s -o journal="$work/journal" -o hazard=none "$mnt" >"$out" 2>&1 &
	pid=$!
	if ! fsr_wait_mount "$mnt" "$pid"; then
		echo "     txfs did not mount: $(head -c 300 "$out")"
		kill -9 "$pid" 2>/dev/null; wait "$pid"; pid=
		: >"$out.rec"; return 1
	fi
	workload || echo "     workload failed"
	fsr_unmount "$mnt" "$pid" 300 || kill -9 "$pid"
	wait "$pid"; pid=
	cat "$work"/rec.* >"$out.rec" 2>/dev/null || : >"$out.rec"
}
# a target's 32-bit hash as a replay key names it (replay.c's fsr_target_hash)
thash() {
	/usr/bin/python3 -c '
import sys
M = (1 << 64) - 1
def mix(x):
    x = (x + 0x9e3779b97f4a7c15) & M
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M
    return x ^ (x >> 31)
h = 0x746172
for c in sys.argv[1].encode():
    h = mix(h ^ c)
print("%08x" % ((h & 0xffffffff) or 1))' "$1"
}
# the target the replay's one pass took first (its record's line that ran)
chosen() { sed -n 's/.* target=\([^ ,]*\)[^ ]* status=run$/\1/p' "$1" | head -n 1; }
# replay_lib OUT TARGET: the chosen pass again by its site key, with
# /target=h(TARGET) (-: none)
replay_lib() {
	k=site/$site/$K
	[ "$2" = - ] || k=$k/target=$ty$(thash "$2")
	run "$1" --opt times=1 --opt replay="$k"
}
# replay_wire OUT TARGET: the chosen record line again, its target part TARGET
replay_wire() {
	printf '%s\n' "$line" | sed "s| target=[^ ]* | target=$2 |" >"$1.key"
	run "$1" --opt times=1 --opt replay=@"$1.key" --opt fuse_transport=wire
}

for what in handle entry; do
if [ $what = handle ]; then
	cbs=fsync,flush held_re='#[0-9]+:/a[123]' cb_re='(fsync\+flush|flush\+fsync)' gone='#99:/gone' ty=h whats=handles
else
	cbs=forget held_re='/(a[123]|d[1-4])' cb_re='lookup(\+forget)?' gone=/gone ty=e whats=entries
fi
for tr in lib wire; do
	if [ $tr = lib ]; then
		run "$work/$tr.0" --opt interval=1
		# a pass in the middle of those on held handles: the K-th
		# occurrence of its site's top frame (every line of the record is one)
		n=$(grep -cE " op=- callback=$cb_re target=$held_re status=run$" "$work/$tr.0.rec")
		line=$(grep -E " op=- callback=$cb_re target=$held_re status=run$" "$work/$tr.0.rec" | sed -n "$(( (n + 1) / 2 ))p")
		site=$(printf '%s\n' "$line" | sed -n 's/.* site=\([0-9a-f]*\) .*/\1/p')
		top=$(printf '%s\n' "$site" | cut -c1-8)
		K=$(grep -n '' "$work/$tr.0.rec" | grep " site=$top" | grep -n -F -- "$line" | head -n 1 | cut -d: -f1)
		key="site/$site/$K"
	else
		run "$work/$tr.0" --opt interval=1 --opt fuse_transport=wire
		line=$(grep -m 1 -E " op=mkdir callback=$cb_re target=$held_re(,[^ ]*)? status=run$" "$work/$tr.0.rec")
		key="@ $line"
	fi
	held=$(grep -oE "target=$held_re[ ,]" "$work/$tr.0.rec" | sed 's/^target=//; s/[ ,]$//' | sort -u | tr '\n' ' ')
	if [ -z "$line" ] || [ "$(printf '%s' "$held" | wc -w)" -lt 2 ]; then
		no "$tr: no pass with $cbs on the $whats (seen: $held): $(grep -m 3 ' status=run$' "$work/$tr.0.rec")"
		continue
	fi
	echo "     $tr: $whats called back on: $held; replayed: $key"
	eval "held_$tr$what=\$held"
	# no target: the first eligible
	replay_$tr "$work/$tr.a" -
	first=$(chosen "$work/$tr.a.rec")
	eval "first_$tr$what=\$first"
	if printf '%s\n' "$first" | grep -qxE "$held_re"; then
		ok "$tr $what: replayed without a target: the first eligible, $first"
	else
		no "$tr $what: replay without a target chose '${first:-nothing}': $(cat "$work/$tr.a.rec")"; continue
	fi
	# another one: chosen again
	other=$(printf '%s\n' $held | grep -vxF -- "$first" | head -n 1)
	replay_$tr "$work/$tr.b" "$other"
	got=$(chosen "$work/$tr.b.rec")
	if [ "$got" = "$other" ] && ! grep -q 'fsreclaim: replay: .* not held' "$work/$tr.b"; then
		ok "$tr $what: target $other replayed: chosen again (without it $first)"
	else
		no "$tr $what: target $other: chose '${got:-nothing}' ($(grep -m 1 'fsreclaim: replay:' "$work/$tr.b"))"
	fi
	# one the kernel does not hold: the first eligible, said
	name=$gone
	[ $tr = lib ] && name=$ty$(thash "$gone")
	replay_$tr "$work/$tr.c" "$gone"
	got=$(chosen "$work/$tr.c.rec")
	msg=$(grep -m 1 -F "fsreclaim: replay: pass #1: the $what it chose ($name) is not held by the kernel now: " "$work/$tr.c")
	if [ -n "$msg" ] && [ "$got" = "$first" ] && [ "${msg##*instead, }" = "$first" ]; then
		ok "$tr $what: one not held: '$msg'"
	else
		no "$tr $what: one not held: chose '${got:-nothing}', said '${msg:-nothing}'"
	fi
done

# both transports: named alike, the same first choice
eval "hl=\${held_lib$what:-} hw=\${held_wire$what:-} fl=\${first_lib$what:-} fw=\${first_wire$what:-}"
if [ -n "$hl" ] && [ -n "$hw" ]; then
	[ "$hl" = "$hw" ] && ok "the $whats are named alike on both transports: $hl" \
		|| no "$what names: lib '$hl', wire '$hw'"
	# the same handles are held all through the mkdirs; the entries change
	# with each (the two passes come at different points)
	if [ $what = handle ]; then
		[ "$fl" = "$fw" ] && ok "the same first eligible $what on both transports: $fl" \
			|| no "first eligible $what: lib '$fl', wire '$fw'"
	fi
fi
done

echo "targets: $pass ok, $fail failed"
[ $fail = 0 ]
