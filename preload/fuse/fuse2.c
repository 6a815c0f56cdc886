/* fuse2.c - libfuse2 (2.9) high-level daemons: bindfs, fuse2fs, unionfs ...
 *
 * libfuse2 shares names with libfuse3 (other signatures): every definition
 * here is bound to a FUSE_2.x version with .symver.  libfuse2 builds its
 * high-level session internally (fuse_new_common is not exported), so the
 * daemon's struct fuse_operations is wrapped at the outermost entry it hands
 * it to: fuse_main_real, fuse_setup or fuse_new (FUSE_2.6).  Kernel requests
 * are seen where libfuse2's loops pass them on, fuse_session_process_buf
 * (through the PLT): each one is an op context (named by its opcode), counted
 * in fs_ops once, and a single-threaded session stays closed to callbacks
 * while it runs.  Callbacks call the daemon's own fsync (datasync) and flush
 * on its open handles with their fh and current path (the daemon's rename
 * and unlink move it, as libfuse2's node does); libfuse2 keeps
 * forget to itself.  The handles are a ledger's (ledger.c, as libfuse3's
 * sessions and the wire keep theirs), keyed by inode and fh: a daemon that
 * leaves fh 0 on every file still has one handle per file.  Each is
 * recorded at its open or create reply (fuse2_ll.c), which names the
 * inode, and released by the release's inode (or its fh alone).  During a callback fuse_get_context() returns a context
 * made from the allocator's request (uid, gid, pid) and the daemon's
 * private data, as libfuse2 would give it.
 *
 * libfuse2 low-level daemons (fuse_lowlevel_new): fuse2_ll.c.  One libfuse2
 * high-level file system per process is called back. */
#define _FILE_OFFSET_BITS 64
#define FUSE_USE_VERSION 26
#include "fsr.h"
#include <fuse/fuse.h>
#include <fuse/fuse_lowlevel.h>
#include <linux/fuse.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fuse2_abi.h"
#include "ledger.h"
#include "opgate.h"
#include "opctx.h"
#include "wire.h"

/* fuse2_abi.h declares libfuse2's low-level ABI for fuse2_ll.c: check it */
#define SAME_OFF(a, b, m) _Static_assert(offsetof(a, m) == offsetof(b, m), "fuse2_abi.h: " #a "." #m)
#define SAME_OP(m) SAME_OFF(struct fuse_lowlevel_ops, struct fsr_ll2_ops, m)
SAME_OP(init); SAME_OP(destroy); SAME_OP(lookup); SAME_OP(forget); SAME_OP(getattr); SAME_OP(setattr);
SAME_OP(readlink); SAME_OP(mknod); SAME_OP(mkdir); SAME_OP(unlink); SAME_OP(rmdir); SAME_OP(symlink);
SAME_OP(rename); SAME_OP(link); SAME_OP(open); SAME_OP(read); SAME_OP(write); SAME_OP(flush);
SAME_OP(release); SAME_OP(fsync); SAME_OP(opendir); SAME_OP(readdir); SAME_OP(releasedir);
SAME_OP(fsyncdir); SAME_OP(statfs); SAME_OP(setxattr); SAME_OP(getxattr); SAME_OP(listxattr);
SAME_OP(removexattr); SAME_OP(access); SAME_OP(create); SAME_OP(getlk); SAME_OP(setlk); SAME_OP(bmap);
SAME_OP(ioctl); SAME_OP(poll); SAME_OP(write_buf); SAME_OP(retrieve_reply); SAME_OP(forget_multi);
SAME_OP(flock); SAME_OP(fallocate);
_Static_assert(sizeof(struct fuse_lowlevel_ops) == sizeof(struct fsr_ll2_ops), "fuse2_abi.h: ops size");
SAME_OFF(struct fuse_file_info, struct fsr_fi2, flags);
SAME_OFF(struct fuse_file_info, struct fsr_fi2, fh_old);
SAME_OFF(struct fuse_file_info, struct fsr_fi2, writepage);
SAME_OFF(struct fuse_file_info, struct fsr_fi2, fh);
SAME_OFF(struct fuse_file_info, struct fsr_fi2, lock_owner);
_Static_assert(sizeof(struct fuse_file_info) == sizeof(struct fsr_fi2), "fuse2_abi.h: fi size");
SAME_OFF(struct fuse_forget_data, struct fsr_forget2, ino);
SAME_OFF(struct fuse_forget_data, struct fsr_forget2, nlookup);
FSR_SAME_IN_BOTH_LIBRARIES();   /* fuse2_ll.c checks libfuse3's */

