/* fuse_shim.h - shared state of the libfuse interposition (fuse_ops.c,
 * fuse_req.c, fuse_state.c, reentry.c).
 *
 * The shim never links libfuse: every real libfuse function is found with
 * dlvsym(RTLD_NEXT, name, version), so a program without FUSE loads nothing
 * more.  Each libfuse3 session made through fuse_session_new@FUSE_3.0 (which
 * libfuse's own high-level fuse_new also calls) gets a struct fsr_fsess: the
 * daemon's ops table copied, a table of wrappers handed to libfuse instead,
 * and the session itself handed to libfuse as its userdata (the interposed
 * fuse_req_userdata gives the daemon its own back). */
#ifndef FSR_FUSE_SHIM_H
#define FSR_FUSE_SHIM_H

#define FUSE_USE_VERSION 312
#include "fsr.h"
#include <fuse3/fuse_lowlevel.h>
#include <fuse3/fuse.h>
#include <limits.h>

#define FSR_FSESS_MAX     16       /* sessions per process */
#define FSR_INFLIGHT_MAX  256      /* in-flight kernel requests tracked per session */
#define FSR_HASH_BUCKETS  1024

/* What t->fuse_ctx points to begins with this: the API (3: struct
 * fsr_opctx below; 2: fuse2.c's context) and the context it nests in. */
#define FSR_CTX_V3 3
#define FSR_CTX_V2 2
struct fsr_ctxhdr {
	int api;
	void *prev_ctx;
};

/* the context of one op on one thread (on its stack; t->fuse_ctx points here) */
struct fsr_opctx {
	int api;                       /* FSR_CTX_V3 */
	void *prev_ctx;                /* t->fuse_ctx before */
	struct fsr_fsess *s;
	fuse_req_t req;                /* real request, or a fake one (callbacks) */
	const char *name;              /* op name */
	fuse_ino_t ino;                /* inode the op works on (0: none) */
	fuse_ino_t parent;             /* lookup-like ops: parent and name */
	const char *entry_name;
	int kind;                      /* FSR_OPK_* */
	int slot;                      /* index in s->inflight, or -1 */
	int nscopes;                   /* t->nscopes at entry */
	const char *prev_op;
	int gated;                     /* holds a reference on s->gate */
	struct fuse_file_info fi;      /* open-like ops: the fi of the request */
	const char *hl_path;           /* high level: the path the daemon's open/create got */
};
enum { FSR_OPK_OTHER, FSR_OPK_ENTRY, FSR_OPK_OPEN, FSR_OPK_OPENDIR, FSR_OPK_CREATE };

struct fsr_handle {
	struct fsr_handle *next;
	fuse_ino_t ino;
	uint64_t fh;
	int flags;                     /* open flags */
	int dir;
	int refs;                      /* opens with this (ino, fh) not yet released */
	int pin;                       /* callbacks using it now */
	char *path;                    /* high level: its path at the latest open */
};

struct fsr_entry {
	struct fsr_entry *next;
	fuse_ino_t ino;
	fuse_ino_t parent;
	int64_t count;                 /* lookups the shim saw, minus forgets */
	int pin;                       /* callbacks using it (as the entry or as a parent) */
	char name[];                   /* the name it was looked up by */
};

#define FSR_GATE_CB 0x40000000     /* a callback runs on this single-threaded session */

/* a high-level daemon's ops (libfuse3 fuse_new): callbacks call them
 * directly, never through libfuse's own locks */
struct fsr_hl {
	struct fuse_operations real, wrap;
	void *private_data;            /* what init returned */
};

struct fsr_fsess {
	struct fuse_lowlevel_ops real; /* the daemon's ops (or libfuse's, for high level) */
	struct fuse_lowlevel_ops wrap; /* what libfuse calls */
	void *userdata;                /* the daemon's userdata */
	struct fuse_session *se;
	int highlevel;                 /* made by fuse_new: libfuse keeps forget to itself */
	struct fsr_hl *hl;             /* high level: the daemon's own ops */
	int mt;                        /* runs a multi-threaded loop */
	int live;                      /* between init and destroy (atomic) */
	int cb_active;                 /* callbacks running (atomic) */
	int gate;                      /* single-threaded: ops in progress | FSR_GATE_CB (futex) */
	struct fsr_mutex lock;         /* handles, entries */
	int unpin_seq;                 /* futex: bumped when a pin drops */
	unsigned long nhandles, nentries;
	unsigned long cursor_h, cursor_e;
	struct fsr_handle *handles[FSR_HASH_BUCKETS];
	struct fsr_entry *entries[FSR_HASH_BUCKETS];
	fuse_ino_t inflight[FSR_INFLIGHT_MAX];   /* inodes of kernel ops in progress (0: free) */
	char mountpoint[PATH_MAX];
};

