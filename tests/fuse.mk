# Mounted tests of reclaim into the FUSE ops, the reply interposition, and
# fs-reentry.  The scripts get top_builddir/top_srcdir from
# AM_TESTS_ENVIRONMENT and run under tests/bounded.sh.
# they preload the shim, which a sanitizer build does not have
if !SANITIZED
TESTS += tests/fuse/replies.sh tests/fuse/selfcall.sh tests/fuse/ctxcheck.sh tests/fuse/lockfs.sh tests/fuse/mounted.sh \
	tests/fuse/asyncll.sh tests/fuse/fuse317.sh tests/fuse/devfd.sh tests/fuse/forkown.sh tests/fuse/wire.sh tests/fuse/wire_daemons.sh tests/fuse/wire_splice.sh tests/fuse/wire_bundled.sh tests/fuse/reach.sh tests/fuse/mounted_wire.sh \
	tests/fuse/badargs.sh tests/fuse/hlpath.sh tests/fuse/wire_static.sh tests/fuse/wire_selfmount.sh tests/fuse/wire_strace.sh tests/fuse/wire_badinput.sh tests/fuse/wire_dirplus.sh tests/fuse/wire_gluster.sh tests/fuse/wire_forgetbatch.sh \
	tests/fuse/condfs.sh \
	tests/fuse/notifylock.sh
# libfuse2's high level: its test daemons are built only with libfuse2's headers
if HAVE_FUSE2
TESTS += tests/fuse/pathfs2.sh tests/fuse/flushhelper2.sh tests/fuse/cancel2.sh
endif
endif
EXTRA_DIST += tests/fuse/replies.sh tests/fuse/selfcall.sh tests/fuse/ctxcheck.sh tests/fuse/lockfs.sh tests/fuse/mounted.sh \
	tests/fuse/asyncll.sh tests/fuse/fuse317.sh tests/lib/libfuse317.sh tests/lib/tree.sh tests/lib/wire.sh tests/fuse/devfd.sh tests/fuse/forkown.sh \
	tests/fuse/wire.sh tests/fuse/wire_daemons.sh tests/fuse/wire_splice.sh tests/fuse/wire_bundled.sh tests/fuse/callout.c tests/fuse/reach.sh tests/fuse/mounted_wire.sh \
	tests/fuse/rt_fusepy.py tests/fuse/rt_pyfuse3.py tests/fuse/rt_fuse.pl tests/fuse/badargs.sh tests/fuse/hlpath.sh \
	tests/lib/wirerun.sh tests/fuse/wire_static.sh tests/fuse/wire_selfmount.sh tests/fuse/wire_strace.sh tests/fuse/wire_decode.py tests/fuse/wire_badinput.sh tests/fuse/wire_dirplus.sh tests/fuse/wire_gluster.sh tests/fuse/wire_forgetbatch.sh \
	tests/fuse/condfs.sh \
	tests/fuse/notifylock.sh tests/fuse/pathfs2.sh tests/fuse/flushhelper2.sh tests/fuse/cancel2.sh
check_PROGRAMS += tests/fuse/selfcall tests/fuse/ctxcheck tests/fuse/lockfs tests/fuse/asyncll tests/fuse/devfd_mount \
	tests/fuse/rawfs tests/fuse/badargs
