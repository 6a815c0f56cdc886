#!/usr/bin/python3
# rt_fusepy.py SOURCE MOUNTPOINT: a passthrough of SOURCE on fusepy, which
# loads libfuse.so.2 at run time through ctypes (tests/fuse/mounted.sh).
import errno, os, sys
from fusepy import FUSE, FuseOSError, Operations


class Loopback(Operations):
    def __init__(self, root):
        self.root = os.path.realpath(root)

    def _p(self, path):
        return self.root + path

    def __call__(self, op, path, *args):
        try:
            return super().__call__(op, self._p(path) if path is not None else None, *args)
        except OSError as e:
            raise FuseOSError(e.errno or errno.EIO)

    def getattr(self, path, fh=None):
        st = os.lstat(path)
        return {k: getattr(st, k) for k in ('st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime',
                                             'st_nlink', 'st_size', 'st_uid')}

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(path)

    def access(self, path, mode):
        if not os.access(path, mode):
            raise FuseOSError(errno.EACCES)

    def chmod(self, path, mode): os.chmod(path, mode)
    def chown(self, path, uid, gid): os.lchown(path, uid, gid)
    def mkdir(self, path, mode): os.mkdir(path, mode)
    def rmdir(self, path): os.rmdir(path)
    def unlink(self, path): os.unlink(path)
    def readlink(self, path): return os.readlink(path)
    def symlink(self, target, source): os.symlink(source, target)
    def rename(self, old, new): os.rename(old, self._p(new))
    def link(self, target, source): os.link(self._p(source), target)
    def utimens(self, path, times=None): os.utime(path, times, follow_symlinks=False)
    def statfs(self, path):
        sv = os.statvfs(path)
        return {k: getattr(sv, k) for k in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail',
                                             'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}
    def open(self, path, flags): return os.open(path, flags)
    def create(self, path, mode, fi=None): return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    def read(self, path, size, offset, fh): return os.pread(fh, size, offset)
    def write(self, path, data, offset, fh): return os.pwrite(fh, data, offset)
    def truncate(self, path, length, fh=None):
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(path, length)
    def flush(self, path, fh): os.fsync(fh) if False else None
    def fsync(self, path, datasync, fh):
        os.fdatasync(fh) if datasync else os.fsync(fh)
    def release(self, path, fh): os.close(fh)


if __name__ == '__main__':
    FUSE(Loopback(sys.argv[1]), sys.argv[2], foreground=True)
