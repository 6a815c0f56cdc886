# tests/bench tests
# lock microbenchmark (make bench runs tests/bench/locks.sh)
if !SANITIZED
check_PROGRAMS += tests/bench/lock_bench
tests_bench_lock_bench_CFLAGS = $(AM_CFLAGS) -O2 -pthread
tests_bench_lock_bench_LDADD = -lpthread
endif
# For the lead's bench target.  Automake rejects `+=` before `=`, and
# treats *_SCRIPTS as a primary (wants BENCHdir): enable this line once
# BENCH_SCRIPTS is defined (e.g. `BENCH_SCRIPTS =` with `BENCHdir =` or
# `noinst_`-style naming) ahead of the include of this file.
#BENCH_SCRIPTS += tests/bench/locks.sh
EXTRA_DIST += tests/bench/locks.sh