# rawfs: a daemon that speaks /dev/fuse itself, as Rust's fuser does (wire.sh)
tests_fuse_rawfs_SOURCES = tests/fuse/rawfs.c
tests_fuse_rawfs_CFLAGS = $(AM_CFLAGS) -pthread
tests_fuse_rawfs_LDADD = -lpthread
tests_fuse_badargs_SOURCES = tests/fuse/badargs.c
check_PROGRAMS += tests/fuse/hlpath
tests_fuse_hlpath_SOURCES = tests/fuse/hlpath.c
tests_fuse_hlpath_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS)
tests_fuse_hlpath_LDADD = $(FUSE3_LIBS)
tests_fuse_badargs_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -Wno-nonnull
tests_fuse_badargs_LDADD = $(FUSE3_LIBS)
tests_fuse_devfd_mount_SOURCES = tests/fuse/devfd_mount.c
tests_fuse_selfcall_SOURCES = tests/fuse/selfcall.c
tests_fuse_selfcall_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
tests_fuse_selfcall_LDADD = $(FUSE3_LIBS) -lpthread
tests_fuse_ctxcheck_SOURCES = tests/fuse/ctxcheck.c tests/lib/hldir.h
tests_fuse_ctxcheck_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
tests_fuse_ctxcheck_LDADD = $(FUSE3_LIBS) -lpthread
tests_fuse_lockfs_SOURCES = tests/fuse/lockfs.c tests/lib/condlock.h tests/lib/hldir.h
tests_fuse_lockfs_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
tests_fuse_lockfs_LDADD = $(FUSE3_LIBS) -lpthread
# the low-level daemons' session and root directory (tests/lib/lldaemon.h)
LLDAEMON = tests/lib/lldaemon.c tests/lib/lldaemon.h tests/lib/condlock.h
# condfs: a low-level daemon whose lock no tracker sees (condfs.sh)
check_PROGRAMS += tests/fuse/condfs
tests_fuse_condfs_SOURCES = tests/fuse/condfs.c $(LLDAEMON)
tests_fuse_condfs_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
tests_fuse_condfs_LDADD = $(FUSE3_LIBS) -lpthread
tests_fuse_asyncll_SOURCES = tests/fuse/asyncll.c $(LLDAEMON)
tests_fuse_asyncll_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
tests_fuse_asyncll_LDADD = $(FUSE3_LIBS) -lpthread
# notifylock: INVAL_INODE sent under a mutex the ops take (notifylock.sh)
check_PROGRAMS += tests/fuse/notifylock
tests_fuse_notifylock_SOURCES = tests/fuse/notifylock.c tests/fuse/notifylock_updater.h $(LLDAEMON)
tests_fuse_notifylock_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
tests_fuse_notifylock_LDADD = $(FUSE3_LIBS) -lpthread
# ll2fs: a libfuse2 low-level passthrough that checks its own lookup counts
# (mounted.sh runs it where the shim has libfuse2 support)
if HAVE_FUSE2
check_PROGRAMS += tests/fuse/ll2fs
tests_fuse_ll2fs_SOURCES = tests/fuse/ll2fs.c
tests_fuse_ll2fs_CFLAGS = $(AM_CFLAGS) $(FUSE2_CFLAGS)
tests_fuse_ll2fs_LDADD = $(FUSE2_LIBS)
check_PROGRAMS += tests/fuse/hlpath2
tests_fuse_hlpath2_SOURCES = tests/fuse/hlpath.c
tests_fuse_hlpath2_CFLAGS = $(AM_CFLAGS) $(FUSE2_CFLAGS) -DHLPATH_FUSE2
tests_fuse_hlpath2_LDADD = $(FUSE2_LIBS)
# pathfs2: a libfuse2 high-level daemon whose files all have fh 0 (pathfs2.sh)
check_PROGRAMS += tests/fuse/pathfs2
tests_fuse_pathfs2_SOURCES = tests/fuse/pathfs2.c
tests_fuse_pathfs2_CFLAGS = $(AM_CFLAGS) $(FUSE2_CFLAGS) -pthread
tests_fuse_pathfs2_LDADD = $(FUSE2_LIBS) -lpthread
# notifylock2: notifylock on libfuse2's high level (notifylock.sh)
check_PROGRAMS += tests/fuse/notifylock2
tests_fuse_notifylock2_SOURCES = tests/fuse/notifylock2.c tests/fuse/notifylock_updater.h
tests_fuse_notifylock2_CFLAGS = $(AM_CFLAGS) $(FUSE2_CFLAGS) -pthread
tests_fuse_notifylock2_LDADD = $(FUSE2_LIBS) -lpthread
# cancel2: libfuse2's high level driven in-process, replies failed as for interrupted requests (cancel2.sh)
check_PROGRAMS += tests/fuse/cancel2
tests_fuse_cancel2_SOURCES = tests/fuse/cancel2.c
tests_fuse_cancel2_CFLAGS = $(AM_CFLAGS) $(FUSE2_CFLAGS)
tests_fuse_cancel2_LDADD = $(FUSE2_LIBS)
endif
# make soak: the mounted daemon tests in a loop under stress-ng (not in make check)
EXTRA_DIST += tests/fuse/soak.sh
soak: all $(check_PROGRAMS) $(check_LTLIBRARIES)
	top_builddir=$(abs_top_builddir) top_srcdir=$(abs_top_srcdir) $(top_srcdir)/tests/fuse/soak.sh
.PHONY: soak
