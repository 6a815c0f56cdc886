/* badargs - pjdfstest-style checks of every path and fd call the shim
 * interposes (preload/fuse/reentry.c): each given NULL, an unmapped
 * pointer, an over-long path and a bad fd, outside any FUSE op and inside
 * one (a lookup of MOUNTPOINT/trigger of this low-level daemon).  Each call
 * runs in a forked child; a line "CONTEXT NAME ARG: rc R errno E" (or
 * "signal N") per call.  badargs.sh runs it with and without the shim: the
 * lines must be equal (pjdfstest's open/21.t crashed under the shim).
 * Usage: badargs MOUNTPOINT (foreground, single-threaded). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <dlfcn.h>
#include <sys/uio.h>

/* glibc's _FORTIFY_SOURCE entry points (no public prototypes) */
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);
ssize_t __read_chk(int, void *, size_t, size_t);
ssize_t __pread_chk(int, void *, size_t, off_t, size_t);
ssize_t __pread64_chk(int, void *, size_t, off64_t, size_t);
ssize_t __readlink_chk(const char *, char *, size_t, size_t);
char *__realpath_chk(const char *, char *, size_t);
ssize_t __readlinkat_chk(int, const char *, char *, size_t, size_t);
/* glibc < 2.33's stat entry points, which binaries built then still call:
 * compat symbols now, found at run time (the shim's, when preloaded) */
typedef int (*xstat_fn)(int, const char *, struct stat *);
typedef int (*fxstat_fn)(int, int, struct stat *);
typedef int (*fxstatat_fn)(int, int, const char *, struct stat *, int);
static void *compat(const char *name, const char *ver)
{
	void *p = dlsym(RTLD_DEFAULT, name);     /* an unversioned interposer's (the shim's) */
	return p ? p : dlvsym(RTLD_DEFAULT, name, ver);
}

static const char *ctx_name;
static char *unmapped, *longpath;
static char buf[256];

/* one call in a child: its result and errno, or the signal that killed it */
#define TRY(name, arg, expr) try_one(name, arg, ({ int pfd_[2]; (void)!pipe(pfd_); pid_t p_ = fork(); \
	if (p_ == 0) { close(pfd_[0]); errno = 0; long r_ = (long)(expr); int e_ = errno; \
		char o_[64]; int n_ = snprintf(o_, sizeof o_, "rc %ld errno %d", r_, e_); \
		(void)!write(pfd_[1], o_, n_); _exit(0); } \
	close(pfd_[1]); pfd_[0] * 65536 + (int)p_; }))

static void try_one(const char *name, const char *arg, int packed)
{
	int fd = packed / 65536, pid = packed % 65536, st = 0;
	char out[64] = "";
	ssize_t n = read(fd, out, sizeof out - 1);
	close(fd);
	waitpid(pid, &st, 0);
	if (n > 0)
		out[n] = 0;
	if (WIFSIGNALED(st))
		snprintf(out, sizeof out, "signal %d", WTERMSIG(st));
	printf("%s %s %s: %s\n", ctx_name, name, arg, out);
}

/* in the child: a path that fills the main heap up to its break, which
 * ends a mapping, with no NUL (the shim reads heap paths in place: it must
 * stop at the break and answer as the kernel does, EFAULT) */
static const char *heap_end(void)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	char *b = sbrk(0);
	uintptr_t k = pg - (uintptr_t)b % pg;   /* to the next page boundary */
	if (k < 64)
		k += pg;
	if (sbrk((intptr_t)k) == (void *)-1)
		return NULL;
	memset(b + k - 64, 'a', 64);            /* 64 bytes, then the unmapped page */
	return b + k - 64;
}

/* in the child: a path in an mmap'd page (the shim reads it through the
 * kernel), 300 bytes from 100 before the page's end; with end set the next
 * page is unmapped and the path has no NUL before it */
static const char *mapped(int end)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	char *p = m + pg - 100;
	memset(p, 'a', end ? 100 : 300);
	if (end)
		munmap(m + pg, pg);
	return p;
}

