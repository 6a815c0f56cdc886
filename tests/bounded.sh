#!/bin/sh
# Test driver wrapper: run one test with a hard time bound (TEST_TIMEOUT,
# default 300 s).  A test that hangs is killed and counted as a failure
# (status 124 from timeout(1) is not 77, so automake reports FAIL).
t=${TEST_TIMEOUT:-300}
timeout -k 10 "$t" "$@"
rc=$?
[ $rc = 124 ] && echo "HANG: $* did not finish in $t s" >&2
exit $rc
