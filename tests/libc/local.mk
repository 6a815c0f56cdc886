# The shim and libc's own critical sections (issue 11: items 1, 3, 4, 9,
# 12 and the report's quality): programs run under libfsreclaim.so.
if !SANITIZED
check_PROGRAMS += tests/libc/libc tests/libc/cxxreport tests/libc/cxxreport-stripped tests/libc/dbgfetch
check_LTLIBRARIES += tests/libc/ctorlib.la
tests_libc_ctorlib_la_SOURCES = tests/libc/ctorlib.c
tests_libc_ctorlib_la_CFLAGS = -g -O1 -Wall -pthread
tests_libc_ctorlib_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
tests_libc_libc_SOURCES = tests/libc/libc.c
tests_libc_libc_CFLAGS = -g -O1 -Wall -pthread -I$(top_srcdir)/preload
tests_libc_libc_LDFLAGS = -Wl,--export-dynamic
tests_libc_libc_LDADD = -ldl -lpthread
tests_libc_cxxreport_SOURCES = tests/libc/cxxreport.cc
tests_libc_cxxreport_CXXFLAGS = -g -O0 -Wall -pthread -I$(top_srcdir)/preload
tests_libc_cxxreport_LDADD = -lpthread
tests_libc_cxxreport_stripped_SOURCES = tests/libc/cxxreport.cc
tests_libc_cxxreport_stripped_CXXFLAGS = -O1 -Wall -pthread -I$(top_srcdir)/preload
tests_libc_cxxreport_stripped_LDFLAGS = -s
tests_libc_cxxreport_stripped_LDADD = -lpthread
tests_libc_dbgfetch_SOURCES = tests/libc/dbgfetch.c
tests_libc_dbgfetch_CFLAGS = -O1 -Wall -pthread -I$(top_srcdir)/preload
tests_libc_dbgfetch_LDFLAGS = -s
tests_libc_dbgfetch_LDADD = -lpthread
TESTS += tests/libc/libc.sh
endif
EXTRA_DIST += tests/libc/libc.sh tests/libc/debuginfod.py tests/libc/rpath_host.c tests/libc/rpath_plug.c tests/libc/nss_fsrtest.c tests/libc/chain3.c tests/libc/chain3lib.c
