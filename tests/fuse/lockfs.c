/* lockfs - a multi-threaded libfuse3 high-level daemon with a reclaim
 * deadlock: its write op allocates while holding the file system's mutex,
 * and its fsync takes that mutex.  When fsreclaim calls fsync back from that
 * allocation (on another open file), the callback waits for the allocating
 * thread, which waits for the callback.  fsreclaim must report
 * reclaim-deadlock (or predict reclaim-lock-inversion), release the
 * allocation and let both go on; the data must stay right.
 * Two in-memory files, "a" and "b".  LOCKFS_FLOCK=FILE: the same with a
 * file lock instead of the mutex (issue 11 item 22); LOCKFS_COND=1: with
 * a lock built from a mutex and a condition variable (condfs.sh). */
#define FUSE_USE_VERSION 312
#include <fuse3/fuse.h>
#include "../lib/hldir.h"
#include "../lib/condlock.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static pthread_mutex_t fs_lock = PTHREAD_MUTEX_INITIALIZER;
static char data[2][1 << 16];
static size_t size[2];

static int which(const char *path)
{
	if (strcmp(path, "/a") == 0)
		return 0;
	if (strcmp(path, "/b") == 0)
		return 1;
	return -1;
}

static void *lf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->direct_io = 1;
	return NULL;
}

static int lf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof *st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	int w = which(path);
	if (w < 0)
		return -ENOENT;
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	pthread_mutex_lock(&fs_lock);
	st->st_size = (off_t)size[w];
	pthread_mutex_unlock(&fs_lock);
	return 0;
}

static int lf_open(const char *path, struct fuse_file_info *fi)
{
	int w = which(path);
	if (w < 0)
		return -ENOENT;
	fi->fh = (uint64_t)w;
	if (fi->flags & O_TRUNC) {
		pthread_mutex_lock(&fs_lock);
		size[w] = 0;
		pthread_mutex_unlock(&fs_lock);
	}
	return 0;
}

/* copy N bytes to file W at OFF; the caller holds fs_lock */
static void store(int w, const char *buf, size_t n, off_t off)
{
	memcpy(data[w] + off, buf, n);
	if ((size_t)off + n > size[w])
		size[w] = (size_t)off + n;
}

static int lf_read(const char *path, char *buf, size_t n, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	int w = (int)fi->fh;
	pthread_mutex_lock(&fs_lock);
	size_t r = (size_t)off >= size[w] ? 0 : (size[w] - (size_t)off < n ? size[w] - (size_t)off : n);
	memcpy(buf, data[w] + off, r);
	pthread_mutex_unlock(&fs_lock);
	return (int)r;
}

/* LOCKFS_FLOCK=FILE: the same hazard with a file lock, which no lock
 * tracker sees: write allocates holding flock(FILE), fsync takes it */
static const char *flock_path;

static int flock_take(void)
{
	int fd = open(flock_path, O_RDWR | O_CREAT, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void flock_drop(int fd)
{
	flock(fd, LOCK_UN);
	close(fd);
}

/* LOCKFS_COND=1: the same hazard with a lock built from a mutex and a
 * condition variable (boost style), which no lock tracker sees either */
static int cond_mode;
static struct condlock cl = CONDLOCK_INITIALIZER;

/* write with a flock or the cond lock held, the locks no tracker sees */
static int lf_write_hidden(int w, const char *buf, size_t n, off_t off)
{
	int fd = -1;
	if (flock_path && (fd = flock_take()) < 0)
		return -EIO;
	if (cond_mode)
		cond_lock(&cl);
	int r = -ENOMEM;
	char *tmp = malloc(n);      /* the hazard: an allocation under the hidden lock */
	if (tmp) {
		memcpy(tmp, buf, n);
		pthread_mutex_lock(&fs_lock);
		store(w, tmp, n, off);
		pthread_mutex_unlock(&fs_lock);
		free(tmp);
		r = (int)n;
	}
	if (cond_mode)
		cond_unlock(&cl);
	if (fd >= 0)
		flock_drop(fd);
	return r;
}

static int lf_write(const char *path, const char *buf, size_t n, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	int w = (int)fi->fh;
	if ((size_t)off + n > sizeof data[w])
		return -EFBIG;
	if (flock_path || cond_mode)
		return lf_write_hidden(w, buf, n, off);
	pthread_mutex_lock(&fs_lock);
	char *tmp = malloc(n);      /* the hazard: an allocation under fs_lock */
	if (!tmp) {
		pthread_mutex_unlock(&fs_lock);
		return -ENOMEM;
	}
	memcpy(tmp, buf, n);
	store(w, tmp, n, off);
	free(tmp);
	pthread_mutex_unlock(&fs_lock);
	return (int)n;
}

static int lf_truncate(const char *path, off_t n, struct fuse_file_info *fi)
{
	(void)fi;
	int w = which(path);
	if (w < 0)
		return -ENOENT;
	pthread_mutex_lock(&fs_lock);
	size[w] = (size_t)n;
	pthread_mutex_unlock(&fs_lock);
	return 0;
}

static int lf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path; (void)datasync; (void)fi;
	if (flock_path) {
		int fd = flock_take();    /* reclaim takes the file lock */
		if (fd < 0)
			return -EIO;
		flock_drop(fd);
		return 0;
	}
	if (cond_mode) {
		cond_lock(&cl);           /* reclaim takes the cond lock */
		cond_unlock(&cl);
		return 0;
	}
	pthread_mutex_lock(&fs_lock);     /* reclaim takes fs_lock */
	pthread_mutex_unlock(&fs_lock);
	return 0;
}

static int lf_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off; (void)fi; (void)flags;
	return hl_fill_root(path, buf, fill, (const char *const[]){ "a", "b", NULL });
}

static const struct fuse_operations ops = {
	.init = lf_init, .getattr = lf_getattr, .open = lf_open, .read = lf_read,
	.write = lf_write, .truncate = lf_truncate, .fsync = lf_fsync, .readdir = lf_readdir,
};

int main(int argc, char *argv[])
{
	flock_path = getenv("LOCKFS_FLOCK");
	cond_mode = !flock_path && getenv("LOCKFS_COND") != NULL;   /* LOCKFS_FLOCK wins */
	return fuse_main(argc, argv, &ops, NULL);
}
