# Reports: unit tests of report.c/stack.c/symbols.c against the core
# library, the JSON check, and a preloaded end-to-end run.
check_PROGRAMS += tests/report/report_test
tests_report_report_test_SOURCES = tests/report/report_test.c tests/shim_stub.c
tests_report_report_test_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -D_GNU_SOURCE -pthread \
	-O1 -fno-inline -fno-ipa-icf -fno-optimize-sibling-calls -fno-omit-frame-pointer
tests_report_report_test_LDADD = preload/libfsrcore.la $(CHECK_LIBS) -lpthread
TESTS += tests/report/report_test tests/report/json.sh
EXTRA_DIST += tests/report/json.sh tests/report/e2e.sh

if !SANITIZED
# programs run under the shim: built against fsreclaim.h only
check_PROGRAMS += tests/report/imbalance tests/report/slowshrink
tests_report_imbalance_SOURCES = tests/report/imbalance.c
tests_report_imbalance_CFLAGS = -g -O1 -Wall
tests_report_slowshrink_SOURCES = tests/report/slowshrink.c
tests_report_slowshrink_CFLAGS = -g -O1 -Wall
TESTS += tests/report/e2e.sh
endif
