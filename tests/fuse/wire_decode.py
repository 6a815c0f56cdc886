#!/usr/bin/env python3
"""wire_decode.py - the FUSE traffic of a daemon, decoded from strace, as
the kernel saw it: an outside check of the wire transport that uses none of
the shim's own counts.

usage: wire_decode.py TRACE...   (strace -ff -yy -xx -s 1000000
        -e trace=read,readv,write,writev,splice output files)

Every read/readv of a /dev/fuse fd (strace's "<char 10:229>") is one kernel
request (fuse_in_header), every write/writev one reply or notification
(fuse_out_header).  Checked:
  - the kernel never receives a reply with a private unique (bit 62 set,
    even, bit 63 clear: the shim's synthetic requests);
  - per node, the FORGETs and BATCH_FORGET entries the kernel sent total no
    more than the references the replies it accepted gave (LOOKUP, MKNOD,
    MKDIR, SYMLINK, LINK, CREATE, TMPFILE entries, READDIRPLUS records other
    than "." and ".." with a nodeid);
  - every request that wants a reply got one written, and none got two
    that the kernel accepted; each read is exactly one request;
  - no splice of a FUSE fd (its data would be invisible here);
  - the shim's wake-ups (NOTIFY_RETRIEVE of 0 bytes with a private
    notify_unique, counted apart from the daemon's notifications) are
    answered by no more NOTIFY_REPLYs with a private unique than were sent.
Prints the totals; exit status 1 on any violation."""
import re
import struct
import sys
from collections import defaultdict

CALL = re.compile(r'^(read|readv|write|writev|splice)\((\d+)<(?:[^<>]|<[^<>]*>)*?<char 10:229>>(.*)\) += (-?\d+)')
STR = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')
PRIVATE = 1 << 62
NOREPLY = {2, 42, 36, 41}          # FORGET, BATCH_FORGET, INTERRUPT, NOTIFY_REPLY
ENTRY_OPS = {1, 8, 9, 6, 13}        # LOOKUP, MKNOD, MKDIR, SYMLINK, LINK
CREATE_OPS = {35, 51}               # CREATE, TMPFILE
READDIRPLUS = 44
ENTRY_OUT = 128                     # struct fuse_entry_out (minor >= 9)


def is_private(u):
    return u & (PRIVATE | 1 << 63 | 1) == PRIVATE


def data_of(rest):
    return b''.join(bytes.fromhex(s.replace('\\x', '')) for s in STR.findall(rest))


def main(paths):
    errors = []
    req = {}                        # unique -> (opcode, nodeid)
    answered = defaultdict(int)     # unique -> replies the kernel accepted
    written = set()                 # uniques a reply was written for
    refs = defaultdict(int)
    forgets = defaultdict(int)
    n = defaultdict(int)

    def err(msg):
        if len(errors) < 20:
            errors.append(msg)
        n['errors'] += 1

    calls = []
    for p in paths:
        with open(p, errors='replace') as f:
            for line in f:
                m = CALL.match(line)
                if m:
                    calls.append((m.group(1), m.group(3), int(m.group(4))))
    # requests first: a reply may be logged (in another thread's file) before its request
    for sc, rest, ret in calls:
        if sc == 'splice':
            err('a splice on a FUSE fd: its data is not in the trace')
        if sc not in ('read', 'readv') or ret <= 0:
            continue
        d = data_of(rest)[:ret]
        if len(d) < 40:
            err('a read of %d bytes: no whole fuse_in_header' % len(d))
            continue
        ln, op, uniq, node = struct.unpack_from('<IIQQ', d)
        if ln != ret:
            err('a read of %d bytes holds a request of len %d' % (ret, ln))
        if op == 41 and is_private(uniq):
            n['wakeup_replies'] += 1    # the answer to a wake-up of the shim's
            continue
        n['requests'] += 1
        if is_private(uniq) and op != 41:
            err('the kernel sent opcode %d with a private unique %#x' % (op, uniq))
        if op == 2:
            forgets[node] += struct.unpack_from('<Q', d, 40)[0]
            n['forget'] += 1
        elif op == 42:
            count = struct.unpack_from('<I', d, 40)[0]
            if 48 + 16 * count > len(d):
                err('BATCH_FORGET of %d entries in %d bytes' % (count, len(d)))
                count = (len(d) - 48) // 16
            for i in range(count):
                nid, nl = struct.unpack_from('<QQ', d, 48 + 16 * i)
                forgets[nid] += nl
            n['forget'] += count
        elif op not in NOREPLY:
            req[uniq] = (op, node)
    for sc, rest, ret in calls:
        if sc not in ('write', 'writev'):
            continue
        d = data_of(rest)
        if len(d) < 16:
            continue                # malformed: the kernel refused it (EINVAL)
        ln, error, uniq = struct.unpack_from('<IiQ', d)
        if uniq == 0:
            if error == 5 and len(d) >= 24 and is_private(struct.unpack_from('<Q', d, 16)[0]):
                n['wakeups'] += 1       # NOTIFY_RETRIEVE with the shim's notify_unique
            else:
                n['notifications'] += 1
            continue
        if is_private(uniq):
            err('a reply with the private unique %#x reached the kernel (write returned %d)' % (uniq, ret))
            continue
        written.add(uniq)
        if ret != len(d) or ln != len(d):
            continue                # not accepted (ENOENT: interrupted; EINVAL: malformed)
        n['replies'] += 1
        answered[uniq] += 1
        if answered[uniq] == 2:
            err('two accepted replies to unique %#x' % uniq)
        op, parent = req.get(uniq, (None, 0))
        if op is None:
            err('an accepted reply to unique %#x, which no read returned' % uniq)
            continue
        if error:
            continue
        if (op in ENTRY_OPS or op in CREATE_OPS) and len(d) >= 16 + ENTRY_OUT:
            nid = struct.unpack_from('<Q', d, 16)[0]
            if nid:
                refs[nid] += 1
        elif op == READDIRPLUS:
            off = 16
            while len(d) - off >= ENTRY_OUT + 24:
                nid = struct.unpack_from('<Q', d, off)[0]
                namelen = struct.unpack_from('<I', d, off + ENTRY_OUT + 16)[0]
                if not namelen or off + ENTRY_OUT + 24 + namelen > len(d):
                    break
                name = d[off + ENTRY_OUT + 24:off + ENTRY_OUT + 24 + namelen]
                if nid and name not in (b'.', b'..'):
                    refs[nid] += 1
                off += (ENTRY_OUT + 24 + namelen + 7) & ~7
    for uniq in req:
        if uniq not in written:
            err('request %#x (opcode %d) got no reply' % (uniq, req[uniq][0]))
    if n['wakeup_replies'] > n['wakeups']:
        err('%d NOTIFY_REPLYs with a private unique, %d wake-ups sent' % (n['wakeup_replies'], n['wakeups']))
    for nid, k in forgets.items():
        if k > refs.get(nid, 0):
            err('node %#x: the kernel forgot %d references, the replies gave %d' % (nid, k, refs.get(nid, 0)))
    print('wire_decode: requests=%d replies=%d notifications=%d wakeups=%d forgets=%d (of %d nodes) refs=%d errors=%d'
          % (n['requests'], n['replies'], n['notifications'], n['wakeups'], sum(forgets.values()), len(forgets),
             sum(refs.values()), n['errors']))
    for e in errors:
        print('wire_decode: ERROR ' + e)
    return 1 if n['errors'] or not n['requests'] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
