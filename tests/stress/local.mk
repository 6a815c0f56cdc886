# make stress: long randomized runs of txfs under the shim (not in make check,
# which runs a 10-second smoke of the same script: tests/stress/smoke.sh).
EXTRA_DIST += tests/stress/stress.sh tests/stress/client.py tests/stress/smoke.sh
if !SANITIZED
TESTS += tests/stress/smoke.sh
endif
stress: all
	top_builddir=$(abs_top_builddir) top_srcdir=$(abs_top_srcdir) $(top_srcdir)/tests/stress/stress.sh
.PHONY: stress
