# Core tests (issue 2).
#  tests/unit/check_unit: libfsrcore.la linked directly (not preloaded); also
#    built and run under --enable-sanitizers=asan|tsan; so is tests/unit/check_ledger.
#  tests/core/check_core: the shim preloaded (it re-executes itself under it);
#    with its helpers noshim (the header without the shim) and cxxnew (C++).
#  tests/core/runner.sh: fsreclaim-run from the build tree and a DESTDIR install.
#  tests/contract.sh: ../shared/contract/check.sh on a DESTDIR install.
EXTRA_DIST += tests/core/common.h tests/core/runner.sh tests/contract.sh

check_PROGRAMS += tests/unit/check_unit
tests_unit_check_unit_SOURCES = tests/unit/check_unit.c tests/shim_stub.c
tests_unit_check_unit_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -D_GNU_SOURCE -pthread
tests_unit_check_unit_LDADD = preload/libfsrcore.la $(CHECK_LIBS) -ldl -lpthread
tests_unit_check_unit_LDFLAGS = $(SAN_CFLAGS)
TESTS += tests/unit/check_unit
# tests/unit/check_ledger: the FUSE ledger (preload/fuse/ledger.c) on its own
check_PROGRAMS += tests/unit/check_ledger
tests_unit_check_ledger_SOURCES = tests/unit/check_ledger.c preload/fuse/ledger.c tests/shim_stub.c
tests_unit_check_ledger_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -D_GNU_SOURCE -pthread
tests_unit_check_ledger_LDADD = preload/libfsrcore.la $(CHECK_LIBS) -ldl -lpthread
tests_unit_check_ledger_LDFLAGS = $(SAN_CFLAGS)
TESTS += tests/unit/check_ledger

if !SANITIZED
check_PROGRAMS += tests/core/check_core tests/core/noshim tests/core/cxxnew
tests_core_check_core_SOURCES = tests/core/check_core.c tests/core/common.h
tests_core_check_core_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -O1 -fno-builtin -Wno-alloc-size-larger-than -pthread
tests_core_check_core_LDADD = $(CHECK_LIBS) -ldl -lpthread
tests_core_noshim_SOURCES = tests/core/noshim.c
tests_core_noshim_LDADD = -lpthread
tests_core_cxxnew_SOURCES = tests/core/cxxnew.cc
tests_core_cxxnew_CXXFLAGS = -std=c++17 -O1 -g -Wall
TESTS += tests/core/check_core tests/core/runner.sh tests/contract.sh
endif