#define PATHS(name, call) do { \
	{ const char *P = NULL; TRY(name, "NULL", call); } \
	{ const char *P = unmapped; TRY(name, "unmapped", call); } \
	{ const char *P = longpath; TRY(name, "long", call); } \
	{ const char *P = NULL; TRY(name, "heapend", (P = heap_end(), call)); } \
	{ const char *P = NULL; TRY(name, "mapcross", (P = mapped(0), call)); } \
	{ const char *P = NULL; TRY(name, "mapend", (P = mapped(1), call)); } } while (0)
/* calls glibc itself reads the path of (crash or not in glibc alike): long only */
#define PATHS_LONG(name, call) do { const char *P = longpath; TRY(name, "long", call); } while (0)
#define FDS(name, call) do { { int F = -1; TRY(name, "-1", call); } { int F = 1000; TRY(name, "closed", call); } } while (0)

static void suite(const char *ctx)
{
	ctx_name = ctx;
	struct stat st;
	struct stat64 st64;
	struct statfs sf;
	struct statvfs sv;
	struct statx sx;
	struct timeval tv[2] = { { 0, 0 }, { 0, 0 } };
	struct iovec iov = { buf, 1 };
	char rbuf[PATH_MAX];
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
	PATHS("open", open(P, O_RDONLY));
	PATHS("open-creat", open(P, O_WRONLY | O_CREAT, 0644));
	PATHS("open64", open64(P, O_RDONLY));
	PATHS("openat", openat(AT_FDCWD, P, O_RDONLY));
	PATHS("openat64", openat64(AT_FDCWD, P, O_RDONLY));
	PATHS("creat", creat(P, 0644));
	PATHS("stat", stat(P, &st));
	PATHS("stat64", stat64(P, &st64));
	PATHS("lstat", lstat(P, &st));
	PATHS("access", access(P, F_OK));
	PATHS("euidaccess", euidaccess(P, F_OK));
	PATHS("readlink", readlink(P, buf, sizeof buf));
	PATHS("mkdir", mkdir(P, 0755));
	PATHS("rmdir", rmdir(P));
	PATHS("unlink", unlink(P));
	PATHS("chmod", chmod(P, 0644));
	PATHS("chown", chown(P, 0, 0));
	PATHS("lchown", lchown(P, 0, 0));
	PATHS("truncate", truncate(P, 0));
	PATHS("mknod", mknod(P, S_IFIFO | 0644, 0));
	PATHS("chdir", chdir(P));
	PATHS("statfs", statfs(P, &sf));
	PATHS("statvfs", statvfs(P, &sv));
	PATHS("getxattr", getxattr(P, "user.x", buf, sizeof buf));
	PATHS("lgetxattr", lgetxattr(P, "user.x", buf, sizeof buf));
	PATHS("setxattr", setxattr(P, "user.x", "v", 1, 0));
	PATHS("listxattr", listxattr(P, buf, sizeof buf));
	PATHS("removexattr", removexattr(P, "user.x"));
	PATHS("utimes", utimes(P, tv));
	PATHS("fopen", fopen(P, "r") != NULL);
	PATHS_LONG("opendir", opendir(P) != NULL);
	PATHS_LONG("realpath", realpath(P, NULL) != NULL);
	{ const char *P = NULL; TRY("realpath", "NULL", realpath(P, NULL) != NULL); }
	PATHS("__open_2", __open_2(P, O_RDONLY));
	PATHS("__open64_2", __open64_2(P, O_RDONLY));
	PATHS("__openat_2", __openat_2(AT_FDCWD, P, O_RDONLY));
	PATHS("__openat64_2", __openat64_2(AT_FDCWD, P, O_RDONLY));
	PATHS("creat64", creat64(P, 0644));
	PATHS("lstat64", lstat64(P, &st64));
	PATHS("eaccess", eaccess(P, F_OK));
	PATHS("truncate64", truncate64(P, 0));
	PATHS("statfs64", statfs64(P, (struct statfs64 *)&sf));
	PATHS("statvfs64", statvfs64(P, (struct statvfs64 *)&sv));
	PATHS("lsetxattr", lsetxattr(P, "user.x", "v", 1, 0));
	PATHS("llistxattr", llistxattr(P, buf, sizeof buf));
	PATHS("lremovexattr", lremovexattr(P, "user.x"));
	PATHS("fopen64", fopen64(P, "r") != NULL);
	PATHS("__readlink_chk", __readlink_chk(P, buf, sizeof buf, sizeof buf));
	PATHS_LONG("__realpath_chk", __realpath_chk(P, rbuf, sizeof rbuf) != NULL);
	PATHS("__readlinkat_chk", __readlinkat_chk(AT_FDCWD, P, buf, sizeof buf, sizeof buf));
	PATHS("fstatat64", fstatat64(AT_FDCWD, P, &st64, 0));
	xstat_fn xs = (xstat_fn)compat("__xstat", "GLIBC_2.2.5"), lxs = (xstat_fn)compat("__lxstat", "GLIBC_2.2.5");
	xstat_fn xs64 = (xstat_fn)compat("__xstat64", "GLIBC_2.2.5"), lxs64 = (xstat_fn)compat("__lxstat64", "GLIBC_2.2.5");
	fxstatat_fn fxsat = (fxstatat_fn)compat("__fxstatat", "GLIBC_2.4");
	fxstatat_fn fxsat64 = (fxstatat_fn)compat("__fxstatat64", "GLIBC_2.4");
	if (xs && lxs && xs64 && lxs64 && fxsat && fxsat64) {
		PATHS("__xstat", xs(1, P, &st));
		PATHS("__lxstat", lxs(1, P, &st));
		PATHS("__xstat64", xs64(1, P, &st));
		PATHS("__lxstat64", lxs64(1, P, &st));
		PATHS("__fxstatat", fxsat(1, AT_FDCWD, P, &st, 0));
		PATHS("__fxstatat64", fxsat64(1, AT_FDCWD, P, &st, 0));
	} else {
		printf("%s compat-stat: not found\n", ctx);
	}
	PATHS("fstatat", fstatat(AT_FDCWD, P, &st, 0));
	PATHS("fstatat-empty", fstatat(AT_FDCWD, P, &st, AT_EMPTY_PATH));
	PATHS("statx", statx(AT_FDCWD, P, 0, STATX_BASIC_STATS, &sx));
	PATHS("faccessat", faccessat(AT_FDCWD, P, F_OK, 0));
	PATHS("readlinkat", readlinkat(AT_FDCWD, P, buf, sizeof buf));
	PATHS("mkdirat", mkdirat(AT_FDCWD, P, 0755));
	PATHS("unlinkat", unlinkat(AT_FDCWD, P, 0));
	PATHS("fchmodat", fchmodat(AT_FDCWD, P, 0644, 0));
	PATHS("fchownat", fchownat(AT_FDCWD, P, 0, 0, 0));
	PATHS("mknodat", mknodat(AT_FDCWD, P, S_IFIFO | 0644, 0));
	PATHS("utimensat", utimensat(AT_FDCWD, P, ts, 0));
	PATHS("rename-a", rename(P, "/nonexistent-badargs"));
	PATHS("rename-b", rename("/nonexistent-badargs", P));
	PATHS("renameat", renameat(AT_FDCWD, P, AT_FDCWD, "/nonexistent-badargs"));
	PATHS("renameat2", renameat2(AT_FDCWD, "/nonexistent-badargs", AT_FDCWD, P, 0));
	PATHS("link", link(P, "/nonexistent-badargs"));
	PATHS("linkat", linkat(AT_FDCWD, "/nonexistent-badargs", AT_FDCWD, P, 0));
	PATHS("symlink", symlink("x", P));
	PATHS("symlinkat", symlinkat("x", AT_FDCWD, P));
	/* a bad dirfd with a relative path */
	FDS("openat-dirfd", openat(F, "x", O_RDONLY));
	FDS("fstatat-dirfd", fstatat(F, "x", &st, 0));
	FDS("fstatat-emptypath", fstatat(F, "", &st, AT_EMPTY_PATH));
	FDS("unlinkat-dirfd", unlinkat(F, "x", 0));
	FDS("mkdirat-dirfd", mkdirat(F, "x", 0755));
	FDS("renameat-dirfd", renameat(F, "x", F, "y"));
	FDS("linkat-dirfd", linkat(F, "x", F, "y", 0));
	FDS("symlinkat-dirfd", symlinkat("x", F, "y"));
	FDS("readlinkat-dirfd", readlinkat(F, "x", buf, sizeof buf));
	FDS("utimensat-dirfd", utimensat(F, "x", ts, 0));
	FDS("statx-dirfd", statx(F, "x", 0, STATX_BASIC_STATS, &sx));
	/* fd calls */
	FDS("read", read(F, buf, 1));
	FDS("pread", pread(F, buf, 1, 0));
	FDS("write", write(F, buf, 1));
	FDS("pwrite", pwrite(F, buf, 1, 0));
	FDS("fstat", fstat(F, &st));
	FDS("fsync", fsync(F));
	FDS("fdatasync", fdatasync(F));
	FDS("ftruncate", ftruncate(F, 0));
	FDS("fchmod", fchmod(F, 0644));
	FDS("fchown", fchown(F, 0, 0));
	FDS("fchdir", fchdir(F));
	FDS("fstatfs", fstatfs(F, &sf));
	FDS("fstatvfs", fstatvfs(F, &sv));
	FDS("fgetxattr", fgetxattr(F, "user.x", buf, sizeof buf));
	FDS("fsetxattr", fsetxattr(F, "user.x", "v", 1, 0));
	FDS("flistxattr", flistxattr(F, buf, sizeof buf));
	FDS("fallocate", fallocate(F, 0, 0, 1));
	FDS("getdents64", getdents64(F, buf, sizeof buf));
	FDS("fdopendir", fdopendir(F) != NULL);
	FDS("pread64", pread64(F, buf, 1, 0));
	FDS("pwrite64", pwrite64(F, buf, 1, 0));
	FDS("readv", readv(F, &iov, 1));
	FDS("preadv", preadv(F, &iov, 1, 0));
	FDS("fstat64", fstat64(F, &st64));
	FDS("ftruncate64", ftruncate64(F, 0));
	FDS("__read_chk", __read_chk(F, buf, 1, sizeof buf));
	FDS("__pread_chk", __pread_chk(F, buf, 1, 0, sizeof buf));
	FDS("__pread64_chk", __pread64_chk(F, buf, 1, 0, sizeof buf));
	fxstat_fn fxs = (fxstat_fn)compat("__fxstat", "GLIBC_2.2.5"), fxs64 = (fxstat_fn)compat("__fxstat64", "GLIBC_2.2.5");
	if (fxs && fxs64) {
		FDS("__fxstat", fxs(1, F, &st));
		FDS("__fxstat64", fxs64(1, F, &st));
	} else {
		printf("%s compat-fxstat: not found\n", ctx);
	}
	FDS("dup3", dup3(F, 900, 0));
	TRY("close_range", "bad", close_range(1000, 999, 0));
	TRY("close_range", "flags", close_range(1000, 1001, 0x7fffffff));
	FDS("close", close(F));
	FDS("dup2", dup2(F, 900));
	/* buffers the kernel rejects, on a good fd */
	int z = open("/dev/zero", O_RDWR);
	{ int F = z; TRY("read-unmapped-buf", "zero", read(F, unmapped, 16)); }
	{ int F = z; TRY("pread-unmapped-buf", "zero", pread(F, unmapped, 16, 0)); }
	{ int F = z; TRY("fstat-unmapped-buf", "zero", fstat(F, (struct stat *)unmapped)); }
	TRY("stat-unmapped-buf", "/", stat("/", (struct stat *)unmapped));
	TRY("readlink-unmapped-buf", "/proc/self/exe", readlink("/proc/self/exe", unmapped, 16));
	close(z);
	fflush(stdout);
}

static void bl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	if (strcmp(name, "trigger") == 0)
		suite("op");
	fuse_reply_err(req, ENOENT);
}

static const struct fuse_lowlevel_ops ops = { .lookup = bl_lookup };

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	long pg = sysconf(_SC_PAGESIZE);
	unmapped = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(unmapped, pg);
	longpath = malloc(PATH_MAX + 100);
	memset(longpath, 'a', PATH_MAX + 99);
	longpath[PATH_MAX + 99] = 0;
	suite("plain");
	if (argc < 2)
		return 0;
	char *fargv[] = { argv[0], NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, fargv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
	if (!se || fuse_session_mount(se, argv[1]) != 0)
		return 1;
	fuse_session_loop(se);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return 0;
}
