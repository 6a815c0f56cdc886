#!/bin/sh
# Reports that reproduce (issue 13): every hazard program of tests/hazard
# and every txfs hazard mode whose reports a pass produces is run on a
# random schedule (probability=50); the first report with a schedule gives
# a replay command, which is run 3 times: each run must give the same
# first pass-produced report (same kind, same SUMMARY frame).  Then the
# schedule digest: the same seed gives the same digest on two runs of a
# single-threaded program and of txfs -s with one sequential client (txfs
# has no option for zero entry/attr timeouts; its 1 s outlasts the
# workload), and
# another seed another digest.  Then record= / replay=@ and bad replay=
# values.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
. "$top_srcdir/tests/lib/mount.sh"
PATH=$top_builddir/preload:$PATH
export PATH
hz=$top_builddir/tests/hazard txfs=$top_builddir/fusefs/txfs
if [ "${1:-}" = --digest-run ]; then   # d_txfs, inside its own mount namespace
	work=$2 mnt=$2/dmnt
	mkdir -p "$mnt"
	fsreclaim-run --opt interval=3 --opt probability=50 --opt seed="$3" --opt stats=1 --opt log_path="$work/dtlog" \
		-- "$txfs" -f -s -o hazard=none "$mnt" &
	pid=$!
	fsr_wait_mount "$mnt" "$pid" || { kill -9 "$pid"; exit 1; }
	for w in 1 2 3 4 5 6; do
		echo "data $w" >"$mnt/f$w" && mkdir "$mnt/d$w" && mv "$mnt/f$w" "$mnt/d$w/g" &&
			cat "$mnt/d$w/g" >/dev/null && sync "$mnt/d$w/g" && ls "$mnt/d$w" >/dev/null
	done
	# no unlink: when the kernel sends the FORGET of a removed inode,
	# relative to the next request, is its own business
	fsr_unmount "$mnt" "$pid" 300 || kill -9 "$pid"
	wait "$pid"
	cat "$work"/dtlog.* >"$work/dt"; rm -f "$work"/dtlog.*
	exit 0
fi
fsr_work_dir replay
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
no() { echo "FAIL $*"; fail=$((fail + 1)); }

# first_sched FILE: "KIND | SUMMARY-line" of the first report with a
# replay line; replay_cmd FILE: that report's replay command
first_sched() {
	awk '/fsreclaim: (ERROR|WARNING): / { k = $0; sub(/.*(ERROR|WARNING): /, "", k); sub(/ .*/, "", k); r = 0 }
	     /^  replay:   / { r = 1 }
	     /^SUMMARY: / && r { print k " | " $0; exit }' "$1"
}
replay_cmd() {
	awk '/^  replay:   / { sub(/^  replay:   /, ""); print; exit }' "$1"
}

# ---- hazard programs ----
# name  program args
progs='table hz_table deadlock
io hz_io deadlock
io-mixed hz_io mixed
rw hz_sync rw-deadlock
spin hz_sync spin-deadlock
mtx hz_sync mtx-deadlock
inode hz_inode
shortlived hz_shortlived 60
timeout SLOW'
echo "$progs" | while read -r name prog args; do
	opts="--opt interval=2 --opt probability=50"
	if [ "$prog" = SLOW ]; then     # one allocation: interval=1
		prog=$top_builddir/tests/report/slowshrink args=
		opts="--opt interval=1 --opt probability=50 --opt timeout_ms=100"
	else
		prog=$hz/$prog
	fi
	# the first seed whose random schedule finds it
	want= cmd=
	for seed in 1 2 3 4 5 6 7 8 9 10 11 12; do
		# shellcheck disable=SC2086
		timeout 60 fsreclaim-run $opts --opt seed=$seed -- "$prog" $args >"$work/$name.0" 2>&1
		want=$(first_sched "$work/$name.0")
		cmd=$(replay_cmd "$work/$name.0")
		[ -n "$want" ] && [ -n "$cmd" ] && break
	done
	if [ -z "$want" ] || [ -z "$cmd" ]; then
		echo "FAIL $name: no report with a replay line in 12 seeds"; head -c 600 "$work/$name.0"; echo; continue
	fi
	echo "     $name (seed=$seed): $want"
	echo "     $name: $cmd"
	good=0
	for i in 1 2 3; do
		timeout 60 sh -c "$cmd" >"$work/$name.$i" 2>&1
		got=$(first_sched "$work/$name.$i")
		if [ "$got" = "$want" ]; then good=$((good + 1)); else echo "     run $i gave: ${got:-no pass-produced report}"; fi
	done
	[ $good = 3 ] && echo "ok   $name: replayed 3 times, same kind and frame" || echo "FAIL $name: $good of 3 replays reproduced it"