/* from fuse_shim.h, which includes libfuse3's headers */
void fsr_reentry_add_mount(const char *mountpoint) FSR_HIDDEN;
extern int fsr_fuse_libfuse_seen FSR_HIDDEN;
struct fsr_ids { unsigned int uid, gid, pid, umask; };
int fsr_fuse2_ids(void *ctx, struct fsr_ids *ids) FSR_HIDDEN;
unsigned long fsr_fuse2_reclaim(struct fsr_pass *p, const struct fsr_ids *ids) FSR_HIDDEN;
int fsr_fuse2_reclaim_possible(struct fsr_thread *t) FSR_HIDDEN;
int fsr_req_is_fake(const void *req) FSR_HIDDEN;
int fsr_fake_reply(const void *req, uint64_t ino) FSR_HIDDEN;
const void *fsr_fake_ctx(const void *req) FSR_HIDDEN;
/* fuse2_ll.c: libfuse2 low-level sessions */
int fsr_ll2_owns(const void *se) FSR_HIDDEN;
int fsr_ll2_set_mt(const void *se) FSR_HIDDEN;
/* fuse2_ll.c's fuse_reply_open/create: a handle given to the kernel */
void fsr_fuse2_reply_open(uint64_t ino, uint64_t fh, int flags) FSR_HIDDEN;
/* oplocks.c: the owner bit of the file system's ops (notify-in-op) */
uint64_t fsr_oplock_owner(const void *key) FSR_HIDDEN;

#define FSR_SYMVER(fn, symver) __asm__(".symver " #fn ", " symver)

struct ctx2 {                   /* t->fuse_ctx during a libfuse2 request or callback */
	int api;                /* FSR_CTX_V2; these five: struct fsr_ctxhdr's (opctx.h) */
	void *prev_ctx;
	const char *prev_op;
	uint64_t prev_op_locks;
	int nscopes;
	uint64_t nodeid;
	uint32_t uid, gid, pid;
	int slot;
	int gated;
	const char *hl_path;    /* the path the daemon's open/create got: its reply records the handle */
	uint64_t hl_ino;        /* the inode of the handle recorded (a release in the same request) */
};
FSR_CTXHDR_OF(struct ctx2);

static struct {
	struct fuse_operations real, wrap;
	int wrapped;            /* the one file system that is called back */
	int live, mt, gate, cb_active, unpin_seq;
	unsigned int fork_gen;  /* fsr_fork_gen at its last request here */
	struct fsr_mutex lock;  /* led */
	struct fsr_ledger led;  /* the handles the kernel holds (ledger.c): no entries, libfuse2 keeps forget */
	uint64_t inflight[FSR_INFLIGHT_MAX];   /* nodeids of the requests in progress (opgate.h) */
	struct fuse *fuse;      /* from the context at init */
	char mountpoint[PATH_MAX];  /* from fuse_parse_cmdline, added at init */
	void *private_data;
} fs2;

static __thread struct fuse_context *cb_context __attribute__((tls_model("initial-exec")));

/* fuse_real.c: libfuse2's, also one loaded at run time */
void *fsr_fuse_real(const char *name, const char *version) FSR_HIDDEN;
int fsr_fuse_on_wire(const void *real) FSR_HIDDEN;
int fsr_fuse_no_callbacks(void) FSR_HIDDEN;
#define real2 fsr_fuse_real

typedef struct fuse_context *(*get_context_fn)(void);
static get_context_fn real_get_context;

/* ---- request contexts ---- */

static void req_enter(struct ctx2 *c, const void *mem, size_t len)
{
	struct fsr_thread *t = fsr_thread_self();
	const struct fuse_in_header *in = mem && len >= sizeof *in ? mem : NULL;
	fs2.fork_gen = fsr_fork_gen;   /* this process reads it: ours */
	c->nodeid = in ? in->nodeid : 0;
	c->uid = in ? in->uid : 0;
	c->gid = in ? in->gid : 0;
	c->pid = in ? in->pid : 0;
	c->gated = 0;
	c->hl_path = NULL;
	c->hl_ino = 0;
	c->slot = fsr_inflight_add(fs2.inflight, c->nodeid);
	/* with the owner bit of the locks its ops take, as libfuse3's (fuse_ops.c) */
	fsr_ctx_push(t, c, FSR_CTX_V2, in ? fsr_fuse_op_name(in->opcode) : "request", fsr_oplock_owner(&fs2), 1);
}

static void req_exit(struct ctx2 *c)
{
	struct fsr_thread *t = fsr_thread_self();
	const char *op = t->op;
	fsr_ctx_pop(t, c);
	fsr_inflight_del(fs2.inflight, c->slot);
	if (c->gated)
		fsr_gate_exit(&fs2.gate);
	if (!t->busy && t->nscopes > c->nscopes) {
		char what[96];
		fsr_fmt(what, sizeof what, "FUSE op %s returns", op);
		fsr_scope_check_leak(t, c->nscopes, what);
	}
}

typedef void (*process_buf_fn)(struct fuse_session *, const struct fuse_buf *, struct fuse_chan *);
FSR_EXPORT void fsrw2_session_process_buf(struct fuse_session *se, const struct fuse_buf *buf, struct fuse_chan *ch);
FSR_SYMVER(fsrw2_session_process_buf, "fuse_session_process_buf@FUSE_2.9");
void fsrw2_session_process_buf(struct fuse_session *se, const struct fuse_buf *buf, struct fuse_chan *ch)
{
	static process_buf_fn real;
	if (!real)
		real = (process_buf_fn)real2("fuse_session_process_buf", "FUSE_2.9");
	/* its op wrappers make the context; or the wire does (fuse_transport=wire, or a libfuse loaded at run time) */
	if (fsr_ll2_owns(se) || fsr_fuse_on_wire((void *)real)) {
		if (real)
			real(se, buf, ch);
		return;
	}
	if (!__atomic_load_n(&fs2.wrapped, __ATOMIC_RELAXED))
		fsr_fuse_no_callbacks();   /* fuse_main_real reached past the shim: say why no callbacks */
	struct ctx2 c;
	int mem = buf && !(buf->flags & FUSE_BUF_IS_FD);
	req_enter(&c, mem ? buf->mem : NULL, mem ? buf->size : 0);
	if (real)
		real(se, buf, ch);
	req_exit(&c);
}

