#!/bin/sh
# fsreclaim-run says, before running, when COMMAND is something the shim
# cannot reach: a fully static binary (LD_PRELOAD ignored) or a Go binary
# (stand-in: an ELF with a .go.buildinfo section, which every Go binary
# has); an ordinary dynamic program and a script get no note.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
RUN=$top_builddir/preload/fsreclaim-run
T=$(mktemp -d /tmp/fsr-reach.XXXXXX) || exit 99
trap 'rm -rf "$T"' EXIT
fail=0
FAIL() { echo "FAIL: $*"; fail=1; }
command -v readelf > /dev/null || { echo "FAIL: readelf (binutils) is missing"; exit 1; }
echo 'int main(void) { return 0; }' > "$T/m.c"
printf '%s\n' 'const char buildinfo[16] __attribute__((section(".go.buildinfo"), used)) = "\377 Go buildinf:";' \
	'int main(void) { return 0; }' > "$T/g.c"
gcc -static "$T/m.c" -o "$T/static" || FAIL "cannot link statically (libc6-dev's libc.a)"
gcc "$T/g.c" -o "$T/gobin" && gcc "$T/m.c" -o "$T/dyn" || FAIL "cannot build"
printf '#!/bin/sh\nexit 0\n' > "$T/script"; chmod +x "$T/script"
out=$("$RUN" -- "$T/static" 2>&1) || FAIL "static: exit $?"
echo "$out" | grep -q "linked fully statically" || FAIL "static: no note: $out"
out=$("$RUN" -- "$T/gobin" 2>&1) || FAIL "gobin: exit $?"
echo "$out" | grep -q "is a Go binary" || FAIL "gobin: no note: $out"
for p in dyn script; do
	out=$("$RUN" -- "$T/$p" 2>&1) || FAIL "$p: exit $?"
	echo "$out" | grep -q "fsreclaim-run:" && FAIL "$p: a note for a reachable program: $out"
done
[ $fail = 0 ] && echo PASS
exit $fail
