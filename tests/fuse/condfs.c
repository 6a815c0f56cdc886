/* condfs - a libfuse3 low-level daemon whose lock no lock tracker sees
 * (issue 11 item 22), with a reclaim hazard: its write allocates while
 * holding that lock, and its fsync takes it.  Two in-memory files, "a" and
 * "b" (inodes 2 and 3).
 *
 *   CONDFS_LOCK=cond   the file system lock is built from a mutex and a
 *                      condition variable (boost style): between lock and
 *                      unlock no pthread lock is held; write holds it
 *                      around its allocation, fsync takes it
 *   CONDFS_LOCK=flock  CONDFS_FILE=PATH: a file opened for writing holds a
 *                      shared flock of PATH from open to release (taken by
 *                      a short-lived thread: a file lock belongs to an open
 *                      file, not to a thread); fsync of a read-only handle
 *                      (a checkpoint) takes an exclusive flock of PATH on
 *                      an open file of its own: it waits for the writers
 *
 * Run inline at interval=1, an fsync callback made from a write's
 * allocation would wait for its own thread forever; fsreclaim must report
 * it and abandon the callback, and the write must go on.  The data stays
 * right: the callback changed nothing. */
#include "../lib/lldaemon.h"
#include "../lib/condlock.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define MAXSIZE (1 << 16)
static char data[2][MAXSIZE];
static size_t size[2];
static pthread_mutex_t data_mu = PTHREAD_MUTEX_INITIALIZER;   /* data, size */
static const char *lock_kind = "cond";
static const char *lock_file;

static struct condlock fsl = CONDLOCK_INITIALIZER;   /* the file system lock */

static int is_flock(void) { return strcmp(lock_kind, "flock") == 0; }

/* a shared flock of lock_file on an open file of its own, taken by a
 * short-lived thread (the daemon's open path hands its locks to a helper) */
struct taker { int fd; };
static void *take_shared(void *a)
{
	struct taker *tk = a;
	tk->fd = open(lock_file, O_RDWR | O_CREAT, 0600);
	if (tk->fd >= 0 && flock(tk->fd, LOCK_SH) != 0) {
		close(tk->fd);
		tk->fd = -1;
	}
	return NULL;
}

static int file_of(fuse_ino_t ino) { return ino == LL_INO0 ? 0 : ino == LL_INO0 + 1 ? 1 : -1; }
static void name_of(int i, char *buf, size_t len) { snprintf(buf, len, "%c", 'a' + i); }

static void attr_of(fuse_ino_t ino, struct stat *st)
{
	ll_attr(ino, st, 0644);
	if (ino == FUSE_ROOT_ID)
		return;
	pthread_mutex_lock(&data_mu);
	st->st_size = (off_t)size[file_of(ino)];
	pthread_mutex_unlock(&data_mu);
}

static void cf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof e);
	int w = ll_file_named(parent, name, 2, name_of);
	if (w < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.ino = LL_INO0 + (fuse_ino_t)w;
	attr_of(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void cf_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	(void)fi;
	if (ino != FUSE_ROOT_ID && file_of(ino) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	attr_of(ino, &st);
	fuse_reply_attr(req, &st, 0);
}

static void cf_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	struct stat st;
	(void)fi;
	int w = file_of(ino);
	if (w < 0) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		pthread_mutex_lock(&data_mu);
		size[w] = (size_t)attr->st_size < MAXSIZE ? (size_t)attr->st_size : MAXSIZE;
		pthread_mutex_unlock(&data_mu);
	}
	attr_of(ino, &st);
	fuse_reply_attr(req, &st, 0);
}

static void cf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int w = file_of(ino);
	if (w < 0) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->fh = (uint64_t)-1;
	if (is_flock() && (fi->flags & O_ACCMODE) != O_RDONLY) {
		struct taker tk = { -1 };
		pthread_t th;
		if (pthread_create(&th, NULL, take_shared, &tk) == 0)
			pthread_join(th, NULL);
		if (tk.fd < 0) {
			fuse_reply_err(req, EIO);
			return;
		}
		fi->fh = (uint64_t)tk.fd;     /* held until release */
	}
	if (fi->flags & O_TRUNC) {
		pthread_mutex_lock(&data_mu);
		size[w] = 0;
		pthread_mutex_unlock(&data_mu);
	}
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void cf_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	if (fi->fh != (uint64_t)-1) {
		flock((int)fi->fh, LOCK_UN);
		close((int)fi->fh);
	}
	fuse_reply_err(req, 0);
}

static void cf_read(fuse_req_t req, fuse_ino_t ino, size_t n, off_t off, struct fuse_file_info *fi)
{
	static char buf[MAXSIZE];
	(void)fi;
	int w = file_of(ino);
	pthread_mutex_lock(&data_mu);
	size_t r = (size_t)off >= size[w] ? 0 : (size[w] - (size_t)off < n ? size[w] - (size_t)off : n);
	memcpy(buf, data[w] + off, r);
	pthread_mutex_unlock(&data_mu);
	fuse_reply_buf(req, buf, r);
}

static void cf_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t n, off_t off,
		     struct fuse_file_info *fi)
{
	(void)fi;
	int w = file_of(ino);
	if (w < 0 || (size_t)off + n > MAXSIZE) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	if (!is_flock())
		cond_lock(&fsl);
	char *tmp = malloc(n);      /* the hazard: an allocation under the lock */
	if (!tmp) {
		if (!is_flock())
			cond_unlock(&fsl);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(tmp, buf, n);
	pthread_mutex_lock(&data_mu);
	memcpy(data[w] + off, tmp, n);
	if ((size_t)off + n > size[w])
		size[w] = (size_t)off + n;
	pthread_mutex_unlock(&data_mu);
	free(tmp);
	if (!is_flock())
		cond_unlock(&fsl);
	fuse_reply_write(req, n);
}

static void cf_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino; (void)datasync;
	if (is_flock() && fi->fh == (uint64_t)-1) {
		/* a checkpoint through a read-only handle excludes the writers
		 * (a writer's own handle has nothing to wait for) */
		int fd = open(lock_file, O_RDWR | O_CREAT, 0600);
		if (fd < 0 || flock(fd, LOCK_EX) != 0) {   /* excludes the writers */
			if (fd >= 0)
				close(fd);
			fuse_reply_err(req, EIO);
			return;
		}
		flock(fd, LOCK_UN);
		close(fd);
	} else if (!is_flock()) {
		cond_lock(&fsl);              /* reclaim takes the file system lock */
		cond_unlock(&fsl);
	}
	fuse_reply_err(req, 0);
}

static void cf_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino; (void)fi;
	fuse_reply_err(req, 0);
}

static void cf_readdir(fuse_req_t req, fuse_ino_t ino, size_t n, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	ll_reply_readdir(req, ino, n, off, 2, name_of);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = cf_lookup, .getattr = cf_getattr, .setattr = cf_setattr, .open = cf_open,
	.release = cf_release, .read = cf_read, .write = cf_write, .fsync = cf_fsync,
	.flush = cf_flush, .readdir = cf_readdir,
};

#define USAGE "usage: [CONDFS_LOCK=cond|flock CONDFS_FILE=PATH] %s [-s] MOUNTPOINT"

int main(int argc, char *argv[])
{
	if (getenv("CONDFS_LOCK"))
		lock_kind = getenv("CONDFS_LOCK");
	lock_file = getenv("CONDFS_FILE");
	if (is_flock() && !lock_file)
		return ll_usage(USAGE, argv[0]);
	return ll_run(argc, argv, &ops, sizeof ops, USAGE);
}
