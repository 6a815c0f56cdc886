#!/bin/sh
# Replay the fuzz seed corpus and every regression input (crashes found by
# `make fuzz-smoke`) through the parsers, without libFuzzer.
b=${top_builddir:-.}
s=${top_srcdir:-.}
fail=0
for t in options suppressions journal; do
	"$b/tests/fuzz/replay_$t" "$s/tests/fuzz/corpus/$t" "$s/tests/fuzz/regressions/$t" || fail=1
done
exit $fail
