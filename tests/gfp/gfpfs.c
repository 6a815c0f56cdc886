/* gfpfs - a libfuse3 high-level daemon that checks which of its own FUSE
 * ops fsreclaim calls back for each GFP mask: every write allocates once
 * with each mask (fsr_kmalloc) and counts the fsync/flush callbacks that
 * allocation caused (under interval=1 a handoff pass is over when the
 * allocation returns; the client writes one block at a time, so no other
 * allocation runs meanwhile).  Callbacks go to handles whose inode has no
 * op in flight: the client keeps a second file, "g", open for them.  FUSE callbacks are FS reclaim: only masks
 * with __GFP_FS and __GFP_DIRECT_RECLAIM, outside NOFS/NOIO scopes, get them.
 * At destroy it prints "gfpfs: NAME=N ..." (callbacks per mask). */
#define FUSE_USE_VERSION 312
#include <fuse3/fuse.h>
#include "../lib/hldir.h"
#include <fsreclaim.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char data[1 << 16];
static size_t size;
static long callbacks;           /* fsync + flush calls (atomic) */

enum { KERNEL, NOFS, NOIO, NOWAIT, ATOMIC, KERNEL_IN_NOFS, KERNEL_IN_NOIO, NCASES };
static const char *const names[NCASES] = { "GFP_KERNEL", "GFP_NOFS", "GFP_NOIO", "GFP_NOWAIT",
	"GFP_ATOMIC", "GFP_KERNEL_in_nofs_scope", "GFP_KERNEL_in_noio_scope" };
static const unsigned int masks[NCASES] = { FSR_GFP_KERNEL, FSR_GFP_NOFS, FSR_GFP_NOIO,
	FSR_GFP_NOWAIT, FSR_GFP_ATOMIC, FSR_GFP_KERNEL, FSR_GFP_KERNEL };
static long got[NCASES];
static void *volatile sink;      /* an unused block's malloc/free may be elided */

static void *gf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->direct_io = 1;
	return NULL;
}

static void gf_destroy(void *pd)
{
	(void)pd;
	printf("gfpfs:");
	for (int i = 0; i < NCASES; i++)
		printf(" %s=%ld", names[i], got[i]);
	printf("\n");
	fflush(stdout);
}

static int gf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof *st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else if (strcmp(path, "/f") == 0 || strcmp(path, "/g") == 0) {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = path[1] == 'f' ? (off_t)size : 0;
	} else
		return -ENOENT;
	return 0;
}

static int gf_open(const char *path, struct fuse_file_info *fi)
{
	(void)fi;
	return strcmp(path, "/f") && strcmp(path, "/g") ? -ENOENT : 0;
}

static int gf_write(const char *path, const char *buf, size_t n, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	if ((size_t)off + n > sizeof data || strcmp(path, "/f"))
		return -EFBIG;
	for (int i = 0; i < NCASES; i++) {
		unsigned int scope = i == KERNEL_IN_NOFS ? memalloc_nofs_save() :
				     i == KERNEL_IN_NOIO ? memalloc_noio_save() : 0;
		long before = __atomic_load_n(&callbacks, __ATOMIC_ACQUIRE);
		sink = fsr_kmalloc(n, masks[i]);
		long after = __atomic_load_n(&callbacks, __ATOMIC_ACQUIRE);
		if (i == KERNEL_IN_NOFS)
			memalloc_nofs_restore(scope);
		else if (i == KERNEL_IN_NOIO)
			memalloc_noio_restore(scope);
		__atomic_add_fetch(&got[i], after - before, __ATOMIC_RELAXED);
		fsr_kfree(sink);
	}
	memcpy(data + off, buf, n);
	if ((size_t)off + n > size)
		size = (size_t)off + n;
	return (int)n;
}

static int gf_truncate(const char *path, off_t n, struct fuse_file_info *fi)
{
	(void)path; (void)fi;
	if ((size_t)n > sizeof data)
		return -EFBIG;
	size = (size_t)n;
	return 0;
}

static int gf_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path; (void)fi;
	__atomic_add_fetch(&callbacks, 1, __ATOMIC_RELEASE);
	return 0;
}

static int gf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path; (void)datasync; (void)fi;
	__atomic_add_fetch(&callbacks, 1, __ATOMIC_RELEASE);
	return 0;
}

static int gf_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off; (void)fi; (void)flags;
	return hl_fill_root(path, buf, fill, (const char *const[]){ "f", "g", NULL });
}

static const struct fuse_operations ops = {
	.init = gf_init, .destroy = gf_destroy, .getattr = gf_getattr, .open = gf_open,
	.write = gf_write, .truncate = gf_truncate, .flush = gf_flush, .fsync = gf_fsync,
	.readdir = gf_readdir,
};

int main(int argc, char *argv[])
{
	return fuse_main(argc, argv, &ops, NULL);
}
