#!/usr/bin/env python3
"""One stress client: random file operations in its own directory of a
mount, for a set time, checking every read against what it wrote.

usage: client.py DIR SEED SECONDS PROGRESS_FILE
Writes its operation count to PROGRESS_FILE about every 0.2 s; exits 1
with a message at the first wrong result.  At the end it fsyncs every file
and writes DIR/.manifest (name sha256) for the integrity check."""
import hashlib, os, random, sys, time

d, seed, seconds, prog = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rnd = random.Random(seed)
os.makedirs(d, exist_ok=True)
files = {}          # name -> bytes we expect
ops = 0
end = time.time() + seconds
last = 0.0

def fail(msg):
    sys.stderr.write("client %s: %s\n" % (d, msg))
    sys.exit(1)

def path(n):
    return os.path.join(d, n)

while time.time() < end:
    op = rnd.choice("cwwrrtmufdl")
    names = sorted(files)
    if op == "c" or not names:
        n = "f%d" % rnd.randrange(64)
        data = rnd.randbytes(rnd.choice([0, 100, 4096, 65536, 200000]))
        with open(path(n), "wb") as f:
            f.write(data)
            if rnd.random() < 0.3:
                os.fsync(f.fileno())
        files[n] = data
    elif op == "w":
        n = rnd.choice(names)
        off = rnd.randrange(len(files[n]) + 1)
        data = rnd.randbytes(rnd.randrange(1, 8192))
        with open(path(n), "r+b") as f:
            f.seek(off)
            f.write(data)
        old = files[n]
        files[n] = old[:off] + data + old[off + len(data):]
    elif op == "r":
        n = rnd.choice(names)
        with open(path(n), "rb") as f:
            got = f.read()
        if got != files[n]:
            fail("read %s: %d bytes, expected %d (content differs)" % (n, len(got), len(files[n])))
    elif op == "t":
        n = rnd.choice(names)
        size = rnd.randrange(len(files[n]) + 100)
        os.truncate(path(n), size)
        files[n] = files[n][:size] + b"\0" * max(0, size - len(files[n]))
    elif op == "m":
        a = rnd.choice(names)
        b = "f%d" % rnd.randrange(64)
        os.rename(path(a), path(b))
        files[b] = files.pop(a)
    elif op == "u":
        n = rnd.choice(names)
        os.unlink(path(n))
        del files[n]
    elif op == "f":
        n = rnd.choice(names)
        fd = os.open(path(n), os.O_RDWR)
        os.fsync(fd)
        os.close(fd)
    elif op == "d":
        got = sorted(x for x in os.listdir(d) if not x.startswith("."))
        if got != sorted(files):
            fail("readdir: %s, expected %s" % (got, sorted(files)))
    elif op == "l":
        n = rnd.choice(names)
        st = os.stat(path(n))
        if st.st_size != len(files[n]):
            fail("stat %s: size %d, expected %d" % (n, st.st_size, len(files[n])))
    ops += 1
    now = time.time()
    if now - last > 0.2:
        with open(prog, "w") as f:
            f.write("%d\n" % ops)
        last = now

with open(path(".manifest"), "w") as m:
    for n in sorted(files):
        fd = os.open(path(n), os.O_RDWR)
        os.fsync(fd)
        os.close(fd)
        m.write("%s %s\n" % (n, hashlib.sha256(files[n]).hexdigest()))
    m.flush()
    os.fsync(m.fileno())
with open(prog, "w") as f:
    f.write("%d done\n" % ops)
