#!/bin/sh
# The shim never reclaims inside libc's critical sections nor waits for
# libc from a report (issue 11: items 1, 3, 4, 9, 12, report quality).
set -u
b=${top_builddir:-.}
s=${top_srcdir:-.}
shim=${FSR_SHIM:-$b/preload/.libs/libfsreclaim.so}   # FSR_SHIM: another build, for before/after
prog=$b/tests/libc/libc
[ -f "$shim" ] || { echo "FAIL: no shim at $shim"; exit 1; }
d=$(mktemp -d) || exit 99
srvs=
trap 'kill $srvs 2>/dev/null; rm -rf "$d"' EXIT
fail=0
ok() { echo "ok   $*"; }
no() { echo "FAIL $*"; fail=1; }
export LIBC_TEST_DIR="$b/tests/libc"
run() { # run OPTIONS ARGS...: output to $d/out, status $rc, seconds $secs
	o=$1; shift
	t0=$(date +%s%N)
	timeout 60 env FSRECLAIM_OPTIONS="$o" LD_PRELOAD="$shim" "$@" >"$d/out" 2>&1
	rc=$?
	secs=$(( ($(date +%s%N) - t0) / 1000000000 ))
}
# serve ARGS...: start a fake debuginfod (tests/libc/debuginfod.py ARGS) and
# wait until it listens: its pid in $srv (killed at exit too), its URL in $url
nsrv=0
serve() {
	nsrv=$((nsrv + 1))
	python3 "$s/tests/libc/debuginfod.py" "$@" >"$d/srv$nsrv" &
	srv=$! srvs="$srvs $!"
	i=0; while ! grep -q listening "$d/srv$nsrv" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
	url=http://127.0.0.1:$(sed -n 's/^listening //p' "$d/srv$nsrv")
}

# item 1: an inversion report while another thread is inside dlopen
for i in 1 2 3; do
	run "interval=0" "$prog" hang
	if [ $rc = 66 ] && grep -q '^hang: done' "$d/out" && grep -q 'reclaim-lock-inversion' "$d/out"; then
		ok "hang run $i: the report did not wait for the loader (${secs}s)"
	else
		no "hang run $i: status $rc: $(cat "$d/out")"
		break
	fi
done

# a lock's first acquisition while another thread is inside dlopen
run "interval=0" "$prog" firstlock
[ $rc = 0 ] && grep -q '^firstlock: done' "$d/out" && ok "first acquisition of a heap lock does not ask the loader" \
	|| no "firstlock: status $rc: $(cat "$d/out")"

# the dlopen wrapper keeps the caller's search path (DT_RUNPATH $ORIGIN)
mkdir -p "$d/rp/plug"
if ${CC:-cc} -shared -fPIC -o "$d/rp/plug/librpathplug.so" "$s/tests/libc/rpath_plug.c" &&
   ${CC:-cc} -shared -fPIC -o "$d/rp/librpathhost.so" "$s/tests/libc/rpath_host.c" \
	-Wl,--enable-new-dtags,-rpath,'$ORIGIN/plug' -ldl; then
	run "interval=1" "$prog" rpath "$d/rp"
	[ $rc = 0 ] && grep -q '^rpath: plugin value 42' "$d/out" && ok "dlopen by bare name through the calling library's RUNPATH" \
		|| no "rpath: status $rc: $(cat "$d/out")"
else
	no "rpath: cannot build the test libraries"
fi

# item 1's precision: an NSS module libc loads by itself (no dlopen the
# shim sees) allocates under getpwnam's lock: counted, never passed
mkdir -p "$d/nss"
if ${CC:-cc} -shared -fPIC -g -O1 -I"$s/preload" -o "$d/nss/libnss_fsrtest.so.2" "$s/tests/libc/nss_fsrtest.c"; then
	for mode in inline handoff; do
		run "interval=1:mode=$mode" env LD_LIBRARY_PATH="$d/nss" "$prog" nss
		got=$(sed -n 's/^nss: uid 4242 4242, passes inside the module \([0-9]*\), by the program \([0-9]*\)$/\1 \2/p' "$d/out")
		if [ $rc = 66 ] && [ -n "$got" ] && [ "${got% *}" = 0 ] && [ "${got#* }" -gt 0 ] &&
		   grep -qE '^    #[0-9]+ 0x[0-9a-f]+ in _nss_fsrtest_getpwnam_r .*nss_fsrtest\.c:[0-9]+$' "$d/out"; then
			ok "$mode: no pass inside an NSS module libc loaded itself (${got#* } passes by the program); its frames named after the table's refresh"
		else
			no "$mode: nss: status $rc: $(cat "$d/out")"
		fi
	done