typedef void (*process_fn)(struct fuse_session *, const char *, size_t, struct fuse_chan *);
FSR_EXPORT void fsrw2_session_process(struct fuse_session *se, const char *buf, size_t len, struct fuse_chan *ch);
FSR_SYMVER(fsrw2_session_process, "fuse_session_process@FUSE_2.4");
void fsrw2_session_process(struct fuse_session *se, const char *buf, size_t len, struct fuse_chan *ch)
{
	static process_fn real;
	if (!real)
		real = (process_fn)real2("fuse_session_process", "FUSE_2.4");
	if (fsr_ll2_owns(se) || fsr_fuse_on_wire((void *)real)) {
		if (real)
			real(se, buf, len, ch);
		return;
	}
	struct ctx2 c;
	req_enter(&c, buf, len);
	if (real)
		real(se, buf, len, ch);
	req_exit(&c);
}

typedef int (*loop_fn)(struct fuse_session *);
FSR_EXPORT int fsrw2_session_loop_mt(struct fuse_session *se);
FSR_SYMVER(fsrw2_session_loop_mt, "fuse_session_loop_mt@FUSE_2.4");
int fsrw2_session_loop_mt(struct fuse_session *se)
{
	static loop_fn real;
	if (!real)
		real = (loop_fn)real2("fuse_session_loop_mt", "FUSE_2.4");
	fsr_gate_drain(&fs2.gate);
	if (!fsr_ll2_set_mt(se))        /* a libfuse2 low-level session, or the high-level one */
		__atomic_store_n(&fs2.mt, 1, __ATOMIC_RELEASE);
	return real ? real(se) : -1;
}

FSR_EXPORT struct fuse_context *fsrw2_get_context(void);
FSR_SYMVER(fsrw2_get_context, "fuse_get_context@FUSE_2.8");
struct fuse_context *fsrw2_get_context(void)
{
	if (cb_context)
		return cb_context;
	if (!real_get_context)
		real_get_context = (get_context_fn)real2("fuse_get_context", "FUSE_2.8");
	return real_get_context ? real_get_context() : NULL;
}

/* ---- the wrapped high-level ops: live state ---- */

static struct ctx2 *cur_ctx2(void)
{
	struct ctx2 *c = fsr_thread_self()->fuse_ctx;
	return c && c->api == FSR_CTX_V2 ? c : NULL;
}

/* wait (fs2.lock held, dropped while waiting) until a pin drops */
static void wait_unpin2(void *arg)
{
	(void)arg;
	int seq = __atomic_load_n(&fs2.unpin_seq, __ATOMIC_ACQUIRE);
	fsr_mutex_unlock(&fs2.lock);
	fsr_futex_wait(&fs2.unpin_seq, seq, 50000000ull);
	fsr_mutex_lock(&fs2.lock);
}

/* one open of (ino, fh) with its path (copied) */
static void handle_add(uint64_t ino, uint64_t fh, int flags, const char *path)
{
	struct fsr_thread *t = fsr_thread_self();
	size_t len = strlen(path);
	fsr_busy_enter(t);
	char *p = fsr_alloc(len + 1);
	if (p)
		memcpy(p, path, len + 1);
	fsr_mutex_lock(&fs2.lock);
	(void)fsr_ledger_hnd_open(&fs2.led, ino, fh, 0, flags, &p);   /* no room: an under-count */
	fsr_mutex_unlock(&fs2.lock);
	fsr_free(p);
	t->busy--;
}

/* the daemon's open or create succeeded: its handle is recorded at the
 * reply, which names the inode (a create's is new), before the kernel can
 * release it */
static void handle_opened(const char *path, struct fuse_file_info *fi)
{
	struct ctx2 *c = cur_ctx2();
	if (!path)
		return;
	if (c)
		c->hl_path = path;    /* libfuse2 frees it after the reply */
	else
		handle_add(0, fi->fh, fi->flags, path);   /* outside a request the shim saw: now */
}

void fsr_fuse2_reply_open(uint64_t ino, uint64_t fh, int flags)
{
	struct ctx2 *c = cur_ctx2();
	if (!c || !c->hl_path)
		return;
	c->hl_ino = ino ? ino : c->nodeid;
	handle_add(c->hl_ino, fh, flags, c->hl_path);
	c->hl_path = NULL;
}

/* a release: of the request's inode (a release inside the open or create
 * whose reply failed: the one it recorded), else found by its fh; none
 * inside an open or create that recorded nothing (libfuse2 releases a
 * create whose lookup failed before any reply) */
