#!/bin/sh
# packages.sh TARBALL WORKDIR - the Debian packages, built and used the way
# a user gets them (run-tests.sh's phase "debian"):
#   1. unpack the `make dist` TARBALL in WORKDIR (dh configures in place) and
#      build: DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b (the
#      test suite already ran in make distcheck)
#   2. lintian --fail-on error (debian/*.lintian-overrides say why each
#      override is there)
#   3. each package holds what it should (fsreclaim: shim, runner, man 1 and
#      7; libfsreclaim-dev: header, .pc, man 3; txfs: txfs, man 8)
#   4. dpkg -x into a scratch root; from there, fsreclaim-run --opt
#      interval=1 -- txfs -f -o hazard=nofs-missing MNT with a small
#      workload: the report's kind and its SUMMARY frame in txfs's sources,
#      the shim mapped in the daemon is the scratch root's (/proc/PID/maps),
#      and a program builds against the scratch root's header
#   5. last, as root only: dpkg -i, the installed runner, man and pkg-config
#      find everything, dpkg -r
# Prints one PASS:/FAIL:/SKIP: line per step; exits 1 if any failed.
set -u
[ $# = 2 ] || { echo "usage: $0 TARBALL WORKDIR" >&2; exit 2; }
tarball=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
rm -rf "$2" && mkdir -p "$2" || exit 2
work=$(cd "$2" && pwd -P)
fail=0
t0=$(date +%s)
pass() { _t=$(date +%s); echo "PASS: debian: $* ($((_t - t0)) s)"; t0=$_t; }
bad() { echo "FAIL: debian: $*"; fail=1; }
# step NAME LOG CMD...: run CMD, its output to LOG; on failure show the tail
step() {
	_n=$1 _l=$2; shift 2
	if "$@" >"$_l" 2>&1; then return 0; fi
	tail -n 40 "$_l"; bad "$_n (see $_l)"; return 1
}

tar -xzf "$tarball" -C "$work" || { bad "cannot unpack $tarball"; exit 1; }
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n1)
. "$src/tests/lib/mount.sh"
version=$(basename "$src" | sed 's/^fsreclaim-//')
[ "$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)" = "$version" ] ||
	bad "debian/changelog's version is not the tarball's ($version)"

# 1, 2: build, lintian
(cd "$src" && step "dpkg-buildpackage" "$work/build.log" \
	env DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) || exit 1
pass "dpkg-buildpackage -us -uc -b"
step "lintian --fail-on error" "$work/lintian.log" lintian --fail-on error "$work"/fsreclaim_*.changes &&
	{ pass "lintian --fail-on error"; grep -E '^[EW]:' "$work/lintian.log"; }

# 3: contents
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
contents() { # contents PACKAGE PATH...: PACKAGE's .deb holds every PATH
	_d=$(ls "$work/$1"_*.deb 2>/dev/null | head -n1)
	[ -n "$_d" ] || { bad "no package $1"; return; }
	_p=$1; shift
	dpkg-deb -c "$_d" | awk '{ print $6 }' | sed 's|^\./|/|' >"$work/$_p.list"
	for _f in "$@"; do grep -qx "$_f" "$work/$_p.list" || bad "$_p lacks $_f"; done
}
n=$fail
contents fsreclaim /usr/bin/fsreclaim-run /usr/bin/fsreclaim-report "/usr/lib/$arch/libfsreclaim.so" \
	/usr/share/man/man1/fsreclaim-run.1.gz /usr/share/man/man1/fsreclaim-report.1.gz \
	/usr/share/man/man7/libfsreclaim.7.gz
contents libfsreclaim-dev /usr/include/fsreclaim.h "/usr/lib/$arch/pkgconfig/fsreclaim.pc" \
	/usr/share/man/man3/fsreclaim.3.gz
contents txfs /usr/bin/txfs /usr/share/man/man8/txfs.8.gz
[ "$fail" = "$n" ] && pass "package contents"

# 4: the unpacked packages, used
pkgs="fsreclaim txfs libfsreclaim-dev"
root=$work/root mnt=$work/mnt pid= installed=
# on every exit: no mount left, no package left installed by step 5
fsr_trap_exit 'fsr_cleanup "$mnt" $pid; [ -z "$installed" ] || dpkg -r $pkgs >/dev/null 2>&1'
mkdir -p "$root" "$mnt"
for p in fsreclaim txfs libfsreclaim-dev; do
	dpkg -x "$work/${p}_${version}_"*.deb "$root" || bad "dpkg -x $p"
