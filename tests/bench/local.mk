# Benchmarks (not timed tests).  `make bench` builds the bench programs and
# runs every script in BENCH_SCRIPTS; other fragments append to
# BENCH_SCRIPTS (sources, run with $(SHELL)) and bench_programs (built
# first; list them in EXTRA_PROGRAMS too).  The scripts get top_builddir
# and top_srcdir in the environment.
# BENCH_SCRIPTS is an automake primary: it needs a BENCHdir, which is empty
# so that nothing is ever installed (automake skips an empty directory).
BENCHdir =
BENCH_SCRIPTS = tests/bench/malloc.sh
bench_programs = tests/bench/malloc_bench$(EXEEXT)
EXTRA_PROGRAMS = tests/bench/malloc_bench
tests_bench_malloc_bench_SOURCES = tests/bench/malloc_bench.c
tests_bench_malloc_bench_CFLAGS = -O2 -g -pthread
tests_bench_malloc_bench_LDADD = -ldl -lpthread
EXTRA_DIST += tests/bench/malloc.sh tests/bench/fs.sh
CLEANFILES += tests/bench/malloc_bench$(EXEEXT)

bench: all $(bench_programs)
	@st=0; for s in $(BENCH_SCRIPTS); do \
		echo "== $$s"; \
		top_builddir=$(abs_top_builddir) top_srcdir=$(abs_top_srcdir) \
			$(SHELL) $(abs_top_srcdir)/$$s || st=1; \
	done; exit $$st
.PHONY: bench
# lock microbenchmark (make bench runs tests/bench/locks.sh); forward.c is
# the forwarding preload both micro benchmarks measure beside the shim
if !SANITIZED
check_PROGRAMS += tests/bench/lock_bench
bench_programs += tests/bench/lock_bench$(EXEEXT)
tests_bench_lock_bench_CFLAGS = $(AM_CFLAGS) -O2 -pthread
tests_bench_lock_bench_LDADD = -lpthread
endif
BENCH_SCRIPTS += tests/bench/locks.sh
EXTRA_DIST += tests/bench/locks.sh tests/bench/forward.c
# instructions per iteration under callgrind (run by hand: needs valgrind)
EXTRA_DIST += tests/bench/icount.sh
# file-system throughput through FUSE (passthrough_ll and txfs)
BENCH_SCRIPTS += tests/bench/fuse.sh tests/bench/txfs.sh
EXTRA_DIST += tests/bench/fuse.sh tests/bench/txfs.sh
# lock-heavy daemons at default options (fuse-overlayfs, libfuse's passthrough)
BENCH_SCRIPTS += tests/bench/overlayfs.sh
EXTRA_DIST += tests/bench/overlayfs.sh
# the fs-reentry check's cost (stat() inside a FUSE op)
BENCH_SCRIPTS += tests/bench/reentry.sh
bench_programs += tests/bench/reentry_bench$(EXEEXT)
EXTRA_PROGRAMS += tests/bench/reentry_bench
tests_bench_reentry_bench_SOURCES = tests/bench/reentry_bench.c
tests_bench_reentry_bench_CFLAGS = -O2 -g $(FUSE3_CFLAGS) -pthread
tests_bench_reentry_bench_LDADD = $(FUSE3_LIBS) -lpthread
EXTRA_DIST += tests/bench/reentry.sh
CLEANFILES += tests/bench/reentry_bench$(EXEEXT)
# read/write of fds that are not /dev/fuse under the shim (the wire's fd test)
BENCH_SCRIPTS += tests/bench/rw.sh tests/bench/fuse_wire.sh tests/bench/mergerfs.sh
bench_programs += tests/bench/rw_bench$(EXEEXT)
EXTRA_PROGRAMS += tests/bench/rw_bench
tests_bench_rw_bench_SOURCES = tests/bench/rw_bench.c
tests_bench_rw_bench_CFLAGS = -O2 -g
tests_bench_rw_bench_LDADD = -ldl
EXTRA_DIST += tests/bench/rw.sh tests/bench/fuse_wire.sh tests/bench/mergerfs.sh
CLEANFILES += tests/bench/rw_bench$(EXEEXT)
