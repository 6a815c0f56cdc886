#!/bin/sh
# runner.sh - fsreclaim-run from the build tree and from a DESTDIR install:
# --help, --version, --opt (repeatable, later wins), the exit status is the
# command's own, status 2 when no shim can be found.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
fail=0
ok() { echo "ok   $*"; }
no() { echo "FAIL $*"; fail=1; }
t=$(mktemp -d /tmp/fsr-runner.XXXXXX)
trap 'rm -rf "$t"' EXIT
unset FSRECLAIM_OPTIONS FSRECLAIM_LIB LD_PRELOAD

check_runner() {   # $1: runner, $2: where the shim must come from
	run=$1 where=$2
	out=$("$run" --help 2>&1); rc=$?
	[ $rc = 0 ] && echo "$out" | grep -q '^Usage: fsreclaim-run' && ok "$where: --help" || no "$where: --help: $rc $out"
	out=$("$run" --version 2>&1); rc=$?
	[ $rc = 0 ] && echo "$out" | grep -Eq '^fsreclaim-run [0-9]+\.[0-9]+' && ok "$where: --version ($out)" || no "$where: --version: $rc $out"
	# the shim it preloads comes from the expected place
	out=$("$run" -- sh -c 'echo "$LD_PRELOAD"' 2>&1)
	real=$(readlink -f "$out" 2>/dev/null)
	case $real in "$(readlink -f "$where")"/*libfsreclaim.so) ok "$where: preloads $out" ;; *) no "$where: preloads '$out'" ;; esac
	# the status is the command's own
	"$run" -- sh -c 'exit 7'; rc=$?
	[ $rc = 7 ] && ok "$where: exit status is the command's" || no "$where: status $rc, not 7"
	"$run" --opt stats=1 -- true 2>"$t/err"; rc=$?
	[ $rc = 0 ] && grep -Eq '^fsreclaim: stats: allocs=[0-9]+ reclaim_passes=[0-9]+ callbacks=[0-9]+ fs_ops=[0-9]+ hazards=[0-9]+( [a-z_]+=[0-9a-f]+)*$' "$t/err" \
		&& ok "$where: --opt stats=1" || no "$where: --opt stats=1: $rc $(cat "$t/err")"
	# --opt appends to FSRECLAIM_OPTIONS: later wins, and the inherited value is overridden
	out=$(FSRECLAIM_OPTIONS=interval=5 "$run" --opt stats=0 --opt=stats=1 -- sh -c 'echo "$FSRECLAIM_OPTIONS"' 2>/dev/null)
	[ "$out" = "interval=5:stats=0:stats=1" ] && ok "$where: --opt appends" || no "$where: FSRECLAIM_OPTIONS='$out'"
	FSRECLAIM_OPTIONS=stats=1 "$run" --opt stats=0 -- true 2>"$t/err"
	grep -q stats "$t/err" && no "$where: --opt did not override the inherited stats=1" || ok "$where: --opt overrides"
	# a bad --opt: status 2 naming the key, the command never runs
	"$run" --opt bogus=1 -- sh -c 'echo ran' >"$t/out" 2>"$t/err"; rc=$?
	[ $rc = 2 ] && grep -q bogus "$t/err" && ! grep -q ran "$t/out" && ok "$where: bad --opt: status 2" || no "$where: bad --opt: $rc $(cat "$t/err")"
	"$run" --opt novalue -- true 2>"$t/err"; rc=$?
	[ $rc = 2 ] && ok "$where: --opt without '='" || no "$where: --opt novalue: $rc"
	"$run" --bogus -- true 2>"$t/err"; rc=$?
	[ $rc = 2 ] && ok "$where: unknown runner option" || no "$where: --bogus: $rc"
	"$run" 2>"$t/err"; rc=$?
	[ $rc = 2 ] && ok "$where: no command" || no "$where: no command: $rc"
	# the command without '--' and with arguments that look like options
	out=$("$run" echo --opt x 2>&1)
	[ "$out" = "--opt x" ] && ok "$where: COMMAND without --" || no "$where: '$out'"
	# exitcode after a report; the preload reaches what the command execs
	"$run" --opt exitcode=66 -- sh -c "exec '$top_builddir/tests/core/check_core' --child imbalance" 2>"$t/err"; rc=$?
	[ $rc = 66 ] && grep -q 'scope-imbalance' "$t/err" && ok "$where: exitcode 66 after a report in an exec'd child" || no "$where: $rc $(cat "$t/err")"
	# a shim path LD_PRELOAD cannot carry (space, ':'): status 2 naming it, never a run without it
	local bad
	for bad in "$t/with space" "$t/with:colon"; do
		mkdir -p "$bad"; cp "$shim" "$bad/libfsreclaim.so"
		FSRECLAIM_LIB="$bad/libfsreclaim.so" "$run" -- sh -c 'echo ran' >"$t/out" 2>"$t/err"; rc=$?
		[ $rc = 2 ] && grep -qF "$bad/libfsreclaim.so" "$t/err" && ! grep -q ran "$t/out" &&
			ok "$where: shim path '$bad': status 2" ||
			no "$where: shim path '$bad': status $rc, out '$(cat "$t/out")' err '$(cat "$t/err")'"
	done
	# FSRECLAIM_LIB first
	out=$(FSRECLAIM_LIB="$shim" "$run" -- sh -c 'echo "$LD_PRELOAD"')
	[ "$out" = "$shim" ] && ok "$where: FSRECLAIM_LIB wins" || no "$where: FSRECLAIM_LIB ignored: '$out'"
}

shim=$top_builddir/preload/.libs/libfsreclaim.so
check_runner "$top_builddir/preload/fsreclaim-run" "$top_builddir/preload"

# a DESTDIR install
${MAKE:-make} -s -C "$top_builddir" install DESTDIR="$t/dest" >"$t/install.log" 2>&1 || { cat "$t/install.log"; no "make install DESTDIR"; exit 1; }
drun=$(find "$t/dest" -name fsreclaim-run -type f | head -n1)
[ -x "$drun" ] && ok "installed runner $drun" || no "no installed runner"
dlib=$(dirname "$(find "$t/dest" -name libfsreclaim.so | head -n1)")
check_runner "$drun" "$dlib"

# no shim anywhere: status 2 with a message, the command never runs
mkdir -p "$t/alone/bin"
sed -e "s|^\(.*\)\"[^\"]*/libfsreclaim.so\"; do|\1\"/nonexistent/libfsreclaim.so\"; do|" "$drun" >"$t/alone/bin/fsreclaim-run"
chmod +x "$t/alone/bin/fsreclaim-run"
libdir_cfg=$(sed -n 's/^libdir = //p' "$top_builddir/Makefile" | head -n1)
prefix_cfg=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile" | head -n1)
libdir_cfg=$(echo "$libdir_cfg" | sed "s|\${exec_prefix}|$prefix_cfg|")
if [ -f "$libdir_cfg/libfsreclaim.so" ]; then
	echo "SKIP part: fsreclaim is installed in $libdir_cfg, the runner would find it"
	cp "$drun" "$t/alone/bin/fsreclaim-run.orig"
else
	cp "$drun" "$t/alone/bin/fsreclaim-run"
fi
"$t/alone/bin/fsreclaim-run" -- sh -c 'echo ran' >"$t/out" 2>"$t/err"; rc=$?
[ $rc = 2 ] && [ -s "$t/err" ] && ! grep -q ran "$t/out" && ok "no shim: status 2 ($(cat "$t/err"))" || no "no shim: status $rc, out '$(cat "$t/out")' err '$(cat "$t/err")'"
FSRECLAIM_LIB=/nonexistent/libfsreclaim.so "$t/alone/bin/fsreclaim-run" -- true 2>/dev/null; rc=$?
[ $rc = 2 ] && ok "no shim, bad FSRECLAIM_LIB: status 2" || no "no shim, bad FSRECLAIM_LIB: status $rc"
exit $fail
