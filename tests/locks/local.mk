# Lock tracking's own defects (issue 11 items 10, 11, 16, 23): small
# programs under the shim, driven by tests/locks/locks.sh.
if !SANITIZED
LK_CFLAGS = $(AM_CFLAGS) -g -O1 -pthread -I$(top_srcdir)/preload
check_PROGRAMS += tests/locks/lk_timed tests/locks/lk_reuse
tests_locks_lk_timed_CFLAGS = $(LK_CFLAGS)
tests_locks_lk_timed_LDADD = -lpthread
tests_locks_lk_reuse_CFLAGS = $(LK_CFLAGS)
tests_locks_lk_reuse_LDADD = -lpthread
TESTS += tests/locks/locks.sh
endif
EXTRA_DIST += tests/locks/locks.sh
