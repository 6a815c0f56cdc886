/*
  ll2fs: a libfuse 2.9 low-level passthrough file system that checks its
  own lookup counts.

  Usage: ll2fs [-f] [-s] [-d] -o source=DIR MOUNTPOINT

  This example mirrors the directory DIR at MOUNTPOINT with the low-level
  API of libfuse 2 (fuse_lowlevel_new), the way libfuse 3's passthrough_ll.c
  does it.  It shows how a low-level file system keeps inodes alive:

   * every inode the kernel knows is a heap object (struct lo_inode) and its
     address is the fuse_ino_t; it holds an O_PATH descriptor of the source
     file and the lookup count (nlookup);
   * each reply that hands an inode to the kernel (lookup, mknod, mkdir,
     symlink, link, create) adds one to nlookup; forget takes away what the
     kernel says, and at zero the inode is removed and freed;
   * an inode table keyed by (st_ino, st_dev), under one mutex, makes the
     same source file the same inode; a second chain keyed by the address
     tells a live fuse_ino_t from a stale one.

  So a forget the kernel did not ask for, or a lookup that is never
  forgotten, is a use-after-free or a leak.  ll2fs does not let that pass
  silently: a forget of more than was looked up, a forget of an inode that
  is not live and any request on such an inode are counted as invariant
  violations and printed to stderr as "ll2fs: ERROR: ...".  When the session
  ends, ll2fs prints one line on the inodes still live (the kernel sends no
  forgets at unmount) and exits with status 1 if there was any violation.
  A freed inode is held in a small quarantine before its memory goes back
  to malloc, so a stale fuse_ino_t is not mistaken for a newer inode at the
  same address.  Nothing is allocated while the mutex is held.

  Testing aids: with LL2FS_EXTRA_FORGET=N in the environment, every Nth
  inode handed to the kernel is followed by one forget of the daemon's own,
  as a reclaimer that forgets more than it looked up would do;
  LL2FS_EXTRA_LOOKUP=N adds a reference instead (a lookup never forgotten:
  the inode stays live after the kernel forgot it).

  Compile with:
      gcc -Wall -Wextra ll2fs.c `pkg-config fuse --cflags --libs` -o ll2fs
*/

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define FUSE_USE_VERSION 26

#include <fuse_lowlevel.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t),
	       "fuse_ino_t must hold a pointer");

struct lo_inode {
	struct lo_inode *id_next;	/* chain in ids[], under the mutex */
	struct lo_inode *addr_next;	/* chain in addrs[], under the mutex */
	int fd;				/* O_PATH descriptor of the source file */
	ino_t ino;
	dev_t dev;
	uint64_t nlookup;		/* under the mutex */
};

#define NBUCKETS 1021
#define QUARANTINE 256

struct lo_data {
	pthread_mutex_t mutex;
	struct lo_inode *ids[NBUCKETS];		/* by (st_ino, st_dev) */
	struct lo_inode *addrs[NBUCKETS];	/* by address */
	struct lo_inode *quarantine[QUARANTINE];	/* freed, not yet free() */
	unsigned qnext;
	struct lo_inode root;		/* FUSE_ROOT_ID: never looked up or forgotten */
	unsigned long live;		/* inodes in the table */
	uint64_t lookups, forgets;	/* references handed out and taken back */
	unsigned long errors;		/* invariant violations */
	unsigned long extra_forget;	/* LL2FS_EXTRA_FORGET, testing aid */
	unsigned long extra_lookup;	/* LL2FS_EXTRA_LOOKUP, testing aid */
	unsigned long nth_entry;
	char *source;
	double timeout;
};

static struct lo_data *lo_data(fuse_req_t req)
{
	return (struct lo_data *) fuse_req_userdata(req);
}

