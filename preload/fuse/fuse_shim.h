/* fuse_shim.h - shared state of the libfuse interposition (fuse_ops.c,
 * fuse317.c, fuse_req.c, fuse_state.c, reentry.c).
 *
 * The shim never links libfuse: every real libfuse function is found with
 * dlvsym(RTLD_NEXT, name, version), so a program without FUSE loads nothing
 * more.  Each libfuse3 session made through fuse_session_new@FUSE_3.0 or
 * 3.17's fuse_session_new_versioned (which libfuse's own high-level fuse_new
 * also calls) gets a struct fsr_fsess: the daemon's ops table copied, a
 * table of wrappers handed to libfuse instead, and the session itself handed
 * to libfuse as its userdata (the interposed fuse_req_userdata gives the
 * daemon its own back). */
#ifndef FSR_FUSE_SHIM_H
#define FSR_FUSE_SHIM_H

#define FUSE_USE_VERSION 312
#include "fsr.h"
#include "ledger.h"
#include "opgate.h"
#include "opctx.h"
#include <fuse3/fuse_lowlevel.h>
#include <fuse3/fuse.h>
#include <limits.h>
#include <stddef.h>

#define FSR_FSESS_MAX     16       /* sessions per process */

/* the context of one op on one thread (on its stack; t->fuse_ctx points
 * here); its first members are struct fsr_ctxhdr's (opctx.h) */
struct fsr_opctx {
	int api;                       /* FSR_CTX_V3 */
	void *prev_ctx;                /* t->fuse_ctx before */
	const char *prev_op;
	uint64_t prev_op_locks;        /* t->op_locks before (oplocks.c) */
	int nscopes;                   /* t->nscopes at entry */
	struct fsr_fsess *s;
	fuse_req_t req;                /* real request, or a fake one (callbacks) */
	const char *name;              /* op name */
	fuse_ino_t ino;                /* inode the op works on (0: none) */
	fuse_ino_t parent;             /* lookup-like ops: parent and name */
	const char *entry_name;
	int kind;                      /* FSR_OPK_* */
	int slot;                      /* index in s->inflight, or -1 */
	int gated;                     /* holds a reference on s->gate */
	int open_flags;                /* open-like ops: the flags of the request */
	int pend;                      /* its slot in s->pending until the reply, or -1 */
	const char *hl_path;           /* high level: the path the daemon's open/create got */
};
FSR_CTXHDR_OF(struct fsr_opctx);
enum { FSR_OPK_OTHER, FSR_OPK_ENTRY, FSR_OPK_OPEN, FSR_OPK_OPENDIR, FSR_OPK_CREATE };

/* struct fsr_handle, struct fsr_entry: ledger.h */

/* struct fuse_lowlevel_ops as libfuse 3.17 lays it out: 3.14's table, then
 * tmpfile.  Headers older than 3.17 lack the member, so it is appended
 * here; the daemon's op_size says how much of this it has. */
typedef void (*fsr_tmpfile_fn)(fuse_req_t req, fuse_ino_t parent, mode_t mode, struct fuse_file_info *fi);
#if FUSE_MAJOR_VERSION * 100 + FUSE_MINOR_VERSION >= 317
struct fsr_llops { struct fuse_lowlevel_ops ops; };
#define FSR_LL_TMPFILE(l) ((l)->ops.tmpfile)
#define FSR_LL_TMPFILE_END (offsetof(struct fuse_lowlevel_ops, tmpfile) + sizeof(fsr_tmpfile_fn))
#else
struct fsr_llops { struct fuse_lowlevel_ops ops; fsr_tmpfile_fn tmpfile; };
#define FSR_LL_TMPFILE(l) ((l)->tmpfile)
#define FSR_LL_TMPFILE_END (offsetof(struct fsr_llops, tmpfile) + sizeof(fsr_tmpfile_fn))
#endif

/* 3.17 grew struct fuse_file_info to 64 bytes (backing_id, compat_flags
 * after 3.14's 40): the fi a callback makes is that large and zeroed, so a
 * daemon built against 3.17 never reads past it */
#define FSR_FI_BYTES 64
union fsr_fi { struct fuse_file_info fi; char bytes[FSR_FI_BYTES]; };

/* a high-level daemon's ops (libfuse3 fuse_new): callbacks call them
 * directly, never through libfuse's own locks */
struct fsr_hl {
	struct fuse_operations real, wrap;
	void *private_data;            /* what init returned */
};

struct fsr_fsess;

/* How callbacks reach the daemon's low-level ops: one table per library
 * (libfuse3: fuse_ops.c; libfuse2 low level: fuse2_ll.c), whose ops and
 * struct fuse_file_info differ. */
