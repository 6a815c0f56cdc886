#!/bin/sh
# workload.sh MOUNTPOINT - the standard fsreclaim workload on a mounted
# filesystem: CLIENTS (4) clients in parallel, each FILES (200) times:
# create a file, write SIZE (64 KiB) bytes, fsync, rename; then readdir,
# stat, read back (checksum) and unlink of all.  Exit 0 if all of it worked.
#
# Environment: WORKLOAD_CLIENTS, WORKLOAD_FILES, WORKLOAD_SIZE,
# WORKLOAD_DIR (a subdirectory to use, default "workload").
set -u
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 MOUNTPOINT" >&2
	exit 2
fi
command -v python3 >/dev/null || { echo "workload: python3 is needed" >&2; exit 2; }
exec python3 - "$1" <<'PY'
import hashlib, os, sys, time
from multiprocessing import Process

mnt = sys.argv[1]
clients = int(os.environ.get("WORKLOAD_CLIENTS", "4"))
files = int(os.environ.get("WORKLOAD_FILES", "200"))
size = int(os.environ.get("WORKLOAD_SIZE", str(64 * 1024)))
top = os.path.join(mnt, os.environ.get("WORKLOAD_DIR", "workload"))

def data(c, i):
    seed = hashlib.sha256(b"%d-%d" % (c, i)).digest()
    return (seed * (size // len(seed) + 1))[:size]

def client(c):
    try:
        for i in range(files):
            tmp = os.path.join(top, "c%d-%d.tmp" % (c, i))
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            buf = data(c, i)
            off = 0
            while off < len(buf):
                off += os.write(fd, buf[off:])
            os.fsync(fd)
            os.close(fd)
            os.rename(tmp, os.path.join(top, "c%d-%d.dat" % (c, i)))
    except OSError as e:
        print("workload: client %d: %s" % (c, e), file=sys.stderr)
        sys.exit(1)
    sys.exit(0)

t0 = time.time()
try:
    os.mkdir(top)
except FileExistsError:
    pass
procs = [Process(target=client, args=(c,)) for c in range(clients)]
for p in procs:
    p.start()
failed = 0
for p in procs:
    p.join()
    failed += p.exitcode != 0
if failed:
    print("workload: %d client(s) failed" % failed, file=sys.stderr)
    sys.exit(1)

want = {"c%d-%d.dat" % (c, i): (c, i) for c in range(clients) for i in range(files)}
names = set(os.listdir(top))
if names != set(want):
    print("workload: readdir: %d missing, %d unexpected" %
          (len(set(want) - names), len(names - set(want))), file=sys.stderr)
    sys.exit(1)
bad = 0
for n, (c, i) in sorted(want.items()):
    p = os.path.join(top, n)
    st = os.stat(p)
    if st.st_size != size:
        print("workload: %s: size %d, want %d" % (n, st.st_size, size), file=sys.stderr)
        bad += 1
        continue
    with open(p, "rb") as f:
        if hashlib.sha256(f.read()).digest() != hashlib.sha256(data(c, i)).digest():
            print("workload: %s: checksum mismatch" % n, file=sys.stderr)
            bad += 1
for n in want:
    os.unlink(os.path.join(top, n))
os.rmdir(top)
if bad:
    sys.exit(1)
print("workload: %d clients x %d files of %d bytes: ok in %.1f s" %
      (clients, files, size, time.time() - t0))
PY
