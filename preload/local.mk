# The shim.  preload/libfsrcore.la is everything that does not interpose a libc or
# libfuse symbol: it links into the unit tests, which run under ASan/TSan.
# libfsreclaim.so adds the interposers (malloc family, pthread locks, libfuse).
SHIM_CFLAGS = -fvisibility=hidden -ftls-model=initial-exec -fno-plt -D_GNU_SOURCE -pthread

noinst_LTLIBRARIES += preload/libfsrcore.la
preload_libfsrcore_la_SOURCES = preload/fsr.h preload/util.c preload/options.c \
	preload/policy.c preload/pass.c preload/abandon.c preload/shrinker.c preload/scope.c \
	preload/out.c preload/threads.c preload/modules.c preload/modules.h preload/gfp.c \
	preload/replay.c preload/sarif.c preload/dot.c $(LOCK_CORE_SRCS) $(REPORT_SRCS)
preload_libfsrcore_la_CFLAGS = $(AM_CFLAGS) $(SHIM_CFLAGS) $(LIBDW_CFLAGS)
preload_libfsrcore_la_LIBADD = $(LIBDW_LIBS) $(LIBIBERTY_LIBS) -ldl -lpthread

if !SANITIZED
lib_LTLIBRARIES += preload/libfsreclaim.la
preload_libfsreclaim_la_SOURCES = preload/malloc.c preload/init.c preload/prctl.c preload/libcwrap.c preload/filelock.c preload/untracked.c $(LOCK_WRAP_SRCS) $(FUSE_SRCS)
preload_libfsreclaim_la_CFLAGS = $(AM_CFLAGS) $(SHIM_CFLAGS) $(FUSE3_CFLAGS)
preload_libfsreclaim_la_LIBADD = preload/libfsrcore.la $(LIBDW_LIBS) $(LIBIBERTY_LIBS) -ldl -lpthread
# libiberty is a static archive: its symbols stay inside the shim
preload_libfsreclaim_la_LDFLAGS = -module -avoid-version -shared -Wl,--exclude-libs,libiberty.a \
	-Wl,--version-script=$(top_srcdir)/preload/fsreclaim.map -Wl,-z,nodelete
EXTRA_preload_libfsreclaim_la_DEPENDENCIES = preload/fsreclaim.map
endif
EXTRA_DIST += preload/fsreclaim.map preload/fsreclaim-run.in

bin_SCRIPTS += preload/fsreclaim-run
CLEANFILES += preload/fsreclaim-run
preload/fsreclaim-run: $(top_srcdir)/preload/fsreclaim-run.in Makefile
	$(AM_V_GEN)mkdir -p preload && sed -e 's|@libdir[@]|$(libdir)|g' \
		-e 's|@bindir[@]|$(bindir)|g' -e 's|@VERSION[@]|$(VERSION)|g' \
		$(top_srcdir)/preload/fsreclaim-run.in > $@ && chmod +x $@

include preload/lock.mk
include preload/report.mk
include preload/fuse/local.mk

# the Linux-compat header, <fsreclaim/linux.h> (the .pc's -I covers it)
fsreclaimincdir = $(includedir)/fsreclaim
fsreclaiminc_HEADERS = preload/fsreclaim/linux.h
