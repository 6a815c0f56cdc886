# Fuzzing (issue 6): libFuzzer targets for the options parser, the
# suppressions parser and txfs's journal replay, built with clang straight
# from the sources (not the shim).  `make fuzz-smoke` runs each for FUZZ_SECONDS (default 20) on
# its seed corpus (tests/fuzz/corpus/TARGET, committed); new inputs go to
# tests/fuzz/work/TARGET in the build tree, crashes to
# tests/fuzz/artifacts/.  A crash is fixed and its input copied to
# tests/fuzz/regressions/TARGET/; `make check` replays corpus and
# regressions with a gcc-built driver (no libFuzzer needed).
FUZZ_SECONDS = 20
FUZZ_CLANG = clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -DPACKAGE_VERSION='"$(PACKAGE_VERSION)"' -pthread -std=gnu11 \
	-I$(top_srcdir)/preload $(LIBDW_CFLAGS)
# the parsers reach into the rest of the core (replay= keys, the kind
# table): the targets build the whole of libfsrcore's sources, one list
FUZZ_CORE_SRCS = $(filter %.c,$(preload_libfsrcore_la_SOURCES))
FUZZ_CORE_LIBS = $(LIBDW_LIBS) $(LIBIBERTY_LIBS) -ldl
FUZZ_OPTIONS_SRCS = tests/fuzz/fuzz_options.c tests/shim_stub.c $(FUZZ_CORE_SRCS)
FUZZ_SUPPRESSIONS_SRCS = tests/fuzz/fuzz_suppressions.c tests/shim_stub.c $(FUZZ_CORE_SRCS)
TXFS_CORE_SRCS = fusefs/replay.c fusefs/tree.c fusefs/cache.c fusefs/journal.c \
	fusefs/shrink.c fusefs/util.c
FUZZ_JOURNAL_SRCS = tests/fuzz/fuzz_journal.c $(TXFS_CORE_SRCS)
FUZZ_TARGETS = tests/fuzz/fuzz_options tests/fuzz/fuzz_suppressions tests/fuzz/fuzz_journal
FUZZ_HDRS = $(top_srcdir)/preload/fsr.h $(top_srcdir)/preload/fsreclaim.h $(top_srcdir)/preload/symbols.h

tests/fuzz/fuzz_options: $(FUZZ_OPTIONS_SRCS:%=$(top_srcdir)/%) $(FUZZ_HDRS)
	$(AM_V_CC)mkdir -p tests/fuzz && $(FUZZ_CLANG) $(FUZZ_FLAGS) -o $@ \
		$(FUZZ_OPTIONS_SRCS:%=$(top_srcdir)/%) $(FUZZ_CORE_LIBS)
tests/fuzz/fuzz_suppressions: $(FUZZ_SUPPRESSIONS_SRCS:%=$(top_srcdir)/%) $(FUZZ_HDRS)
	$(AM_V_CC)mkdir -p tests/fuzz && $(FUZZ_CLANG) $(FUZZ_FLAGS) -o $@ \
		$(FUZZ_SUPPRESSIONS_SRCS:%=$(top_srcdir)/%) $(FUZZ_CORE_LIBS)

tests/fuzz/fuzz_journal: $(FUZZ_JOURNAL_SRCS:%=$(top_srcdir)/%) $(top_srcdir)/fusefs/txfs.h $(FUZZ_HDRS)
	$(AM_V_CC)mkdir -p tests/fuzz && $(FUZZ_CLANG) $(FUZZ_FLAGS) -I$(top_srcdir)/fusefs $(FUSE3_CFLAGS) \
		-o $@ $(FUZZ_JOURNAL_SRCS:%=$(top_srcdir)/%)

fuzz-build: $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_TARGETS)
	@set -e; for t in options suppressions journal; do \
		mkdir -p tests/fuzz/work/$$t tests/fuzz/artifacts; \
		echo "fuzz-smoke: $$t for $(FUZZ_SECONDS) s"; \
		ASAN_OPTIONS=detect_leaks=1 ./tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			-timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/artifacts/$$t- \
			tests/fuzz/work/$$t $(top_srcdir)/tests/fuzz/corpus/$$t 2>tests/fuzz/$$t.fuzz.log \
		|| { tail -n 60 tests/fuzz/$$t.fuzz.log; \
		     echo "fuzz-smoke: $$t crashed: fix it, then copy the input from tests/fuzz/artifacts/ to $(top_srcdir)/tests/fuzz/regressions/$$t/"; \
		     exit 1; }; \
		grep -E '^stat::number_of_executed_units|^Done' tests/fuzz/$$t.fuzz.log || true; \
	done

fuzz-clean:
	rm -rf tests/fuzz/work tests/fuzz/artifacts tests/fuzz/*.fuzz.log $(FUZZ_TARGETS)

.PHONY: fuzz-smoke fuzz-build fuzz-clean
CLEANFILES += $(FUZZ_TARGETS)

# make check: replay corpus and regressions through the same targets (gcc)
check_PROGRAMS += tests/fuzz/replay_options tests/fuzz/replay_suppressions
tests_fuzz_replay_options_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_options.c tests/shim_stub.c
tests_fuzz_replay_options_CFLAGS = $(AM_CFLAGS) -D_GNU_SOURCE -pthread
tests_fuzz_replay_options_LDADD = preload/libfsrcore.la -lpthread
tests_fuzz_replay_suppressions_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_suppressions.c tests/shim_stub.c
tests_fuzz_replay_suppressions_CFLAGS = $(AM_CFLAGS) -D_GNU_SOURCE -pthread
tests_fuzz_replay_suppressions_LDADD = preload/libfsrcore.la -lpthread
check_PROGRAMS += tests/fuzz/replay_journal
tests_fuzz_replay_journal_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_journal.c $(TXFS_CORE_SRCS)
tests_fuzz_replay_journal_CFLAGS = $(AM_CFLAGS) -D_GNU_SOURCE -pthread -I$(top_srcdir)/fusefs $(FUSE3_CFLAGS)
tests_fuzz_replay_journal_LDADD = -lpthread
TESTS += tests/fuzz/replay.sh
EXTRA_DIST += tests/fuzz/replay.sh tests/fuzz/corpus tests/fuzz/regressions
