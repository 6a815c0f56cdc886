#!/bin/sh
# passes.sh - gfp_passes under the shim: the shrinkers each mask and scope
# lets a pass run, in both vmalloc models (legacy also reports
# vmalloc-gfp-mask for the masks it ignores, so it exits 66 with them).
set -u
: "${top_builddir:?}"
shim=$top_builddir/preload/.libs/libfsreclaim.so
bin=$top_builddir/tests/gfp/gfp_passes
t=$(mktemp -d /tmp/fsr-passes.XXXXXX)
trap 'rm -rf "$t"' EXIT
unset FSRECLAIM_OPTIONS LD_PRELOAD
fail=0
FSRECLAIM_OPTIONS=interval=1:mode=inline LD_PRELOAD=$shim "$bin" current >"$t/cur" 2>"$t/cur.err"
rc=$?
grep FAIL "$t/cur"
[ $rc = 0 ] && ! grep -q 'fsreclaim: ' "$t/cur.err" && echo "ok: vmalloc_model=current, $(grep -c '^ok' "$t/cur") cases, no report" ||
	{ echo "FAIL: current model: status $rc"; head -40 "$t/cur.err"; fail=1; }
FSRECLAIM_OPTIONS=interval=1:mode=inline:vmalloc_model=legacy:json_path=$t/j LD_PRELOAD=$shim "$bin" legacy >"$t/leg" 2>"$t/leg.err"
rc=$?
grep FAIL "$t/leg"
kinds=$(sed -n 's/.*"kind" *: *"\([a-z-]*\)".*/\1/p' "$t"/j.* | sort -u | tr '\n' ' ')
if [ $rc = 66 ] && [ "$kinds" = "vmalloc-gfp-mask " ] && grep -q 'gfp_mask-from-fs-io.rst' "$t/leg.err" &&
	grep -q 'scope API' "$t/leg.err" && grep -q 'in main ' "$t/leg.err"; then
	echo "ok: vmalloc_model=legacy, $(grep -c '^ok' "$t/leg") cases, reports [$kinds] quoting the document"
else
	echo "FAIL: legacy model: status $rc, kinds [$kinds]"; head -40 "$t/leg.err"; fail=1
fi
exit $fail
