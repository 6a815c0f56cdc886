# txfs tests (tests/txfs/): POSIX behaviour, durability, journal corruption
# and the standard workload, all without the shim.
TXFS_TESTS = tests/txfs/posix.sh tests/txfs/durability.sh \
	tests/txfs/corrupt.sh tests/txfs/workload-check.sh tests/txfs/modes.sh
TESTS += $(TXFS_TESTS)
check_PROGRAMS += tests/txfs/posix
tests_txfs_posix_SOURCES = tests/txfs/posix.c
EXTRA_DIST += $(TXFS_TESTS) tests/txfs/lib.sh tests/lib/mount.sh tests/workload.sh

# txfs under the shim: every hazard mode in both pass modes (needs the shim,
# so not in a sanitizer build).
if !SANITIZED
TESTS += tests/txfs/shim-modes.sh
endif
EXTRA_DIST += tests/txfs/shim-modes.sh
