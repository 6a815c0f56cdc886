#!/bin/sh
# libfuse317.sh - a private build of libfuse 3.17.2 (Debian trixie's) for
# tests/fuse/fuse317.sh: this machine's libfuse3 is older, and 3.17's entry
# points (fuse_session_new_versioned, _fuse_new_31, ...) are only bound by
# daemons built against 3.17.  Nothing is installed system-wide.
#
#   libfuse317.sh fetch    download Debian's source tarball (md5-checked,
#                          bounded) into the cache, unless it is there
#   libfuse317.sh build    build and install the library, its headers and
#                          the sources of the examples the test builds into
#                          the cache (meson + ninja), unless done already
#   libfuse317.sh prefix   print the install prefix (the test's LD_LIBRARY_PATH
#                          is PREFIX/lib)
#   libfuse317.sh check    exit 0 if the build is there
#
# The cache is $FSR_CACHE, else /var/cache/fsreclaim (where .ci/ensure-deps,
# run as root, puts it), else ~/.cache/fsreclaim when /var/cache is not
# writable.  Commands can be combined: `libfuse317.sh fetch build`.
set -u
VER=3.17.2
MD5=55c21312d50b20190807bf053a08c558
URL=http://deb.debian.org/debian/pool/main/f/fuse3/fuse3_$VER.orig.tar.gz

if [ -n "${FSR_CACHE:-}" ]; then
	CACHE=$FSR_CACHE
elif [ -e /var/cache/fsreclaim/libfuse-$VER/.fsr-built ] || { mkdir -p /var/cache/fsreclaim 2>/dev/null &&
	[ -w /var/cache/fsreclaim ]; }; then
	CACHE=/var/cache/fsreclaim
else
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/fsreclaim
fi
TARBALL=$CACHE/fuse3_$VER.orig.tar.gz
PREFIX=$CACHE/libfuse-$VER
STAMP=$PREFIX/.fsr-built

md5_ok() { [ -f "$1" ] && [ "$(md5sum < "$1" | cut -d' ' -f1)" = "$MD5" ]; }

fetch() {
	md5_ok "$TARBALL" && return 0
	mkdir -p "$CACHE" || return 1
	tmp=$TARBALL.part.$$
	echo "libfuse317: downloading $URL"
	if command -v curl >/dev/null 2>&1; then
		timeout -k 5 180 curl -fsSL --retry 2 -o "$tmp" "$URL"
	elif command -v wget >/dev/null 2>&1; then
		timeout -k 5 180 wget -q -O "$tmp" "$URL"
	else
		timeout -k 5 180 python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$URL" "$tmp"
	fi
	if ! md5_ok "$tmp"; then
		echo "libfuse317: download of $URL failed or its md5 is not $MD5" >&2
		rm -f "$tmp"
		return 1
	fi
	mv "$tmp" "$TARBALL"
}

# one meson build, about 10 s on 2 cores; installed with DESTDIR and moved
# into place, so a half-done build is never taken for a finished one
build() {
	[ -f "$STAMP" ] && return 0
	md5_ok "$TARBALL" || { echo "libfuse317: $TARBALL is missing (run: $0 fetch)" >&2; return 1; }
	for p in meson ninja gcc; do
		command -v $p >/dev/null 2>&1 || { echo "libfuse317: $p is not installed (.ci/deps)" >&2; return 1; }
	done
	mkdir -p "$CACHE" || return 1
	exec 9> "$CACHE/.libfuse317.lock"
	flock 9                       # another build may be finishing
	[ -f "$STAMP" ] && return 0
	W=$(mktemp -d "$CACHE/build.XXXXXX") || return 1
	echo "libfuse317: building libfuse $VER into $PREFIX"
	if ! (
		set -e
		tar xzf "$TARBALL" -C "$W"
		S=$W/fuse-$VER
		# no utils (fusermount3 is the system's), no tests, no setuid install
		meson setup "$W/b" "$S" --prefix="$PREFIX" --libdir=lib --buildtype=debugoptimized \
			-Dexamples=false -Dutils=false -Dtests=false -Duseroot=false -Dinitscriptdir= > "$W/setup.log" 2>&1
		ninja -C "$W/b" > "$W/ninja.log" 2>&1
		DESTDIR=$W/dest ninja -C "$W/b" install > "$W/install.log" 2>&1
		D=$W/dest$PREFIX
		mkdir -p "$D/share/examples"
		cp "$S/example/passthrough_ll.c" "$S/example/passthrough.c" "$S/example/passthrough_helpers.h" \
			"$D/share/examples/"
		echo "libfuse $VER md5 $MD5" > "$D/.fsr-built"
		rm -rf "$PREFIX"
		mv "$D" "$PREFIX"
	); then
		echo "libfuse317: the build failed; logs:" >&2
		tail -n 20 "$W"/*.log >&2 2>/dev/null
		rm -rf "$W"
		return 1
	fi
	rm -rf "$W"
}

[ $# -gt 0 ] || { sed -n '2,19p' "$0"; exit 2; }
for cmd in "$@"; do
	case $cmd in
	fetch) fetch || exit 1 ;;
	build) build || exit 1 ;;
	prefix) echo "$PREFIX" ;;
	check) [ -f "$STAMP" ] || exit 1 ;;
	*) echo "libfuse317: unknown command $cmd" >&2; exit 2 ;;
	esac
done
exit 0
