# GFP masks and the exported names (issue 12): tests/gfp/.
#  check_gfp: current_gfp_context against Linux's table (libfsrcore.la).
#  shapes.sh: fsreclaim.h in PIE, non-PIE, shared-library and C++ programs.
#  exports.sh: the exported names by dlsym (exports_dlsym) and Python ctypes.
#  gfp_passes: which shrinkers run for each mask and scope (under the shim).
#  gfpfs.sh: which FUSE-op callbacks each mask gets (gfpfs, mounted).
#  kdaemon.sh: a kernel-style daemon on <fsreclaim/linux.h>, a bug per kind.
#  txfs-nopie.sh: txfs linked -no-pie under the shim.
check_PROGRAMS += tests/gfp/check_gfp
tests_gfp_check_gfp_SOURCES = tests/gfp/check_gfp.c tests/shim_stub.c
tests_gfp_check_gfp_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -D_GNU_SOURCE -pthread
tests_gfp_check_gfp_LDADD = preload/libfsrcore.la $(CHECK_LIBS) -ldl -lpthread
tests_gfp_check_gfp_LDFLAGS = $(SAN_CFLAGS)
TESTS += tests/gfp/check_gfp
EXTRA_DIST += tests/gfp/shape.c tests/gfp/shape_main.c tests/gfp/shapes.sh \
	tests/gfp/exports.sh tests/gfp/exports.py tests/gfp/kdaemon.sh tests/gfp/passes.sh tests/gfp/txfs-nopie.sh \
	tests/gfp/gfpfs.sh
if !SANITIZED
check_PROGRAMS += tests/gfp/exports_dlsym tests/gfp/gfp_passes tests/gfp/kdaemon tests/gfp/gfpfs
tests_gfp_gfpfs_SOURCES = tests/gfp/gfpfs.c tests/lib/hldir.h
tests_gfp_gfpfs_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
tests_gfp_gfpfs_LDADD = $(FUSE3_LIBS) -lpthread
tests_gfp_exports_dlsym_CFLAGS = $(AM_CFLAGS) -O1 -g -pthread
tests_gfp_exports_dlsym_LDADD = -ldl -lpthread
tests_gfp_gfp_passes_CFLAGS = $(AM_CFLAGS) -O1 -g -pthread
tests_gfp_gfp_passes_LDADD = -lpthread
tests_gfp_kdaemon_CFLAGS = $(AM_CFLAGS) -O1 -g -pthread
tests_gfp_kdaemon_LDADD = -lpthread
tests_gfp_kdaemon_LDFLAGS = -rdynamic
TESTS += tests/gfp/shapes.sh tests/gfp/exports.sh tests/gfp/passes.sh tests/gfp/kdaemon.sh tests/gfp/txfs-nopie.sh \
	tests/gfp/gfpfs.sh
endif
