/* ops.c - the FUSE low-level operations of txfs.
 *
 * Shape of every op: check and change the tree under journal_lock, then reply
 * with no lock held.  Changes run in a transaction (txn_begin: journal_lock +
 * NOFS + fsr transaction) and log a journal record.  Read-only ops take
 * journal_lock plainly and never allocate under it (buffers are allocated
 * before the lock is taken).  forget, fsync and flush, which the shim also
 * calls as reclaim, take journal_lock through wb_begin (NOFS, no transaction).
 */
#include "txfs.h"
#include <fsreclaim.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

static double attr_timeout = 1.0, entry_timeout = 1.0;

static void fill_entry(struct fuse_entry_param *e, struct tinode *in)
{
	memset(e, 0, sizeof *e);
	e->ino = in->ino;
	e->generation = 1;
	e->attr_timeout = attr_timeout;
	e->entry_timeout = entry_timeout;
	tree_stat(in, &e->attr);
	in->nlookup++;          /* the reply hands the kernel a reference */
}

static void op_init(void *ud, struct fuse_conn_info *conn)
{
	/* the kernel must not cache writes behind our back */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct tinode *dir, *in;
	int err;

	pthread_mutex_lock(&journal_lock);
	dir = tree_get(parent);
	err = dir ? tree_lookup(dir, name, &in) : -ENOENT;
	if (!err)
		fill_entry(&e, in);
	pthread_mutex_unlock(&journal_lock);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, &e);
}

static void do_forget(fuse_ino_t ino, uint64_t n)
{
	struct tinode *in = tree_get(ino);
	if (in)
		tree_forget(in, n);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct wb w;
	wb_begin(&w);
	do_forget(ino, nlookup);
	wb_end(&w);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	struct wb w;
	wb_begin(&w);
	for (size_t i = 0; i < count; i++)
		do_forget(f[i].ino, f[i].nlookup);
	wb_end(&w);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	struct tinode *in;

	pthread_mutex_lock(&journal_lock);
	in = tree_get(ino);
	if (in)
		tree_stat(in, &st);
	pthread_mutex_unlock(&journal_lock);
	if (!in)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, attr_timeout);
}

static void set_ts(struct timespec *dst, const struct timespec *src, int now_flag,
		   const struct timespec *now)
{
	*dst = now_flag ? *now : *src;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int valid, struct fuse_file_info *fi)
{
	struct txn t;
	struct stat st;
	struct timespec now;
	struct tinode *in;
	int err = 0;

	now_ts(&now);
	txn_begin(&t);
	in = tree_get(ino);
	if (!in) {
		err = -ENOENT;
		goto out;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		if (S_ISDIR(in->mode)) {
			err = -EISDIR;
			goto out;
		}
		if (!S_ISREG(in->mode)) {
			err = -EINVAL;
			goto out;
		}
		if ((err = cache_truncate(in, (uint64_t)attr->st_size)))
			goto out;
		in->mtime = now;
	}
	if (valid & FUSE_SET_ATTR_MODE)
		in->mode = (in->mode & S_IFMT) | (attr->st_mode & 07777);
	if (valid & FUSE_SET_ATTR_UID)
		in->uid = attr->st_uid;
	if (valid & FUSE_SET_ATTR_GID)
		in->gid = attr->st_gid;
	if (valid & FUSE_SET_ATTR_ATIME)
		set_ts(&in->atime, &attr->st_atim, valid & FUSE_SET_ATTR_ATIME_NOW, &now);
	if (valid & FUSE_SET_ATTR_MTIME)
		set_ts(&in->mtime, &attr->st_mtim, valid & FUSE_SET_ATTR_MTIME_NOW, &now);
	in->ctime = (valid & FUSE_SET_ATTR_CTIME) ? attr->st_ctim : now;
	jlog_setattr(in, valid);
	tree_stat(in, &st);
out:
	txn_end(&t);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, attr_timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[TXFS_SYMLINK_MAX + 1];
	struct tinode *in;
	int err = 0;

	pthread_mutex_lock(&journal_lock);
	in = tree_get(ino);
	if (!in)
		err = ENOENT;
	else if (!S_ISLNK(in->mode) || !in->target)
		err = EINVAL;
	else
		snprintf(buf, sizeof buf, "%s", in->target);
	pthread_mutex_unlock(&journal_lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_readlink(req, buf);
}

/* mknod, mkdir, symlink and create share this: one transaction */
static int make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev, const char *target,
		     struct fuse_entry_param *e, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct timespec now;
	struct tinode *dir, *in;
	struct txn t;
	int err;

	now_ts(&now);
	txn_begin(&t);
	dir = tree_get(parent);
	err = dir ? tree_mknod(dir, name, mode, rdev, ctx->uid, ctx->gid, target, 0,
			       &now, &in) : -ENOENT;
	if (!err) {
		/* setgid directories pass their group on */
		if (dir->mode & S_ISGID) {
			in->gid = dir->gid;
			if (S_ISDIR(mode))
				in->mode |= S_ISGID;
		}
		jlog_create(in, dir, name);
		fill_entry(e, in);
		if (fi)
			in->nopen++;
	}
	txn_end(&t);
	return err;
}

