#!/bin/sh
# The whole test suite, from a fresh clone:
#   1. plain build: make check (unit, preloaded, mounted FUSE, txfs, hazards)
#   2. ASan+UBSan build and TSan build: the shim's core and txfs
#   3. fuzz-smoke: each libFuzzer target for a bounded time
# Every phase is time-bounded (20 min for a make check, 10 for fuzzing, so
# the whole run stays well inside CI's 90 minutes); each test is bounded too
# (tests/bounded.sh).  Prints "N passed, N failed, N skipped" at the end.
set -u
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
if [ -f config.status ]; then
	echo "run-tests.sh: this tree is configured in place; run 'make distclean' first" >&2
	exit 2
fi
command -v dpkg >/dev/null 2>&1 && { "$top/.ci/ensure-deps" || exit 2; }
[ -x configure ] || autoreconf -fi >/dev/null 2>&1 || { echo "autoreconf failed (see .ci/deps)" >&2; exit 2; }

pass=0 fail=0 skip=0
tally() { # tally LOGDIR: add the automake .trs results of one build
	for f in $(find "$1" -name '*.trs' 2>/dev/null); do
		case $(sed -n 's/^:test-result: //p' "$f" | head -n1) in
		PASS|XFAIL) pass=$((pass+1)) ;;
		SKIP) skip=$((skip+1)); echo "  SKIP ${f%.trs}" ;;
		*) fail=$((fail+1)); echo "  FAIL ${f%.trs}: see ${f%.trs}.log" ;;
		esac
	done
}
phase() { # phase NAME DIR CONFIGURE-ARGS...
	name=$1 dir=$2; shift 2
	echo "== $name"
	rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || return 1
	if ! "$top/configure" -q "$@" >configure.out 2>&1; then
		cat configure.out; fail=$((fail+1)); cd "$top"; return 1
	fi
	if ! make -j"$jobs" >make.out 2>&1; then
		tail -n 40 make.out; fail=$((fail+1)); cd "$top"; return 1
	fi
	timeout -k 10 1200 make -j"$jobs" check >check.out 2>&1
	grep -E '^(PASS|FAIL|SKIP|ERROR|XPASS):' check.out
	tally "$dir"
	cd "$top"
}

phase "plain build: make check" "$top/_build"
phase "ASan+UBSan build: make check (core, txfs)" "$top/_build-asan" --enable-sanitizers=asan
phase "TSan build: make check (core)" "$top/_build-tsan" --enable-sanitizers=tsan
if [ -d "$top/_build" ] && command -v clang >/dev/null 2>&1; then
	echo "== fuzz-smoke"
	if (cd "$top/_build" && timeout -k 10 600 make fuzz-smoke FUZZ_SECONDS=${FUZZ_SECONDS:-20}) >"$top/_build/fuzz.out" 2>&1; then
		pass=$((pass+1)); echo "PASS: fuzz-smoke"
	else
		fail=$((fail+1)); echo "FAIL: fuzz-smoke"; tail -n 30 "$top/_build/fuzz.out"
	fi
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
