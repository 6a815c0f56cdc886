# The manual pages: lint-clean, installed, in step with the code
# (tests/man/pages.sh; codefacts asks the option and suppressions parsers).
check_PROGRAMS += tests/man/codefacts
tests_man_codefacts_SOURCES = tests/man/codefacts.c tests/shim_stub.c
tests_man_codefacts_CFLAGS = $(AM_CFLAGS) -D_GNU_SOURCE -pthread
tests_man_codefacts_LDADD = preload/libfsrcore.la -lpthread
if !SANITIZED
TESTS += tests/man/pages.sh
endif
EXTRA_DIST += tests/man/pages.sh