static void lo_error(struct lo_data *lo, const char *fmt, ...)
{
	va_list ap;

	__atomic_add_fetch(&lo->errors, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "ll2fs: ERROR: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

/* ---- the inode table (all under lo->mutex) ---- */

static size_t id_hash(ino_t ino, dev_t dev)
{
	return (size_t) ((ino * 31 + dev) % NBUCKETS);
}

static size_t addr_hash(fuse_ino_t ino)
{
	return (size_t) ((ino >> 4) % NBUCKETS);
}

static struct lo_inode *find_by_addr(struct lo_data *lo, fuse_ino_t ino)
{
	struct lo_inode *p;

	for (p = lo->addrs[addr_hash(ino)]; p; p = p->addr_next)
		if ((uintptr_t) p == ino)
			return p;
	return NULL;
}

static struct lo_inode *find_by_id(struct lo_data *lo, ino_t ino, dev_t dev)
{
	struct lo_inode *p;

	for (p = lo->ids[id_hash(ino, dev)]; p; p = p->id_next)
		if (p->ino == ino && p->dev == dev)
			return p;
	return NULL;
}

static void unchain(struct lo_inode **pp, struct lo_inode *inode, int by_addr)
{
	for (; *pp; pp = by_addr ? &(*pp)->addr_next : &(*pp)->id_next)
		if (*pp == inode) {
			*pp = by_addr ? inode->addr_next : inode->id_next;
			return;
		}
}

/* The inode for a request's fuse_ino_t, or NULL (and an error) if the
   kernel, or someone speaking for it, uses an inode that is not live. */
static struct lo_inode *lo_inode(fuse_req_t req, fuse_ino_t ino, const char *op)
{
	struct lo_data *lo = lo_data(req);
	struct lo_inode *inode;

	if (ino == FUSE_ROOT_ID)
		return &lo->root;
	pthread_mutex_lock(&lo->mutex);
	inode = find_by_addr(lo, ino);
	pthread_mutex_unlock(&lo->mutex);
	if (!inode)
		lo_error(lo, "%s: inode %#llx is not live (used after its last forget?)",
			 op, (unsigned long long) ino);
	return inode;
}

#define INODE_OR_ESTALE(var, ino, op)					\
	struct lo_inode *var = lo_inode(req, ino, op);			\
	if (!var)							\
		return (void) fuse_reply_err(req, ESTALE)

/* Take back n of the kernel's references.  At zero the inode leaves the
   table and goes to quarantine; the one it pushes out is freed. */
static void forget_one(struct lo_data *lo, fuse_ino_t ino, uint64_t n)
{
	struct lo_inode *inode, *dead = NULL, *evict = NULL;
	uint64_t had = 0;

	pthread_mutex_lock(&lo->mutex);
	inode = ino == FUSE_ROOT_ID ? NULL : find_by_addr(lo, ino);
	if (inode) {
		had = inode->nlookup;
		if (n <= had) {
			inode->nlookup -= n;
			lo->forgets += n;
		}
		if (inode->nlookup == 0) {
			unchain(&lo->ids[id_hash(inode->ino, inode->dev)], inode, 0);
			unchain(&lo->addrs[addr_hash(ino)], inode, 1);
			lo->live--;
			dead = inode;
			evict = lo->quarantine[lo->qnext];
			lo->quarantine[lo->qnext] = dead;
			lo->qnext = (lo->qnext + 1) % QUARANTINE;
		}
	}
	pthread_mutex_unlock(&lo->mutex);

	if (!inode)
		lo_error(lo, "forget(%#llx, %llu): inode is not live (forgotten more often than looked up?)",
			 (unsigned long long) ino, (unsigned long long) n);
	else if (n > had)	/* not applied: it would go below zero */
		lo_error(lo, "forget(%#llx, %llu): nlookup is only %llu, it would go below zero",
			 (unsigned long long) ino, (unsigned long long) n,
			 (unsigned long long) had);
	if (dead)
		close(dead->fd);
	free(evict);
}

/* Find or add the inode of parent/name and take one reference for the
   kernel. */
static int do_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct lo_data *lo = lo_data(req);
	struct lo_inode *dir, *inode, *fresh;
	int fd, err;

	memset(e, 0, sizeof(*e));
	e->attr_timeout = lo->timeout;
	e->entry_timeout = lo->timeout;

	dir = lo_inode(req, parent, "lookup");
	if (!dir)
		return ESTALE;
	fd = openat(dir->fd, name, O_PATH | O_NOFOLLOW);
	if (fd == -1)
		return errno;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1) {
		err = errno;
		close(fd);
		return err;
	}
	fresh = calloc(1, sizeof(*fresh));	/* before the mutex, maybe unused */
	if (!fresh) {
		close(fd);
		return ENOMEM;
	}

	pthread_mutex_lock(&lo->mutex);
	inode = find_by_id(lo, e->attr.st_ino, e->attr.st_dev);
	if (!inode) {
		inode = fresh;
		fresh = NULL;
		inode->fd = fd;
		inode->ino = e->attr.st_ino;
		inode->dev = e->attr.st_dev;
		inode->id_next = lo->ids[id_hash(inode->ino, inode->dev)];
		lo->ids[id_hash(inode->ino, inode->dev)] = inode;
		inode->addr_next = lo->addrs[addr_hash((uintptr_t) inode)];
		lo->addrs[addr_hash((uintptr_t) inode)] = inode;
		lo->live++;
	}
	inode->nlookup++;
	lo->lookups++;
	pthread_mutex_unlock(&lo->mutex);

	if (fresh) {		/* the inode was known already */
		close(fd);
		free(fresh);
	}
	e->ino = (uintptr_t) inode;
	return 0;
}

