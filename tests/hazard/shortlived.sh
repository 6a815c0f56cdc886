#!/bin/sh
# Issue 11 item 24: threads that live for fewer allocations than the
# interval still get passes (each thread's countdown has a phase from the
# seed and its key), so the deadlock of hz_shortlived, whose threads make 4
# allocations each, is found at interval=7 and at interval=100 with more
# threads.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
run=$top_builddir/preload/fsreclaim-run
prog=$top_builddir/tests/hazard/hz_shortlived
tmp=$(mktemp -d /tmp/fsr-short.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
no() { echo "FAIL $*"; fail=$((fail + 1)); }

# short INTERVAL NTHREADS SEED: output in $tmp/out, status in $rc
short() {
	timeout 120 "$run" --opt interval="$1" --opt seed="$3" --opt stats=1 -- "$prog" "$2" ${4:-} >"$tmp/out" 2>&1
	rc=$?
}
for cfg in "7 40" "100 400"; do
	set -- $cfg
	short "$1" "$2" 1
	if [ $rc = 66 ] && grep -q 'fsreclaim: ERROR: reclaim-deadlock' "$tmp/out" && grep -q 'serve_request' "$tmp/out"; then
		ok "interval=$1, $2 threads of 4 allocations: reclaim-deadlock found"
	else
		no "interval=$1, $2 threads: status $rc, $(grep -c 'reclaim_passes=0' "$tmp/out") stats lines with no pass; $(head -c 400 "$tmp/out")"
	fi
	grep 'stats:' "$tmp/out" | sed 's/^/     /'
done
# the expected number of passes is NTHREADS*4/interval: 160/7 ~ 23 (with a
# shrinker that takes no lock: no deadlock, so no pass is skipped while an
# abandoned callback finishes, and the count is the schedule's alone)
short 7 40 2 count
p=$(sed -n 's/.*reclaim_passes=\([0-9]*\).*/\1/p' "$tmp/out")
if [ -n "$p" ] && [ "$p" -ge 12 ] && [ "$p" -le 40 ]; then ok "interval=7: $p passes for 160 allocations (expected ~23)"; else no "interval=7: ${p:-no} passes for 160 allocations (expected ~23)"; fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
