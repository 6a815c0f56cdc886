/* ledger.h - what the kernel holds of one FUSE session or connection: the
 * entries it looked up (with their lookup counts) and the handles it opened
 * and has not released, with the choice of a reclaim pass's callback
 * target among them.  One ledger for both transports: fuse_state.c's
 * libfuse sessions, fuse2.c's libfuse2 high-level file system (handles
 * only) and wire_proto.c's connections each embed one and feed it from
 * what they see (a libfuse reply, a /dev/fuse message).
 *
 * No lock of its own: every call is made under the lock of the session or
 * connection that embeds it (s->lock, fs2.lock, c->lock), the one its owner already
 * takes for its pins and in-flight tables.  Entries and handles are
 * allocated with fsr_alloc under that lock, as both owners did before. */
#ifndef FSR_LEDGER_H
#define FSR_LEDGER_H

#include "fsr.h"
#include <stddef.h>
#include <stdint.h>

#define FSR_LEDGER_BUCKETS  1024
#define FSR_LEDGER_NAME_MAX 255    /* a longer name is counted but never looked up again */
#define FSR_LEDGER_ROOT     1      /* FUSE_ROOT_ID */
#define FSR_TARGET_MAX      160    /* a target's text (replay's key of it) */

struct fsr_handle {
	struct fsr_handle *next;
	uint64_t ino;
	uint64_t fh;
	int flags;                     /* open flags (libfuse transports) */
	int dir;
	int refs;                      /* opens with this (ino, fh) not yet released */
	int pin;                       /* callbacks or synthetic requests using it now */
	char *path;                    /* libfuse high level: its path at the latest open */
	unsigned long order;           /* the n-th handle opened: replay's key of it */
};

struct fsr_entry {
	struct fsr_entry *next;
	uint64_t ino;
	uint64_t parent;
	int64_t count;                 /* references seen given, minus forgets */
	int pin;                       /* callbacks using it (as the entry or as a parent) */
	uint32_t mode;                 /* its type, where the reply said (0: unknown) */
	char name[];                   /* the name it was looked up by ("": not recallable) */
};

struct fsr_ledger {
	unsigned long nent, nhnd;
	unsigned long nopened;         /* handles opened so far (their order) */
	unsigned long cur_e, cur_h;    /* where the next pass's choice starts */
	struct fsr_entry *ent[FSR_LEDGER_BUCKETS];
	struct fsr_handle *hnd[FSR_LEDGER_BUCKETS];
};

/* the ops a callback runs on a handle (fsr_ledger_hnd_ok) */
#define FSR_LOP_FSYNC    0x1u      /* on a file handle */
#define FSR_LOP_FLUSH    0x2u      /* on a file handle; never on a directory */
#define FSR_LOP_FSYNCDIR 0x4u      /* on a directory handle */

struct fsr_entry **fsr_ledger_ent_slot(struct fsr_ledger *l, uint64_t ino) FSR_HIDDEN;
struct fsr_handle **fsr_ledger_hnd_slot(struct fsr_ledger *l, uint64_t ino, uint64_t fh, int dir) FSR_HIDDEN;

/* delta references of ino, known by (parent, name): the newest name kept;
 * at or below 0 (and not pinned) the entry goes.  -1 when a new entry
 * could not be allocated (its references uncounted: an under-count). */
int fsr_ledger_ent_add(struct fsr_ledger *l, uint64_t ino, uint64_t parent, const char *name, size_t len,
		       uint32_t mode, int64_t delta) FSR_HIDDEN;
/* one open of (ino, fh); *path (may be NULL), when given, is taken as the
 * handle's latest path unless the handle is pinned.  -1: not allocated. */
int fsr_ledger_hnd_open(struct fsr_ledger *l, uint64_t ino, uint64_t fh, int dir, int flags, char **path) FSR_HIDDEN;
/* one release of (ino, fh): the handle goes at its last unless pinned */
void fsr_ledger_hnd_release(struct fsr_ledger *l, uint64_t ino, uint64_t fh, int dir) FSR_HIDDEN;
/* a release's handle: that of (ino, fh), else one recorded without its
 * inode (0, fh); for a release that does not know its inode (ino 0), else
 * the first open one with fh on any inode.  A release of a known inode
 * never takes another inode's handle: with fh 0 on every file (a path-only
 * daemon) that is another open file's. */