done >"$work/progs.out"
cat "$work/progs.out"
pass=$((pass + $(grep -c '^ok' "$work/progs.out"))) fail=$((fail + $(grep -c '^FAIL' "$work/progs.out")))

# ---- the site key: the report's site hash, every match and the first ----
for name in table io rw; do
	site=$(sed -n 's/^  schedule: .* site=\([0-9a-f]*\).*/\1/p' "$work/$name.0" | head -n 1)
	cmd=$(replay_cmd "$work/$name.0")
	want=$(first_sched "$work/$name.0")
	for k in '*' 1; do
		c=$(printf '%s\n' "$cmd" | sed "s|--opt replay=[^ ]*|--opt replay='site/$site/$k'|")
		timeout 60 sh -c "$c" >"$work/$name.site" 2>&1
		got=$(first_sched "$work/$name.site")
		[ -n "$site" ] && [ "$got" = "$want" ] && ok "$name: replay=site/$site/$k gives the same report" \
			|| no "$name: replay=site/$site/$k gave '${got:-nothing}', wanted '$want'"
	done
done

# ---- txfs hazard modes: the daemon runs under the replay command too ----
fsr_require_fuse "cannot mount txfs"
workload() {
	for w in 1 2 3 4 5 6; do
		echo "data $w" >"$mnt/f$w" && mkdir "$mnt/d$w" && mv "$mnt/f$w" "$mnt/d$w/g" &&
			cat "$mnt/d$w/g" >/dev/null && sync "$mnt/d$w/g" && ls "$mnt/d$w" >/dev/null || return 1
	done
	rm -rf "$mnt"/d*
}
# txfs_run CMD LOG: run the daemon command in the background, the workload,
# unmount; the daemon's log (log_path) ends up in LOG
txfs_run() {
	rm -f "$work"/log.* "$work/journal"
	sh -c "$1" 2>"$work/err" &
	pid=$!
	if ! fsr_wait_mount "$mnt" "$pid"; then
		echo "     txfs did not mount: $(head -c 300 "$work/err")"
		kill -9 "$pid" 2>/dev/null; wait "$pid"; pid=
		: >"$2"; return 1
	fi
	workload >/dev/null 2>&1
	fsr_unmount "$mnt" "$pid" 300 || { fsr_abort_conn "$mnt" 2>/dev/null; kill -9 "$pid"; }
	wait "$pid"; pid=
	cat "$work"/log.* >"$2" 2>/dev/null || : >"$2"
}
for mode in nofs-missing noio-missing txn-nesting; do
	txfs_run "fsreclaim-run --opt interval=3 --opt probability=50 --opt seed=1 --opt log_path='$work/log' -- '$txfs' -f -o journal='$work/journal' -o hazard=$mode '$mnt'" "$work/$mode.0"
	want=$(first_sched "$work/$mode.0")
	cmd=$(replay_cmd "$work/$mode.0")
	if [ -z "$want" ] || [ -z "$cmd" ]; then
		no "txfs $mode: no report with a replay line"; head -c 600 "$work/$mode.0"; echo; continue
	fi
	echo "     $mode: $want"
	echo "     $mode: $cmd"
	good=0
	for i in 1 2 3; do
		txfs_run "$cmd" "$work/$mode.$i"
		got=$(first_sched "$work/$mode.$i")
		if [ "$got" = "$want" ]; then good=$((good + 1)); else echo "     run $i gave: ${got:-no pass-produced report}"; fi
	done
	[ $good = 3 ] && ok "txfs $mode: replayed 3 times, same kind and frame" || no "txfs $mode: $good of 3 replays reproduced it"
	# the same pass by its site key and the occurrence of its top frame in
	# the op (site_hit), counted in each op of that name
	line=$(grep -m 1 '^  schedule: ' "$work/$mode.0")
	site=$(printf '%s\n' "$line" | sed -n 's/.* site=\([0-9a-f]*\) hit=.*/\1/p')
	hit=$(printf '%s\n' "$line" | sed -n 's/.* hit=\([0-9]*\) in op .*/\1/p')
	op=$(printf '%s\n' "$line" | sed -n 's/.* in op \([a-z_]*\) .*/\1/p')
	txfs_run "$(printf '%s\n' "$cmd" | sed "s|--opt replay=[^ ]*|--opt replay=site/$site/$hit/op=$op|")" "$work/$mode.site"
	got=$(first_sched "$work/$mode.site")
	[ -n "$site" ] && [ -n "$hit" ] && [ "$got" = "$want" ] && ok "txfs $mode: replay=site/$site/$hit/op=$op gives the same report" \
		|| no "txfs $mode: replay=site/$site/$hit/op=$op gave '${got:-nothing}' ($line)"