else
	no "nss: cannot build the test module"
fi

# item 3: a shrinker logging to the FILE whose buffer glibc allocates
for mode in handoff inline; do
	run "interval=1:mode=$mode" "$prog" stdio "$d/log"
	n=$(sed -n 's/^stdio: shrinker wrote \([0-9]*\) lines/\1/p' "$d/out")
	got=$(grep -c '^shrinker ' "$d/log" 2>/dev/null)
	if [ $rc = 0 ] && [ $secs -lt 4 ] && ! grep -q reclaim-wait-timeout "$d/out" &&
	   grep -q '^main line$' "$d/log" && [ -n "$n" ] && [ "$got" = "$n" ]; then
		ok "$mode: no pass under the FILE lock: no stall, no false timeout, all $n shrinker lines and the main line kept"
	else
		no "$mode: stdio: status $rc, ${secs}s, shrinker said $n lines, file has $got: $(cat "$d/out") // $(cat "$d/log" 2>/dev/null)"
	fi
done

# item 4: a pass triggered inside dlopen (a constructor allocates)
run "interval=1" "$prog" dlopen
if [ $rc = 66 ] && [ $secs -lt 4 ] && ! grep -q reclaim-wait-timeout "$d/out" &&
   grep -q 'WARNING: reclaim-lock-inversion' "$d/out" && grep -q 'the_lock' "$d/out" && grep -q '^dlopen: done' "$d/out"; then
	ok "no pass inside dlopen; the inversion is found after it, on the reclaimer (${secs}s)"
else
	no "dlopen: status $rc ${secs}s: $(cat "$d/out")"
fi

# item 12: no signal of the shim's; the program's SIGRTMAX-1 handler stays
run "interval=1:times=1:timeout_ms=100" "$prog" sigrt
if [ $rc = 66 ] && grep -q 'ERROR: reclaim-wait-timeout' "$d/out" && grep -q '^sigrt: handler kept, nanosleep not interrupted' "$d/out"; then
	ok "own SIGRTMAX-1 handler kept, nanosleep in the callback not interrupted"
else
	no "sigrt: status $rc: $(cat "$d/out")"
fi

# item 9: DEBUGINFOD_URLS at a server that never answers
serve --silent --touch "$d/accepted"    # accepts, says so, never answers
export DEBUGINFOD_URLS="$url" DEBUGINFOD_CACHE_PATH="$d/cache"
# a stripped program: no debug info anywhere, libdw would ask debuginfod
run "" "$b/tests/libc/cxxreport-stripped"
if [ $rc = 66 ] && [ $secs -lt 5 ] && grep -q 'scope-imbalance' "$d/out" && grep -q '^libdebuginfod not mapped' "$d/out"; then
	ok "debuginfod=0 (default): no libdebuginfod in the process, report in ${secs}s"
else
	no "debuginfod: status $rc ${secs}s: $(cat "$d/out")"
fi
rm -rf "$d/cache"
run "debuginfod=1" "$b/tests/libc/cxxreport-stripped"
if [ $rc = 66 ] && [ $secs -lt 20 ] && grep -q 'scope-imbalance' "$d/out" && grep -q '^libdebuginfod mapped' "$d/out"; then
	ok "debuginfod=1: libdebuginfod used, the silent server costs ${secs}s (bounded)"
else
	no "debuginfod=1: status $rc ${secs}s: $(cat "$d/out")"
