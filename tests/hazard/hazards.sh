#!/bin/sh
# Hazard programs under the shim: the exact kind is reported (text, JSON),
# the report names the program's own functions, fixed programs and correct
# programs are silent, exit statuses follow the contract, nothing hangs.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
run=$top_builddir/preload/fsreclaim-run
d=$top_builddir/tests/hazard
stress_secs=${HZ_STRESS_SECS:-10}
tmp=$(mktemp -d /tmp/fsr-hz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
no() { echo "FAIL $*"; fail=$((fail + 1)); }

# hz NAME TIMEOUT OPTS -- PROG ARGS: runs it, sets $rc, $out (text), $json (JSON lines)
hz() {
	name=$1 lim=$2; shift 2
	opts=
	while [ "$1" != -- ]; do opts="$opts --opt $1"; shift; done
	shift
	rm -f "$tmp/$name".j.*
	# shellcheck disable=SC2086
	timeout "$lim" "$run" $opts --opt json_path="$tmp/$name.j" -- "$@" >"$tmp/$name.out" 2>&1
	rc=$?
	out=$tmp/$name.out
	cat "$tmp/$name".j.* >"$tmp/$name.json" 2>/dev/null || : >"$tmp/$name.json"
	json=$tmp/$name.json
	[ $rc = 124 ] && no "$name: hung (killed after $lim s)"
}
kinds() { grep -o '"kind" *: *"[a-z-]*"' "$json" | sed 's/.*"\([a-z-]*\)"$/\1/' | sort -u | tr '\n' ' '; }
has_kind() { grep -q "\"kind\" *: *\"$1\"" "$json" && grep -Eq "^==[0-9]+== ?fsreclaim: (ERROR|WARNING): $1" "$out"; }
names() { for f; do grep -q "$f" "$out" || grep -q "\"$f\"" "$json" || return 1; done; }
clean() { [ $rc = 0 ] && ! grep -q 'fsreclaim: \(ERROR\|WARNING\)' "$out" && [ ! -s "$json" ]; }
expect() { # NAME KIND FUNCTIONS...
	n=$1 k=$2; shift 2
	if has_kind "$k" && [ $rc = 66 ]; then ok "$n: $k reported, status 66"; else no "$n: wanted $k and status 66, got status $rc, kinds: $(kinds)$(head -c 300 "$out")"; fi
	if names "$@"; then ok "$n: the report names $*"; else no "$n: the report does not name all of: $*"; fi
}
expect_clean() {
	if clean; then ok "$1: no report, status 0"; else no "$1: status $rc, kinds: $(kinds) $(head -c 300 "$out")"; fi
}

# (a) allocation under the lock the shrinker takes
hz deadlock 60 interval=1 -- "$d/hz_table" deadlock
expect "table deadlock (handoff, interval=1)" reclaim-deadlock insert_entry evict_entries
grep -q 'done' "$out" && ok "table deadlock: the program went on to its end" || no "table deadlock: the program did not finish"
hz deadlock-inline 60 interval=1 mode=inline -- "$d/hz_table" deadlock
expect "table deadlock (inline, interval=1)" reclaim-deadlock insert_entry evict_entries
hz predict 60 interval=0 -- "$d/hz_table" predict
expect "table predicted (interval=0, fsr_reclaim_acquire)" reclaim-lock-inversion insert_entry evict_entries teach_reclaim_path
grep -q 'Chain exists of' "$out" && grep -q '\*\*\* DEADLOCK \*\*\*' "$out" && grep -q 'CPU0' "$out" \
	&& ok "predicted: lockdep's chain and scenario" || no "predicted: no lockdep-style chain/scenario text"
hz limit 60 interval=0 limit=4194304 -- "$d/hz_table" limit
expect "table predicted (interval=0, one pass over limit=)" reclaim-lock-inversion insert_entry evict_entries
# (b) fixed with a NOFS scope
for m in deadlock predict limit; do
	o="interval=1"; [ $m = deadlock ] || o="interval=0"; [ $m = limit ] && o="$o limit=4194304"
	# shellcheck disable=SC2086
	hz fixed-$m 60 $o -- "$d/hz_table" $m fixed
	expect_clean "table $m, fixed with memalloc_nofs_save"
done
# (c) 3-lock cycle across threads
hz cycle3 60 interval=0 -- "$d/hz_cycle3"
expect "3-lock cycle across threads" reclaim-lock-inversion grow_inode lru_scan lru_to_journal journal_to_inode
grep -q 'journal_lock\|lock@' "$out" && grep -q 'Chain exists of' "$out" && ok "3-lock cycle: chain printed" || no "3-lock cycle: no chain"
sed -n '/locks held by the allocating thread:/,/^=====/p' "$out" | grep '^    #' >"$out.held"
[ "$(grep -c . "$out.held")" = 1 ] && grep -q ' inode_lock ' "$out.held" \
	&& ok "3-lock cycle: only the allocator's own lock listed as held" || no "3-lock cycle: held locks: $(cat "$out.held")"
hz cycle3-ordered 60 interval=0 -- "$d/hz_cycle3" ordered
expect_clean "3 locks in one order"
# the IO flavour: NOFS still allows IO reclaim; NOIO is the fix
hz io-deadlock 60 interval=1 -- "$d/hz_io" deadlock
expect "IO shrinker, allocation under its lock in NOFS" reclaim-deadlock queue_page wb_writeback
hz io-predict 60 interval=0 -- "$d/hz_io" predict
expect "io_reclaim predicted (fsr_reclaim_acquire(FSR_GFP_IO))" reclaim-lock-inversion queue_page wb_writeback
grep -q 'io_reclaim' "$out" && ok "io_reclaim named in the chain" || no "io_reclaim not in the report"
hz io-mixed 60 interval=1:times=5 -- "$d/hz_io" mixed
expect "io_reclaim learned from an IO shrinker in a pass that could do FS too" reclaim-lock-inversion queue_page wb_writeback
for m in deadlock predict mixed; do
	o="interval=1"; [ $m = predict ] && o="interval=0"; [ $m = mixed ] && o="interval=1:times=5"
	hz io-fixed-$m 60 $o -- "$d/hz_io" $m fixed
	expect_clean "IO $m, fixed with memalloc_noio_save"
done
# lock classes: one init site, many instances; exclusion
hz inode 60 interval=1 -- "$d/hz_inode"
expect "per-inode locks of one class (init site)" reclaim-lock-inversion fill_inode evict_inode
hz inode-exclude 60 interval=1 -- "$d/hz_inode" exclude
expect_clean "fsr_lock_exclude keeps the class out of the graph"
# (d) condvar waits, failed trylock, rwlocks, spinlocks, C11
hz condwait 60 interval=1 -- "$d/hz_sync" condwait
expect_clean "cond_wait drops the mutex"
hz trylock 60 interval=0 -- "$d/hz_sync" trylock
expect_clean "a failed trylock is not held"
hz rw-read 60 interval=0 -- "$d/hz_sync" rw-read
expect_clean "rdlock held while allocating, reclaim reads"
hz rw-write 60 interval=0 -- "$d/hz_sync" rw-write
expect "rdlock held while allocating, reclaim writes" reclaim-lock-inversion rw_reader_allocates scan_state
hz rw-deadlock 60 interval=1 -- "$d/hz_sync" rw-deadlock
expect "wrlock held while allocating, reclaim reads" reclaim-deadlock rw_writer_allocates scan_state
hz spin-deadlock 60 interval=1 -- "$d/hz_sync" spin-deadlock
expect "spinlock held while allocating" reclaim-deadlock spin_allocates scan_state
hz mtx-deadlock 60 interval=1 -- "$d/hz_sync" mtx-deadlock
expect "C11 mtx held while allocating" reclaim-deadlock mtx_allocates scan_state
# (e) found at once, not by the timeout
t0=$(date +%s%N)
hz fast 60 interval=1 timeout_ms=60000 -- "$d/hz_table" deadlock
t1=$(date +%s%N); ms=$(( (t1 - t0) / 1000000 ))
if has_kind reclaim-deadlock && [ $ms -lt 2000 ] && ! grep -q reclaim-wait-timeout "$out"; then
	ok "timeout_ms=60000: reclaim-deadlock in $ms ms"
else
	no "timeout_ms=60000: $ms ms, kinds: $(kinds)"
fi
# (f) a correct program under stress: zero reports
hz stress $((stress_secs + 60)) interval=10 stats=1 -- "$d/hz_stress" "$stress_secs"
if [ $rc = 0 ] && ! grep -q 'fsreclaim: \(ERROR\|WARNING\)' "$out" && [ ! -s "$json" ]; then
	ok "correct program, $stress_secs s, 4 threads, 67 locks: no report ($(grep -o 'reclaim_passes=[0-9]*' "$out"))"
else
	no "correct program: status $rc, kinds: $(kinds) $(head -c 400 "$out")"
fi
# needless-nofs: advisory, status 0
hz nofs 60 interval=1 detect_needless_nofs=1 -- "$d/hz_nofs"
if [ $rc = 0 ] && [ "$(kinds)" = "needless-nofs " ] && [ "$(grep -c '"kind" *: *"needless-nofs"' "$json")" = 1 ] && names just_in_case; then
	ok "needless-nofs: the lock-free scope only (just_in_case), status 0"
else
	no "needless-nofs: status $rc, kinds: $(kinds), $(grep -c needless-nofs "$json") reports"
fi
hz nofs-off 60 interval=1 -- "$d/hz_nofs"
expect_clean "needless-nofs is off by default"
# (g) exit status: 66 by default after a report, exitcode= overrides, 0 when clean
hz exitcode 60 interval=1 exitcode=23 -- "$d/hz_table" deadlock
[ $rc = 23 ] && ok "exitcode=23 after a report" || no "exitcode=23: status $rc"
hz halt 60 interval=1 halt_on_error=1 -- "$d/hz_table" deadlock
[ $rc = 66 ] && ! grep -q done "$out" && ok "halt_on_error=1: stops at the deadlock, status 66" || no "halt_on_error: status $rc"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