struct fsr_llapi {
	void (*init)(struct fsr_fsess *s, void *conn);   /* the daemon's init and destroy, if it has them */
	void (*destroy)(struct fsr_fsess *s);
	int (*has)(struct fsr_fsess *s, int cb);     /* FSR_CB_FSYNC, _FLUSH, _FORGET */
	void (*fsync)(struct fsr_fsess *s, fuse_req_t req, const struct fsr_handle *h);
	void (*flush)(struct fsr_fsess *s, fuse_req_t req, const struct fsr_handle *h, uint64_t owner);
	void (*lookup)(struct fsr_fsess *s, fuse_req_t req, fuse_ino_t parent, const char *name);
	void (*forget)(struct fsr_fsess *s, fuse_req_t req, fuse_ino_t ino, uint64_t n);
	const struct fuse_ctx *(*req_ctx)(fuse_req_t req);  /* the real library's, of a real request */
};

#define FSR_OWED_MAX 64            /* lookups answered after their callback ended */
#define FSR_PENDING_MAX 256        /* ops whose reply may come from another thread */

/* A low-level op that makes a kernel reference (lookup-like, open-like),
 * copied so that its reply is understood also when it comes from another
 * thread, during the op or after it returned. */
struct fsr_pending {
	fuse_req_t req;                /* NULL: free */
	int kind, open_flags;
	fuse_ino_t ino, parent;
	char name[256];
};

struct fsr_fsess {
	const struct fsr_llapi *api;
	struct fuse_lowlevel_ops real; /* libfuse3: the daemon's ops (or libfuse's, for high level) */
	fsr_tmpfile_fn real_tmpfile;   /* libfuse3: 3.17's op past the 3.14 table */
	struct fsr_llops wrap;         /* libfuse3: what libfuse calls */
	void *ops2;                    /* libfuse2 low level: fuse2_ll.c's tables */
	void *userdata;                /* the daemon's userdata */
	struct fuse_session *se;
	int highlevel;                 /* made by fuse_new: libfuse keeps forget to itself */
	struct fsr_hl *hl;             /* high level: the daemon's own ops */
	int mt;                        /* runs a multi-threaded loop */
	int live;                      /* between init and destroy (atomic): callbacks allowed */
	unsigned int fork_gen;         /* fsr_fork_gen at its last request here (fuse_state.c) */
	int own_loop;                  /* the daemon's own loop calls fuse_session_process_buf: no callbacks */
	int cb_active;                 /* callbacks running (atomic) */
	int gate;                      /* single-threaded: ops in progress | FSR_GATE_CB (futex) */
	struct fsr_mutex lock;         /* led, pins, owed, pending */
	int unpin_seq;                 /* futex: bumped when a pin drops */
	struct fsr_ledger led;         /* what the kernel holds (ledger.c), under lock */
	fuse_ino_t inflight[FSR_INFLIGHT_MAX];   /* inodes of kernel ops in progress (0: free) */
	int nowed;                     /* forgets owed for late lookup replies (s->lock) */
	fuse_ino_t owed[FSR_OWED_MAX];
	unsigned int pend_hint;        /* s->lock */
	struct fsr_pending pending[FSR_PENDING_MAX];
	char mountpoint[PATH_MAX];
};

extern struct fsr_fsess *fsr_fsessions[FSR_FSESS_MAX] FSR_HIDDEN;
extern int fsr_nfsessions FSR_HIDDEN;

/* fuse_real.c: the real libfuse function (NULL: none loaded, said once) */
void *fsr_fuse_real(const char *name, const char *version) FSR_HIDDEN;
/* 1 when the wire serves the libfuse real (a libfuse function) is in, and
 * its wrappers pass through: always under fuse_transport=wire, and under
 * auto for a libfuse loaded at run time */
int fsr_fuse_on_wire(const void *real) FSR_HIDDEN;
/* fuse_transport=lib, a libfuse found only in a local scope (loaded at run
 * time): 1, and no callbacks (said once) */
int fsr_fuse_no_callbacks(void) FSR_HIDDEN;

/* fuse_ops.c */
struct fsr_fsess *fsr_fsess_of_userdata(void *u) FSR_HIDDEN;
struct fsr_fsess *fsr_fsess_of_se(const void *se) FSR_HIDDEN;
/* a new session's record, registered (NULL: none free); drop: unregister it */
struct fsr_fsess *fsr_fsess_add(const struct fsr_llapi *api, void *userdata) FSR_HIDDEN;
void fsr_fsess_drop(struct fsr_fsess *s) FSR_HIDDEN;
/* an op of a session on this thread: its context, counted in fs_ops */
void fsr_op_enter(struct fsr_opctx *c, fuse_req_t req, struct fsr_fsess *s, const char *name,
		  fuse_ino_t ino) FSR_HIDDEN;
void fsr_op_exit(struct fsr_opctx *c, const char *returns) FSR_HIDDEN;
/* oplocks.c: the owner bit of a session or wire connection (key), for
 * t->op_locks while one of its ops runs; 0 when all are taken */
uint64_t fsr_oplock_owner(const void *key) FSR_HIDDEN;
/* the init and destroy ops of a session of either library (ud: its
 * userdata, the session): op contexts, and callbacks possible only in
 * between; the daemon's own are called through s->api */