fi
# while one thread's report waits for that server, another thread's
# allocation and report go on (the fetch is made outside every lock)
rm -rf "$d/cache" "$d/accepted"
run "debuginfod=1" env DBGFETCH_FLAG="$d/accepted" "$b/tests/libc/dbgfetch"
if [ $rc = 66 ] && grep -q '^B: allocation and report in' "$d/out" &&
   grep -q '^A: report in .*, the other thread.s was done before it$' "$d/out" &&
   [ "$(grep -c 'WARNING: scope-imbalance' "$d/out")" = 2 ]; then
	ok "debuginfod=1: another thread's report is not held by a fetch ($(grep '^[AB]:' "$d/out" | tr '\n' ' '))"
else
	no "debuginfod=1 fetch outside the locks: status $rc: $(cat "$d/out")"
fi
# a server that has the program's debug info, and answers 1 s late: the
# file is used by the report that fetched it, also when the other
# thread's report read the objects without it meanwhile
if ${CC:-cc} -g -O1 -pthread -I"$s/preload" -Wl,--build-id -o "$d/dbgfull" "$s/tests/libc/dbgfetch.c" &&
   objcopy --only-keep-debug "$d/dbgfull" "$d/dbg.debug" && strip -o "$d/dbgstripped" "$d/dbgfull"; then
	# the other thread reports meanwhile, without the file
	serve --debuginfo "$d/dbg.debug" --delay 1 --touch "$d/asked"
	rm -rf "$d/cache"
	DEBUGINFOD_URLS=$url run "debuginfod=1" env DBGFETCH_FLAG="$d/asked" "$d/dbgstripped"
	kill $srv 2>/dev/null
	if [ $rc = 66 ] && grep -qE '^    #0 0x[0-9a-f]+ in restore_a .*dbgfetch\.c:[0-9]+$' "$d/out"; then
		ok "debuginfod=1: the file fetched while another report was made names the stripped program's frames"
	else
		no "debuginfod=1 fetched file: status $rc: $(cat "$d/out")"
	fi
else
	no "cannot build the stripped program and its debug file"
fi
# a reclaim-deadlock through a third thread: that thread's code is in a
# stripped library of its own, whose debug info only the server has; the
# report names its waiting stack and the site of the lock it holds by
# file:line, so its module was fetched before the report's locks too
if ${CC:-cc} -shared -fPIC -g -O1 -pthread -Wl,--build-id -o "$d/libchain3full.so" "$s/tests/libc/chain3lib.c" &&
   objcopy --only-keep-debug "$d/libchain3full.so" "$d/chain3.debug" && strip -o "$d/libchain3.so" "$d/libchain3full.so" &&
   ${CC:-cc} -g -O1 -pthread -I"$s/preload" -o "$d/chain3" "$s/tests/libc/chain3.c" -L"$d" -lchain3 -Wl,-rpath,"$d" &&
   id3=$(readelf -n "$d/libchain3.so" | sed -n 's/^ *Build ID: *//p') && [ -n "$id3" ]; then
	serve --debuginfo "$d/chain3.debug" --buildid "$id3"
	rm -rf "$d/cache"
	DEBUGINFOD_URLS=$url run "debuginfod=1:interval=1" "$d/chain3"
	kill $srv 2>/dev/null
	third=$(sed -n '/^  thread [0-9]* holds lock_b and blocks on lock_a:$/,/^$/p' "$d/out")
	hold=$(grep -n 'MARK: chain3 holds' "$s/tests/libc/chain3lib.c" | cut -d: -f1)
	blk=$(grep -n 'MARK: chain3 blocks' "$s/tests/libc/chain3lib.c" | cut -d: -f1)
	if [ $rc = 66 ] && grep -q '^chain3: done' "$d/out" && grep -q 'ERROR: reclaim-deadlock' "$d/out" &&
	   ! grep -q 'reclaim-lock-inversion' "$d/out" &&
	   echo "$third" | grep -qE "^    #0 0x[0-9a-f]+ in chain3_hold_then_wait .*chain3lib\.c:$blk\$" &&
	   own=$(sed -n '/^  locks held by the allocating thread:$/,/^  [^ ]/p' "$d/out" | grep '^    #') &&
	   [ "$(echo "$own" | grep -c .)" = 1 ] && echo "$own" | grep -q '^    #0 lock_a ' &&
	   grep -qE "^    #0 lock_b \(class [0-9]+\) held by thread [0-9]+, taken at chain3_hold_then_wait chain3lib\.c:$hold\$" "$d/out"; then
		ok "debuginfod=1: a deadlock's third thread (stack and lock site in a stripped library) named from the fetched file; lock_b listed as the third thread's, not the allocator's"
	else
		no "debuginfod=1 third thread of a deadlock chain: status $rc: $(cat "$d/out")"
	fi
