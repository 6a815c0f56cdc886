/* hlpath - a high-level passthrough (libfuse3, or libfuse2 when built with
 * -DHLPATH_FUSE2) that checks the path its flush and fsync get: it must name
 * the file the handle is open on (fstat(fh) against lstat(SOURCE/path)), as
 * libfuse passes the node's current path, after renames and a hidden unlink
 * too.  The shim's callbacks are told apart by their lock owner (flush) and
 * counted; the workload never calls fsync, so every fsync is the shim's.  A
 * kernel flush may come without a path (a file replaced by a rename under
 * -o hard_remove: libfuse unlinked its node); the shim's never do.  At destroy: "hlpath: N checks (S by the shim), W wrong".
 * Usage: [HLPATH_HARD_REMOVE=1] hlpath SOURCE MOUNTPOINT [-f] [-s] ... */
#ifdef HLPATH_FUSE2
#define FUSE_USE_VERSION 26
#include <fuse/fuse.h>
#else
#define FUSE_USE_VERSION 31
#include <fuse3/fuse.h>
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *src;
static int nchecks, nshim, nwrong;

static void full(char *out, const char *path)
{
	snprintf(out, PATH_MAX, "%s%s", src, path);
}

static void check(const char *what, const char *path, int fd, int by_shim)
{
	struct stat a, b;
	char p[PATH_MAX];
	__atomic_add_fetch(&nchecks, 1, __ATOMIC_RELAXED);
	if (by_shim)
		__atomic_add_fetch(&nshim, 1, __ATOMIC_RELAXED);
	if (!path && !by_shim && strcmp(what, "flush") == 0)
		return;      /* libfuse's: the file was replaced by a rename under -o hard_remove */
	if (!path) {
		__atomic_add_fetch(&nwrong, 1, __ATOMIC_RELAXED);
		fprintf(stderr, "hlpath: %s of fd %d: no path\n", what, fd);
		return;
	}
	full(p, path);
	if (fstat(fd, &a) != 0 || lstat(p, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
		__atomic_add_fetch(&nwrong, 1, __ATOMIC_RELAXED);
		fprintf(stderr, "hlpath: %s of fd %d%s names %s, another file or none\n", what, fd,
			by_shim ? " (shim)" : "", path);
	}
}

#ifdef HLPATH_FUSE2
static int x_getattr(const char *path, struct stat *st)
#else
static int x_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
#endif
{
	char p[PATH_MAX];
#ifndef HLPATH_FUSE2
	if (fi)
		return fstat(fi->fh, st) ? -errno : 0;
#endif
	full(p, path);
	return lstat(p, st) ? -errno : 0;
}

#ifdef HLPATH_FUSE2
static int x_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi)
#else
static int x_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
		     enum fuse_readdir_flags fl)
#endif
{
	char p[PATH_MAX];
	(void)off; (void)fi;
	full(p, path);
	DIR *d = opendir(p);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d)))
#ifdef HLPATH_FUSE2
		fill(buf, e->d_name, NULL, 0);
#else
		fill(buf, e->d_name, NULL, 0, 0);
	(void)fl;
#endif
	closedir(d);
	return 0;
}

static int x_open(const char *path, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	full(p, path);
	int fd = open(p, fi->flags);
	if (fd < 0)
		return -errno;
	fi->fh = fd;
	return 0;
}

static int x_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	full(p, path);
	int fd = open(p, fi->flags | O_CREAT, mode);
	if (fd < 0)
		return -errno;
	fi->fh = fd;
	return 0;
}

static int x_read(const char *path, char *b, size_t n, off_t o, struct fuse_file_info *fi)
{
	(void)path;
	ssize_t r = pread(fi->fh, b, n, o);
	return r < 0 ? -errno : (int)r;
}

static int x_write(const char *path, const char *b, size_t n, off_t o, struct fuse_file_info *fi)
{
	(void)path;
	/* an allocation per write: a pass (interval=1) calls flush/fsync back */
	char *copy = malloc(n ? n : 1);
	memcpy(copy, b, n);
	ssize_t r = pwrite(fi->fh, copy, n, o);
	free(copy);
	return r < 0 ? -errno : (int)r;
}

#ifdef HLPATH_FUSE2
static int x_rename(const char *a, const char *b)
#else
static int x_rename(const char *a, const char *b, unsigned int flags)
#endif
{
	char p[PATH_MAX], q[PATH_MAX];
#ifndef HLPATH_FUSE2
	if (flags)
		return -EINVAL;
#endif
	full(p, a);
	full(q, b);
	return rename(p, q) ? -errno : 0;
}

static int x_unlink(const char *path)
{
	char p[PATH_MAX];
	full(p, path);
	return unlink(p) ? -errno : 0;
}

static int x_mkdir(const char *path, mode_t m)
{
	char p[PATH_MAX];
	full(p, path);
	return mkdir(p, m) ? -errno : 0;
}

static int x_rmdir(const char *path)
{
	char p[PATH_MAX];
	full(p, path);
	return rmdir(p) ? -errno : 0;
}

static int x_flush(const char *path, struct fuse_file_info *fi)
{
	check("flush", path, (int)fi->fh, (fi->lock_owner >> 48) == 0x6673);
	return 0;
}

static int x_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	check("fsync", path, (int)fi->fh, 1);
	return 0;
}

static int x_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close(fi->fh);
	return 0;
}

static void x_destroy(void *pd)
{
	(void)pd;
	printf("hlpath: %d checks (%d by the shim), %d wrong\n", nchecks, nshim, nwrong);
	fflush(stdout);
}

/* HLPATH_HARD_REMOVE set and not empty: a file a rename replaces is unlinked, not hidden */
static int hard_remove(void)
{
	const char *e = getenv("HLPATH_HARD_REMOVE");
	return e && *e;
}

#ifndef HLPATH_FUSE2
/* libfuse3 takes hard_remove from init's config, not from the command line */
static void *x_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->hard_remove = hard_remove();
	return NULL;
}
#endif

static const struct fuse_operations ops = {
	.getattr = x_getattr, .readdir = x_readdir, .open = x_open, .create = x_create,
	.read = x_read, .write = x_write, .rename = x_rename, .unlink = x_unlink,
	.mkdir = x_mkdir, .rmdir = x_rmdir, .flush = x_flush, .fsync = x_fsync,
	.release = x_release, .destroy = x_destroy,
#ifndef HLPATH_FUSE2
	.init = x_init,
#endif
};

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: hlpath SOURCE MOUNTPOINT [FUSE options]\n");
		return 2;
	}
	static char rsrc[PATH_MAX];
	if (!realpath(argv[1], rsrc))
		return 2;
	src = rsrc;
	argv[1] = argv[0];
#ifdef HLPATH_FUSE2
	char *args[argc + 1];
	if (hard_remove()) {
		memcpy(args, argv + 1, sizeof(char *) * (size_t)(argc - 1));
		args[argc - 1] = "-ohard_remove";
		args[argc] = NULL;
		return fuse_main(argc, args, &ops, NULL);
	}
#endif
	return fuse_main(argc - 1, argv + 1, &ops, NULL);
}
