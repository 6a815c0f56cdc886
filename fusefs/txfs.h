/* txfs.h - shared types of txfs, the fsreclaim test filesystem.
 *
 * txfs is built the way a kernel filesystem is: an in-memory tree (tree.c),
 * a page cache with dirty tracking in front of a "disk" store (cache.c), an
 * append-only journal (journal.c) written by an IO layer with its own lock,
 * replayed at mount (replay.c), and shrinkers (shrink.c).
 *
 * Locking (one order: journal_lock, then io_lock):
 *  - journal_lock, "the journal lock", guards the tree, the cache and the record
 *    stream.  Metadata changes take it through txn_begin()/txn_end(); the
 *    reclaim paths (FS shrinker, forget, fsync, flush) through
 *    wb_begin()/wb_end().  Read-only ops take it plainly and never allocate
 *    while holding it.
 *  - io_lock, the IO layer's lock (journal.c), guards the pending write
 *    list and the journal file.  The IO shrinker takes it.
 */
#ifndef TXFS_H
#define TXFS_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#define TXFS_PAGE 4096u
#define TXFS_NAME_MAX 255
#define TXFS_SYMLINK_MAX 4095
#define TXFS_MAX_FILE (16ull << 30)   /* 16 GiB */

/* -o hazard=MODE: each one classic reclaim bug (see README / ops.c) */
enum hazard {
	HAZARD_NONE = 0,
	HAZARD_NOFS_MISSING,   /* txn_begin(): no memalloc_nofs_save under journal_lock */
	HAZARD_NOIO_MISSING,   /* jio_submit(): no memalloc_noio_save under io_lock */
	HAZARD_TXN_NESTING,    /* wb_begin(): reclaim callbacks begin a transaction */
	HAZARD_SCOPE_LEAK,     /* op_rename(): a nofs save never restored */
	HAZARD_NEEDLESS_NOFS,  /* op_readdir(): NOFS scope with no reclaim lock held */
	HAZARD_OWN_MOUNT,      /* op_create(): stat() inside its own mountpoint */
	HAZARD_GFP_KERNEL_UNDER_LOCK, /* txn_reserve(): kmalloc(GFP_KERNEL) under journal_lock, no scope */
	HAZARD_VMALLOC_NOFS,   /* txn_vbuf(): __vmalloc(GFP_NOFS) under journal_lock (pre-5.17 bug) */
	HAZARD_NEEDLESS_GFP_NOFS, /* op_readdir(): an explicit GFP_NOFS with no reclaim lock held */
};
extern enum hazard txfs_hazard;
extern const char *txfs_mountpoint;   /* absolute, for hazard=own-mount */
int hazard_parse(const char *s, enum hazard *out);
const char *hazard_name(enum hazard h);

/* ---- tree.c -------------------------------------------------------- */
struct cpage {                  /* a page cache page */
	int dirty;
	char data[TXFS_PAGE];
};

struct tdirent {
	struct tdirent *next;
	uint64_t ino;
	uint64_t cookie;        /* readdir offset: stable, increasing */
	char name[];
};

struct tinode {
	uint64_t ino;
	struct tinode *hnext;   /* hash chain */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	uint32_t nlink;
	uint64_t size;
	struct timespec atime, mtime, ctime;
	uint64_t nlookup;       /* kernel references (lookup/forget) */
	uint32_t nopen;         /* open file handles */
	int orphan;             /* unlinked+unreferenced, waiting for eviction */
	struct tinode *onext;   /* orphan list */
	/* directories */
	struct tdirent *dhead, *dtail;
	uint64_t dcookie;
	uint64_t nentries;
	uint64_t parent;
	/* symlinks */
	char *target;
	/* regular files: page cache + "disk" store, indexed by page */
	struct cpage **cache;
	char **store;
	size_t npg;             /* capacity of cache[] and store[] */
	size_t ncache, ndirty;  /* pages in cache[], of which dirty */
};

struct tree_stats {
	uint64_t inodes, orphans, cache_pages, dirty_pages, store_pages;
};

extern pthread_mutex_t journal_lock;   /* journal.c: "the journal lock" */
extern pthread_mutex_t io_lock;        /* journal.c: the IO layer's lock */

void tree_init(void);
void tree_destroy(void);
struct tinode *tree_get(uint64_t ino);
int tree_lookup(struct tinode *dir, const char *name, struct tinode **out);
/* ino 0: allocate a new number (live ops); replay passes the logged one */
int tree_mknod(struct tinode *dir, const char *name, mode_t mode, dev_t rdev,
	       uid_t uid, gid_t gid, const char *target, uint64_t ino,
	       const struct timespec *now, struct tinode **out);
int tree_link(struct tinode *ino, struct tinode *dir, const char *name,
	      const struct timespec *now);
int tree_unlink(struct tinode *dir, const char *name, int rmdir,
		const struct timespec *now);
int tree_rename(struct tinode *dir, const char *name, struct tinode *ndir,
		const char *nname, unsigned int flags, const struct timespec *now);
