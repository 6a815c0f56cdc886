#!/bin/sh
# durability.sh - what fsync returned for survives kill -9 of txfs and a
# remount with the same journal (replay).  Two rounds: files written and
# fsync'd; then renames, unlinks, truncations, a chmod, a hard link, a
# symlink and a directory, made durable by one more fsync.
. "$top_srcdir/tests/txfs/lib.sh"
set -u
J=$TMPD/journal
mnt=$TMPD/mnt

# manifest DIR: one line per entry: path type mode size sha256/target
manifest() {
	python3 - "$1" <<'PY'
import hashlib, os, stat, sys
top = sys.argv[1]
for root, dirs, files in os.walk(top):
    dirs.sort()
    for n in sorted(dirs + files):
        p = os.path.join(root, n)
        st = os.lstat(p)
        rel = os.path.relpath(p, top)
        if stat.S_ISLNK(st.st_mode):
            print(rel, "l", oct(st.st_mode & 0o7777), os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            print(rel, "d", oct(st.st_mode & 0o7777), st.st_nlink)
        else:
            h = hashlib.sha256(open(p, "rb").read()).hexdigest()
            print(rel, "f", oct(st.st_mode & 0o7777), st.st_size, st.st_nlink, h)
PY
}

round() {
	txfs_mount "$mnt" -o journal="$J" || exit 1
	python3 - "$mnt" "$1" <<'PY' || { echo "FAIL: round $2 writer"; exit 1; }
import os, sys
mnt, step = sys.argv[1], sys.argv[2]
def put(name, data):
    fd = os.open(os.path.join(mnt, name), os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
if step == "1":
    for i, size in enumerate([0, 1, 4095, 4096, 4097, 65536, 300000, 1 << 20]):
        put("f%d" % i, os.urandom(size))
    os.mkdir(os.path.join(mnt, "dir"))
    put("dir/inner", b"inner file\n" * 1000)
else:
    os.rename(os.path.join(mnt, "f1"), os.path.join(mnt, "dir/f1-moved"))
    os.unlink(os.path.join(mnt, "f2"))
    os.truncate(os.path.join(mnt, "f6"), 12345)
    os.truncate(os.path.join(mnt, "f3"), 100000)
    os.chmod(os.path.join(mnt, "f4"), 0o600)
    os.link(os.path.join(mnt, "f5"), os.path.join(mnt, "dir/f5-link"))
    os.symlink("dir/inner", os.path.join(mnt, "sym"))
    os.mkdir(os.path.join(mnt, "dir/sub"))
    fd = os.open(os.path.join(mnt, "f7"), os.O_WRONLY)
    os.pwrite(fd, b"overwritten in the middle", 500000)
    os.fsync(fd)
    os.close(fd)
PY
	manifest "$mnt" > "$TMPD/before.$1" || exit 1
	# written after the last fsync: may or may not survive, must not corrupt
	python3 -c "open('$mnt/unsynced-$1', 'wb').write(b'u' * 10000)"
	txfs_crash "$mnt"
	txfs_mount "$mnt" -o journal="$J" || exit 1
	manifest "$mnt" | grep -v "^unsynced-$1 " > "$TMPD/after.$1"
	if ! cmp -s "$TMPD/before.$1" "$TMPD/after.$1"; then
		echo "FAIL: round $1: the remounted tree differs:"
		diff "$TMPD/before.$1" "$TMPD/after.$1"
		exit 1
	fi
	rm -f "$mnt/unsynced-$1"
	txfs_umount "$mnt"
	echo "ok: round $1: $(wc -l < "$TMPD/before.$1") entries survive kill -9 and replay"
}
# a second daemon on a journal in use is refused, and mounts nothing
txfs_mount "$mnt" -o journal="$J" || exit 1
mkdir -p "$TMPD/mnt2"
"$TXFS" -f -o journal="$J" "$TMPD/mnt2" 2>"$TMPD/err2" &
p2=$!
TXFS_PIDS="$TXFS_PIDS $p2"
wait $p2
rc=$?
if [ $rc = 0 ] || ! grep -q "in use" "$TMPD/err2" || is_mounted "$TMPD/mnt2"; then
	echo "FAIL: a second txfs on the same journal: status $rc: $(cat "$TMPD/err2")"
	exit 1
fi
txfs_umount "$mnt"
echo "ok: a journal in use is refused"
round 1
round 2
# a clean unmount keeps it all too, in memory of the last round
txfs_mount "$mnt" -o journal="$J" || exit 1
manifest "$mnt" > "$TMPD/final"
cmp -s "$TMPD/before.2" "$TMPD/final" || { echo "FAIL: tree after clean remount differs"; diff "$TMPD/before.2" "$TMPD/final"; exit 1; }
txfs_umount "$mnt"
echo "ok: durability"