done

# ---- site_hit and the callbacks' targets ----
# txfs nofs-missing again, its FUSE callbacks only: each pass calls the
# daemon back (lookup of an entry, fsync and flush of a handle).  The
# schedule names the site's occurrence in the op (hit=K) and the target (an
# entry by its path from the root, a handle by its open order and path),
# in the text, the JSON line and the record.
rm -f "$work"/json.* "$work"/trec.*
txfs_run "fsreclaim-run --opt interval=3 --opt probability=50 --opt seed=1 --opt callbacks=forget,fsync,flush --opt log_path='$work/log' --opt json_path='$work/json' --opt record='$work/trec' -- '$txfs' -f -o journal='$work/journal' -o hazard=nofs-missing '$mnt'" "$work/tg.0"
line=$(grep -E -m 1 '^  schedule: .* hit=[0-9]+ in op [a-z_]+ \(its allocation [0-9]+\) callback=[a-z+]*(lookup|fsync|flush)[a-z+]* target=(/|#[0-9]+:/)' "$work/tg.0")
[ -n "$line" ] && ok "schedule line with site_hit and target:$(printf '%s' "$line" | sed 's/.* site=/ site=/')" \
	|| no "no schedule line names hit=K and a target: $(grep -m 2 '^  schedule: ' "$work/tg.0")"
cat "$work"/json.* >"$work/tg.json" 2>/dev/null
grep -Eq '"schedule":\{[^}]*"site_hit":[0-9]+,[^}]*"target":"(/|#[0-9]+:/)' "$work/tg.json" \
	&& ok "JSON schedule with site_hit and target" \
	|| no "JSON schedule: $(grep -o '"schedule":{[^}]*}' "$work/tg.json" | head -n 2)"
cat "$work"/trec.* >"$work/tg.rec" 2>/dev/null
if grep -Eq '^pass=[0-9]+ .* hit=[0-9]+ op=[a-z_]+ .* target=[^ ]*/[^ ]* status=run$' "$work/tg.rec" &&
	grep -Eq ' target=(#[0-9]+:/[^ ]*)(,[^ ]*)? status=run$' "$work/tg.rec" &&
	grep -Eq ' target=(#[0-9]+:/[^ ,]*,)?/[^ ,]* status=run$' "$work/tg.rec"; then
	ok "record lines with hit and targets: $(grep -E -m 1 ' target=#' "$work/tg.rec")"
else
	no "record: no lines with hit=K and handle and entry targets: $(head -n 4 "$work/tg.rec")"
fi

