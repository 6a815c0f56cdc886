#!/bin/sh
# File-system throughput through FUSE, plain vs under the shim.
#   fs.sh passthrough_ll|txfs|fuse-overlayfs|passthrough|mergerfs [data|meta]
# For each of RUNS rounds, alternating: the daemon plain, then under the
# shim in each of VARIANTS (every other round in the reverse order, so that
# plain is first as often as last).  mergerfs runs as tests/fuse/wire_daemons.sh
# runs it (-o threads=4, one branch; its bundled libfuse: the shim's wire
# transport).  Workloads:
#   data (default; RUNS 5, VARIANTS "idle i1000"): a small-file phase
#        (create, write 4 KiB, fsync, x NSMALL) and a large sequential phase
#        (write and read back BIGMB MiB)
#   meta (RUNS 9, VARIANTS "default"): NMETA (2000) files created, stat()ed
#        and unlinked: the lock-heavy request path (fuse-overlayfs's and
#        libfuse's high-level path locks) with little I/O
# Variants: idle (interval=0), i1000 (interval=1000), default (the
# contract's defaults).  Prints the median time of each variant (wall time
# of the client and the CPU time the daemon used) and the median over the
# rounds of its ratio to the round's plain run, with the lowest and highest
# such ratio, and MISS or ok against the target: passthrough_ll (also on
# the wire, fuse_wire.sh) and mergerfs data: idle <= 1.03x, i1000 <= 1.10x
# of plain, by the client's time; fuse-overlayfs and passthrough meta:
# default <= 1.05x, by the daemon's CPU time (the client's time is mostly
# the kernel's and the client's own); txfs: no target.
# Not a test: the numbers go into the README; a miss exits 1.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
which=${1:-passthrough_ll} wl=${2:-data}
case $wl in
data) runs=${RUNS:-5} variants=${VARIANTS:-idle i1000} ;;
meta) runs=${RUNS:-9} variants=${VARIANTS:-default} ;;
*) echo "usage: fs.sh DAEMON [data|meta]" >&2; exit 2 ;;
esac
nsmall=${NSMALL:-400} bigmb=${BIGMB:-64} nmeta=${NMETA:-2000}
run=$top_builddir/preload/fsreclaim-run
work=$(mktemp -d /tmp/fsr-bench.XXXXXX)
mnt=$work/mnt pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; fusermount3 -u -z "$mnt" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir -p "$mnt" "$work/src"
wdir=$mnt
case $which in
passthrough_ll)
	ex=/usr/share/doc/libfuse3-dev/examples
	cc -O2 -D_FILE_OFFSET_BITS=64 "$ex/passthrough_ll.c" -o "$work/daemon" $(pkg-config --cflags --libs fuse3) || exit 1
	daemon() { "$@" "$work/daemon" -f -o source="$work/src" "$mnt"; } ;;
txfs)
	daemon() { rm -f "$work/journal"; "$@" "$top_builddir/fusefs/txfs" -f -o journal="$work/journal" "$mnt"; } ;;
fuse-overlayfs)
	ovl=$(command -v fuse-overlayfs) || { echo "fs.sh: fuse-overlayfs is not installed" >&2; exit 2; }
	mkdir -p "$work/lower" "$work/up" "$work/wk"
	daemon() {
		rm -rf "$work/up" "$work/wk"; mkdir -p "$work/up" "$work/wk"
		"$@" "$ovl" -f -o "lowerdir=$work/lower,upperdir=$work/up,workdir=$work/wk" "$mnt"
	} ;;
mergerfs)
	mfs=$(command -v mergerfs) || { echo "fs.sh: mergerfs is not installed" >&2; exit 2; }
	daemon() { "$@" "$mfs" -f -o threads=4 "$work/src" "$mnt"; } ;;
passthrough)
	ex=/usr/share/doc/libfuse3-dev/examples
	cc -O2 -D_FILE_OFFSET_BITS=64 "$ex/passthrough.c" -o "$work/daemon" $(pkg-config --cflags --libs fuse3) || exit 1
	# it shows all of /: the workload runs in $work/src through the mount
	wdir=$mnt$work/src
	daemon() { "$@" "$work/daemon" -f "$mnt"; } ;;
*) echo "usage: fs.sh passthrough_ll|txfs|fuse-overlayfs|passthrough|mergerfs [data|meta]" >&2; exit 2 ;;
esac

