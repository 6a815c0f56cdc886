# Mounted tests of reclaim into the FUSE ops, the reply interposition, and
# fs-reentry.  The scripts get top_builddir/top_srcdir from
# AM_TESTS_ENVIRONMENT and run under tests/bounded.sh.
# they preload the shim, which a sanitizer build does not have
if !SANITIZED
TESTS += tests/fuse/replies.sh tests/fuse/selfcall.sh tests/fuse/ctxcheck.sh tests/fuse/lockfs.sh tests/fuse/mounted.sh \
	tests/fuse/devfd.sh
endif
EXTRA_DIST += tests/fuse/replies.sh tests/fuse/selfcall.sh tests/fuse/ctxcheck.sh tests/fuse/lockfs.sh tests/fuse/mounted.sh \
	tests/fuse/devfd.sh
check_PROGRAMS += tests/fuse/selfcall tests/fuse/ctxcheck tests/fuse/lockfs tests/fuse/devfd_mount
tests_fuse_devfd_mount_SOURCES = tests/fuse/devfd_mount.c
tests_fuse_selfcall_SOURCES = tests/fuse/selfcall.c
tests_fuse_selfcall_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
tests_fuse_selfcall_LDADD = $(FUSE3_LIBS) -lpthread
tests_fuse_ctxcheck_SOURCES = tests/fuse/ctxcheck.c
tests_fuse_ctxcheck_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
tests_fuse_ctxcheck_LDADD = $(FUSE3_LIBS) -lpthread
tests_fuse_lockfs_SOURCES = tests/fuse/lockfs.c
tests_fuse_lockfs_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
tests_fuse_lockfs_LDADD = $(FUSE3_LIBS) -lpthread