extern struct fsr_fsess *fsr_fsessions[FSR_FSESS_MAX] FSR_HIDDEN;
extern int fsr_nfsessions FSR_HIDDEN;

/* fuse_ops.c */
struct fsr_fsess *fsr_fsess_of_userdata(void *u) FSR_HIDDEN;
void *fsr_fuse_real(const char *name, const char *version) FSR_HIDDEN;

/* fuse_req.c: fuse_get_context during a high-level callback */
extern __thread struct fuse_context *fsr_cb_context FSR_HIDDEN;

/* fuse_req.c: fake requests for callbacks */
struct fsr_fake_req {
	unsigned int magic;
	struct fsr_fsess *s;
	struct fuse_ctx ctx;
	int replied;                   /* 1 after any reply */
	int err;                       /* fuse_reply_err's value */
	fuse_ino_t entry_ino;          /* fuse_reply_entry's ino */
};
fuse_req_t fsr_fake_req_new(struct fsr_fsess *s, const struct fuse_ctx *ctx) FSR_HIDDEN;
int fsr_req_is_fake(fuse_req_t req) FSR_HIDDEN;
/* the real libfuse functions the op wrappers need */
void *fsr_real_req_userdata(fuse_req_t req) FSR_HIDDEN;
const struct fuse_ctx *fsr_real_req_ctx(fuse_req_t req) FSR_HIDDEN;

/* fuse_state.c */
void fsr_state_entry_reply(struct fsr_opctx *c, const struct fuse_entry_param *e) FSR_HIDDEN;
void fsr_state_open_reply(struct fsr_opctx *c, const struct fuse_file_info *fi) FSR_HIDDEN;
void fsr_state_release(struct fsr_fsess *s, fuse_ino_t ino, uint64_t fh, int dir) FSR_HIDDEN;
void fsr_state_forget(struct fsr_fsess *s, fuse_ino_t ino, uint64_t n) FSR_HIDDEN;
/* a reply for req: the opctx that made it (this thread's, or in flight) */
struct fsr_opctx *fsr_opctx_of_req(fuse_req_t req) FSR_HIDDEN;

/* fuse2.c: libfuse2 high-level daemons */
/* the ids of the request a thread serves, snapshotted on the allocating
 * thread before a pass: a callback never reads the allocator's stack (an
 * abandoned pass's allocator has gone on) */
struct fsr_ids { unsigned int uid, gid, pid, umask; };
int fsr_fuse2_reclaim_possible(struct fsr_thread *t) FSR_HIDDEN;
unsigned long fsr_fuse2_reclaim(struct fsr_pass *p, const struct fsr_ids *ids) FSR_HIDDEN;
int fsr_fuse2_ids(void *ctx, struct fsr_ids *ids) FSR_HIDDEN;   /* ctx: a FSR_CTX_V2 context */

/* reentry.c */
void fsr_reentry_add_mount(const char *mountpoint) FSR_HIDDEN;
void fsr_reentry_del_mount(const char *mountpoint) FSR_HIDDEN;   /* or "/dev/fd/N" */
/* mountpoint "/dev/fd/N" (libfuse's form for a /dev/fuse fd a parent mounted): N, else -1 */
int fsr_devfd_of(const char *mountpoint) FSR_HIDDEN;
int fsr_reentry_add_devfd(int fd) FSR_HIDDEN;   /* 0: its mounts are known; else retried at init */
void fsr_reentry_devfd_retry(void) FSR_HIDDEN;
void fsr_reentry_dev_fuse_opened(void) FSR_HIDDEN;
extern int fsr_fuse_libfuse_seen FSR_HIDDEN;   /* a libfuse session or a libfuse2 entry was seen */

#endif