one() { # one VARIANT: mount, time the workload, unmount; prints "seconds daemon-cpu-seconds"
	case $1 in
	plain) daemon env & ;;
	idle) daemon "$run" --opt interval=0 -- & ;;
	i1000) daemon "$run" --opt interval=1000 -- & ;;
	default) daemon "$run" -- & ;;
	esac
	pid=$!
	i=0; while ! grep -q " $mnt " /proc/mounts; do i=$((i+1)); [ $i -gt 200 ] && exit 1; sleep 0.05; done
	t0=$(date +%s.%N)
	if [ "$wl" = meta ]; then
		python3 - "$wdir" "$nmeta" <<'PY'
import os, sys
m, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.close(os.open("%s/f%d" % (m, i), os.O_CREAT | os.O_WRONLY, 0o644))
for i in range(n):
    os.stat("%s/f%d" % (m, i))
for i in range(n):
    os.unlink("%s/f%d" % (m, i))
PY
	else
		python3 - "$wdir" "$nsmall" "$bigmb" <<'PY'
import os, sys
m, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
buf = b"x" * 4096
for i in range(n):
    fd = os.open("%s/s%d" % (m, i), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    os.write(fd, buf); os.fsync(fd); os.close(fd)
for i in range(n):
    os.unlink("%s/s%d" % (m, i))
chunk = b"y" * (1 << 20)
fd = os.open(m + "/big", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
for i in range(mb):
    os.write(fd, chunk)
os.fsync(fd); os.close(fd)
fd = os.open(m + "/big", os.O_RDONLY)
while os.read(fd, 1 << 20):
    pass
os.close(fd)
os.unlink(m + "/big")
PY
	fi
	t1=$(date +%s.%N)
	# the daemon's CPU time (it runs in a process of its own: the child of
	# env or of the runner's exec)
	dp=$(pgrep -P "$pid" 2>/dev/null | head -1); [ -n "$dp" ] || dp=$pid
	cpu=$(awk '{ print ($14 + $15) / 100 }' "/proc/$dp/stat" 2>/dev/null || echo 0)
	fusermount3 -u "$mnt"; wait "$pid"; pid=
	awk "BEGIN { print $t1 - $t0, $cpu }"
}

rev=$(echo plain $variants | tr ' ' '\n' | tac | tr '\n' ' ')
for r in $(seq "$runs"); do
	order="plain $variants"; [ $((r % 2)) = 0 ] && order=$rev
	for v in $order; do one $v >"$work/run.$v"; done
	for v in plain $variants; do
		cat "$work/run.$v" >>"$work/$v"
		# this round's ratios to its plain run: client time, daemon CPU
		paste "$work/run.$v" "$work/run.plain" | awk '{ print $1 / $3, ($4 > 0) ? $2 / $4 : 0 }' >>"$work/$v.r"
	done
done
median() { awk -v k="$2" '{ print $k }' "$1" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
lo() { awk -v k="$2" '{ print $k }' "$1" | sort -g | head -1; }
hi() { awk -v k="$2" '{ print $k }' "$1" | sort -g | tail -1; }
p=$(median "$work/plain" 1) pc=$(median "$work/plain" 2)
if [ "$wl" = meta ]; then what="$nmeta files created, stat()ed, unlinked"; else what="$nsmall small files + $bigmb MiB"; fi
printf '%s (%d rounds of alternating runs, %s; load %s): plain %.3fs, daemon cpu %.3fs\n' "$which" "$runs" "$what" \
	"$(cut -d' ' -f1-3 /proc/loadavg)" "$p" "$pc"
miss=0
for v in $variants; do
	m=$(median "$work/$v" 1) mc=$(median "$work/$v" 2)
	r=$(median "$work/$v.r" 1) rc=$(median "$work/$v.r" 2)
	lim= col=
	case $which.$wl.$v in
	passthrough_ll.data.idle|mergerfs.data.idle) lim=1.03 col=1 ;;
	passthrough_ll.data.i1000|mergerfs.data.i1000) lim=1.10 col=1 ;;
	fuse-overlayfs.meta.default|passthrough.meta.default) lim=1.05 col=2 ;;
	esac
	verdict=
	if [ -n "$lim" ]; then
		j=$r; what=client; [ $col = 2 ] && j=$rc what="daemon cpu"
		if awk -v r="$j" -v l="$lim" 'BEGIN { exit !(r > l) }'; then verdict=" MISS($what>${lim}x)"; miss=1
		else verdict=" ok($what<=${lim}x)"; fi
	fi
	printf '  %-7s %.3fs  ratio %.3fx (%.3f-%.3f) | daemon cpu %.3fs  ratio %.3fx (%.3f-%.3f)%s\n' "$v" "$m" "$r" \
		"$(lo "$work/$v.r" 1)" "$(hi "$work/$v.r" 1)" "$mc" "$rc" "$(lo "$work/$v.r" 2)" "$(hi "$work/$v.r" 2)" "$verdict"
done
exit $miss