# The target replayed: lookups only (one target per pass).  A report's
# pass again by its exact key (thread key and n) with the report's target
# part, bounded to one pass (times=1), chooses the entry the report names,
# where the same key without its target part takes another (the first
# eligible): shown on the first report where the two differ.  A report
# whose pass lands elsewhere in the replay (txfs is multi-threaded: the
# exact key is best effort there) says so and is skipped.
# rec_target FILE: the target of the record's pass that ran
rec_target() { sed -n 's/.* target=\([^ ]*\) status=run$/\1/p' "$1" | head -n 1; }
# replay_once CMD OUT: CMD's first pass, its record in OUT.rec
replay_once() {
	rm -f "$work"/rr.*
	txfs_run "$(printf '%s\n' "$1" | sed "s|--opt replay=|--opt times=1 --opt record=$work/rr --opt replay=|")" "$2" </dev/null
	cat "$work"/rr.* >"$2.rec" 2>/dev/null || : >"$2.rec"
}
# "seed thread n target key-target command" of each report whose pass looked up one entry
candidates() {
awk '/^  schedule: .* callback=lookup target=\/[^ ,]*$/ { s = $0; next }
     s != "" && /^  replay:   / {
	split(s, f, " "); seed = th = n = tg = ""
	for (i in f) {
		if (f[i] ~ /^seed=/) seed = substr(f[i], 6); if (f[i] ~ /^thread=/) th = substr(f[i], 8)
		if (f[i] ~ /^n=/) n = substr(f[i], 3); if (f[i] ~ /^target=/) tg = substr(f[i], 8)
	}
	kt = $0; sub(/.*\/target=/, "", kt); sub(/ .*/, "", kt)
	c = $0; sub(/^  replay:   /, "", c)
	print seed, th, n, tg, kt, c; s = "" }' "$1"
}
shown= tried=0
: >"$work/tr.fired"     # keys whose pass fired in a replay, for the test after this one
for s0 in 1 2; do
[ -z "$shown" ] || break
txfs_run "fsreclaim-run --opt interval=3 --opt probability=50 --opt seed=$s0 --opt callbacks=forget --opt log_path='$work/log' -- '$txfs' -f -o journal='$work/journal' -o hazard=nofs-missing '$mnt'" "$work/tr.0"
candidates "$work/tr.0" >"$work/tr.cands"
while read -r seed th n wantt kt cmd && [ $tried -lt 12 ] && [ -z "$shown" ]; do
	tried=$((tried + 1))
	key=exact/$seed/$th/$n/target=$kt
	cmd=$(printf '%s\n' "$cmd" | sed "s|--opt replay=[^ ]*|--opt replay=$key|")
	replay_once "$cmd" "$work/tr.a"
	if grep -q 'fsreclaim: replay: .* is not held by the kernel now' "$work/tr.a"; then
		printf '%s\n' "$cmd" >>"$work/tr.fired"
		echo "     $key ($wantt): $(grep -m 1 'fsreclaim: replay:' "$work/tr.a")"
		continue
	fi
	got=$(rec_target "$work/tr.a.rec")
	if [ -z "$got" ] || [ "$got" = - ]; then
		echo "     $key ($wantt): no pass in the replay, or none that called back"; continue
	fi
	printf '%s\n' "$cmd" >>"$work/tr.fired"
	if [ "$got" != "$wantt" ]; then
		no "target replay: $key wanted $wantt, the replay chose '$got' without saying so"; shown=bad; break
	fi
	for again in 1 2; do     # the exact key is best effort in a pool of workers
		replay_once "$(printf '%s\n' "$cmd" | sed 's|/target=[^ ]*||')" "$work/tr.b"
		other=$(rec_target "$work/tr.b.rec")
		[ -z "$other" ] || [ "$other" = - ] || break
	done
	[ -n "$other" ] && [ "$other" != - ] && [ "$other" != "$wantt" ] && shown="$key chose $wantt again, without its target part $other"
	echo "     $key: chose $got; without its target part: ${other:-no pass}"
done <"$work/tr.cands"
done
case $shown in
bad) ;;
'') no "target replay: no report (of $tried) whose target replay differs from the first eligible" ;;
*) ok "target replay: $shown" ;;
esac
# a target the kernel does not hold: the first eligible, said in the output
# (a key whose pass fired before, each tried twice: the exact key is best
# effort in txfs's pool)
msg= took= got=
while read -r cmd && [ -z "$msg" ]; do
	for again in 1 2; do
		replay_once "$(printf '%s\n' "$cmd" | sed 's|/target=[^ ]*|/target=e00000001|')" "$work/tr.c"
		msg=$(grep -m 1 'fsreclaim: replay: pass #1: the entry it chose (e00000001) is not held by the kernel now: lookup on the first eligible one instead, /' "$work/tr.c")
		[ -z "$msg" ] || break
	done
