#!/bin/sh
# shapes.sh - fsreclaim.h in a PIE program, a non-PIE program, a shared
# library and C++ (tests/gfp/shape.c built each way with $CC/$CXX): with the
# shim preloaded the calls reach it, without it they are no-ops.  Before the
# header looked the shim up with dlsym, the non-PIE shape never reached it
# (its weak reference to fsr_api is resolved to 0 at link time).
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
shim=$top_builddir/preload/.libs/libfsreclaim.so
src=$top_srcdir/tests/gfp
inc="-I$top_srcdir/preload"
t=$(mktemp -d /tmp/fsr-shapes.XXXXXX)
trap 'rm -rf "$t"' EXIT
unset FSRECLAIM_OPTIONS LD_PRELOAD
cc=${CC:-cc} cxx=${CXX:-c++}
$cc -O1 -g -fPIE -pie $inc "$src/shape.c" -o "$t/pie" || exit 1
$cc -O1 -g -fno-pie -no-pie $inc "$src/shape.c" -o "$t/nopie" || exit 1
$cc -O1 -g -fPIC -shared -DSHAPE_LIB $inc "$src/shape.c" -o "$t/libshape.so" || exit 1
$cc -O1 -g -fno-pie -no-pie "$src/shape_main.c" -L"$t" -lshape -Wl,-rpath,"$t" -o "$t/so" || exit 1
$cxx -O1 -g -x c++ -std=c++17 $inc "$src/shape.c" -o "$t/cxx" || exit 1
# the non-PIE program really is one (no PIE flag in its dynamic section)
readelf -d "$t/nopie" | grep -q 'FLAGS_1.*PIE' && { echo "FAIL: nopie was linked as PIE"; exit 1; }
fail=0
for s in pie nopie so cxx; do
	out=$(FSRECLAIM_OPTIONS=interval=1:mode=inline LD_PRELOAD=$shim "$t/$s" shim 2>&1); rc=$?
	[ $rc = 0 ] && echo "ok $s with the shim: $out" || { echo "FAIL $s with the shim (status $rc): $out"; fail=1; }
	out=$("$t/$s" noshim 2>&1); rc=$?
	[ $rc = 0 ] && echo "ok $s without the shim: $out" || { echo "FAIL $s without the shim (status $rc): $out"; fail=1; }
done
# installed: <fsreclaim.h> and <fsreclaim/linux.h> through the .pc's Cflags
${MAKE:-make} -s -C "$top_builddir" install-includeHEADERS install-fsreclaimincHEADERS \
	install-pkgconfigDATA DESTDIR="$t/dest" >"$t/install.log" 2>&1 || { cat "$t/install.log"; echo "FAIL: header install"; exit 1; }
pc=$(find "$t/dest" -name fsreclaim.pc | head -n1)
cflags=$(PKG_CONFIG_SYSROOT_DIR="$t/dest" PKG_CONFIG_LIBDIR=$(dirname "$pc") pkg-config --cflags fsreclaim)
printf '%s\n' '#include <fsreclaim/linux.h>' \
	'int main(void) { struct shrinker *s = shrinker_alloc(0, "x"); shrinker_free(s);' \
	'  kfree(kmalloc(8, GFP_NOFS)); return current_gfp_context(GFP_KERNEL) != GFP_KERNEL; }' >"$t/inst.c"
if $cc $cflags "$t/inst.c" -o "$t/inst" && $cxx -x c++ $cflags "$t/inst.c" -o "$t/inst-cxx" && "$t/inst" && "$t/inst-cxx"; then
	echo "ok: installed fsreclaim/linux.h builds (C, C++) with pkg-config's flags ($cflags)"
else
	echo "FAIL: installed fsreclaim/linux.h with '$cflags'"; fail=1
fi
exit $fail
