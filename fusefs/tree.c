/* tree.c - the in-memory inodes and directory entries of txfs.
 *
 * Every function here runs with journal_lock held (or single-threaded, at replay)
 * and does no journaling: ops.c checks, calls these, then logs a record;
 * replay.c calls the same functions with the logged values.
 */
#include "txfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HBITS 12
#define HSIZE (1u << HBITS)

static struct tinode *htab[HSIZE];
static uint64_t next_ino = 2;
static uint64_t n_inodes;
static struct tinode *orphan_head, *orphan_tail;
static uint64_t n_orphans;
#define ORPHAN_CAP 64   /* evicted eagerly above this, by the shrinker below */

static unsigned hslot(uint64_t ino) { return (unsigned)((ino * 0x9E3779B97F4A7C15ull) >> (64 - HBITS)); }

static void hash_add(struct tinode *in)
{
	unsigned h = hslot(in->ino);
	in->hnext = htab[h];
	htab[h] = in;
	n_inodes++;
}

static void hash_del(struct tinode *in)
{
	struct tinode **pp = &htab[hslot(in->ino)];
	while (*pp && *pp != in)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = in->hnext;
		n_inodes--;
	}
}

struct tinode *tree_get(uint64_t ino)
{
	struct tinode *in;
	for (in = htab[hslot(ino)]; in; in = in->hnext)
		if (in->ino == ino)
			return in;
	return NULL;
}

uint64_t tree_max_ino(void) { return next_ino - 1; }
void tree_set_next_ino(uint64_t n) { if (n > next_ino) next_ino = n; }

static struct tinode *inode_new(uint64_t ino, mode_t mode, uid_t uid, gid_t gid,
				const struct timespec *now)
{
	struct tinode *in = xcalloc(1, sizeof *in);
	in->ino = ino;
	in->mode = mode;
	in->uid = uid;
	in->gid = gid;
	in->atime = in->mtime = in->ctime = *now;
	in->nlink = S_ISDIR(mode) ? 2 : 1;
	in->dcookie = 3;        /* 1 and 2 are "." and ".." */
	hash_add(in);
	return in;
}

static void inode_free(struct tinode *in)
{
	struct tdirent *d, *n;
	hash_del(in);
	for (d = in->dhead; d; d = n) {
		n = d->next;
		free(d);
	}
	cache_free(in);
	free(in->target);
	free(in);
}

void tree_init(void)
{
	struct timespec now;
	now_ts(&now);
	struct tinode *root = inode_new(FUSE_ROOT_ID, S_IFDIR | 0755, 0, 0, &now);
	root->parent = FUSE_ROOT_ID;
	root->nlookup = 1;      /* the kernel never forgets the root */
}

void tree_destroy(void)
{
	for (unsigned h = 0; h < HSIZE; h++)
		while (htab[h])
			inode_free(htab[h]);
	orphan_head = orphan_tail = NULL;
	n_orphans = 0;
}