static void reply_entry_or_err(fuse_req_t req, int err, struct fuse_entry_param *e)
{
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, e);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fuse_entry_param e;
	if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode) &&
	    !S_ISCHR(mode) && !S_ISBLK(mode)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	reply_entry_or_err(req, make_node(req, parent, name, mode, rdev, NULL, &e, NULL), &e);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;
	int err = make_node(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL, &e, NULL);
	reply_entry_or_err(req, err, &e);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct fuse_entry_param e;
	int err;
	if (strlen(link) > TXFS_SYMLINK_MAX)
		err = -ENAMETOOLONG;
	else
		err = make_node(req, parent, name, S_IFLNK | 0777, 0, link, &e, NULL);
	reply_entry_or_err(req, err, &e);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int err;

	if (txfs_hazard == HAZARD_OWN_MOUNT && txfs_mountpoint) {
		/* HAZARD own-mount: an op that stats a path inside its own
		 * mount (a daemon looking at "its" files through the VFS).
		 * Under the shim this fails with EDEADLK; it is ignored.
		 * Without the shim it needs another worker thread to answer
		 * (with -s it hangs).  "/." needs no lookup: a name would wait
		 * for the directory lock the kernel holds during this CREATE. */
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof path, "%s/.", txfs_mountpoint);
		(void)stat(path, &st);
	}
	err = make_node(req, parent, name, S_IFREG | (mode & 07777), 0, NULL, &e, fi);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fi->fh = e.ino;
	fi->keep_cache = 0;
	fi->direct_io = 0;
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		/* interrupted: the kernel has no handle and no reference */
		struct wb w;
		wb_begin(&w);
		struct tinode *in = tree_get(e.ino);
		if (in) {
			in->nlookup = in->nlookup ? in->nlookup - 1 : 0;
			tree_put_open(in);
		}
		wb_end(&w);
	}
}

/* unlink and rmdir share this: one transaction */
static void remove_node(fuse_req_t req, fuse_ino_t parent, const char *name, int rmdir)
{
	struct timespec now;
	struct tinode *dir;
	struct txn t;
	int err;

	now_ts(&now);
	txn_begin(&t);
	dir = tree_get(parent);
	err = dir ? tree_unlink(dir, name, rmdir, &now) : -ENOENT;
	if (!err)
		jlog_unlink(dir, name, rmdir);
	txn_end(&t);
	fuse_reply_err(req, -err);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_node(req, parent, name, 0);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_node(req, parent, name, 1);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct timespec now;
	struct tinode *dir, *ndir;
	struct txn t;
	int err;

	now_ts(&now);
	txn_begin(&t);
	dir = tree_get(parent);
	ndir = tree_get(newparent);
	err = dir && ndir ? tree_rename(dir, name, ndir, newname, flags, &now) : -ENOENT;
	if (!err)
		jlog_rename(dir, name, ndir, newname, flags);
	txn_end(&t);
	if (txfs_hazard == HAZARD_SCOPE_LEAK)
		/* HAZARD scope-leak: a NOFS save that is never restored; the
		 * op returns with the worker thread still in NOFS. */
		(void)memalloc_nofs_save();
	fuse_reply_err(req, -err);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct fuse_entry_param e;
	struct timespec now;
	struct tinode *in, *dir;
	struct txn t;
	int err;

	now_ts(&now);
	txn_begin(&t);
	in = tree_get(ino);
	dir = tree_get(newparent);
	err = in && dir ? tree_link(in, dir, newname, &now) : -ENOENT;
	if (!err) {
		jlog_link(in, dir, newname);
		fill_entry(&e, in);
	}
	txn_end(&t);
	reply_entry_or_err(req, err, &e);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tinode *in;
	int err = 0;

	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
		/* FUSE_CAP_ATOMIC_O_TRUNC: the truncation is ours, a change */
		struct timespec now;
		struct txn t;
		now_ts(&now);
		txn_begin(&t);
		in = tree_get(ino);
		if (!in)
			err = ENOENT;
		else if (S_ISDIR(in->mode))
			err = EISDIR;
		else {
			if (S_ISREG(in->mode) && in->size) {
				cache_truncate(in, 0);
				in->mtime = in->ctime = now;
				jlog_setattr(in, FUSE_SET_ATTR_SIZE);
			}
			in->nopen++;
		}
		txn_end(&t);
	} else {
		pthread_mutex_lock(&journal_lock);
		in = tree_get(ino);
		if (!in)
			err = ENOENT;
		else if (S_ISDIR(in->mode))
			err = EISDIR;
		else
			in->nopen++;
		pthread_mutex_unlock(&journal_lock);
	}
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = ino;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		pthread_mutex_lock(&journal_lock);
		tree_put_open(in);
		pthread_mutex_unlock(&journal_lock);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct tinode *in;
	size_t n = 0;
	/* allocated before journal_lock is taken: no allocation under it here */
	char *buf = malloc(size ? size : 1);

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&journal_lock);
	in = tree_get(ino);
	if (in)
		n = cache_read(in, buf, size, off);
	pthread_mutex_unlock(&journal_lock);
	if (!in)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct timespec now;
	struct tinode *in;
	struct txn t;
	int ret;

	now_ts(&now);
	txn_begin(&t);
	in = tree_get(ino);
	if (!in)
		ret = -ENOENT;
	else if (!S_ISREG(in->mode))
		ret = -EINVAL;
	else
		ret = cache_write(in, buf, size, off);
	if (ret > 0)
		in->mtime = in->ctime = now;
	txn_end(&t);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, (size_t)ret);
}