else
	no "cannot build the deadlock chain's program, its stripped library and debug file"
fi
unset DEBUGINFOD_URLS DEBUGINFOD_CACHE_PATH

# report quality: an inversion closed on the reclaimer shows the locks the
# allocator holds, where it took them, and names that instance
site=$(grep -n 'MARK: allocator takes L' "$s/tests/libc/libc.c" | cut -d: -f1)
run "interval=1" "$prog" reclaimer
held=$(sed -n '/^  locks held by the allocating thread:/,/^=====/p' "$d/out" | grep '^    #')
if [ $rc = 66 ] && grep -q '^lock lock_l is held at an allocation' "$d/out" && [ "$(echo "$held" | grep -c .)" = 1 ] &&
   echo "$held" | grep -qE "^    #0 lock_l \(class [0-9]+\) taken at alloc_under_l libc\.c:$site\$"; then
	ok "reclaimer's inversion: only the allocator's lock_l, taken at libc.c:$site"
else
	no "reclaimer's inversion: status $rc: $(cat "$d/out")"
fi

run "interval=1" "$prog" instance
held=$(sed -n 's/^instance: held \(0x[0-9a-f]*\) first.*/\1/p' "$d/out")
if [ $rc = 66 ] && [ -n "$held" ] && grep -q "^lock lock@$held is held at an allocation" "$d/out" &&
   sed -n '/^  locks held by the allocating thread:/,/^=====/p' "$d/out" | grep -q "^    #0 lock@$held "; then
	ok "headline and held locks name the instance held (lock@$held), not the class's first"
else
	no "instance: status $rc: $(cat "$d/out")"
fi

# report quality: C++ names demangled, SUMMARY on the program's own frame
mark=$(grep -n 'MARK: cxx restore' "$s/tests/libc/cxxreport.cc" | cut -d: -f1)
run "" "$b/tests/libc/cxxreport"
grep -qE "in fsrt::Box::bad_restore\(\) .*cxxreport\.cc:$mark\$" "$d/out" && ok "C++ frame demangled" || no "demangle: $(cat "$d/out")"
grep -qE "^SUMMARY: fsreclaim: scope-imbalance fsrt::Box::bad_restore\(\) cxxreport\.cc:$mark\$" "$d/out" \
	&& ok "SUMMARY names the program's frame" || no "SUMMARY: $(grep SUMMARY "$d/out")"
grep -E '^    #' "$d/out" | grep -q ' _Z' && no "mangled names left: $(grep ' _Z' "$d/out")" || ok "no mangled names"
gmark=$(grep -n 'MARK: cxx grow' "$s/tests/libc/cxxreport.cc" | cut -d: -f1)
run "interval=0" "$b/tests/libc/cxxreport" inversion
grep -qE "^SUMMARY: fsreclaim: reclaim-lock-inversion fsrt::Cache::grow\(\) cxxreport\.cc:$gmark\$" "$d/out" \
	&& ok "std::mutex inversion: SUMMARY names the daemon's frame, not <mutex>'s or libstdc++'s" || no "std::mutex SUMMARY: $(cat "$d/out")"
run "" "$b/tests/libc/cxxreport-stripped"
grep -qE '^SUMMARY: fsreclaim: scope-imbalance \(cxxreport-stripped\+0x[0-9a-f]+\)$' "$d/out" \
	&& ok "stripped: SUMMARY is the program's module+offset" || no "stripped SUMMARY: $(grep SUMMARY "$d/out")"
exit $fail
