# Lock tracking's own defects (issue 11 items 10, 11, 16, 23): small
# programs under the shim, driven by tests/locks/locks.sh.
if !SANITIZED
LK_CFLAGS = $(AM_CFLAGS) -g -O1 -pthread -I$(top_srcdir)/preload
check_PROGRAMS += tests/locks/lk_timed tests/locks/lk_reuse tests/locks/lk_cxx tests/locks/lk_initwrap tests/locks/lk_memo
tests_locks_lk_timed_CFLAGS = $(LK_CFLAGS)
tests_locks_lk_timed_LDADD = -lpthread
tests_locks_lk_reuse_CFLAGS = $(LK_CFLAGS)
tests_locks_lk_reuse_LDADD = -lpthread
tests_locks_lk_initwrap_CFLAGS = $(LK_CFLAGS)
tests_locks_lk_initwrap_LDADD = -lpthread
tests_locks_lk_memo_CFLAGS = $(LK_CFLAGS)
tests_locks_lk_memo_LDADD = -lpthread
# lk_edges: the held stack's edge cases leave nothing held
check_PROGRAMS += tests/locks/lk_edges
tests_locks_lk_edges_CFLAGS = $(LK_CFLAGS)
tests_locks_lk_edges_LDADD = -lpthread
# lk_sigpush: a signal handler's lock between a push's stores and its count
check_PROGRAMS += tests/locks/lk_sigpush
tests_locks_lk_sigpush_CFLAGS = $(LK_CFLAGS)
tests_locks_lk_sigpush_LDADD = -lpthread
# lk_resolve: a busy mutex taken while the shim resolves its real functions
check_PROGRAMS += tests/locks/lk_resolve
tests_locks_lk_resolve_CFLAGS = $(LK_CFLAGS)
tests_locks_lk_resolve_LDADD = -ldl -lpthread
check_LTLIBRARIES += tests/locks/lk_resolve_lib.la
tests_locks_lk_resolve_lib_la_SOURCES = tests/locks/lk_resolve_lib.c
tests_locks_lk_resolve_lib_la_CFLAGS = -g -O1 -Wall -pthread
tests_locks_lk_resolve_lib_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
# as at -O0: std::mutex::lock and __gthread_mutex_lock stay calls (-fno-inline
# holds also when the configured CXXFLAGS add -O2 after these)
tests_locks_lk_cxx_SOURCES = tests/locks/lk_cxx.cc
tests_locks_lk_cxx_CPPFLAGS = -I$(top_srcdir)/preload
tests_locks_lk_cxx_CXXFLAGS = -std=c++17 -O0 -fno-inline -g -Wall -pthread
tests_locks_lk_cxx_LDADD = -lpthread
TESTS += tests/locks/locks.sh
endif
EXTRA_DIST += tests/locks/locks.sh
