#!/usr/bin/python3
# rt_pyfuse3.py SOURCE MOUNTPOINT: a passthrough of SOURCE on pyfuse3, a
# Cython module linked to libfuse3 and loaded at run time
# (tests/fuse/mounted.sh).  Inode numbers are the source's; one path each.
import errno, os, stat, sys
import pyfuse3, trio


class Passthrough(pyfuse3.Operations):
    def __init__(self, root):
        super().__init__()
        self.paths = {pyfuse3.ROOT_INODE: os.path.realpath(root)}
        self.fds = {}

    def _path(self, inode):
        try:
            return self.paths[inode]
        except KeyError:
            raise pyfuse3.FUSEError(errno.ENOENT)

    def _attr(self, path, inode=None):
        try:
            st = os.lstat(path)
        except OSError as e:
            raise pyfuse3.FUSEError(e.errno)
        a = pyfuse3.EntryAttributes()
        for k in ('st_mode', 'st_nlink', 'st_uid', 'st_gid', 'st_rdev', 'st_size', 'st_atime_ns',
                  'st_mtime_ns', 'st_ctime_ns'):
            setattr(a, k, getattr(st, k))
        a.st_ino = inode if inode is not None else st.st_ino
        a.generation = 0
        a.entry_timeout = 0
        a.attr_timeout = 0
        a.st_blksize = 512
        a.st_blocks = (st.st_size + 511) // 512
        if inode is None:
            self.paths[st.st_ino] = path
        return a

    def _child(self, parent, name):
        return os.path.join(self._path(parent), os.fsdecode(name))

    def _os(self, f, *args):
        try:
            return f(*args)
        except OSError as e:
            raise pyfuse3.FUSEError(e.errno)

    async def lookup(self, parent, name, ctx=None):
        return self._attr(self._child(parent, name))

    async def getattr(self, inode, ctx=None):
        return self._attr(self._path(inode), inode)

    async def setattr(self, inode, attr, fields, fh, ctx):
        p = self._path(inode)
        if fields.update_size:
            self._os(os.truncate, p, attr.st_size)
        if fields.update_mode:
            self._os(os.chmod, p, stat.S_IMODE(attr.st_mode))
        if fields.update_atime or fields.update_mtime:
            st = os.lstat(p)
            at = attr.st_atime_ns if fields.update_atime else st.st_atime_ns
            mt = attr.st_mtime_ns if fields.update_mtime else st.st_mtime_ns
            self._os(os.utime, p, None, follow_symlinks=False) if False else \
                self._os(lambda: os.utime(p, ns=(at, mt), follow_symlinks=False))
        return self._attr(p, inode)

    async def readlink(self, inode, ctx):
        return os.fsencode(self._os(os.readlink, self._path(inode)))

    async def opendir(self, inode, ctx):
        return inode

    async def readdir(self, inode, off, token):
        p = self._path(inode)
        names = sorted(self._os(os.listdir, p))
        for i, n in enumerate(names[off:], off):
            if not pyfuse3.readdir_reply(token, os.fsencode(n), self._attr(os.path.join(p, n)), i + 1):
                break

    async def mkdir(self, parent, name, mode, ctx):
        p = self._child(parent, name)
        self._os(os.mkdir, p, mode)
        return self._attr(p)

    async def rmdir(self, parent, name, ctx):
        self._os(os.rmdir, self._child(parent, name))

    async def unlink(self, parent, name, ctx):
        self._os(os.unlink, self._child(parent, name))

    async def symlink(self, parent, name, target, ctx):
        p = self._child(parent, name)
        self._os(os.symlink, os.fsdecode(target), p)
        return self._attr(p)

    async def rename(self, p_old, n_old, p_new, n_new, flags, ctx):
        old, new = self._child(p_old, n_old), self._child(p_new, n_new)
        self._os(os.rename, old, new)
        for ino, q in list(self.paths.items()):
            if q == old or q.startswith(old + '/'):
                self.paths[ino] = new + q[len(old):]

    async def open(self, inode, flags, ctx):
        fd = self._os(os.open, self._path(inode), flags & ~os.O_CREAT)
        self.fds[fd] = inode
        return pyfuse3.FileInfo(fh=fd)

    async def create(self, parent, name, mode, flags, ctx):
        p = self._child(parent, name)
        fd = self._os(os.open, p, flags | os.O_CREAT | os.O_TRUNC, mode)
        a = self._attr(p)
        self.fds[fd] = a.st_ino
        return pyfuse3.FileInfo(fh=fd), a

    async def read(self, fd, off, size):
        return self._os(os.pread, fd, size, off)

    async def write(self, fd, off, buf):
        return self._os(os.pwrite, fd, buf, off)

    async def flush(self, fd):
        pass

    async def fsync(self, fd, datasync):
        self._os(os.fdatasync if datasync else os.fsync, fd)

    async def release(self, fd):
        self.fds.pop(fd, None)
        os.close(fd)

    async def statfs(self, ctx):
        sv = os.statvfs(self._path(pyfuse3.ROOT_INODE))
        s = pyfuse3.StatvfsData()
        for k in ('f_bsize', 'f_frsize', 'f_blocks', 'f_bfree', 'f_bavail', 'f_files', 'f_ffree',
                  'f_favail', 'f_namemax'):
            setattr(s, k, getattr(sv, k))
        return s


def main():
    fs = Passthrough(sys.argv[1])
    opts = set(pyfuse3.default_options)
    opts.add('fsname=rt_pyfuse3')
    pyfuse3.init(fs, sys.argv[2], opts)
    try:
        trio.run(pyfuse3.main)
    finally:
        pyfuse3.close(unmount=False)


if __name__ == '__main__':
    main()