done <"$work/tr.fired"
took=${msg##*instead, }
[ -n "$msg" ] && [ "$took" = "$(rec_target "$work/tr.c.rec")" ] && ok "a target not held: '$msg'" \
	|| no "a target not held: '${msg:-no message}', record '$(cat "$work/tr.c.rec" 2>/dev/null)'"

# ---- an inline pass's reports carry its site, with no record=, stats=1 or
# replay= (hashed from the backtrace taken when the pass is decided) ----
timeout 60 fsreclaim-run --opt interval=1 --opt mode=inline --opt timeout_ms=100 -- "$top_builddir/tests/report/slowshrink" >"$work/inl.0" 2>&1
line=$(grep -m 1 '^  schedule: ' "$work/inl.0")
printf '%s\n' "$line" | grep -Eq ' site=[0-9a-f]{16} ' && ok "inline timeout report:$(printf '%s' "$line" | sed 's/.* n=/ n=/')" \
	|| no "inline timeout report without its site: '${line:-no schedule line}'"
txfs_run "fsreclaim-run --opt interval=3 --opt mode=inline --opt log_path='$work/log' -- '$txfs' -f -o journal='$work/journal' -o hazard=txn-nesting '$mnt'" "$work/inl.1"
line=$(grep -m 1 '^  schedule: ' "$work/inl.1")
printf '%s\n' "$line" | grep -Eq ' site=[0-9a-f]{16} hit=[0-9]+ in op ' && ok "txfs txn-nesting inline:$(printf '%s' "$line" | sed 's/.* n=/ n=/')" \
	|| no "txfs txn-nesting inline: '${line:-no schedule line}'"

# ---- the schedule digest ----
digest() { sed -n 's/.*fsreclaim: stats: .* digest=\([0-9a-f]*\).*/\1/p' "$1" | tail -n 1; }
d_prog() { timeout 60 fsreclaim-run --opt interval=1 --opt probability=50 --opt seed="$1" --opt stats=1 -- "$hz/hz_nofs" >"$work/dg" 2>&1; digest "$work/dg"; }
a=$(d_prog 7) b=$(d_prog 7) c=$(d_prog 8)
if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$c" ] && [ "$a" != 0000000000000000 ]; then
	ok "single-threaded program: seed=7 twice gives digest $a, seed=8 $c"
else
	no "single-threaded program: digests seed=7 '$a' '$b', seed=8 '$c'"
fi
# in a mount namespace of its own, so that nothing else on the machine
# (a df, a file manager) sends the daemon requests of its own
d_txfs() {
	rm -f "$work"/dt.*
	timeout 120 unshare -m --propagation private sh "$0" --digest-run "$work" "$1" >"$work/dt.out" 2>&1
	digest "$work/dt"
}
if unshare -m --propagation private true 2>/dev/null; then
	a=$(d_txfs 3) b=$(d_txfs 3) c=$(d_txfs 4)
	if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$c" ] && [ "$a" != 0000000000000000 ]; then
		ok "txfs -s, one sequential client: seed=3 twice gives digest $a, seed=4 $c"
	else
		no "txfs -s: digests seed=3 '$a' '$b', seed=4 '$c'; $(head -c 300 "$work/dt.out")"
	fi
else
	no "txfs -s digest: cannot make a mount namespace (unshare -m)"
fi

# ---- record= and replay=@ ----
timeout 60 fsreclaim-run --opt interval=2 --opt probability=50 --opt seed=5 --opt record="$work/rec" -- "$hz/hz_table" deadlock >"$work/r0" 2>&1
rec=$(ls "$work"/rec.* 2>/dev/null | head -n 1)
if [ -n "$rec" ] && grep -Eq '^pass=[0-9]+ thread=[0-9.R?#a-f]+ site=[0-9a-f]+ hit=([0-9]+|-) op=[^ ]+ callback=[^ ]+ target=[^ ]+ status=(run|skipped)$' "$rec"; then
	ok "record=: $(grep -c . "$rec") lines in the record's format"
else
	no "record=: no record or a malformed one: $(head -n 3 "$rec" 2>/dev/null)"
fi
want=$(first_sched "$work/r0")
timeout 60 fsreclaim-run --opt replay=@"$rec" -- "$hz/hz_table" deadlock >"$work/r1" 2>&1
[ -n "$want" ] && [ "$(first_sched "$work/r1")" = "$want" ] && ok "replay=@record: the same first report" \
	|| no "replay=@record: wanted '$want', got '$(first_sched "$work/r1")'"

# ---- bad values: one line naming the key, status 2, before the program runs ----
printf 'not a record\n' >"$work/bad.rec"
for v in bogus site/xyz/1 site/12ab/0 site/12ab/1/op= op/mkdir op/mkdir/0 op/mkdir/x exact/1/0.1 exact/x/0.1/3 \
	 "@$work/missing.rec" "@$work/bad.rec" @; do
	out=$(fsreclaim-run --opt replay="$v" -- sh -c 'echo RAN' 2>&1); rc=$?
	if [ $rc = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && printf '%s' "$out" | grep -q 'replay' \
		&& ! printf '%s' "$out" | grep -q RAN; then
		ok "replay=$v: status 2, '$out'"
	else
		no "replay=$v: status $rc, '$out'"
	fi
done
out=$(fsreclaim-run --opt record=/nonexistent/dir/rec -- sh -c 'echo RAN' 2>&1); rc=$?
[ $rc = 2 ] && printf '%s' "$out" | grep -q 'record' && ok "record= unwritable: status 2" || no "record= unwritable: status $rc '$out'"
out=$(fsreclaim-run --opt replay=op/nosuchop/3 -- true 2>&1); rc=$?
printf '%s' "$out" | grep -q 'never matched' && ok "a key that never matches says so at exit" || no "never-matching key: '$out'"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
