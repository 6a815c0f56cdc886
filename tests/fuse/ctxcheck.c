/* ctxcheck - a libfuse3 high-level daemon that checks what its fsync and
 * flush ops see when fsreclaim calls them back: a FUSE context
 * (fuse_get_context) with the daemon's private data, only between init and
 * destroy, and only on a handle that is open.  One in-memory file "f".
 * At destroy it prints "ctxcheck: calls=N bad=M". */
#define FUSE_USE_VERSION 312
#include <fuse3/fuse.h>
#include "../lib/hldir.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int magic;
static int live;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char data[1 << 16];
static size_t size;
static int open_handles[64];     /* fh -> open */
static long calls, bad;

static void check(const char *what, struct fuse_file_info *fi)
{
	struct fuse_context *c = fuse_get_context();
	pthread_mutex_lock(&mu);
	calls++;
	if (!c || c->private_data != &magic || !c->fuse) {
		bad++;
		fprintf(stderr, "ctxcheck: %s: bad context %p\n", what, (void *)c);
	}
	if (!live) {
		bad++;
		fprintf(stderr, "ctxcheck: %s outside init..destroy\n", what);
	}
	if (!fi || fi->fh >= 64 || !open_handles[fi->fh]) {
		bad++;
		fprintf(stderr, "ctxcheck: %s on a handle that is not open\n", what);
	}
	pthread_mutex_unlock(&mu);
}

static void *cc_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->direct_io = 1;
	live = 1;
	return fuse_get_context()->private_data;
}

static void cc_destroy(void *pd)
{
	live = 0;
	printf("ctxcheck: calls=%ld bad=%ld private=%d\n", calls, bad, pd == &magic);
	fflush(stdout);
}

static int cc_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof *st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else if (strcmp(path, "/f") == 0) {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = (off_t)size;
	} else {
		return -ENOENT;
	}
	return 0;
}

static int cc_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/f"))
		return -ENOENT;
	pthread_mutex_lock(&mu);
	int i;
	for (i = 1; i < 64 && open_handles[i]; i++)
		;
	if (i == 64) {
		pthread_mutex_unlock(&mu);
		return -EMFILE;
	}
	open_handles[i] = 1;
	fi->fh = (uint64_t)i;
	if (fi->flags & O_TRUNC)
		size = 0;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int cc_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	pthread_mutex_lock(&mu);
	if (fi->fh < 64)
		open_handles[fi->fh] = 0;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int cc_read(const char *path, char *buf, size_t n, off_t off, struct fuse_file_info *fi)
{
	(void)path; (void)fi;
	pthread_mutex_lock(&mu);
	size_t r = (size_t)off >= size ? 0 : (size - (size_t)off < n ? size - (size_t)off : n);
	memcpy(buf, data + off, r);
	pthread_mutex_unlock(&mu);
	return (int)r;
}

static int cc_write(const char *path, const char *buf, size_t n, off_t off, struct fuse_file_info *fi)
{
	(void)path; (void)fi;
	if ((size_t)off + n > sizeof data)
		return -EFBIG;
	char *tmp = malloc(n);        /* an allocation inside the op */
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, buf, n);
	pthread_mutex_lock(&mu);
	memcpy(data + off, tmp, n);
	if ((size_t)off + n > size)
		size = (size_t)off + n;
	pthread_mutex_unlock(&mu);
	free(tmp);
	return (int)n;
}

static int cc_truncate(const char *path, off_t n, struct fuse_file_info *fi)
{
	(void)path; (void)fi;
	if ((size_t)n > sizeof data)
		return -EFBIG;
	pthread_mutex_lock(&mu);
	size = (size_t)n;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int cc_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	check("flush", fi);
	return 0;
}

static int cc_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path; (void)datasync;
	check("fsync", fi);
	return 0;
}

static int cc_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off; (void)fi; (void)flags;
	return hl_fill_root(path, buf, fill, (const char *const[]){ "f", NULL });
}

static const struct fuse_operations ops = {
	.init = cc_init, .destroy = cc_destroy, .getattr = cc_getattr, .open = cc_open,
	.release = cc_release, .read = cc_read, .write = cc_write, .truncate = cc_truncate,
	.flush = cc_flush, .fsync = cc_fsync, .readdir = cc_readdir,
};

int main(int argc, char *argv[])
{
	return fuse_main(argc, argv, &ops, &magic);
}