/* Testing aids: with LL2FS_EXTRA_FORGET=N (LL2FS_EXTRA_LOOKUP=N), every
   Nth inode handed to the kernel loses (gains) one reference right after
   the reply, as if a reclaimer had sent a forget without a lookup (a lookup
   without a forget). */
static void skew_count(struct lo_data *lo, fuse_ino_t ino)
{
	struct lo_inode *inode;
	unsigned long nth;

	if (!lo->extra_forget && !lo->extra_lookup)
		return;
	nth = __atomic_add_fetch(&lo->nth_entry, 1, __ATOMIC_RELAXED);
	if (lo->extra_forget && nth % lo->extra_forget == 0)
		forget_one(lo, ino, 1);
	if (lo->extra_lookup && nth % lo->extra_lookup == 0) {
		pthread_mutex_lock(&lo->mutex);
		inode = find_by_addr(lo, ino);
		if (inode) {
			inode->nlookup++;
			lo->lookups++;
		}
		pthread_mutex_unlock(&lo->mutex);
	}
}

/* ---- the operations ---- */

static void lo_init(void *userdata, struct fuse_conn_info *conn)
{
	(void) userdata;
	/* No export support: the kernel would then also look up "." and
	   "..", and the root would need a place in the table. */
	conn->want &= ~FUSE_CAP_EXPORT_SUPPORT;
}

static void lo_destroy(void *userdata)
{
	struct lo_data *lo = userdata;
	struct lo_inode *p, *next;
	uint64_t held = 0, lookups, forgets;
	unsigned long live;
	size_t i;

	/* The kernel sends no forgets at unmount: what is still live here
	   is what it held.  Free it, and check the counts add up. */
	pthread_mutex_lock(&lo->mutex);
	for (i = 0; i < NBUCKETS; i++) {
		for (p = lo->ids[i]; p; p = next) {
			next = p->id_next;
			held += p->nlookup;
			close(p->fd);
			free(p);
		}
		lo->ids[i] = lo->addrs[i] = NULL;
	}
	for (i = 0; i < QUARANTINE; i++) {
		free(lo->quarantine[i]);
		lo->quarantine[i] = NULL;
	}
	live = lo->live;
	lookups = lo->lookups;
	forgets = lo->forgets;
	lo->live = 0;
	lo->lookups = lo->forgets = 0;
	pthread_mutex_unlock(&lo->mutex);

	fprintf(stderr, "ll2fs: destroy: %lu inodes live holding %llu lookups "
		"(%llu looked up, %llu forgotten)\n", live,
		(unsigned long long) held, (unsigned long long) lookups,
		(unsigned long long) forgets);
	if (held != lookups - forgets)
		lo_error(lo, "destroy: the live inodes hold %llu lookups, not %llu",
			 (unsigned long long) held,
			 (unsigned long long) (lookups - forgets));
}

static void lo_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lo_data *lo = lo_data(req);	/* req is gone after the reply */
	struct fuse_entry_param e;
	int err = do_lookup(req, parent, name, &e);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fuse_reply_entry(req, &e);
	skew_count(lo, e.ino);
}