int tree_check_name(const char *name)
{
	size_t l = strlen(name);
	if (l == 0)
		return -ENOENT;
	if (l > TXFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	return 0;
}

static struct tdirent *dir_find(struct tinode *dir, const char *name, struct tdirent **prev)
{
	struct tdirent *p = NULL, *d;
	for (d = dir->dhead; d; p = d, d = d->next)
		if (strcmp(d->name, name) == 0) {
			if (prev)
				*prev = p;
			return d;
		}
	return NULL;
}

static void dir_add(struct tinode *dir, const char *name, uint64_t ino)
{
	size_t l = strlen(name);
	struct tdirent *d = xmalloc(sizeof *d + l + 1);
	memcpy(d->name, name, l + 1);
	d->ino = ino;
	d->cookie = dir->dcookie++;
	d->next = NULL;
	if (dir->dtail)
		dir->dtail->next = d;
	else
		dir->dhead = d;
	dir->dtail = d;
	dir->nentries++;
}

static void dir_remove(struct tinode *dir, struct tdirent *d, struct tdirent *prev)
{
	if (prev)
		prev->next = d->next;
	else
		dir->dhead = d->next;
	if (dir->dtail == d)
		dir->dtail = prev;
	dir->nentries--;
	free(d);
}

int tree_lookup(struct tinode *dir, const char *name, struct tinode **out)
{
	int e;
	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if ((e = tree_check_name(name)))
		return e;
	struct tdirent *d = dir_find(dir, name, NULL);
	if (!d)
		return -ENOENT;
	*out = tree_get(d->ino);
	return *out ? 0 : -EIO;
}

int tree_mknod(struct tinode *dir, const char *name, mode_t mode, dev_t rdev,
	       uid_t uid, gid_t gid, const char *target, uint64_t ino,
	       const struct timespec *now, struct tinode **out)
{
	int e;
	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if ((e = tree_check_name(name)))
		return e;
	if (dir->nlink == 0)
		return -ENOENT;         /* removed directory */
	if (dir_find(dir, name, NULL))
		return -EEXIST;
	if (target && strlen(target) > TXFS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	if (ino == 0)
		ino = next_ino++;
	else if (tree_get(ino))
		return -EEXIST;
	else if (ino >= next_ino)
		next_ino = ino + 1;
	struct tinode *in = inode_new(ino, mode, uid, gid, now);
	in->rdev = rdev;
	if (target) {
		in->target = strdup(target);
		if (!in->target) {
			inode_free(in);
			return -ENOMEM;
		}
		in->size = strlen(target);
	}
	if (S_ISDIR(mode)) {
		in->parent = dir->ino;
		dir->nlink++;
	}
	dir_add(dir, name, in->ino);
	dir->mtime = dir->ctime = *now;
	*out = in;
	return 0;
}

int tree_link(struct tinode *in, struct tinode *dir, const char *name,
	      const struct timespec *now)
{
	int e;
	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (S_ISDIR(in->mode))
		return -EPERM;
	if ((e = tree_check_name(name)))
		return e;
	if (dir->nlink == 0 || in->nlink == 0)
		return -ENOENT;
	if (dir_find(dir, name, NULL))
		return -EEXIST;
	dir_add(dir, name, in->ino);
	in->nlink++;
	in->ctime = *now;
	dir->mtime = dir->ctime = *now;
	return 0;
}

/* the inode lost a name: orphan it if nothing refers to it any more */
static void drop_link(struct tinode *in, const struct timespec *now)
{
	if (S_ISDIR(in->mode))
		in->nlink = 0;
	else if (in->nlink > 0)
		in->nlink--;
	in->ctime = *now;
	tree_maybe_orphan(in);
}

int tree_unlink(struct tinode *dir, const char *name, int rmdir,
		const struct timespec *now)
{
	struct tdirent *prev, *d;
	int e;
	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if ((e = tree_check_name(name)))
		return e;
	if (!(d = dir_find(dir, name, &prev)))
		return -ENOENT;
	struct tinode *in = tree_get(d->ino);
	if (!in)
		return -EIO;
	if (rmdir) {
		if (!S_ISDIR(in->mode))
			return -ENOTDIR;
		if (in->nentries)
			return -ENOTEMPTY;
		dir->nlink--;
	} else if (S_ISDIR(in->mode)) {
		return -EISDIR;
	}
	dir_remove(dir, d, prev);
	dir->mtime = dir->ctime = *now;
	drop_link(in, now);
	return 0;
}

/* is a an ancestor of (or equal to) b? */
static int is_ancestor(struct tinode *a, struct tinode *b)
{
	for (int depth = 0; depth < 100000; depth++) {
		if (b == a)
			return 1;
		if (b->ino == FUSE_ROOT_ID)
			return 0;
		b = tree_get(b->parent);
		if (!b)
			return 0;
	}
	return 1;
}

int tree_rename(struct tinode *dir, const char *name, struct tinode *ndir,
		const char *nname, unsigned int flags, const struct timespec *now)
{
	struct tdirent *sp, *sd, *tp, *td;
	struct tinode *src, *dst = NULL;
	int e;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	if (!S_ISDIR(dir->mode) || !S_ISDIR(ndir->mode))
		return -ENOTDIR;
	if ((e = tree_check_name(name)) || (e = tree_check_name(nname)))
		return e;
	if (!(sd = dir_find(dir, name, &sp)))
		return -ENOENT;
	if (!(src = tree_get(sd->ino)))
		return -EIO;
	td = dir_find(ndir, nname, &tp);
	if (td && !(dst = tree_get(td->ino)))
		return -EIO;
	if (ndir->nlink == 0)
		return -ENOENT;

	if (flags & RENAME_EXCHANGE) {
		if (!dst)
			return -ENOENT;
		if (src == dst)
			return 0;
		if (S_ISDIR(src->mode) && is_ancestor(src, ndir))
			return -EINVAL;
		if (S_ISDIR(dst->mode) && is_ancestor(dst, dir))
			return -EINVAL;
		sd->ino = dst->ino;
		td->ino = src->ino;
		if (dir != ndir && S_ISDIR(src->mode) != S_ISDIR(dst->mode)) {
			if (S_ISDIR(src->mode)) {
				dir->nlink--;
				ndir->nlink++;
			} else {
				ndir->nlink--;
				dir->nlink++;
			}
		}
		if (S_ISDIR(src->mode))
			src->parent = ndir->ino;
		if (S_ISDIR(dst->mode))
			dst->parent = dir->ino;
		src->ctime = dst->ctime = *now;
		dir->mtime = dir->ctime = ndir->mtime = ndir->ctime = *now;
		return 0;
	}

	if (dst) {
		if (flags & RENAME_NOREPLACE)
			return -EEXIST;
		if (src == dst)
			return 0;       /* hard links to one inode: POSIX no-op */
		if (S_ISDIR(src->mode) && !S_ISDIR(dst->mode))
			return -ENOTDIR;
		if (!S_ISDIR(src->mode) && S_ISDIR(dst->mode))
			return -EISDIR;
		if (S_ISDIR(dst->mode) && dst->nentries)
			return -ENOTEMPTY;
	}
	if (S_ISDIR(src->mode) && is_ancestor(src, ndir))
		return -EINVAL;

	if (dst) {
		/* the target name now points at src; dst loses a link */
		td->ino = src->ino;
		if (S_ISDIR(dst->mode))
			ndir->nlink--;
		drop_link(dst, now);
		/* re-find the source: td may have been its predecessor */
		sd = dir_find(dir, name, &sp);
		dir_remove(dir, sd, sp);
	} else {
		dir_add(ndir, nname, src->ino);
		sd = dir_find(dir, name, &sp);
		dir_remove(dir, sd, sp);
	}
	if (S_ISDIR(src->mode) && dir != ndir) {
		dir->nlink--;
		ndir->nlink++;
		src->parent = ndir->ino;
	}
	src->ctime = *now;
	dir->mtime = dir->ctime = ndir->mtime = ndir->ctime = *now;
	return 0;
}

void tree_maybe_orphan(struct tinode *in)
{
	if (in->nlink || in->nlookup || in->nopen || in->orphan || in->ino == FUSE_ROOT_ID)
		return;
	/* unlinked and unreferenced: clean (its data is gone anyway), it
	 * waits on the orphan list for the FS shrinker; above ORPHAN_CAP the
	 * oldest are evicted here so memory stays bounded without one */
	in->orphan = 1;
	in->onext = NULL;
	cache_free(in);         /* its data can never be read again */
	if (orphan_tail)
		orphan_tail->onext = in;
	else
		orphan_head = in;
	orphan_tail = in;
	n_orphans++;
	if (n_orphans > ORPHAN_CAP)
		tree_evict_orphans(n_orphans - ORPHAN_CAP);
}

unsigned long tree_evict_orphans(unsigned long nr)
{
	unsigned long n = 0;
	while (orphan_head && n < nr) {
		struct tinode *in = orphan_head;
		orphan_head = in->onext;
		if (!orphan_head)
			orphan_tail = NULL;
		n_orphans--;
		inode_free(in);
		n++;
	}
	return n;
}

void tree_forget(struct tinode *in, uint64_t n)
{
	in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
	tree_maybe_orphan(in);
}

void tree_put_open(struct tinode *in)
{
	if (in->nopen)
		in->nopen--;
	if (!in->nopen)
		cache_evict_clean(in, ~0ul);
	tree_maybe_orphan(in);
}

void tree_stat(const struct tinode *in, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = in->ino;
	st->st_mode = in->mode;
	st->st_nlink = in->nlink;
	st->st_uid = in->uid;
	st->st_gid = in->gid;
	st->st_rdev = in->rdev;
	st->st_size = (off_t)in->size;
	st->st_blksize = TXFS_PAGE;
	if (S_ISREG(in->mode))
		st->st_blocks = (blkcnt_t)(((in->size + TXFS_PAGE - 1) / TXFS_PAGE) * (TXFS_PAGE / 512));
	st->st_atim = in->atime;
	st->st_mtim = in->mtime;
	st->st_ctim = in->ctime;
}

void tree_stats(struct tree_stats *s)
{
	s->inodes = n_inodes;
	s->orphans = n_orphans;
	s->cache_pages = cache_pages_total;
	s->dirty_pages = cache_dirty_total;
	s->store_pages = store_pages_total;
}

void tree_for_each(void (*fn)(struct tinode *, void *), void *arg)
{
	for (unsigned h = 0; h < HSIZE; h++) {
		struct tinode *in, *n;
		for (in = htab[h]; in; in = n) {
			n = in->hnext;
			fn(in, arg);
		}
	}
}
