#!/bin/sh
# The whole test suite, from a fresh clone:
#   1. make distcheck: the dist tarball configured out of tree with its
#      source read-only, make check (unit, preloaded, mounted FUSE, txfs,
#      hazards, man pages), install, uninstall, distclean
#   2. ASan+UBSan build and TSan build: the shim's core and txfs
#   3. fuzz-smoke: each libFuzzer target for a bounded time
#   4. debian: the packages built from the dist tarball, lintian, used from
#      dpkg -x, then dpkg -i and dpkg -r (tests/debian/packages.sh)
# Every phase is time-bounded (25 min for distcheck, 20 for a make check, 10
# for fuzzing, 10 for the packages: at most 85 minutes, inside CI's
# 90); each test is bounded too (tests/bounded.sh).  Prints each
# phase's time, and "N passed, N failed, N skipped" at the end.
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
clock() { # clock NAME: the time since the previous clock (or the start)
	now=$(date +%s)
	echo "   ($1: $((now - t0)) s)"
	t0=$now
}
t0=$(date +%s)
fresh() { # fresh DIR: an empty DIR (a failed distcheck leaves its tree read-only)
	{ [ ! -e "$1" ] || chmod -R u+w "$1"; } && rm -rf "$1" && mkdir -p "$1"
}
phase() { # phase NAME DIR CONFIGURE-ARGS...
	name=$1 dir=$2; shift 2
	echo "== $name"
	fresh "$dir" && cd "$dir" || return 1
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

# make distcheck from a configured out-of-tree build; its own build (in the
# dist tree, removed when it succeeds) keeps the test results in
# _build/results for the tally (installcheck-local in Makefile.am).
distcheck() {
	echo "== make distcheck (out of tree, read-only source): make check"
	fresh "$top/_build" && cd "$top/_build" || return 1
	if ! "$top/configure" -q >configure.out 2>&1; then
		cat configure.out; fail=$((fail+1)); cd "$top"; return 1
	fi
	# the contract check lives beside the checkout, not in the tarball
	[ -f "$top/../shared/contract/check.sh" ] &&
		FSR_CONTRACT_CHECK=${FSR_CONTRACT_CHECK:-$top/../shared/contract/check.sh} && export FSR_CONTRACT_CHECK
	timeout -k 10 1500 make -j"$jobs" distcheck FSR_RESULTS="$top/_build/results" >distcheck.out 2>&1
	st=$?
	grep -E '^(PASS|FAIL|SKIP|ERROR|XPASS):' distcheck.out
	before=$fail
	if [ -d results ]; then tally "$top/_build/results"; else tally "$top/_build"; fi
	if [ "$st" != 0 ] && [ "$fail" = "$before" ]; then
		# failed outside the tests (build, install, uninstall, distclean)
		tail -n 40 distcheck.out; echo "  FAIL make distcheck: see $top/_build/distcheck.out"
		fail=$((fail+1))
	fi
	cd "$top"
}

distcheck; clock distcheck
phase "ASan+UBSan build: make check (core, txfs)" "$top/_build-asan" --enable-sanitizers=asan; clock asan
phase "TSan build: make check (core)" "$top/_build-tsan" --enable-sanitizers=tsan; clock tsan
if [ -d "$top/_build" ] && command -v clang >/dev/null 2>&1; then
	echo "== fuzz-smoke"
	if (cd "$top/_build" && timeout -k 10 600 make fuzz-smoke FUZZ_SECONDS=${FUZZ_SECONDS:-20}) >"$top/_build/fuzz.out" 2>&1; then
		pass=$((pass+1)); echo "PASS: fuzz-smoke"
	else
		fail=$((fail+1)); echo "FAIL: fuzz-smoke"; tail -n 30 "$top/_build/fuzz.out"
	fi
	clock fuzz-smoke
fi
# the Debian packages, from the tarball distcheck made (dpkg -i last)
if command -v dpkg-buildpackage >/dev/null 2>&1; then
	echo "== debian: packages from the dist tarball"
	tarball=$(ls "$top"/_build/fsreclaim-*.tar.gz 2>/dev/null | head -n1)
	[ -n "$tarball" ] || { (cd "$top/_build" && make dist >dist.out 2>&1); tarball=$(ls "$top"/_build/fsreclaim-*.tar.gz 2>/dev/null | head -n1); }
	if [ -z "$tarball" ]; then
		fail=$((fail+1)); echo "FAIL: debian: no dist tarball"
	else
		timeout -k 10 600 sh "$top/tests/debian/packages.sh" "$tarball" "$top/_build-deb" >"$top/_build/debian.out" 2>&1
		st=$?
		cat "$top/_build/debian.out"
		p=$(grep -c '^PASS: debian' "$top/_build/debian.out") f=$(grep -c '^FAIL: debian' "$top/_build/debian.out")
		s=$(grep -c '^SKIP: debian' "$top/_build/debian.out")
		[ "$st" != 0 ] && [ "$f" = 0 ] && { f=1; echo "FAIL: debian: tests/debian/packages.sh status $st"; }
		pass=$((pass+p)) fail=$((fail+f)) skip=$((skip+s))
	fi
	clock debian
else
	fail=$((fail+1)); echo "FAIL: debian: dpkg-buildpackage is missing (.ci/deps)"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