static void lo_forget(fuse_req_t req, fuse_ino_t ino, unsigned long nlookup)
{
	forget_one(lo_data(req), ino, nlookup);
	fuse_reply_none(req);
}

static void lo_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		forget_one(lo_data(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void lo_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	INODE_OR_ESTALE(inode, ino, "getattr");
	struct stat st;

	(void) fi;
	if (fstatat(inode->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
		return (void) fuse_reply_err(req, errno);
	fuse_reply_attr(req, &st, lo_data(req)->timeout);
}

static void lo_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int valid, struct fuse_file_info *fi)
{
	INODE_OR_ESTALE(inode, ino, "setattr");
	char proc[64];
	int res = 0;

	sprintf(proc, "/proc/self/fd/%d", inode->fd);
	if (valid & FUSE_SET_ATTR_MODE)
		res = fi ? fchmod(fi->fh, attr->st_mode) : chmod(proc, attr->st_mode);
	if (res == 0 && (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t) -1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t) -1;

		res = fchownat(inode->fd, "", uid, gid,
			       AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	}
	if (res == 0 && (valid & FUSE_SET_ATTR_SIZE))
		res = fi ? ftruncate(fi->fh, attr->st_size) : truncate(proc, attr->st_size);
	if (res == 0 && (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
		struct timespec tv[2] = {
			{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT }
		};

		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		res = fi ? futimens(fi->fh, tv) : utimensat(AT_FDCWD, proc, tv, 0);
	}
	if (res == -1)
		return (void) fuse_reply_err(req, errno);
	lo_getattr(req, ino, fi);
}

static void lo_readlink(fuse_req_t req, fuse_ino_t ino)
{
	INODE_OR_ESTALE(inode, ino, "readlink");
	char buf[PATH_MAX + 1];
	ssize_t n = readlinkat(inode->fd, "", buf, sizeof(buf));

	if (n == -1)
		return (void) fuse_reply_err(req, errno);
	if (n == sizeof(buf))
		return (void) fuse_reply_err(req, ENAMETOOLONG);
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

/* mknod, mkdir and symlink: make it, then look it up for the kernel */
static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev, const char *link)
{
	INODE_OR_ESTALE(dir, parent, "mknod");
	struct lo_data *lo = lo_data(req);
	struct fuse_entry_param e;
	int res, err;

	if (S_ISDIR(mode))
		res = mkdirat(dir->fd, name, mode);
	else if (S_ISLNK(mode))
		res = symlinkat(link, dir->fd, name);
	else
		res = mknodat(dir->fd, name, mode, rdev);
	if (res == -1)
		return (void) fuse_reply_err(req, errno);
	err = do_lookup(req, parent, name, &e);
	if (err)
		return (void) fuse_reply_err(req, err);
	fuse_reply_entry(req, &e);
	skew_count(lo, e.ino);
}

static void lo_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	make_node(req, parent, name, mode, rdev, NULL);
}

static void lo_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	make_node(req, parent, name, S_IFDIR | mode, 0, NULL);
}

static void lo_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	make_node(req, parent, name, S_IFLNK, 0, link);
}

static void lo_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		    const char *name)
{
	INODE_OR_ESTALE(inode, ino, "link");
	INODE_OR_ESTALE(dir, parent, "link");
	struct lo_data *lo = lo_data(req);
	struct fuse_entry_param e;
	char proc[64];

	memset(&e, 0, sizeof(e));
	e.attr_timeout = e.entry_timeout = lo->timeout;
	sprintf(proc, "/proc/self/fd/%d", inode->fd);
	if (linkat(AT_FDCWD, proc, dir->fd, name, AT_SYMLINK_FOLLOW) == -1 ||
	    fstatat(inode->fd, "", &e.attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
		return (void) fuse_reply_err(req, errno);
	pthread_mutex_lock(&lo->mutex);	/* the kernel holds it: it is live */
	inode->nlookup++;
	lo->lookups++;
	pthread_mutex_unlock(&lo->mutex);
	e.ino = (uintptr_t) inode;
	fuse_reply_entry(req, &e);
	skew_count(lo, e.ino);
}

static void lo_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	INODE_OR_ESTALE(dir, parent, "unlink");

	fuse_reply_err(req, unlinkat(dir->fd, name, 0) == -1 ? errno : 0);
}

static void lo_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	INODE_OR_ESTALE(dir, parent, "rmdir");

	fuse_reply_err(req, unlinkat(dir->fd, name, AT_REMOVEDIR) == -1 ? errno : 0);
}