static void handle_release(struct fuse_file_info *fi)
{
	struct ctx2 *c = cur_ctx2();
	if (c && c->hl_path) {
		c->hl_path = NULL;
		return;
	}
	uint64_t ino = c ? (c->hl_ino ? c->hl_ino : c->nodeid) : 0;
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	fsr_mutex_lock(&fs2.lock);
	struct fsr_handle **pp;
	while (*(pp = fsr_ledger_hnd_slot_fh(&fs2.led, ino, fi->fh, 0)) && (*pp)->pin)
		wait_unpin2(NULL);
	if (*pp)
		fsr_ledger_hnd_release(&fs2.led, (*pp)->ino, fi->fh, 0);
	fsr_mutex_unlock(&fs2.lock);
	t->busy--;
}

/* single-threaded: the gate is closed to callbacks while a daemon op runs
 * (libfuse2's own code around it is not touched by callbacks, which call the
 * daemon's ops directly) */
static int gate2_enter(void)
{
	if (__atomic_load_n(&fs2.mt, __ATOMIC_ACQUIRE))
		return 0;
	fsr_gate_enter(&fs2.gate);
	return 1;
}

static void gate2_exit(int g)
{
	if (g)
		fsr_gate_exit(&fs2.gate);
}

#define G(nm, params, args) \
	static int g2_##nm params { int g = gate2_enter(); int r = fs2.real.nm args; gate2_exit(g); return r; }
G(getattr, (const char *p, struct stat *b), (p, b))
G(readlink, (const char *p, char *b, size_t n), (p, b, n))
G(getdir, (const char *p, fuse_dirh_t h, fuse_dirfil_t f), (p, h, f))
G(mknod, (const char *p, mode_t m, dev_t d), (p, m, d))
G(mkdir, (const char *p, mode_t m), (p, m))
G(rmdir, (const char *p), (p))
G(symlink, (const char *a, const char *b), (a, b))
G(link, (const char *a, const char *b), (a, b))
G(chmod, (const char *p, mode_t m), (p, m))
G(chown, (const char *p, uid_t u, gid_t g2), (p, u, g2))
G(truncate, (const char *p, off_t o), (p, o))
G(utime, (const char *p, struct utimbuf *u), (p, u))
G(read, (const char *p, char *b, size_t n, off_t o, struct fuse_file_info *fi), (p, b, n, o, fi))
G(write, (const char *p, const char *b, size_t n, off_t o, struct fuse_file_info *fi), (p, b, n, o, fi))
G(statfs, (const char *p, struct statvfs *b), (p, b))
G(flush, (const char *p, struct fuse_file_info *fi), (p, fi))
G(fsync, (const char *p, int d, struct fuse_file_info *fi), (p, d, fi))
G(setxattr, (const char *p, const char *n, const char *v, size_t z, int f), (p, n, v, z, f))
G(getxattr, (const char *p, const char *n, char *v, size_t z), (p, n, v, z))
G(listxattr, (const char *p, char *l, size_t z), (p, l, z))
G(removexattr, (const char *p, const char *n), (p, n))
G(opendir, (const char *p, struct fuse_file_info *fi), (p, fi))
G(readdir, (const char *p, void *b, fuse_fill_dir_t f, off_t o, struct fuse_file_info *fi), (p, b, f, o, fi))
G(releasedir, (const char *p, struct fuse_file_info *fi), (p, fi))
G(fsyncdir, (const char *p, int d, struct fuse_file_info *fi), (p, d, fi))
G(access, (const char *p, int m), (p, m))
G(ftruncate, (const char *p, off_t o, struct fuse_file_info *fi), (p, o, fi))
G(fgetattr, (const char *p, struct stat *b, struct fuse_file_info *fi), (p, b, fi))
G(lock, (const char *p, struct fuse_file_info *fi, int cmd, struct flock *l), (p, fi, cmd, l))
G(utimens, (const char *p, const struct timespec tv[2]), (p, tv))
G(bmap, (const char *p, size_t bs, uint64_t *idx), (p, bs, idx))
G(ioctl, (const char *p, int cmd, void *arg, struct fuse_file_info *fi, unsigned int fl, void *d),
  (p, cmd, arg, fi, fl, d))
G(poll, (const char *p, struct fuse_file_info *fi, struct fuse_pollhandle *ph, unsigned *rev), (p, fi, ph, rev))
G(write_buf, (const char *p, struct fuse_bufvec *b, off_t o, struct fuse_file_info *fi), (p, b, o, fi))
G(read_buf, (const char *p, struct fuse_bufvec **b, size_t n, off_t o, struct fuse_file_info *fi), (p, b, n, o, fi))
G(flock, (const char *p, struct fuse_file_info *fi, int op), (p, fi, op))
G(fallocate, (const char *p, int m, off_t o, off_t l, struct fuse_file_info *fi), (p, m, o, l, fi))

/* the handles' paths follow the daemon's renames and unlinks (ledger.c),
 * as libfuse2's node path does */
static void moved2(const char *from, const char *to)
{
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	fsr_mutex_lock(&fs2.lock);
	fsr_ledger_move_paths(&fs2.led, from, to, 0, wait_unpin2, NULL);
	fsr_mutex_unlock(&fs2.lock);
	t->busy--;
}