struct fsr_handle **fsr_ledger_hnd_slot_fh(struct fsr_ledger *l, uint64_t ino, uint64_t fh, int dir) FSR_HIDDEN;
/* The high levels' paths follow the daemon's renames, as libfuse's node
 * path does: a handle at or under `from` moves to `to` (exchange: and those
 * under `to` to `from`; else those at or under `to`, which the rename
 * replaced, and libfuse unlinked without hiding them (-o hard_remove), are
 * left without a path); to == NULL (an unlink libfuse did not hide) leaves
 * it without a path, which callbacks skip.  A pinned handle (a callback
 * uses its path now) is waited for: wait(arg) drops the owner's lock until
 * a pin drops, at most 100 times; one still pinned keeps its old path. */
void fsr_ledger_move_paths(struct fsr_ledger *l, const char *from, const char *to, int exchange,
			   void (*wait)(void *arg), void *arg) FSR_HIDDEN;
/* a pin dropped: what the kernel dropped meanwhile goes */
void fsr_ledger_ent_unpin(struct fsr_ledger *l, uint64_t ino) FSR_HIDDEN;
void fsr_ledger_hnd_unpin(struct fsr_ledger *l, uint64_t ino, uint64_t fh, int dir) FSR_HIDDEN;
void fsr_ledger_clear_entries(struct fsr_ledger *l) FSR_HIDDEN;
void fsr_ledger_clear(struct fsr_ledger *l) FSR_HIDDEN;

/* A callback's target as replay names it: an entry by its path from the
 * root, a handle by its open order and its path ("#3:/d/f"; the high
 * level's own path where it has one).  Node ids and file handles are the
 * daemon's choice and differ by run. */
size_t fsr_ledger_ent_target(struct fsr_ledger *l, uint64_t ino, char *b, size_t len) FSR_HIDDEN;
void fsr_ledger_hnd_target(struct fsr_ledger *l, const struct fsr_handle *h, char *b, size_t len) FSR_HIDDEN;

/* Eligible for a callback: an entry with references, a name and a parent
 * the kernel holds (*parent set, NULL for the root), to LOOKUP again and
 * FORGET what that gave; a handle not released, for ops (FSR_LOP_*):
 * FSYNC/FLUSH on file handles, FSYNCDIR on directory handles, never FLUSH
 * on a directory. */
int fsr_ledger_ent_ok(struct fsr_ledger *l, const struct fsr_entry *e, struct fsr_entry **parent) FSR_HIDDEN;
int fsr_ledger_hnd_ok(const struct fsr_handle *h, unsigned int ops) FSR_HIDDEN;

/* A pass's choice of target: the one a replayed pass wants (by its
 * target's hash, fsr_schedule_want) if it is eligible now, else the first
 * eligible one from the ledger's cursor on.  also (may be NULL) is the
 * transport's own rule on top (a handle in use by an op or a synthetic
 * request).  The choice's target text is in k->tgt. */
struct fsr_pick {
	int wanted;                    /* the pass wanted a target of this type */
	int matched;                   /* ... and got it */
	unsigned long bucket;          /* where a first-eligible choice was found */
	struct fsr_entry *parent;      /* an entry's parent (NULL: the root) */
	char tgt[FSR_TARGET_MAX];
};
typedef int (*fsr_hnd_also_fn)(void *arg, const struct fsr_handle *h, unsigned int ops);
struct fsr_entry *fsr_ledger_pick_ent(struct fsr_ledger *l, struct fsr_pass *p, struct fsr_pick *k) FSR_HIDDEN;
struct fsr_handle *fsr_ledger_pick_hnd(struct fsr_ledger *l, struct fsr_pass *p, unsigned int ops,
				       fsr_hnd_also_fn also, void *arg, struct fsr_pick *k) FSR_HIDDEN;
/* the choice was used: the next pass's first-eligible search starts after it */
static inline void fsr_ledger_advance(unsigned long *cursor, const struct fsr_pick *k)
{
	if (!k->matched)
		*cursor = k->bucket + 1;
}
/* a replayed pass did not get the target it wanted: said, with what it
 * took (took 0: nothing eligible) */
void fsr_ledger_say_instead(struct fsr_pass *p, char type, const char *kind, const struct fsr_pick *k,
			    int took) FSR_HIDDEN;

/* The callbacks (FSR_CB_FORGET, _FSYNC, _FLUSH) a pass runs on a
 * transport that can make those of has: the callbacks= option's. */
static inline unsigned int fsr_ledger_callbacks(unsigned int has)
{
	return fsr_opt.callbacks & has & (FSR_CB_FORGET | FSR_CB_FSYNC | FSR_CB_FLUSH);
}

#endif