static void lo_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname)
{
	INODE_OR_ESTALE(dir, parent, "rename");
	INODE_OR_ESTALE(newdir, newparent, "rename");

	fuse_reply_err(req, renameat(dir->fd, name, newdir->fd, newname) == -1 ? errno : 0);
}

static void lo_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	INODE_OR_ESTALE(inode, ino, "open");
	char proc[64];
	int fd;

	sprintf(proc, "/proc/self/fd/%d", inode->fd);
	fd = open(proc, fi->flags & ~O_NOFOLLOW);
	if (fd == -1)
		return (void) fuse_reply_err(req, errno);
	fi->fh = fd;
	fuse_reply_open(req, fi);
}

static void lo_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	INODE_OR_ESTALE(dir, parent, "create");
	struct lo_data *lo = lo_data(req);
	struct fuse_entry_param e;
	int fd, err;

	fd = openat(dir->fd, name, (fi->flags | O_CREAT) & ~O_NOFOLLOW, mode);
	if (fd == -1)
		return (void) fuse_reply_err(req, errno);
	err = do_lookup(req, parent, name, &e);
	if (err) {
		close(fd);
		return (void) fuse_reply_err(req, err);
	}
	fi->fh = fd;
	fuse_reply_create(req, &e, fi);
	skew_count(lo, e.ino);
}

static void lo_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	(void) ino;
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void lo_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
			 off_t off, struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	ssize_t res;

	(void) ino;
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = fi->fh;
	out.buf[0].pos = off;
	res = fuse_buf_copy(&out, in, 0);
	if (res < 0)
		fuse_reply_err(req, -res);
	else
		fuse_reply_write(req, (size_t) res);
}

static void lo_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	/* what close(2) of one descriptor of many would do */
	fuse_reply_err(req, close(dup(fi->fh)) == -1 ? errno : 0);
}

static void lo_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	close(fi->fh);
	fuse_reply_err(req, 0);
}

static void lo_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	int res = datasync ? fdatasync(fi->fh) : fsync(fi->fh);

	(void) ino;
	fuse_reply_err(req, res == -1 ? errno : 0);
}

struct lo_dirp {
	DIR *dp;
	struct dirent *entry;	/* read but not yet replied */
	off_t offset;
};

static struct lo_dirp *lo_dirp(struct fuse_file_info *fi)
{
	return (struct lo_dirp *) (uintptr_t) fi->fh;
}

static void lo_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	INODE_OR_ESTALE(inode, ino, "opendir");
	struct lo_dirp *d = calloc(1, sizeof(*d));
	int fd, err;

	if (!d)
		return (void) fuse_reply_err(req, ENOMEM);
	fd = openat(inode->fd, ".", O_RDONLY | O_DIRECTORY);
	if (fd == -1 || !(d->dp = fdopendir(fd))) {
		err = errno;
		if (fd != -1)
			close(fd);
		free(d);
		return (void) fuse_reply_err(req, err);
	}
	fi->fh = (uintptr_t) d;
	fuse_reply_open(req, fi);
}

static void lo_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct lo_dirp *d = lo_dirp(fi);
	char *buf = malloc(size), *p = buf;
	size_t rem = size;
	int err = 0;

	(void) ino;
	if (!buf)
		return (void) fuse_reply_err(req, ENOMEM);
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		struct stat st;
		size_t len;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		memset(&st, 0, sizeof(st));
		st.st_ino = d->entry->d_ino;
		st.st_mode = d->entry->d_type << 12;
		len = fuse_add_direntry(req, p, rem, d->entry->d_name, &st,
					d->entry->d_off);
		if (len > rem)
			break;		/* keep d->entry for the next call */
		p += len;
		rem -= len;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	/* an error can only be told if nothing was stored yet */
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void lo_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lo_dirp *d = lo_dirp(fi);

	(void) ino;
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void lo_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	int fd = dirfd(lo_dirp(fi)->dp);
	int res = datasync ? fdatasync(fd) : fsync(fd);

	(void) ino;
	fuse_reply_err(req, res == -1 ? errno : 0);
}