static int w2_rename(const char *a, const char *b)
{
	int g = gate2_enter();
	int r = fs2.real.rename(a, b);
	gate2_exit(g);
	if (r == 0 && __atomic_load_n(&fs2.led.nhnd, __ATOMIC_RELAXED))
		moved2(a, b);
	return r;
}

static int w2_unlink(const char *p)
{
	int g = gate2_enter();
	int r = fs2.real.unlink(p);
	gate2_exit(g);
	if (r == 0 && __atomic_load_n(&fs2.led.nhnd, __ATOMIC_RELAXED))
		moved2(p, NULL);
	return r;
}

static int w2_open(const char *path, struct fuse_file_info *fi)
{
	int g = gate2_enter();
	int r = fs2.real.open(path, fi);
	gate2_exit(g);
	if (r == 0)
		handle_opened(path, fi);
	return r;
}

static int w2_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int g = gate2_enter();
	int r = fs2.real.create(path, mode, fi);
	gate2_exit(g);
	if (r == 0)
		handle_opened(path, fi);
	return r;
}

static int w2_release(const char *path, struct fuse_file_info *fi)
{
	handle_release(fi);
	int g = gate2_enter();
	int r = fs2.real.release ? fs2.real.release(path, fi) : 0;
	gate2_exit(g);
	return r;
}

static void *w2_init(struct fuse_conn_info *conn)
{
	if (!real_get_context)
		real_get_context = (get_context_fn)real2("fuse_get_context", "FUSE_2.8");
	struct fuse_context *c = real_get_context ? real_get_context() : NULL;
	int g = gate2_enter();
	void *pd = fs2.real.init ? fs2.real.init(conn) : (c ? c->private_data : NULL);
	gate2_exit(g);
	fs2.fuse = c ? c->fuse : NULL;
	fs2.private_data = pd;
	if (fs2.mountpoint[0])
		fsr_reentry_add_mount(fs2.mountpoint);   /* mounted by now */
	if (!fsr_fuse_no_callbacks())
		__atomic_store_n(&fs2.live, 1, __ATOMIC_SEQ_CST);
	return pd;
}

static void w2_destroy(void *pd)
{
	__atomic_store_n(&fs2.live, 0, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&fs2.cb_active, __ATOMIC_SEQ_CST))
		fsr_futex_wait(&fs2.cb_active, 1, 1000000ull);
	int g = gate2_enter();
	if (fs2.real.destroy)
		fs2.real.destroy(pd);
	gate2_exit(g);
}

/* real: the libfuse2 entry point op goes to */
static const struct fuse_operations *wrap_ops(const struct fuse_operations *op, size_t size, const void *real)
{
	static int said;
	if (fsr_fuse_on_wire(real))
		return op;      /* the wire serves it, unwrapped */
	fsr_fuse_libfuse_seen = 1;
	if (!op || __atomic_exchange_n(&fs2.wrapped, 1, __ATOMIC_ACQ_REL)) {
		if (op && !__atomic_exchange_n(&said, 1, __ATOMIC_ACQ_REL))
			fsr_say("fsreclaim: a second libfuse2 file system in this process is not called back");
		return op;
	}
	memset(&fs2.real, 0, sizeof fs2.real);
	memcpy(&fs2.real, op, size < sizeof fs2.real ? size : sizeof fs2.real);
	fs2.wrap = fs2.real;
	fs2.wrap.init = w2_init;
	fs2.wrap.destroy = w2_destroy;
#define W(nm) if (fs2.real.nm) fs2.wrap.nm = g2_##nm
	W(getattr); W(readlink); W(getdir); W(mknod); W(mkdir); W(rmdir); W(symlink);
	W(link); W(chmod); W(chown); W(truncate); W(utime); W(read); W(write);
	W(statfs); W(flush); W(fsync); W(setxattr); W(getxattr); W(listxattr); W(removexattr);
	W(opendir); W(readdir); W(releasedir); W(fsyncdir); W(access); W(ftruncate);
	W(fgetattr); W(lock); W(utimens); W(bmap); W(ioctl); W(poll); W(write_buf);
	W(read_buf); W(flock); W(fallocate);
#undef W
	if (fs2.real.open)
		fs2.wrap.open = w2_open;
	if (fs2.real.create)
		fs2.wrap.create = w2_create;
	if (fs2.real.open || fs2.real.create)
		fs2.wrap.release = w2_release;
	if (fs2.real.rename)
		fs2.wrap.rename = w2_rename;
	if (fs2.real.unlink)
		fs2.wrap.unlink = w2_unlink;
	return &fs2.wrap;
}

/* ---- callbacks ---- */

/* the callbacks to run (FSR_CB_FSYNC, _FLUSH): the daemon's ops the callbacks= option asks for */
static unsigned int callbacks2(void)
{
	return fsr_ledger_callbacks((fs2.real.fsync ? FSR_CB_FSYNC : 0) | (fs2.real.flush ? FSR_CB_FLUSH : 0));
}

int fsr_fuse2_reclaim_possible(struct fsr_thread *t)
{
	(void)t;
	if (!__atomic_load_n(&fs2.live, __ATOMIC_ACQUIRE) || !__atomic_load_n(&fs2.led.nhnd, __ATOMIC_RELAXED) ||
	    fs2.fork_gen != fsr_fork_gen)
		return 0;
	if (!callbacks2())
		return 0;
	if (!__atomic_load_n(&fs2.mt, __ATOMIC_ACQUIRE) && __atomic_load_n(&fs2.gate, __ATOMIC_ACQUIRE))
		return 0;
	return 1;
}

