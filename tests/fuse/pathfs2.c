/* pathfs2 - a libfuse2 high-level passthrough that works by path alone, as
 * many libfuse2 daemons do: it keeps no file handle (fi->fh stays 0 for
 * every open file) and opens the source file for each read and write.  It
 * counts the opens of each source inode (open/create up, release down) and
 * checks every flush and fsync it gets: the path must name a file that is
 * open now.  The shim's callbacks are told apart (its flush by its lock
 * owner; the workload never calls fsync, so every fsync is the shim's) and
 * counted, with those that name a renamed file (a name ending in
 * ".renamed").  At destroy:
 *   pathfs2: N checks (S by the shim, R on renamed files), W wrong
 * A file named "nolookup" can be created but never looked up (getattr
 * fails): libfuse2 releases it inside the create, before any reply, and
 * the create fails.  The shim's callbacks after that are counted too:
 *   pathfs2: K shim callbacks after a failed create
 * With PATHFS2_FLUSH_HELPER=1, a flush of a file named "helper" starts a
 * thread that stats a name on the daemon's own mount and joins it, as a
 * daemon handing its flush to a worker does: the thread is part of the op,
 * so the shim fails its stat with EDEADLK (fs-reentry); without that a
 * single-threaded daemon (-s) deadlocks.  Each (the shim's first five):
 *   flush-helper (kernel|shim): errno N   or   flush-helper (...): ok
 * Usage: [PATHFS2_FLUSH_HELPER=1] pathfs2 SOURCE MOUNTPOINT [-f] [-s] ... */
#define FUSE_USE_VERSION 26
#include <fuse/fuse.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXOPEN 64

static const char *src;
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { ino_t ino; int n; } opened[MAXOPEN];   /* under open_lock */
static int nchecks, nshim, nrenamed, nwrong;
static int failed_create, nafter;   /* a create's release inside it; the shim's callbacks since */

static int is_nolookup(const char *path)
{
	return path && strcmp(path, "/nolookup") == 0;
}

static void full(char *out, const char *path)
{
	snprintf(out, PATH_MAX, "%s%s", src, path);
}

/* the opens of the source file at path change by d; its inode's count now */
static int count_opens(const char *path, int d)
{
	char p[PATH_MAX];
	struct stat st;
	int n = 0, fr = -1;
	full(p, path);
	if (lstat(p, &st) != 0)
		return -1;
	pthread_mutex_lock(&open_lock);
	for (int i = 0; i < MAXOPEN; i++) {
		if (opened[i].n && opened[i].ino == st.st_ino) {
			opened[i].n += d;
			n = opened[i].n;
			fr = -2;
			break;
		}
		if (!opened[i].n && fr == -1)
			fr = i;
	}
	if (d > 0 && fr >= 0) {
		opened[fr].ino = st.st_ino;
		opened[fr].n = n = d;
	}
	pthread_mutex_unlock(&open_lock);
	return n;
}

static void check(const char *what, const char *path, int by_shim)
{
	__atomic_add_fetch(&nchecks, 1, __ATOMIC_RELAXED);
	if (by_shim) {
		__atomic_add_fetch(&nshim, 1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&failed_create, __ATOMIC_RELAXED))
			__atomic_add_fetch(&nafter, 1, __ATOMIC_RELAXED);
		size_t l = path ? strlen(path) : 0;
		if (l > 8 && strcmp(path + l - 8, ".renamed") == 0)
			__atomic_add_fetch(&nrenamed, 1, __ATOMIC_RELAXED);
	}
	if (!path || count_opens(path, 0) <= 0) {
		__atomic_add_fetch(&nwrong, 1, __ATOMIC_RELAXED);
		fprintf(stderr, "pathfs2: %s%s names %s, not an open file\n", what, by_shim ? " (shim)" : "",
			path ? path : "no path");
	}
}

static int x_getattr(const char *path, struct stat *st)
{
	char p[PATH_MAX];
	if (is_nolookup(path))
		return -ENOENT;
	full(p, path);
	return lstat(p, st) ? -errno : 0;
}

static int x_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	(void)off; (void)fi;
	full(p, path);
	DIR *d = opendir(p);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d)))
		fill(buf, e->d_name, NULL, 0);
	closedir(d);
	return 0;
}

static int x_open(const char *path, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	full(p, path);
	int fd = open(p, fi->flags & ~O_TRUNC);
	if (fd < 0)
		return -errno;
	close(fd);
	count_opens(path, 1);
	return 0;        /* fi->fh stays 0 */
}

