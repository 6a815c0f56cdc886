# Hazard detection: small multi-threaded programs, each with one hazard
# (or none), driven by tests/hazard/hazards.sh; lockdep_test drives lock.c
# and graph.c directly (also in the sanitizer builds).
check_PROGRAMS += tests/hazard/lockdep_test
tests_hazard_lockdep_test_SOURCES = tests/hazard/lockdep_test.c tests/shim_stub.c
tests_hazard_lockdep_test_CFLAGS = $(AM_CFLAGS) -D_GNU_SOURCE -pthread -I$(top_srcdir)/preload
tests_hazard_lockdep_test_LDADD = preload/libfsrcore.la -lpthread
TESTS += tests/hazard/lockdep_test
if !SANITIZED
HZ_CFLAGS = $(AM_CFLAGS) -g -O1 -pthread -I$(top_srcdir)/preload
check_PROGRAMS += tests/hazard/hz_table tests/hazard/hz_cycle3 tests/hazard/hz_sync \
	tests/hazard/hz_stress tests/hazard/hz_nofs tests/hazard/hz_inode tests/hazard/hz_io
check_PROGRAMS += tests/hazard/hz_shortlived
tests_hazard_hz_shortlived_CFLAGS = $(HZ_CFLAGS)
tests_hazard_hz_shortlived_LDADD = -lpthread
TESTS += tests/hazard/shortlived.sh
EXTRA_DIST += tests/hazard/shortlived.sh
tests_hazard_hz_table_CFLAGS = $(HZ_CFLAGS)
tests_hazard_hz_table_LDADD = -lpthread
tests_hazard_hz_cycle3_CFLAGS = $(HZ_CFLAGS)
tests_hazard_hz_cycle3_LDADD = -lpthread
tests_hazard_hz_sync_CFLAGS = $(HZ_CFLAGS)
tests_hazard_hz_sync_LDADD = -lpthread
tests_hazard_hz_stress_CFLAGS = $(HZ_CFLAGS)
tests_hazard_hz_stress_LDADD = -lpthread
tests_hazard_hz_nofs_CFLAGS = $(HZ_CFLAGS)
tests_hazard_hz_nofs_LDADD = -lpthread
tests_hazard_hz_inode_CFLAGS = $(HZ_CFLAGS)
tests_hazard_hz_inode_LDADD = -lpthread
tests_hazard_hz_io_CFLAGS = $(HZ_CFLAGS)
tests_hazard_hz_io_LDADD = -lpthread
TESTS += tests/hazard/hazards.sh
endif
EXTRA_DIST += tests/hazard/hazards.sh