int fsr_fuse2_ids(void *ctx, struct fsr_ids *ids)
{
	struct ctx2 *c = ctx;
	if (!c || c->api != FSR_CTX_V2)
		return 0;
	ids->uid = c->uid;
	ids->gid = c->gid;
	ids->pid = c->pid;
	ids->umask = 0;
	return 1;
}

/* callable: it has a path (unlinked: none), and no kernel op is on its inode now */
static int handle_free(void *arg, const struct fsr_handle *h, unsigned int ops)
{
	(void)arg;
	(void)ops;
	return h->path && !fsr_inflight_has(fs2.inflight, h->ino);
}

/* the daemon's fsync (0) or flush (1), as a callback that may be
 * abandoned (abandon.c) */
struct hl2_call {
	int flush;
	const char *path;
	struct fuse_file_info *fi;
};

static void hl2_run(void *arg)
{
	struct hl2_call *c = arg;
	if (c->flush)
		fs2.real.flush(c->path, c->fi);
	else
		fs2.real.fsync(c->path, 1, c->fi);
}

/* one callback, the daemon's fsync (flush 0) or flush: an op context of
 * its own, as fuse_state.c's callbacks are */
static void hl2_callback(struct fsr_thread *t, struct fsr_pass *p, const struct fsr_handle *h, int flush,
			 struct fuse_context *ctx)
{
	const char *name = flush ? "flush" : "fsync";
	struct fuse_file_info fi;
	memset(&fi, 0, sizeof fi);
	fi.fh = h->fh;
	fi.fh_old = (unsigned long)h->fh;
	fi.flags = h->flags;
	if (flush) {
		fi.flush = 1;
		fi.lock_owner = 0x66737265636c6d02ull;   /* an owner no process has */
	}
	fsr_schedule_callback(p, name, 0, NULL);
	struct ctx2 cc;
	memset(&cc, 0, sizeof cc);
	cc.nodeid = h->ino;
	cc.slot = -1;
	/* a callback is an op of the file system too (its owner bit) */
	fsr_ctx_push(t, &cc, FSR_CTX_V2, name, fsr_oplock_owner(&fs2), 0);
	int busy = t->busy;
	t->busy = 0;      /* the daemon's own code runs now: track its locks, check its calls */
	cb_context = ctx;
	struct hl2_call c = { flush, h->path, &fi };
	(void)fsr_cb_run(t, hl2_run, &c);
	cb_context = NULL;
	t->busy = busy;
	fsr_look(t);
	fsr_ctx_pop(t, &cc);
}

unsigned long fsr_fuse2_reclaim(struct fsr_pass *p, const struct fsr_ids *ids)
{
	struct fsr_thread *t = fsr_thread_self();
	if (!fsr_fuse2_reclaim_possible(t))
		return 0;
	int st = !__atomic_load_n(&fs2.mt, __ATOMIC_ACQUIRE);
	if (st && !fsr_gate_close(&fs2.gate))
		return 0;
	unsigned long n = 0;
	__atomic_add_fetch(&fs2.cb_active, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&fs2.live, __ATOMIC_SEQ_CST))
		goto out;
	/* the context the daemon sees: the allocator's request */
	struct fuse_context ctx;
	memset(&ctx, 0, sizeof ctx);
	ctx.fuse = fs2.fuse;
	ctx.private_data = fs2.private_data;
	ctx.uid = ids->uid;
	ctx.gid = ids->gid;
	ctx.pid = (pid_t)ids->pid;
	unsigned int cbs = callbacks2();
	int do_fsync = (cbs & FSR_CB_FSYNC) != 0, do_flush = (cbs & FSR_CB_FLUSH) != 0;
	struct fsr_pick k;
	fsr_busy_enter(t);
	fsr_mutex_lock(&fs2.lock);
	struct fsr_handle *h = fsr_ledger_pick_hnd(&fs2.led, p, (do_fsync ? FSR_LOP_FSYNC : 0) | (do_flush ? FSR_LOP_FLUSH : 0),
						   handle_free, NULL, &k);
	if (h) {
		h->pin++;
		fsr_ledger_advance(&fs2.led.cur_h, &k);
	}
	fsr_mutex_unlock(&fs2.lock);
	t->busy--;
	fsr_ledger_say_instead(p, 'h', do_fsync && do_flush ? "fsync+flush" : do_fsync ? "fsync" : "flush", &k, h != NULL);
	if (h) {
		fsr_schedule_callback(p, NULL, 'h', k.tgt);
		if (do_fsync)
			hl2_callback(t, p, h, 0, &ctx);
		if (do_flush)
			hl2_callback(t, p, h, 1, &ctx);
		n += (unsigned long)do_fsync + (unsigned long)do_flush;
		fsr_busy_enter(t);
		fsr_mutex_lock(&fs2.lock);
		fsr_ledger_hnd_unpin(&fs2.led, h->ino, h->fh, h->dir);
		fsr_mutex_unlock(&fs2.lock);
		t->busy--;
		__atomic_add_fetch(&fs2.unpin_seq, 1, __ATOMIC_RELEASE);
		fsr_futex_wake(&fs2.unpin_seq, 0x7fffffff);
	}