void tree_forget(struct tinode *in, uint64_t n);
void tree_put_open(struct tinode *in);
void tree_maybe_orphan(struct tinode *in);
unsigned long tree_evict_orphans(unsigned long nr);
void tree_stat(const struct tinode *in, struct stat *st);
void tree_stats(struct tree_stats *s);
int tree_check_name(const char *name);
/* iterate every inode (journal_lock held) */
void tree_for_each(void (*fn)(struct tinode *, void *), void *arg);
uint64_t tree_max_ino(void);
void tree_set_next_ino(uint64_t next);

/* ---- cache.c ------------------------------------------------------- */
int cache_write(struct tinode *in, const char *buf, size_t len, off_t off);
size_t cache_read(struct tinode *in, char *buf, size_t len, off_t off);
int cache_truncate(struct tinode *in, uint64_t size);
/* write back dirty pages into the journal (journal_lock held); returns pages */
unsigned long cache_writeback(struct tinode *in);
unsigned long cache_evict_clean(struct tinode *in, unsigned long nr);
void cache_free(struct tinode *in);
int store_write(struct tinode *in, uint64_t pgidx, const char *data, size_t len);
extern uint64_t cache_pages_total, cache_dirty_total, store_pages_total;

/* ---- journal.c ----------------------------------------------------- */
enum jtype {
	J_CREATE = 1, J_LINK, J_UNLINK, J_RENAME, J_SETATTR, J_DATA,
};

#define J_MAGIC 0x314a5854u     /* "TXJ1" */
struct jhdr {
	uint32_t magic;
	uint32_t crc;           /* crc32 of header (crc = 0) and payload */
	uint64_t seq;
	uint16_t type;
	uint16_t pad;
	uint32_t len;           /* payload bytes */
};
#define J_MAX_PAYLOAD (1u << 20)

struct jr_create {
	uint64_t ino, parent;
	uint32_t mode, uid, gid, rdev;
	int64_t sec;
	uint32_t nsec;
	uint16_t namelen, tgtlen;
};
struct jr_link { uint64_t ino, parent; int64_t sec; uint32_t nsec; uint16_t namelen, pad; };
struct jr_unlink { uint64_t parent; int64_t sec; uint32_t nsec; uint16_t namelen, rmdir; };
struct jr_rename {
	uint64_t parent, newparent;
	int64_t sec;
	uint32_t nsec, flags;
	uint16_t namelen, newnamelen, pad[2];
};
struct jr_setattr {
	uint64_t ino, size;
	uint32_t valid, mode, uid, gid;
	int64_t asec, msec, csec;
	uint32_t ansec, mnsec, cnsec, pad;
};
struct jr_data {
	uint64_t ino, pgidx, isize;
	int64_t msec;
	uint32_t mnsec, len;
};

/* a transaction: the journal lock, NOFS and a fsr transaction */
struct txn {
	void *cookie;
	unsigned int nofs;
	void *prealloc;
};
void txn_begin(struct txn *t);
void txn_reserve(struct txn *t);    /* hazard=gfp-kernel-under-lock */
void txn_vbuf(struct txn *t);       /* hazard=vmalloc-nofs */
void txn_end(struct txn *t);
/* the reclaim paths: FS shrinker, forget, fsync, flush */
struct wb {
	void *cookie;
	unsigned int nofs;
};
void wb_begin(struct wb *w);
void wb_end(struct wb *w);

/* record builders: allocate the record under journal_lock and submit it */
void jlog_create(const struct tinode *in, const struct tinode *dir, const char *name);
void jlog_link(const struct tinode *in, const struct tinode *dir, const char *name);
void jlog_unlink(const struct tinode *dir, const char *name, int rmdir);
void jlog_rename(const struct tinode *dir, const char *name,
		 const struct tinode *ndir, const char *nname, unsigned int flags);
void jlog_setattr(const struct tinode *in, int valid);
void jlog_data(const struct tinode *in, uint64_t pgidx, const char *data, size_t len);

/* the IO layer */
int journal_open(const char *path);     /* replays, then opens for append */
void journal_close(void);
int jio_sync(void);                     /* flush pending records + fdatasync */
unsigned long jio_pending(void);
unsigned long jio_trim(unsigned long nr);
int journal_enabled(void);
uint32_t txfs_crc32(uint32_t crc, const void *buf, size_t len);

/* ---- replay.c ------------------------------------------------------ */
struct replay_result {
	uint64_t records, applied, failed, last_seq;
	off_t end;              /* offset after the last good record */
	off_t file_size;
	const char *stop;       /* NULL: clean end; else why the tail was cut */
};
/* apply=0: only scan (dump mode prints when verbose) */
int replay_fd(int fd, int apply, int verbose, struct replay_result *r);
int journal_dump(const char *path);
int journal_check(const char *path);   /* replay into memory, read-only */

/* ---- shrink.c ------------------------------------------------------ */
void shrink_register(void);
void shrink_unregister(void);
void prime_reclaim_graph(void);

/* ---- ops.c --------------------------------------------------------- */
extern const struct fuse_lowlevel_ops txfs_ops;

/* ---- util ---------------------------------------------------------- */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
void now_ts(struct timespec *ts);

#endif /* TXFS_H */
