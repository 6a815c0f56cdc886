#!/bin/sh
# kdaemon.sh - the kernel-style daemon (kdaemon.c, <fsreclaim/linux.h> only)
# under fsreclaim-run: each seeded bug reported with its kind, naming the
# faulty function; the clean twin quiet in every model, with
# detect_needless_nofs=1; both shrinker shapes scanned.
set -u
: "${top_builddir:?}"
run=$top_builddir/preload/fsreclaim-run
bin=$top_builddir/tests/gfp/kdaemon
t=$(mktemp -d /tmp/fsr-kdaemon.XXXXXX)
trap 'rm -rf "$t"' EXIT
unset FSRECLAIM_OPTIONS LD_PRELOAD
fail=0
# mode  extra options  expected kinds (ERE, - none)  function  status
cases='clean - - - 0
clean detect_needless_nofs=1,vmalloc_model=legacy - - 0
clean mode=inline,detect_needless_nofs=1 - - 0
gfp-kernel-under-lock - reclaim-deadlock|reclaim-lock-inversion sb_alloc_under_lock 66
might-alloc-under-lock - reclaim-lock-inversion sb_might_alloc_locked 66
vmalloc-nofs - - - 0
vmalloc-nofs vmalloc_model=legacy vmalloc-gfp-mask sb_vmalloc_locked 66
needless-mask detect_needless_nofs=1 needless-nofs sb_stat_unlocked 0
needless-mask - - - 0
redundant-mask detect_needless_nofs=1 needless-nofs sb_scoped_redundant 0'
echo "$cases" | while read -r m extra kinds func want; do
	rm -f "$t"/j.* "$t/err"
	opts="--opt interval=1 --opt json_path=$t/j"
	[ "$extra" = - ] || for o in $(echo "$extra" | tr ',' ' '); do opts="$opts --opt $o"; done
	"$run" $opts -- "$bin" "$m" >"$t/out" 2>"$t/err"
	rc=$?
	got=$(cat "$t"/j.* 2>/dev/null | sed -n 's/.*"kind" *: *"\([a-z-]*\)".*/\1/p' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
	what="$m [$extra]"
	if [ "$rc" != "$want" ]; then
		echo "FAIL $what: status $rc, want $want; reports [$got]"; head -50 "$t/err"; exit 1
	elif ! grep -q 'new_scans=[1-9][0-9]* old_scans=[1-9]' "$t/out"; then
		echo "FAIL $what: a shrinker shape was never scanned: $(cat "$t/out")"; exit 1
	elif [ "$kinds" = - ]; then
		[ -z "$got" ] || { echo "FAIL $what: expected no report, got [$got]"; head -50 "$t/err"; exit 1; }
	elif ! cat "$t"/j.* | grep -Eq "\"kind\" *: *\"($kinds)\""; then
		echo "FAIL $what: expected ($kinds), got [$got]"; head -50 "$t/err"; exit 1
	elif ! grep -q "in $func " "$t/err"; then
		echo "FAIL $what: no report names $func"; head -60 "$t/err"; exit 1
	fi
	echo "ok $what: [$got] status $rc, $(cat "$t/out")"
done || fail=1
# the two needless-nofs messages are distinct
"$run" --opt interval=1 --opt detect_needless_nofs=1 -- "$bin" needless-mask 2>"$t/a" >/dev/null
"$run" --opt interval=1 --opt detect_needless_nofs=1 -- "$bin" redundant-mask 2>"$t/b" >/dev/null
grep -q 'just in case' "$t/a" && grep -q 'only repeats the scope' "$t/b" && echo "ok: distinct just-in-case and redundant messages" ||
	{ echo "FAIL: needless-nofs messages"; cat "$t/a" "$t/b" | head -40; fail=1; }
exit $fail