out:
	if (__atomic_sub_fetch(&fs2.cb_active, 1, __ATOMIC_SEQ_CST) == 0)
		fsr_futex_wake(&fs2.cb_active, 0x7fffffff);
	if (st)
		fsr_gate_open(&fs2.gate);
	return n;
}

/* ---- the entry points that take the ops ---- */

typedef int (*f2_main_fn)(int, char **, const struct fuse_operations *, size_t, void *);
FSR_EXPORT int fsrw2_main_real(int argc, char **argv, const struct fuse_operations *op, size_t size, void *ud);
FSR_SYMVER(fsrw2_main_real, "fuse_main_real@FUSE_2.6");
int fsrw2_main_real(int argc, char **argv, const struct fuse_operations *op, size_t size, void *ud)
{
	static f2_main_fn real;
	if (!real)
		real = (f2_main_fn)real2("fuse_main_real", "FUSE_2.6");
	return real ? real(argc, argv, wrap_ops(op, size, (void *)real), size, ud) : 1;
}

typedef struct fuse *(*f2_new_fn)(struct fuse_chan *, struct fuse_args *, const struct fuse_operations *, size_t, void *);
FSR_EXPORT struct fuse *fsrw2_new(struct fuse_chan *ch, struct fuse_args *args, const struct fuse_operations *op,
				 size_t size, void *ud);
FSR_SYMVER(fsrw2_new, "fuse_new@FUSE_2.6");
struct fuse *fsrw2_new(struct fuse_chan *ch, struct fuse_args *args, const struct fuse_operations *op,
		       size_t size, void *ud)
{
	static f2_new_fn real;
	if (!real)
		real = (f2_new_fn)real2("fuse_new", "FUSE_2.6");
	return real ? real(ch, args, wrap_ops(op, size, (void *)real), size, ud) : NULL;
}

typedef struct fuse *(*f2_setup_fn)(int, char **, const struct fuse_operations *, size_t, char **, int *, void *);
FSR_EXPORT struct fuse *fsrw2_setup(int argc, char **argv, const struct fuse_operations *op, size_t size,
				   char **mp, int *mt, void *ud);
FSR_SYMVER(fsrw2_setup, "fuse_setup@FUSE_2.6");
struct fuse *fsrw2_setup(int argc, char **argv, const struct fuse_operations *op, size_t size,
			 char **mp, int *mt, void *ud)
{
	static f2_setup_fn real;
	if (!real)
		real = (f2_setup_fn)real2("fuse_setup", "FUSE_2.6");
	return real ? real(argc, argv, wrap_ops(op, size, (void *)real), size, mp, mt, ud) : NULL;
}

/* mountpoints, for fs-reentry */
typedef struct fuse_chan *(*f2_mount_fn)(const char *, struct fuse_args *);
FSR_EXPORT struct fuse_chan *fsrw2_mount(const char *mp, struct fuse_args *args);
FSR_SYMVER(fsrw2_mount, "fuse_mount@FUSE_2.6");
struct fuse_chan *fsrw2_mount(const char *mp, struct fuse_args *args)
{
	static f2_mount_fn real;
	if (!real)
		real = (f2_mount_fn)real2("fuse_mount", "FUSE_2.6");
	if (fsr_opt.fuse_transport != FSR_TRANSPORT_WIRE)
		fsr_fuse_libfuse_seen = 1;     /* its /dev/fuse is opened here, maybe before fuse_new (Fuse.pm) */
	char abs[PATH_MAX];
	abs[0] = 0;
	if (mp) {
		struct fsr_thread *t = fsr_thread_self();
		fsr_busy_enter(t);
		if (!realpath(mp, abs))
			abs[0] = 0;
		t->busy--;
	}
	struct fuse_chan *ch = real ? real(mp, args) : NULL;
	if (ch && abs[0])
		fsr_reentry_add_mount(abs);
	return ch;
}

/* fuse_main_real and fuse_setup find the mountpoint here (through the PLT) */
typedef int (*f2_parse_fn)(struct fuse_args *, char **, int *, int *);
FSR_EXPORT int fsrw2_parse_cmdline(struct fuse_args *args, char **mp, int *mt, int *fg);
FSR_SYMVER(fsrw2_parse_cmdline, "fuse_parse_cmdline@FUSE_2.5");
int fsrw2_parse_cmdline(struct fuse_args *args, char **mp, int *mt, int *fg)
{
	static f2_parse_fn real;
	if (!real)
		real = (f2_parse_fn)real2("fuse_parse_cmdline", "FUSE_2.5");
	if (fsr_opt.fuse_transport != FSR_TRANSPORT_WIRE)
		fsr_fuse_libfuse_seen = 1;     /* fuse_main_real called past the shim (fusepy's ctypes) comes here */
	int r = real ? real(args, mp, mt, fg) : -1;
	if (r == 0 && mp && *mp && (*mp)[0] == '/' && strlen(*mp) < sizeof fs2.mountpoint)
		strcpy(fs2.mountpoint, *mp);
	return r;
}

