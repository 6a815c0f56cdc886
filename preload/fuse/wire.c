/* wire.c - which fds are /dev/fuse fds, and the syscalls on them.
 *
 * A FUSE fd is born by an open of /dev/fuse (reentry.c's open interposers
 * tell us), arrives over a socket (recvmsg SCM_RIGHTS: fusermount3,
 * mergerfs-fusermount), is cloned (FUSE_DEV_IOC_CLONE: same connection, its
 * own processing queue), duplicated (dup, dup2, dup3, fcntl F_DUPFD*, and
 * the same through libc's syscall(3): wire_syscall.c), or is
 * inherited (found at load by fstat: char device 10:229).  Each known fd has
 * a bit in fsr_wire_fdbits and the index of its connection in fd_conn; every
 * read or write of any other fd pays that one bit test and nothing more.
 *
 * fd_file names the open file an fd refers to: a dup of any kind shares
 * its file, and the kernel ends the requests read on a file (its processing
 * queue, fuse_dev_release) only when the file's last fd is closed.  So the
 * close of one fd of a file that has another moves its synthetic requests
 * to that one (wire_proto.c).  An fd received with SCM_RIGHTS, or found at
 * load, is compared with the known ones by kcmp(KCMP_FILE): a copy of a
 * file the process already has joins its connection and its file.
 *
 * read, readv and write are interposed by reentry.c (they check fs-reentry
 * too) and come here for FUSE fds; __read_chk, writev, splice (handled in
 * wire_splice.c) and the fd births are interposed here. */
#include "wire.h"
#include "modules.h"
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

uint64_t fsr_wire_fdbits[FSR_WIRE_FDS / 64];
static unsigned char fd_conn[FSR_WIRE_FDS];
static unsigned int fd_file[FSR_WIRE_FDS];
static unsigned int next_file;
static unsigned char fd_nb[FSR_WIRE_FDS];   /* 0 not asked yet, 1 blocking, 2 O_NONBLOCK */

static void fd_add_file(int fd, int conn, unsigned int file);

int fsr_wire_fd_is_fuse(int fd)
{
	struct stat st;
	if (syscall(SYS_fstat, fd, &st) != 0)
		return 0;
	return S_ISCHR(st.st_mode) && major(st.st_rdev) == 10 && minor(st.st_rdev) == 229;
}

/* the first known FUSE fd other than fd for which is(o, arg) holds (-1: none) */
static int known_fd_such(int fd, int (*is)(int o, const void *arg), const void *arg)
{
	for (unsigned int w = 0; w < FSR_WIRE_FDS / 64; w++) {
		uint64_t b = __atomic_load_n(&fsr_wire_fdbits[w], __ATOMIC_ACQUIRE);
		while (b) {
			int o = (int)(w * 64 + (unsigned int)__builtin_ctzll(b));
			b &= b - 1;
			if (o != fd && is(o, arg))
				return o;
		}
	}
	return -1;
}

static int on_file(int o, const void *file)
{
	return fd_file[o] == *(const unsigned int *)file;
}

/* a known FUSE fd, other than fd, on the same open file as fd (-1: none) */
static int same_file_other(int fd, unsigned int file)
{
	return known_fd_such(fd, on_file, &file);
}

#ifndef KCMP_FILE
#define KCMP_FILE 0
#endif
struct kcmp_of { pid_t pid; int fd; };

static int same_kernel_file(int o, const void *arg)
{
	const struct kcmp_of *k = arg;
	return syscall(SYS_kcmp, k->pid, k->pid, KCMP_FILE, k->fd, o) == 0;
}

/* a known FUSE fd whose open file fd (not known yet) also refers to, by
 * kcmp (-1: none, or no kcmp in this kernel) */
static int known_copy_of(int fd)
{
	struct kcmp_of k = { (pid_t)syscall(SYS_getpid), fd };
	return known_fd_such(fd, same_kernel_file, &k);
}

/* a FUSE fd that arrived from outside (SCM_RIGHTS, inherited): a copy of
 * a known one joins its connection and file, else a new connection */
static void fd_arrived(int fd)
{
	int o = known_copy_of(fd);
	if (o >= 0)
		fd_add_file(fd, fd_conn[o], fd_file[o]);
	else
		fsr_wire_fd_add(fd, -1);
}

void fsr_wire_fd_add(int fd, int conn)
{
	fd_add_file(fd, conn, __atomic_add_fetch(&next_file, 1, __ATOMIC_RELAXED));
}

