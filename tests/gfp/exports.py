#!/usr/bin/env python3
"""exports.py - the shim's exported names from Python (ctypes), as a
fusepy/pyfuse3 daemon would reach them: scopes, the GFP context, a shrinker
written in Python that a reclaim pass calls, and the GFP calls' bad input."""
import ctypes
import ctypes.util
import errno
import sys

lib = ctypes.CDLL(None, use_errno=True)   # the process: the preloaded shim's exports
U = ctypes.c_uint
SZ = ctypes.c_size_t
VP = ctypes.c_void_p
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def fn(name, res, *args):
    try:
        f = getattr(lib, name)
    except AttributeError:
        print("FAIL: no exported", name)
        sys.exit(1)
    f.restype = res
    f.argtypes = list(args)
    return f


nofs_save = fn("memalloc_nofs_save", U)
nofs_restore = fn("memalloc_nofs_restore", None, U)
noio_save = fn("memalloc_noio_save", U)
noio_restore = fn("memalloc_noio_restore", None, U)
ctx = fn("fsr_current_gfp_context", U, U)
kmalloc = fn("fsr_kmalloc", VP, SZ, U)
kfree = fn("fsr_kfree", None, VP)
might_alloc = fn("fsr_might_alloc", None, U)

GFP_KERNEL, GFP_NOFS, GFP_NOIO, GFP_NOWAIT = 0xcc0, 0xc40, 0xc00, 0x800

a = nofs_save()
b = nofs_save()
check((a, b) == (1, 0), "nested nofs saves returned %r" % ((a, b),))
check(ctx(GFP_KERNEL) == GFP_NOFS, "GFP_KERNEL in a NOFS scope: 0x%x" % ctx(GFP_KERNEL))
c = noio_save()
check(ctx(GFP_KERNEL) == GFP_NOIO, "GFP_KERNEL in a NOIO scope: 0x%x" % ctx(GFP_KERNEL))
noio_restore(c)
nofs_restore(b)
nofs_restore(a)
check(ctx(GFP_KERNEL) == GFP_KERNEL, "GFP_KERNEL after the scopes: 0x%x" % ctx(GFP_KERNEL))
might_alloc(GFP_KERNEL)


class Shrinker(ctypes.Structure):
    pass


COUNT = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.POINTER(Shrinker), U)
SCAN = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.POINTER(Shrinker), ctypes.c_ulong, U)
Shrinker._fields_ = [("name", ctypes.c_char_p), ("count_objects", COUNT), ("scan_objects", SCAN),
                     ("flags", U), ("private_data", VP)]
scans = []
count_cb = COUNT(lambda s, gfp: 7)
scan_cb = SCAN(lambda s, nr, gfp: scans.append(gfp) or nr)
sh = Shrinker(b"py-shrinker", count_cb, scan_cb, 1, None)
register = fn("fsr_register_shrinker", ctypes.c_int, ctypes.POINTER(Shrinker))
unregister = fn("fsr_unregister_shrinker", None, ctypes.POINTER(Shrinker))
check(register(ctypes.byref(sh)) == 0, "fsr_register_shrinker")
for _ in range(4):
    kfree(kmalloc(64, GFP_KERNEL))   # interval=1 inline: a pass each
check(len(scans) > 0, "the Python shrinker was never scanned")
check(all(g & 0x80 for g in scans), "an FS shrinker got a mask without __GFP_FS: %r" % scans)
n = len(scans)
kfree(kmalloc(64, GFP_NOFS))         # no FS reclaim: the FS shrinker must not run
check(len(scans) == n, "GFP_NOFS ran the FS shrinker")
unregister(ctypes.byref(sh))

ctypes.set_errno(0)
p = kmalloc(ctypes.c_size_t(-1).value, GFP_KERNEL)
check(p is None and ctypes.get_errno() == errno.ENOMEM, "fsr_kmalloc(SIZE_MAX): %r errno %d" % (p, ctypes.get_errno()))
kfree(None)
tbegin = fn("fsr_transaction_begin", VP, ctypes.c_char_p)
tend = fn("fsr_transaction_end", None, VP)
cookie = tbegin(b"py")
check(cookie is not None, "fsr_transaction_begin returned NULL")
tend(cookie)
print("python checks done: %d failed" % len(fails))
sys.exit(1 if fails else 0)