static int x_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	full(p, path);
	int fd = open(p, fi->flags | O_CREAT, mode);
	if (fd < 0)
		return -errno;
	close(fd);
	count_opens(path, 1);
	return 0;
}

static int x_truncate(const char *path, off_t size)
{
	char p[PATH_MAX];
	full(p, path);
	return truncate(p, size) ? -errno : 0;
}

static int x_read(const char *path, char *b, size_t n, off_t o, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	(void)fi;
	full(p, path);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t r = pread(fd, b, n, o);
	int e = errno;
	close(fd);
	return r < 0 ? -e : (int)r;
}

static int x_write(const char *path, const char *b, size_t n, off_t o, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	(void)fi;
	full(p, path);
	int fd = open(p, O_WRONLY);
	if (fd < 0)
		return -errno;
	/* an allocation per write: a pass (interval=1) calls flush/fsync back */
	char *copy = malloc(n ? n : 1);
	memcpy(copy, b, n);
	ssize_t r = pwrite(fd, copy, n, o);
	int e = errno;
	free(copy);
	close(fd);
	return r < 0 ? -e : (int)r;
}

static int x_rename(const char *a, const char *b)
{
	char p[PATH_MAX], q[PATH_MAX];
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

static char mountpoint[PATH_MAX];   /* set: flush helpers on */
static int nshim_helpers, nprobes;

static void *flush_helper(void *arg)
{
	char p[PATH_MAX + 32];
	struct stat st;
	snprintf(p, sizeof p, "%s/probe-%d", mountpoint, *(int *)arg);   /* a LOOKUP: never cached */
	*(int *)arg = stat(p, &st) == 0 ? 0 : errno;
	return NULL;
}

static void flush_helper_run(const char *path, int by_shim)
{
	size_t l = path ? strlen(path) : 0;
	if (!mountpoint[0] || l < 7 || strcmp(path + l - 7, "/helper") != 0)
		return;
	if (by_shim && __atomic_add_fetch(&nshim_helpers, 1, __ATOMIC_RELAXED) > 5)
		return;
	pthread_t h;
	int r = __atomic_add_fetch(&nprobes, 1, __ATOMIC_RELAXED);   /* in: its probe's number; out: errno */
	if (pthread_create(&h, NULL, flush_helper, &r) != 0)
		return;
	pthread_join(h, NULL);
	if (r)
		printf("flush-helper (%s): errno %d\n", by_shim ? "shim" : "kernel", r);
	else
		printf("flush-helper (%s): ok\n", by_shim ? "shim" : "kernel");
	fflush(stdout);
}

static int x_flush(const char *path, struct fuse_file_info *fi)
{
	int by_shim = (fi->lock_owner >> 48) == 0x6673;
	check("flush", path, by_shim);
	flush_helper_run(path, by_shim);
	return 0;
}

static int x_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)datasync; (void)fi;
	check("fsync", path, 1);
	return 0;
}

static int x_release(const char *path, struct fuse_file_info *fi)
{
	(void)fi;
	if (count_opens(path, -1) < 0)
		fprintf(stderr, "pathfs2: release of %s, which is gone\n", path);
	if (is_nolookup(path))
		__atomic_store_n(&failed_create, 1, __ATOMIC_RELAXED);
	return 0;
}

static void x_destroy(void *pd)
{
	(void)pd;
	printf("pathfs2: %d checks (%d by the shim, %d on renamed files), %d wrong\n", nchecks, nshim, nrenamed,
	       nwrong);
	if (failed_create)
		printf("pathfs2: %d shim callbacks after a failed create\n", nafter);
	fflush(stdout);
}

static const struct fuse_operations ops = {
	.getattr = x_getattr, .readdir = x_readdir, .open = x_open, .create = x_create,
	.truncate = x_truncate, .read = x_read, .write = x_write, .rename = x_rename,
	.unlink = x_unlink, .flush = x_flush, .fsync = x_fsync, .release = x_release,
	.destroy = x_destroy,
};

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pathfs2 SOURCE MOUNTPOINT [FUSE options]\n");
		return 2;
	}
	static char rsrc[PATH_MAX];
	if (!realpath(argv[1], rsrc))
		return 2;
	src = rsrc;
	const char *fh = getenv("PATHFS2_FLUSH_HELPER");
	if (fh && *fh && !realpath(argv[2], mountpoint))
		return 2;
	argv[1] = argv[0];
	return fuse_main(argc - 1, argv + 1, &ops, NULL);
}
