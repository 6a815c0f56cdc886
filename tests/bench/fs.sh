#!/bin/sh
# File-system throughput through FUSE, plain vs under the shim.
#   fs.sh passthrough_ll|txfs
# For each of RUNS (5) rounds, alternating: the daemon plain, under the shim
# idle (interval=0), and with interval=1000; each run does a small-file
# phase (create, write 4 KiB, fsync, x N) and a large sequential phase
# (write and read back 64 MiB).  Prints the median time of each variant and
# its ratio to plain.  Not a test: the numbers go into the README.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
which=${1:-passthrough_ll}
runs=${RUNS:-5} nsmall=${NSMALL:-400} bigmb=${BIGMB:-64}
run=$top_builddir/preload/fsreclaim-run
work=$(mktemp -d /tmp/fsr-bench.XXXXXX)
mnt=$work/mnt pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; fusermount3 -u -z "$mnt" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir -p "$mnt" "$work/src"
case $which in
passthrough_ll)
	ex=/usr/share/doc/libfuse3-dev/examples
	cc -O2 -D_FILE_OFFSET_BITS=64 "$ex/passthrough_ll.c" -o "$work/daemon" $(pkg-config --cflags --libs fuse3) || exit 1
	daemon() { "$@" "$work/daemon" -f -o source="$work/src" "$mnt"; } ;;
txfs)
	daemon() { rm -f "$work/journal"; "$@" "$top_builddir/fusefs/txfs" -f -o journal="$work/journal" "$mnt"; } ;;
*) echo "usage: fs.sh passthrough_ll|txfs" >&2; exit 2 ;;
esac

one() { # one VARIANT: mount, time the workload, unmount; prints seconds
	case $1 in
	plain) daemon env & ;;
	idle) daemon "$run" --opt interval=0 -- & ;;
	i1000) daemon "$run" --opt interval=1000 -- & ;;
	esac
	pid=$!
	i=0; while ! grep -q " $mnt " /proc/mounts; do i=$((i+1)); [ $i -gt 200 ] && exit 1; sleep 0.05; done
	t0=$(date +%s.%N)
	python3 - "$mnt" "$nsmall" "$bigmb" <<'PY'
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
	t1=$(date +%s.%N)
	fusermount3 -u "$mnt"; wait "$pid"; pid=
	awk "BEGIN { print $t1 - $t0 }"
}

for r in $(seq "$runs"); do
	for v in plain idle i1000; do one $v >>"$work/$v"; done
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p=$(median "$work/plain")
printf '%s (%d runs, %d small files + %d MiB): plain %.3fs\n' "$which" "$runs" "$nsmall" "$bigmb" "$p"
for v in idle i1000; do
	m=$(median "$work/$v")
	printf '  %-6s %.3fs  ratio %.3fx\n' "$v" "$m" "$(awk "BEGIN { print $m / $p }")"
done
