# Faults the shim must survive (issue 6).
if !SANITIZED
check_PROGRAMS += tests/faults/faults
tests_faults_faults_CFLAGS = $(AM_CFLAGS) -O1 -pthread
tests_faults_faults_LDADD = -lpthread
TESTS += tests/faults/faults.sh tests/faults/txfs-faults.sh
endif
EXTRA_DIST += tests/faults/faults.sh tests/faults/txfs-faults.sh