/* ---- libfuse2's other fuse_reply_* and fuse_req_* ----
 * Bound by version, so the two libraries' same-named functions never meet;
 * a request of the shim's own (a low-level callback's, fuse2_ll.c, which
 * also has the replies that make kernel references) is absorbed here and
 * never reaches libfuse2.  Non-default versions: libfuse3's names are the
 * defaults. */
/* cname: the C name of the definition of nm@ver (an older version of a
 * name defined elsewhere needs one of its own) */
#define PASS2N(cname, ret, nm, ver, params, args) \
	FSR_EXPORT ret cname params; \
	FSR_SYMVER(cname, #nm "@" ver); \
	ret cname params \
	{ \
		static ret (*real) params; \
		if (fsr_fake_reply(r, 0)) \
			return (ret)0; \
		if (!real) real = (ret (*) params)real2(#nm, ver); \
		return real args; \
	}
#define PASS2(ret, nm, ver, params, args) PASS2N(fsrw2_##nm, ret, nm, ver, params, args)
#define PASS2V(nm, ver, params, args) \
	FSR_EXPORT void fsrw2_##nm params; \
	FSR_SYMVER(fsrw2_##nm, #nm "@" ver); \
	void fsrw2_##nm params \
	{ \
		static void (*real) params; \
		if (fsr_fake_reply(r, 0)) \
			return; \
		if (!real) real = (void (*) params)real2(#nm, ver); \
		real args; \
	}
PASS2(int, fuse_reply_attr, "FUSE_2.4", (fuse_req_t r, const struct stat *a, double t), (r, a, t))
PASS2(int, fuse_reply_readlink, "FUSE_2.4", (fuse_req_t r, const char *l), (r, l))
PASS2(int, fuse_reply_write, "FUSE_2.4", (fuse_req_t r, size_t n), (r, n))
PASS2(int, fuse_reply_buf, "FUSE_2.4", (fuse_req_t r, const char *b, size_t n), (r, b, n))
PASS2(int, fuse_reply_data, "FUSE_2.9", (fuse_req_t r, struct fuse_bufvec *b, enum fuse_buf_copy_flags f), (r, b, f))
PASS2(int, fuse_reply_iov, "FUSE_2.7", (fuse_req_t r, const struct iovec *v, int n), (r, v, n))
PASS2(int, fuse_reply_statfs, "FUSE_2.5", (fuse_req_t r, const struct statvfs *s), (r, s))
PASS2(int, fuse_reply_xattr, "FUSE_2.4", (fuse_req_t r, size_t n), (r, n))
PASS2(int, fuse_reply_lock, "FUSE_2.6", (fuse_req_t r, const struct flock *l), (r, l))
PASS2(int, fuse_reply_bmap, "FUSE_2.7.5", (fuse_req_t r, uint64_t i), (r, i))
PASS2(int, fuse_reply_ioctl_retry, "FUSE_2.8", (fuse_req_t r, const struct iovec *a, size_t na,
					       const struct iovec *b, size_t nb), (r, a, na, b, nb))
PASS2(int, fuse_reply_ioctl, "FUSE_2.8", (fuse_req_t r, int res, const void *b, size_t n), (r, res, b, n))
PASS2(int, fuse_reply_ioctl_iov, "FUSE_2.8", (fuse_req_t r, int res, const struct iovec *v, int n), (r, res, v, n))
PASS2(int, fuse_reply_poll, "FUSE_2.8", (fuse_req_t r, unsigned ev), (r, ev))
/* the 2.4 ABI of open/statfs and their _compat names: pointer arguments only */
PASS2(int, fuse_reply_open_compat, "FUSE_2.5", (fuse_req_t r, const void *fi), (r, fi))
PASS2(int, fuse_reply_statfs_compat, "FUSE_2.5", (fuse_req_t r, const void *s), (r, s))
PASS2N(fsrw2_reply_open_24, int, fuse_reply_open, "FUSE_2.4", (fuse_req_t r, const void *fi), (r, fi))
PASS2N(fsrw2_reply_statfs_24, int, fuse_reply_statfs, "FUSE_2.4", (fuse_req_t r, const void *s), (r, s))
FSR_EXPORT const void *fsrw2_req_ctx_24(fuse_req_t r);
FSR_SYMVER(fsrw2_req_ctx_24, "fuse_req_ctx@FUSE_2.4");
const void *fsrw2_req_ctx_24(fuse_req_t r)
{
	static const void *(*real)(fuse_req_t);
	if (fsr_req_is_fake(r))
		return fsr_fake_ctx(r);   /* uid, gid, pid: the 2.4 layout's start */
	if (!real)
		real = (const void *(*)(fuse_req_t))real2("fuse_req_ctx", "FUSE_2.4");
	return real(r);
}
PASS2(int, fuse_req_getgroups, "FUSE_2.8", (fuse_req_t r, int n, gid_t *l), (r, n, l))
PASS2V(fuse_req_interrupt_func, "FUSE_2.6", (fuse_req_t r, fuse_interrupt_func_t f, void *d), (r, f, d))
PASS2(int, fuse_req_interrupted, "FUSE_2.6", (fuse_req_t r), (r))
