#!/bin/sh
# Preloaded end to end: a program with a scope-imbalance, and one whose
# shrinker outlasts timeout_ms, run under libfsreclaim.so.
set -u
b=${top_builddir:-.}
s=${top_srcdir:-.}
shim=$b/preload/.libs/libfsreclaim.so
[ -f "$shim" ] || { echo "FAIL: no shim at $shim"; exit 1; }
d=$(mktemp -d) || exit 99
trap 'rm -rf "$d"' EXIT
fail=0
ok() { echo "ok   $*"; }
no() { echo "FAIL $*"; fail=1; }
run() { # run OPTIONS PROGRAM [ARG]: stdout+stderr to $d/out, status to $rc
	timeout 60 env FSRECLAIM_OPTIONS="$1" LD_PRELOAD="$shim" "$b/tests/report/$2" ${3:+"$3"} >"$d/out" 2>&1
	rc=$?
}
mark=$(grep -n 'MARK: bogus restore' "$s/tests/report/imbalance.c" | cut -d: -f1)
save=$((mark - 1))

run "json_path=$d/j" imbalance
[ $rc = 66 ] && ok "status 66 after a report" || no "status $rc"
grep -qE '^==[0-9]+==[ ]?fsreclaim: WARNING: scope-imbalance' "$d/out" && ok "header" || no "header: $(cat "$d/out")"
[ "$(grep -c 'fsreclaim: WARNING' "$d/out")" = 1 ] && ok "reported once (dedup)" || no "not deduplicated"
grep -qE "^    #0 0x[0-9a-f]+ in bad_restore .*imbalance\.c:$mark\$" "$d/out" && ok "frame #0 is bad_restore imbalance.c:$mark" || no "no bad_restore imbalance.c:$mark frame: $(cat "$d/out")"
grep -qE "in main .*imbalance\.c:[0-9]+\$" "$d/out" && ok "main frame" || no "no main frame"
grep -qE "in bad_restore .*imbalance\.c:$save\$" "$d/out" && ok "scope site imbalance.c:$save" || no "no save site line $save"
grep -E '^    #' "$d/out" | grep -qE 'in memalloc_|libfsreclaim|fsr_' && no "shim or header frames shown" || ok "no shim/header frames"
grep -qE "^SUMMARY: fsreclaim: scope-imbalance bad_restore imbalance\.c:$mark\$" "$d/out" && ok "SUMMARY" || no "SUMMARY: $(grep SUMMARY "$d/out")"
grep -q '^done$' "$d/out" && ok "program ran on" || no "program did not finish"
python3 -c '
import json, sys
ls = open(sys.argv[1]).read().splitlines()
assert len(ls) == 1
r = json.loads(ls[0])
assert r["kind"] == "scope-imbalance" and r["level"] == "WARNING" and r["op"] is None
f = r["stacks"][0]["frames"][0]
assert f["function"] == "bad_restore" and f["file"].endswith("imbalance.c") and f["line"] == int(sys.argv[2]), f
' "$(ls "$d"/j.*)" "$mark" && ok "JSON line parses, frame bad_restore:$mark" || no "JSON"

run "stack_depth=1" imbalance
[ "$(sed -n '/^  restore:/,/^$/p' "$d/out" | grep -c '^    #')" = 1 ] && ok "stack_depth=1" || no "stack_depth=1: $(cat "$d/out")"

printf '# ours\nscope-imbalance:bad_*\n' >"$d/ok.supp"
run "suppressions=$d/ok.supp" imbalance
[ $rc = 0 ] && ! grep -q fsreclaim "$d/out" && ok "suppressed: status 0, no report" || no "suppression: status $rc $(cat "$d/out")"
printf '# ours\nscope-imbalance bad_restore\n' >"$d/bad.supp"
run "suppressions=$d/bad.supp" imbalance
[ $rc = 2 ] && grep -q "$d/bad.supp:2" "$d/out" && ! grep -q '^done' "$d/out" && ok "malformed suppressions: status 2 naming file:line" || no "malformed: $rc $(cat "$d/out")"
run "suppressions=$d/missing.supp" imbalance
[ $rc = 2 ] && grep -q "suppressions.*$d/missing.supp" "$d/out" && ok "missing suppressions file: status 2" || no "missing: $rc $(cat "$d/out")"
run "exitcode=7" imbalance
[ $rc = 7 ] && ok "exitcode=7" || no "exitcode=7: status $rc"

cmark=$(grep -n 'MARK: child restore' "$s/tests/report/imbalance.c" | cut -d: -f1)
run "json_path=$d/f" imbalance fork
cpid=$(sed -n 's/^child \([0-9]*\) status.*/\1/p' "$d/out")
grep -qE "^==$cpid==fsreclaim: WARNING: scope-imbalance" "$d/out" && grep -qE "in child_restore .*imbalance\.c:$cmark\$" "$d/out" \
	&& grep -q "^child $cpid status 66" "$d/out" && [ -s "$d/f.$cpid" ] \
	&& ok "forked child reports with its own pid, stack and JSON file" || no "fork: $(cat "$d/out")"

run "interval=1:times=1:timeout_ms=100" slowshrink
[ $rc = 66 ] && grep -qE '^==[0-9]+==fsreclaim: ERROR: reclaim-wait-timeout' "$d/out" && grep -q '^after$' "$d/out" \
	&& ok "reclaim-wait-timeout, program goes on" || no "timeout: $rc $(cat "$d/out")"
# the reclaimer sleeps outside any tracked lock: no stack of it (no signal
# is sent to take one, issue 11 item 12)
! grep -q '^  reclaimer thread:' "$d/out" && grep -q 'in slow_scan\|allocation waiting for reclaim' "$d/out" \
	&& ok "no reclaimer stack for a wait outside tracked locks" || no "reclaimer stack: $(cat "$d/out")"
run "interval=1:times=1:timeout_ms=100:halt_on_error=1" slowshrink
[ $rc = 66 ] && grep -q 'ERROR: reclaim-wait-timeout' "$d/out" && grep -q '^SUMMARY: fsreclaim: reclaim-wait-timeout' "$d/out" \
	&& ! grep -q '^after$' "$d/out" && ok "halt_on_error=1 stops after the report" || no "halt: $rc $(cat "$d/out")"
run "halt_on_error=1" imbalance
[ $rc = 66 ] && grep -q '^done$' "$d/out" && ok "halt_on_error ignores WARNINGs" || no "halt on warning: $rc"
exit $fail
