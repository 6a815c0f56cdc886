# Faults the shim must survive (issue 6).
if !SANITIZED
check_PROGRAMS += tests/faults/faults tests/faults/robust
tests_faults_faults_CFLAGS = $(AM_CFLAGS) -O1 -pthread
tests_faults_faults_LDADD = -lpthread
# issue 11: never crash, hang or mislead (one scenario per defect)
# -fexceptions: condlock-cleanup's cleanup runs on a forced unwind
tests_faults_robust_SOURCES = tests/faults/robust.c tests/lib/condlock.h
tests_faults_robust_CFLAGS = $(AM_CFLAGS) -O1 -pthread -fexceptions
tests_faults_robust_LDADD = -lpthread
# the same in C++: destructors run on the forced unwind of an abandoned callback
check_PROGRAMS += tests/faults/robust_cxx
tests_faults_robust_cxx_SOURCES = tests/faults/robust_cxx.cc
tests_faults_robust_cxx_CPPFLAGS = -I$(top_srcdir)/preload
tests_faults_robust_cxx_CXXFLAGS = -std=c++17 -O1 -g -Wall -pthread
tests_faults_robust_cxx_LDADD = -lpthread
TESTS += tests/faults/faults.sh tests/faults/txfs-faults.sh tests/faults/robust.sh
endif
EXTRA_DIST += tests/faults/faults.sh tests/faults/txfs-faults.sh tests/faults/robust.sh
