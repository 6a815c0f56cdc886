#!/bin/sh
# Faults the shim must survive (issue 6), each time-bounded: no hang, no
# crash of the shim, the outcome checked.  txfs faults (daemon killed in a
# pass, exec of fusermount3) are in tests/faults/txfs-faults.sh.
set -u
: "${top_builddir:?}"
prog=$top_builddir/tests/faults/faults
run=$top_builddir/preload/fsreclaim-run
tmp=$(mktemp -d /tmp/fsr-faults.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok   $*"; }
no() { echo "FAIL $*"; fail=1; }

# 1. killed in the middle of a pass (both modes, three signals)
for mode in handoff inline; do
	for sig in KILL TERM INT; do
		rm -f "$tmp/in-pass"
		"$run" --opt interval=1 --opt mode=$mode -- "$prog" slowpass "$tmp/in-pass" 2>"$tmp/err" &
		p=$!
		i=0; while [ ! -e "$tmp/in-pass" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
		[ -e "$tmp/in-pass" ] || no "$mode/$sig: the pass never started"
		kill -s $sig $p
		i=0; while kill -0 $p 2>/dev/null && [ $i -lt 60 ]; do sleep 0.05; i=$((i+1)); done
		if kill -0 $p 2>/dev/null; then no "$mode/SIG$sig mid-pass: still alive after 3 s"; kill -9 $p; else ok "$mode/SIG$sig mid-pass: the process ended at once"; fi
		wait $p 2>/dev/null
	done
done

# 2. threads that exit inside a scope or holding a tracked lock
for mode in handoff inline; do
	timeout 60 "$run" --opt interval=1 --opt mode=$mode --opt json_path="$tmp/te" -- "$prog" thread-exit >"$tmp/out" 2>&1; rc=$?
	if [ $rc = 66 ] && grep -q '"kind" *: *"scope-leak"' "$tmp"/te.* && ! grep -Eq 'reclaim-deadlock|reclaim-wait-timeout' "$tmp/out"; then
		ok "$mode: thread exits in a scope (scope-leak) and holding a lock: status 66, no false deadlock"
	else
		no "$mode: thread-exit: status $rc"; cat "$tmp/out"
	fi
	rm -f "$tmp"/te.*
done

# 3. fork inside a callback, and fork while other threads are in passes
for mode in handoff inline; do
	for what in fork-callback fork-threads; do
		timeout 120 "$run" --opt interval=10 --opt mode=$mode -- "$prog" $what >"$tmp/out" 2>&1; rc=$?
		[ $rc = 0 ] && ok "$mode: $what" || { no "$mode: $what: status $rc"; cat "$tmp/out"; }
	done
done

# 4. the real allocator returns NULL: ENOMEM passes through
timeout 60 "$run" --opt interval=1 -- "$prog" enomem >"$tmp/out" 2>&1; rc=$?
[ $rc = 0 ] && ok "real allocator NULL: ENOMEM to the caller" || { no "enomem: status $rc"; cat "$tmp/out"; }

# 5. 1,000,000 live lock instances: lock tracking under 64 MiB resident
n=${LOCKS:-1000000}
plain=$(timeout 120 "$prog" locks $n | sed -n 's/rss_kib=//p')
shim=$(timeout 120 "$run" --opt interval=0 -- "$prog" locks $n | sed -n 's/rss_kib=//p')
if [ -n "$plain" ] && [ -n "$shim" ]; then
	extra=$(( (shim - plain) / 1024 ))
	echo "     $n live locks: RSS plain $((plain/1024)) MiB, under the shim $((shim/1024)) MiB: lock tracking +$extra MiB"
	[ $extra -lt 64 ] && ok "1M lock instances: +$extra MiB < 64 MiB" || no "1M lock instances: +$extra MiB"
else
	no "locks: no RSS figure (plain '$plain', shim '$shim')"
fi
exit $fail
