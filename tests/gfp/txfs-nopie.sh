#!/bin/sh
# txfs-nopie.sh - txfs linked -no-pie (fusefs/txfs-nopie) under the shim:
# hazard=none is clean and nofs-missing is still found.  With the header's
# old weak reference to fsr_api, a non-PIE txfs never reached the shim (its
# scopes dropped) and hazard=none gave false reclaim-deadlock ERRORs.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
bin=$top_builddir/fusefs/txfs-nopie
readelf -h "$bin" | grep -q 'Type: *EXEC' || { echo "FAIL: $bin is not a non-PIE executable"; exit 1; }
SHIM_MODES_TXFS=$bin HAZARDS="none nofs-missing" SHIM_MODES=handoff exec sh "$top_srcdir/tests/txfs/shim-modes.sh"