done
run_scratch() {
	unset FSRECLAIM_LIB FSRECLAIM_OPTIONS LD_PRELOAD
	PATH=$root/usr/bin:$PATH fsreclaim-run --opt interval=1 --opt log_path="$work/report" \
		-- txfs -f -o hazard=nofs-missing "$mnt" 2>"$work/txfs.err" &
	pid=$!
	fsr_wait_mount "$mnt" "$pid" || { cat "$work/txfs.err"; bad "txfs from the scratch root did not mount"; return; }
	shim=$(awk '/libfsreclaim\.so/ { print $6 }' "/proc/$pid/maps" | sort -u)
	[ "$shim" = "$root/usr/lib/$arch/libfsreclaim.so" ] ||
		bad "the daemon maps the shim [$shim], not $root/usr/lib/$arch/libfsreclaim.so"
	WORKLOAD_CLIENTS=2 WORKLOAD_FILES=20 timeout 120 sh "$src/tests/workload.sh" "$mnt" >"$work/workload.log" 2>&1 ||
		{ cat "$work/workload.log"; bad "the workload failed on txfs from the scratch root"; }
	fsr_unmount "$mnt" "$pid" 300 || kill -9 "$pid"
	wait "$pid"; rc=$?; pid=
	[ "$rc" = 66 ] || bad "txfs exited $rc, expected 66 (reports printed)"
	log=$(ls "$work"/report.* 2>/dev/null | head -n1)
	[ -n "$log" ] || { cat "$work/txfs.err"; bad "no report file"; return; }
	first=$(grep -m1 -E '^==[0-9]+== ?fsreclaim: (ERROR|WARNING): ' "$log")
	case $first in
	*"WARNING: reclaim-lock-inversion"*|*"ERROR: reclaim-deadlock"*) ;;
	*) head -n 40 "$log"; bad "first report [$first], expected reclaim-lock-inversion or reclaim-deadlock" ;;
	esac
	kind=$(printf '%s\n' "$first" | sed -E 's/.*(ERROR|WARNING): ([a-z-]+).*/\2/')
	summary=$(grep -m1 "^SUMMARY: fsreclaim: $kind " "$log")
	frame=$(printf '%s\n' "$summary" | sed -nE "s/^SUMMARY: fsreclaim: $kind ([A-Za-z_][A-Za-z0-9_]*) ([a-z_]+\.c):[0-9]+\$/\1 \2/p")
	set -- $frame
	if [ -z "$frame" ] || [ ! -f "$src/fusefs/$2" ] || ! grep -q "^[a-z].*[ *]$1(" "$src/fusefs/$2"; then
		head -n 40 "$log"; bad "SUMMARY [$summary] does not name a function FILE:LINE of txfs's sources"
	fi
	# the header of libfsreclaim-dev, from the scratch root
	printf '#include <fsreclaim.h>\nint main(void) { memalloc_nofs_restore(memalloc_nofs_save()); return 0; }\n' >"$work/use.c"
	cc -I"$root/usr/include" -o "$work/use" "$work/use.c" && "$work/use" || bad "a program does not build against the scratch root's fsreclaim.h"
}
n=$fail
run_scratch
[ "$fail" = "$n" ] && pass "fsreclaim-run -- txfs -o hazard=nofs-missing from dpkg -x: $kind, $summary"

# 5: dpkg -i and dpkg -r, last, where we are root
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: debian: dpkg -i (not root)"
	exit "$fail"
fi
n=$fail
installed=1
if step "dpkg -i" "$work/dpkg-i.log" dpkg -i "$work"/fsreclaim_*.deb "$work"/txfs_*.deb "$work"/libfsreclaim-dev_*.deb; then
	[ "$(/usr/bin/fsreclaim-run --version)" = "fsreclaim-run $version" ] || bad "installed fsreclaim-run --version"
	/usr/bin/fsreclaim-run -- /usr/bin/txfs --help >/dev/null 2>&1 || bad "installed fsreclaim-run -- txfs --help"
	# (unless dpkg is told to leave man pages out, as slim images are)
	if ! grep -rqs '^path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d; then
		for m in fsreclaim-run.1 fsreclaim-report.1 libfsreclaim.7 fsreclaim.3 txfs.8; do
			man -w "${m%.*}" 2>/dev/null | grep -q "/man${m##*.}/$m.gz" || bad "man -w ${m%.*} does not find the installed page"
		done
	fi
	cc $(pkg-config --cflags fsreclaim) -o "$work/use2" "$work/use.c" || bad "pkg-config fsreclaim"
fi
step "dpkg -r" "$work/dpkg-r.log" dpkg -r $pkgs && installed=
for p in $pkgs; do
	[ "$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null)" = installed ] && bad "$p still installed after dpkg -r"
done
[ -e /usr/bin/fsreclaim-run ] && bad "/usr/bin/fsreclaim-run left after dpkg -r"
[ "$fail" = "$n" ] && pass "dpkg -i, installed files work, dpkg -r"
exit "$fail"