static void lo_statfs(fuse_req_t req, fuse_ino_t ino)
{
	INODE_OR_ESTALE(inode, ino, "statfs");
	struct statvfs st;

	if (fstatvfs(inode->fd, &st) == -1)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &st);
}

static const struct fuse_lowlevel_ops lo_oper = {
	.init		= lo_init,
	.destroy	= lo_destroy,
	.lookup		= lo_lookup,
	.forget		= lo_forget,
	.forget_multi	= lo_forget_multi,
	.getattr	= lo_getattr,
	.setattr	= lo_setattr,
	.readlink	= lo_readlink,
	.mknod		= lo_mknod,
	.mkdir		= lo_mkdir,
	.symlink	= lo_symlink,
	.link		= lo_link,
	.unlink		= lo_unlink,
	.rmdir		= lo_rmdir,
	.rename		= lo_rename,
	.open		= lo_open,
	.create		= lo_create,
	.read		= lo_read,
	.write_buf	= lo_write_buf,
	.flush		= lo_flush,
	.release	= lo_release,
	.fsync		= lo_fsync,
	.opendir	= lo_opendir,
	.readdir	= lo_readdir,
	.releasedir	= lo_releasedir,
	.fsyncdir	= lo_fsyncdir,
	.statfs		= lo_statfs,
};

static const struct fuse_opt lo_opts[] = {
	{ "source=%s", offsetof(struct lo_data, source), 0 },
	FUSE_OPT_END
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	static struct lo_data lo = { .mutex = PTHREAD_MUTEX_INITIALIZER,
				     .root.fd = -1, .timeout = 1.0 };
	struct fuse_session *se = NULL;
	struct fuse_chan *ch = NULL;
	char *mountpoint = NULL;
	int multithreaded, foreground, ret = 1;
	const char *forget = getenv("LL2FS_EXTRA_FORGET");
	const char *lookup = getenv("LL2FS_EXTRA_LOOKUP");

	umask(0);	/* the kernel applied the caller's umask already */
	lo.extra_forget = forget ? strtoul(forget, NULL, 10) : 0;
	lo.extra_lookup = lookup ? strtoul(lookup, NULL, 10) : 0;
	if (fuse_opt_parse(&args, &lo, lo_opts, NULL) == -1 ||
	    fuse_parse_cmdline(&args, &mountpoint, &multithreaded, &foreground) == -1)
		goto out;
	if (!mountpoint || !lo.source) {
		fprintf(stderr, "usage: %s [-f] [-s] [-d] -o source=DIR MOUNTPOINT\n", argv[0]);
		goto out;
	}
	lo.root.fd = open(lo.source, O_PATH | O_DIRECTORY);
	if (lo.root.fd == -1) {
		fprintf(stderr, "ll2fs: %s: %s\n", lo.source, strerror(errno));
		goto out;
	}

	ch = fuse_mount(mountpoint, &args);
	if (!ch)
		goto out;
	se = fuse_lowlevel_new(&args, &lo_oper, sizeof(lo_oper), &lo);
	if (se) {
		if (fuse_set_signal_handlers(se) != -1) {
			fuse_session_add_chan(se, ch);
			if (fuse_daemonize(foreground) != -1)
				ret = multithreaded ? fuse_session_loop_mt(se)
						    : fuse_session_loop(se);
			fuse_remove_signal_handlers(se);
			fuse_session_remove_chan(ch);
		}
		fuse_session_destroy(se);	/* calls lo_destroy */
	}
	fuse_unmount(mountpoint, ch);
	if (lo.errors) {
		fprintf(stderr, "ll2fs: FAILED: %lu violations of the lookup counts (ERROR lines above)\n",
			lo.errors);
		ret = 1;
	}
out:
	if (lo.root.fd != -1)
		close(lo.root.fd);
	free(lo.source);
	free(mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
