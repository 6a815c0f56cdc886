#!/bin/sh
# exports.sh - the public calls under their own names: from a C program that
# uses dlsym only (exports_dlsym) and from Python ctypes (exports.py), with
# the shim preloaded (interval=1 inline, so that their shrinkers run).  The
# C program's leaked scope must be reported as opened by its own caller.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
shim=$top_builddir/preload/.libs/libfsreclaim.so
t=$(mktemp -d /tmp/fsr-exports.XXXXXX)
trap 'rm -rf "$t"' EXIT
unset FSRECLAIM_OPTIONS LD_PRELOAD
fail=0
FSRECLAIM_OPTIONS=interval=1:mode=inline LD_PRELOAD=$shim "$top_builddir/tests/gfp/exports_dlsym" >"$t/out" 2>"$t/err"
rc=$?
cat "$t/out"
if [ $rc != 66 ] || ! grep -q 'checks done: 0 failed' "$t/out"; then
	echo "FAIL: exports_dlsym status $rc (want 66: its checks pass, then the seeded scope-leak)"; cat "$t/err"; fail=1
elif ! grep -A3 'scope opened at' "$t/err" | grep -q 'in leak_scope_here '; then
	echo "FAIL: the scope-leak does not name the caller of memalloc_nofs_save as the site"; cat "$t/err"; fail=1
elif [ "$(grep -c 'are not Linux GFP bits; they are ignored (said once)' "$t/err")" != 1 ]; then
	echo "FAIL: unknown mask bits not said exactly once"; cat "$t/err"; fail=1
else
	echo "ok: every exported name resolves by dlsym; the site is the caller; unknown bits said once"
fi
py=/usr/bin/python3
[ -x $py ] || py=$(command -v python3)
FSRECLAIM_OPTIONS=interval=1:mode=inline LD_PRELOAD=$shim "$py" "$top_srcdir/tests/gfp/exports.py" >"$t/py" 2>&1
rc=$?
cat "$t/py"
[ $rc = 0 ] && grep -q 'python checks done: 0 failed' "$t/py" && echo "ok: Python ctypes reaches the exported names" ||
	{ echo "FAIL: exports.py status $rc"; fail=1; }
exit $fail
