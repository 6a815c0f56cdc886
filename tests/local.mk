# Tests.  Each area keeps its own fragment.
EXTRA_DIST += tests/bounded.sh
include tests/core.mk
include tests/txfs.mk
include tests/fuse.mk
include tests/hazard.mk
include tests/bench/local.mk
include tests/stress/local.mk
include tests/fuzz/local.mk
include tests/faults/local.mk
include tests/report.mk
include tests/man.mk
include tests/gfp.mk
include tests/locks/local.mk
include tests/replay/local.mk
include tests/output/local.mk
EXTRA_DIST += tests/shim_stub.c
include tests/libc/local.mk
