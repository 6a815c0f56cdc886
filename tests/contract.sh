#!/bin/sh
# contract.sh - the outside contract check (../shared/contract/check.sh, kept
# next to the project) on a DESTDIR install of this build.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
check=${FSR_CONTRACT_CHECK:-$top_srcdir/../shared/contract/check.sh}
if [ ! -f "$check" ]; then
	echo "SKIP: $check does not exist (the contract check lives beside the project checkout)"
	exit 77
fi
t=$(mktemp -d /tmp/fsr-contract.XXXXXX)
trap 'rm -rf "$t"' EXIT
unset FSRECLAIM_OPTIONS FSRECLAIM_LIB LD_PRELOAD
${MAKE:-make} -s -C "$top_builddir" install DESTDIR="$t/dest" >"$t/install.log" 2>&1 || { cat "$t/install.log"; echo "FAIL: make install DESTDIR"; exit 1; }
# check.sh runs cc itself against the installed header; give it the prefix
bash "$check" "$t/dest"