void fsr_fsess_init_op(void *ud, void *conn) FSR_HIDDEN;
void fsr_fsess_destroy_op(void *ud) FSR_HIDDEN;
void fsr_fsess_destroyed(struct fsr_fsess *s) FSR_HIDDEN;   /* after fuse_session_destroy */
void fsr_session_destroy(void (*real)(struct fuse_session *), struct fuse_session *se) FSR_HIDDEN;
/* a multi-threaded loop takes the session: wait for ops begun single-threaded */
void fsr_fsess_set_mt(struct fsr_fsess *s) FSR_HIDDEN;
/* The wrapping of a session (low level) and of a struct fuse_operations
 * (high level), shared by every version of the entry points.  real is the
 * libfuse function found for the entry point, call calls it as that version
 * takes its arguments; version is 3.17's struct libfuse_version, handed on
 * unchanged (NULL for the older entry points, which have none). */
typedef struct fuse_session *(*fsr_session_call_fn)(void *real, struct fuse_args *args,
						    const struct fuse_lowlevel_ops *op, size_t op_size,
						    void *version, void *userdata);
struct fuse_session *fsr_session_new(fsr_session_call_fn call, void *real, struct fuse_args *args,
				     const struct fuse_lowlevel_ops *op, size_t op_size,
				     void *version, void *userdata) FSR_HIDDEN;
typedef void *(*fsr_fuse_new_call_fn)(void *real, struct fuse_args *args, const void *op, size_t size,
				      void *version, void *ud);
void *fsr_fuse_new(fsr_fuse_new_call_fn call, void *real, struct fuse_args *args, const void *op,
		   size_t size, void *version, void *ud) FSR_HIDDEN;
/* a versioned definition: C function fn is exported as sym@ver (@@ver: the default) */
#define FSR_SYMVER(fn, symver) __asm__(".symver " #fn ", " symver)

/* fuse_req.c: fuse_get_context during a high-level callback */
extern __thread struct fuse_context *fsr_cb_context FSR_HIDDEN;

/* fuse_req.c: fake requests for callbacks */
struct fsr_fake_req {
	struct fsr_fsess *s;
	struct fuse_ctx ctx;
	int state;                     /* FSR_FAKE_*: the reply and the callback's end race */
	fuse_ino_t entry_ino;          /* fuse_reply_entry's ino */
};
enum { FSR_FAKE_OPEN, FSR_FAKE_REPLIED, FSR_FAKE_CLOSED };
fuse_req_t fsr_fake_req_new(struct fsr_fsess *s, const struct fuse_ctx *ctx) FSR_HIDDEN;
int fsr_req_is_fake(const void *req) FSR_HIDDEN;
/* a reply to req: 1 if req is the shim's (absorbed; ino: an entry reply's
 * inode, 0 for others), 0 if it is real and goes on to libfuse */
int fsr_fake_reply(const void *req, fuse_ino_t ino) FSR_HIDDEN;
/* a fake request's userdata and ctx (NULL: not fake) */
void *fsr_fake_userdata(const void *req) FSR_HIDDEN;
const struct fuse_ctx *fsr_fake_ctx(const void *req) FSR_HIDDEN;
/* the real libfuse functions the op wrappers need; the session of a real request */
void *fsr_real_req_userdata(fuse_req_t req) FSR_HIDDEN;
struct fsr_fsess *fsr_fsess_of_req(fuse_req_t req) FSR_HIDDEN;
const struct fuse_ctx *fsr_real_req_ctx(fuse_req_t req) FSR_HIDDEN;

/* fuse_state.c */
/* an op that makes a kernel reference: remember it until its reply, also
 * one sent after the op returned (after c->kind and its fields are set) */
void fsr_state_track(struct fsr_opctx *c) FSR_HIDDEN;
/* a reply to real request req, on any thread: the entry (ino) and the open
 * handle (has_fh, fh) it gives the kernel, 0 for a reply that gives none;
 * sess_of finds the session of a request not served on this thread */
void fsr_state_reply(fuse_req_t req, struct fsr_fsess *(*sess_of)(fuse_req_t), fuse_ino_t ino,
		     int has_fh, uint64_t fh) FSR_HIDDEN;
/* a lookup callback's reply came after the callback ended: forget it later */
void fsr_state_owe_forget(struct fsr_fsess *s, fuse_ino_t ino) FSR_HIDDEN;
/* pay the forgets owed (a callback context; the session is live) */
unsigned long fsr_state_pay_owed(struct fsr_fsess *s, const struct fuse_ctx *ctx) FSR_HIDDEN;
void fsr_state_release(struct fsr_fsess *s, fuse_ino_t ino, uint64_t fh, int dir) FSR_HIDDEN;
/* wait (s->lock held, dropped while waiting) until a pin of session s drops */
void fsr_state_wait_unpin(void *s) FSR_HIDDEN;
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
/* an open or create reply of libfuse2 (fuse2_ll.c): inside a high-level
 * open or create, the handle the kernel gets (ino: a create's new inode) */
void fsr_fuse2_reply_open(uint64_t ino, uint64_t fh, int flags) FSR_HIDDEN;

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