static void fd_add_file(int fd, int conn, unsigned int file)
{
	if ((unsigned int)fd >= FSR_WIRE_FDS) {
		static int said;
		if (fd >= 0 && !__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
			fsr_say("fsreclaim: /dev/fuse fd %d is above the wire's fd table (%d): that connection "
				"is not followed", fd, FSR_WIRE_FDS);
		return;
	}
	if (fsr_wire_is_fd(fd))
		fsr_wire_fd_del(fd);
	if (conn < 0)
		conn = fsr_wire_conn_new();
	if (conn < 0)
		return;
	fd_conn[fd] = (unsigned char)conn;
	fd_file[fd] = file;
	__atomic_store_n(&fd_nb[fd], 0, __ATOMIC_RELAXED);
	fsr_wire_conn_ref(conn);
	__atomic_or_fetch(&fsr_wire_fdbits[(unsigned int)fd >> 6], 1ull << (fd & 63), __ATOMIC_RELEASE);
}

void fsr_wire_fd_del(int fd)
{
	if (!fsr_wire_is_fd(fd))
		return;
	__atomic_and_fetch(&fsr_wire_fdbits[(unsigned int)fd >> 6], ~(1ull << (fd & 63)), __ATOMIC_RELEASE);
	fsr_wire_conn_fd_closed(fd_conn[fd], fd, same_file_other(fd, fd_file[fd]));
}

/* the fd's O_NONBLOCK at its first read (one fcntl per fd: event loops set
 * it before they read; a later F_SETFL is not seen) */
int fsr_wire_fd_nonblock(int fd)
{
	if ((unsigned int)fd >= FSR_WIRE_FDS)
		return 0;
	unsigned char v = __atomic_load_n(&fd_nb[fd], __ATOMIC_RELAXED);
	if (!v) {
		int e = errno;
		long fl = syscall(SYS_fcntl, fd, F_GETFL);
		errno = e;
		v = fl >= 0 && (fl & O_NONBLOCK) ? 2 : 1;
		__atomic_store_n(&fd_nb[fd], v, __ATOMIC_RELAXED);
	}
	return v == 2;
}

int fsr_wire_conn_of(int fd)
{
	return fsr_wire_is_fd(fd) ? fd_conn[fd] : -1;
}

void fsr_wire_opened(const char *path, int fd)
{
	if (fd >= 0 && path && strcmp(path, "/dev/fuse") == 0 && fsr_wire_fd_is_fuse(fd))
		fsr_wire_fd_add(fd, -1);
}

/* an fd made from another: the same connection (dup) */
static void dup_of(int oldfd, int newfd)
{
	if (newfd < 0 || newfd == oldfd)
		return;
	if (fsr_wire_is_fd(oldfd))
		fd_add_file(newfd, fd_conn[oldfd], fd_file[oldfd]);
	else if (fsr_wire_is_fd(newfd))
		fsr_wire_fd_del(newfd);      /* dup2 onto a FUSE fd closed it */
}

/* reentry.c's close, dup2, dup3 */
void fsr_wire_closed(int fd)
{
	if (unlikely(fsr_wire_is_fd(fd)))
		fsr_wire_fd_del(fd);
	if (unlikely(fsr_wire_is_epfd(fd)))
		fsr_wire_epfd_closed(fd);
}
void fsr_wire_dup2(int oldfd, int newfd, int r)
{
	if (r >= 0 && unlikely(fsr_wire_is_fd(oldfd) || fsr_wire_is_fd(newfd)))
		dup_of(oldfd, newfd);
	if (r >= 0 && newfd != oldfd && unlikely(fsr_wire_is_epfd(newfd)))
		fsr_wire_epfd_closed(newfd);   /* dup2 onto an epoll fd closed it */
}

/* ---- the interposers ---- */

static ssize_t rd_readv(int fd, const struct iovec *v, int n)
{
	WIRE_REAL(ssize_t, readv, (int, const struct iovec *, int));
	if (n == 1) {
		WIRE_REAL(ssize_t, read, (int, void *, size_t));
		return real_read(fd, v[0].iov_base, v[0].iov_len);
	}
	return real_readv(fd, v, n);
}

static ssize_t wr_writev(int fd, const struct iovec *v, int n)
{
	WIRE_REAL(ssize_t, writev, (int, const struct iovec *, int));
	if (n == 1) {
		WIRE_REAL(ssize_t, write, (int, const void *, size_t));
		return real_write(fd, v[0].iov_base, v[0].iov_len);
	}
	return real_writev(fd, v, n);
}

/* reentry.c's read, readv and write of a FUSE fd */
ssize_t fsr_wire_read1(int fd, void *b, size_t n, void *caller)
{
	struct iovec v = { b, n };
	return fsr_wire_read(fd, &v, 1, rd_readv, caller);
}
ssize_t fsr_wire_readv(int fd, const struct iovec *v, int n, void *caller)
{
	return fsr_wire_read(fd, v, n, rd_readv, caller);
}
ssize_t fsr_wire_write1(int fd, const void *b, size_t n)
{
	struct iovec v = { (void *)b, n };
	return fsr_wire_write(fd, &v, 1, wr_writev);
}

WIRE_IPOS(ssize_t, writev, (int fd, const struct iovec *v, int n))
{
	if (unlikely(fsr_wire_is_fd(fd)))
		return fsr_wire_write(fd, v, n, wr_writev);
	WIRE_REAL(ssize_t, writev, (int, const struct iovec *, int));
	return real_writev(fd, v, n);
}

WIRE_IPOS(ssize_t, splice, (int in, loff_t *oin, int out, loff_t *oout, size_t len, unsigned int fl))
{
	if (unlikely(fsr_wire_is_fd(in) || fsr_wire_is_fd(out)))
		return fsr_wire_splice(in, oin, out, oout, len, fl, __builtin_return_address(0));
	WIRE_REAL(ssize_t, splice, (int, loff_t *, int, loff_t *, size_t, unsigned int));
	return real_splice(in, oin, out, oout, len, fl);
}

WIRE_IPOS(int, ioctl, (int fd, unsigned long req, ...))
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	WIRE_REAL(int, ioctl, (int, unsigned long, void *));
	int r = real_ioctl(fd, req, arg);
	/* a fresh /dev/fuse fd joins oldfd's connection (fuse_device_clone) */
	if (unlikely(req == FUSE_DEV_IOC_CLONE) && r == 0 && arg) {
		int old = *(const int *)arg;
		if (fsr_wire_is_fd(old))
			fsr_wire_fd_add(fd, fsr_wire_conn_of(old));
	}
	return r;
}

