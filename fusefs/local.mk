# txfs, the mounted test filesystem (fusefs/).
bin_PROGRAMS += fusefs/txfs
fusefs_txfs_SOURCES = fusefs/txfs.h fusefs/txfs.c fusefs/ops.c fusefs/tree.c \
	fusefs/cache.c fusefs/journal.c fusefs/replay.c fusefs/shrink.c fusefs/util.c
fusefs_txfs_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
fusefs_txfs_LDADD = $(FUSE3_LIBS) -lpthread
# exported symbols: the shim names our functions and locks in its reports
fusefs_txfs_LDFLAGS = -rdynamic
EXTRA_DIST += fusefs/README.md
# the same txfs linked as a non-PIE executable, for tests/gfp/txfs-nopie.sh
# (fsreclaim.h must reach the shim there too)
if !SANITIZED
check_PROGRAMS += fusefs/txfs-nopie
fusefs_txfs_nopie_SOURCES = $(fusefs_txfs_SOURCES)
fusefs_txfs_nopie_CFLAGS = $(fusefs_txfs_CFLAGS) -fno-pie
fusefs_txfs_nopie_LDADD = $(fusefs_txfs_LDADD)
fusefs_txfs_nopie_LDFLAGS = -rdynamic -no-pie
endif
