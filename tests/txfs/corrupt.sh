#!/bin/sh
# corrupt.sh - journal damage: a journal of fsync'd records is cut at every
# record boundary and inside records (torn header, torn payload), and bytes
# of its tail are flipped.  Each damaged copy must mount, hold every file
# whose records all lie before the damage (same checksum), hold nothing
# whose records lie after it, and keep working: a new file written and
# fsync'd on it survives a remount (the tail was cut, not appended to).
. "$top_srcdir/tests/txfs/lib.sh"
set -u
J=$TMPD/journal
mnt=$TMPD/mnt

txfs_mount "$mnt" -o journal="$J" || exit 1
python3 - "$mnt" <<'PY' || { echo "FAIL: writer"; exit 1; }
import os, sys
mnt = sys.argv[1]
for i, size in enumerate([10, 5000, 9000, 100, 4096, 20000, 1, 3000]):
    fd = os.open(os.path.join(mnt, "g%d" % i), os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, bytes((i * 37 + k) & 0xff for k in range(size)))
    os.fsync(fd)
    os.close(fd)
PY
txfs_umount "$mnt"

python3 - "$TXFS" "$J" "$TMPD" <<'PY' || exit 1
import hashlib, os, re, shutil, subprocess, sys, time

txfs, journal, tmpd = sys.argv[1:4]
mnt = os.path.join(tmpd, "cmnt")
os.makedirs(mnt, exist_ok=True)
log = open(os.path.join(tmpd, "txfs.log"), "ab")
HDR = 24

def content(i, size):
    return bytes((i * 37 + k) & 0xff for k in range(size))
sizes = [10, 5000, 9000, 100, 4096, 20000, 1, 3000]
want = {"g%d" % i: hashlib.sha256(content(i, s)).hexdigest() for i, s in enumerate(sizes)}

# the records, from --dump-journal
out = subprocess.run([txfs, "--dump-journal", journal], capture_output=True,
                     text=True, check=True).stdout
recs = []            # (offset, end, type, ino)
ino_name = {}
for line in out.splitlines():
    m = re.match(r"(\d+) seq=\d+ (\w+) len=(\d+)(.*)", line)
    if not m:
        continue
    off, typ, ln, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
    ino = int(re.search(r"ino=(\d+)", rest).group(1))
    if typ == "create":
        ino_name[ino] = re.search(r"name=(\S+)", rest).group(1)
    recs.append((off, off + HDR + ln, typ, ino))
size = os.path.getsize(journal)
assert recs and recs[-1][1] == size, "dump does not cover the journal"
first = {}
last = {}
for off, end, typ, ino in recs:
    n = ino_name[ino]
    first.setdefault(n, off)
    last[n] = end

def mounted():
    with open("/proc/mounts") as f:
        return any(l.split()[1] == mnt for l in f)

def mount(j):
    p = subprocess.Popen([txfs, "-f", "-o", "journal=" + j, mnt], stderr=log)
    for _ in range(400):            # up to 20 s
        if mounted():
            return p
        if p.poll() is not None:
            raise SystemExit("FAIL: txfs died mounting %s (status %s)" % (j, p.returncode))
        time.sleep(0.05)
    p.kill()
    raise SystemExit("FAIL: no mount after 20 s")

def umount(p):
    subprocess.run(["fusermount3", "-u", mnt], check=False)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        subprocess.run(["fusermount3", "-u", "-z", mnt])
        raise SystemExit("FAIL: txfs did not exit after unmount")

def check(label, damage):
    """every file whose records end at or before damage is intact"""
    bad = []
    names = set(os.listdir(mnt))
    for n, h in want.items():
        if last[n] <= damage:
            p = os.path.join(mnt, n)
            if n not in names:
                bad.append("%s missing" % n)
            elif hashlib.sha256(open(p, "rb").read()).hexdigest() != h:
                bad.append("%s corrupt" % n)
        elif first[n] >= damage and n in names:
            bad.append("%s present though all its records are cut" % n)
    if bad:
        raise SystemExit("FAIL: %s: %s" % (label, ", ".join(bad)))

def case(label, damage, mutate):
    j = os.path.join(tmpd, "jcopy")
    shutil.copyfile(journal, j)
    with open(j, "r+b") as f:
        mutate(f)
    p = mount(j)
    try:
        check(label, damage)
        # it keeps working: a new durable file
        fd = os.open(os.path.join(mnt, "new"), os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"after damage " * 100)
        os.fsync(fd)
        os.close(fd)
    finally:
        umount(p)
    p = mount(j)
    try:
        check(label + " (remount)", damage)
        if open(os.path.join(mnt, "new"), "rb").read() != b"after damage " * 100:
            raise SystemExit("FAIL: %s: the file written after the damage is lost" % label)
    finally:
        umount(p)

def cut(at):
    return lambda f: f.truncate(at)

def flip(at):
    def m(f):
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x5a]))
    return m

n = 0
t0 = time.time()
starts = [r[0] for r in recs]
for off, end, typ, ino in recs:
    # at the boundary before this record, a torn header, a torn payload
    case("cut at %d (boundary)" % off, off, cut(off))
    case("cut at %d (in header)" % (off + 10), off, cut(off + 10))
    if end - off > HDR + 1:
        mid = off + HDR + (end - off - HDR) // 2
        case("cut at %d (in payload)" % mid, off, cut(mid))
    n += 3
case("uncut", size, cut(size))
# flipped bytes in the last three records: magic, crc, seq, length, payload
for off, end, typ, ino in recs[-3:]:
    for at in (off, off + 5, off + 9, off + 20, off + HDR, end - 1):
        case("flip at %d" % at, off, flip(at))
        n += 1
# garbage appended after a clean end
case("garbage tail", size, lambda f: (f.seek(0, 2), f.write(b"\0" * 7 + b"junk" * 50)))
print("ok: %d records; %d damaged journals all mount with every record before "
      "the damage, in %.1f s" % (len(recs), n + 2, time.time() - t0))
PY
exit 0