static void received(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (fsr_wire_fd_is_fuse(fd))
				fd_arrived(fd);
		}
	}
}

WIRE_IPOS(ssize_t, recvmsg, (int fd, struct msghdr *m, int fl))
{
	WIRE_REAL(ssize_t, recvmsg, (int, struct msghdr *, int));
	ssize_t r = real_recvmsg(fd, m, fl);
	if (r >= 0 && m && m->msg_controllen >= sizeof(struct cmsghdr))
		received(m);
	return r;
}

WIRE_IPOS(int, dup, (int fd))
{
	WIRE_REAL(int, dup, (int));
	int r = real_dup(fd);
	if (unlikely(fsr_wire_is_fd(fd)))
		dup_of(fd, r);
	return r;
}

/* fcntl's F_DUPFD: filelock.c interposes fcntl (file locks) and tells the
 * wire through fsr_wire_dup2 */

/* fds inherited from the parent: a daemon handed /dev/fd/N, or exec'd with its fd */
__attribute__((constructor(111))) static void wire_inherited(void)
{
	int e = errno;
	int d = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return;
	char buf[4096];
	long n;
	while ((n = syscall(SYS_getdents64, d, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *de = (struct dirent64 *)(void *)(buf + off);
			off += de->d_reclen;
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			int fd = 0;
			for (const char *q = de->d_name; *q >= '0' && *q <= '9'; q++)
				fd = fd * 10 + (*q - '0');
			if (fd != d && fsr_wire_fd_is_fuse(fd))
				fd_arrived(fd);
		}
	}
	syscall(SYS_close, d);
	errno = e;
}

/* the code of a libfuse: on the wire, requests go through libfuse's own
 * dispatcher and its internal locks (f->lock, the mt loop's lock) would
 * make reports that are not the daemon author's bug.  A libfuse linked into
 * the daemon (wire_bundled.c for a stripped one, wire_static.c from the
 * .symtab for libfuse3.a) is served only by the wire; a dynamic libfuse
 * (modules.h) under fuse_transport=wire, or one loaded at run time under
 * auto. */
int fsr_wire_site_in_libfuse(const void *site)
{
	if (fsr_wire_site_in_bundled(site))
		return 1;
	if (fsr_opt.fuse_transport == FSR_TRANSPORT_LIB)
		return 0;
	if (fsr_wire_site_in_static_libfuse(site))
		return 1;
	unsigned int f = fsr_module_flags((uintptr_t)site);
	return (f & FSR_MOD_LIBFUSE) && (fsr_opt.fuse_transport == FSR_TRANSPORT_WIRE || (f & FSR_MOD_RTLOAD));
}