/* write back one inode's dirty pages (a reclaim path: wb_begin) */
static int writeback_ino(fuse_ino_t ino, int sync)
{
	struct wb w;
	wb_begin(&w);
	struct tinode *in = tree_get(ino);
	if (in)
		cache_writeback(in);
	wb_end(&w);
	if (!in)
		return ENOENT;
	return sync ? -jio_sync() : 0;
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, writeback_ino(ino, 0));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, writeback_ino(ino, 1));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tinode *in;

	pthread_mutex_lock(&journal_lock);
	in = tree_get(ino);
	if (in) {
		if (in->ndirty) {
			/* write back before the cache pages are dropped */
			unsigned int nofs = memalloc_nofs_save();
			cache_writeback(in);
			memalloc_nofs_restore(nofs);
		}
		tree_put_open(in);
	}
	pthread_mutex_unlock(&journal_lock);
	fuse_reply_err(req, 0);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tinode *in;
	int err = 0;

	pthread_mutex_lock(&journal_lock);
	in = tree_get(ino);
	if (!in)
		err = ENOENT;
	else if (!S_ISDIR(in->mode))
		err = ENOTDIR;
	pthread_mutex_unlock(&journal_lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct tinode *dir;
	size_t used = 0;
	int err = 0;
	char *buf;

	/* The reply buffer is allocated before journal_lock is taken: no reclaim
	 * lock is held, so no scope is needed (nor wanted). */
	if (txfs_hazard == HAZARD_NEEDLESS_NOFS) {
		/* HAZARD needless-nofs: a NOFS scope around an allocation
		 * while no lock that reclaim takes is held. */
		unsigned int nofs = memalloc_nofs_save();
		buf = malloc(size);
		memalloc_nofs_restore(nofs);
	} else if (txfs_hazard == HAZARD_NEEDLESS_GFP_NOFS) {
		/* HAZARD needless-gfp-nofs: GFP_NOFS "just in case", with no
		 * lock that reclaim takes held (the traditional mask style). */
		buf = fsr_kmalloc(size, FSR_GFP_NOFS);
	} else {
		buf = malloc(size);
	}
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&journal_lock);
	dir = tree_get(ino);
	if (!dir)
		err = ENOENT;
	else if (!S_ISDIR(dir->mode))
		err = ENOTDIR;
	else {
		struct stat st;
		memset(&st, 0, sizeof st);
		/* fuse_add_direntry only writes into buf: no allocation */
		if (off < 1) {
			st.st_ino = dir->ino;
			st.st_mode = S_IFDIR;
			size_t l = fuse_add_direntry(req, buf + used, size - used, ".", &st, 1);
			if (l > size - used)
				goto full;
			used += l;
		}
		if (off < 2) {
			st.st_ino = dir->parent;
			st.st_mode = S_IFDIR;
			size_t l = fuse_add_direntry(req, buf + used, size - used, "..", &st, 2);
			if (l > size - used)
				goto full;
			used += l;
		}
		for (struct tdirent *d = dir->dhead; d; d = d->next) {
			if ((off_t)d->cookie <= off)
				continue;
			struct tinode *in = tree_get(d->ino);
			st.st_ino = d->ino;
			st.st_mode = in ? in->mode & S_IFMT : 0;
			size_t l = fuse_add_direntry(req, buf + used, size - used, d->name,
						     &st, (off_t)d->cookie);
			if (l > size - used)
				break;
			used += l;
		}
	}
full:
	pthread_mutex_unlock(&journal_lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, -jio_sync());
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	struct tree_stats ts;

	pthread_mutex_lock(&journal_lock);
	tree_stats(&ts);
	pthread_mutex_unlock(&journal_lock);
	memset(&sv, 0, sizeof sv);
	sv.f_bsize = TXFS_PAGE;
	sv.f_frsize = TXFS_PAGE;
	sv.f_blocks = 1u << 22;             /* 16 GiB */
	uint64_t used = ts.store_pages + ts.dirty_pages;
	sv.f_bfree = sv.f_blocks > used ? sv.f_blocks - used : 0;
	sv.f_bavail = sv.f_bfree;
	sv.f_files = 1u << 20;
	sv.f_ffree = sv.f_files > ts.inodes ? sv.f_files - ts.inodes : 0;
	sv.f_favail = sv.f_ffree;
	sv.f_namemax = TXFS_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops txfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.fsync = op_fsync,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.create = op_create,
};
