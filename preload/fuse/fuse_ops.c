/* fuse_ops.c - find the ops of libfuse3 daemons and wrap them.
 *
 * libfuse3 calls its own exported functions through the PLT, so
 * interposing the low-level entry points catches every session: the daemon's
 * own fuse_session_new, and the one libfuse's fuse_new makes for a
 * high-level daemon (3.14: fuse_main_real -> fuse_new_31 -> fuse_session_new;
 * 3.17's entry points, fuse317.c: fuse_main_real_versioned -> _fuse_new_31
 * -> fuse_session_new_versioned).
 * Each op of the session's table is wrapped once: the wrapper sets the
 * thread's op context (op name, nesting, the request), counts the kernel
 * request in fs_ops, keeps a single-threaded session closed to callbacks while
 * the op runs, calls the real op and checks for a scope leak when it returns.
 *
 * libfuse2 uses the same names with other signatures: every definition here
 * is bound to a symbol version (.symver) so that libfuse2's callers, which ask
 * for FUSE_2.x, never reach a libfuse3 wrapper (libfuse2: fuse2.c). */
#include "fuse_shim.h"
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t fsr_stat_fs_ops;
struct fsr_fsess *fsr_fsessions[FSR_FSESS_MAX];
int fsr_nfsessions;
int fsr_fuse_libfuse_seen;
static struct fsr_mutex sess_lock;
static __thread int in_fuse_new __attribute__((tls_model("initial-exec")));
static __thread struct fsr_hl *pending_hl __attribute__((tls_model("initial-exec")));
static __thread int in_session_new __attribute__((tls_model("initial-exec")));
static __thread int in_lib_loop __attribute__((tls_model("initial-exec")));   /* in fuse_session_loop */

#define FSRW FSR_EXPORT

struct fsr_fsess *fsr_fsess_of_userdata(void *u)
{
	/* a daemon has one session: the first slot first (every request asks) */
	if (u && __atomic_load_n(&fsr_fsessions[0], __ATOMIC_ACQUIRE) == u)
		return u;
	int n = __atomic_load_n(&fsr_nfsessions, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (fsr_fsessions[i] && (void *)fsr_fsessions[i] == u)
			return fsr_fsessions[i];
	return NULL;
}

struct fsr_fsess *fsr_fsess_of_se(const void *se)
{
	int n = __atomic_load_n(&fsr_nfsessions, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (fsr_fsessions[i] && (const void *)fsr_fsessions[i]->se == se)
			return fsr_fsessions[i];
	return NULL;
}

struct fsr_fsess *fsr_fsess_add(const struct fsr_llapi *api, void *userdata)
{
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	struct fsr_fsess *s = fsr_alloc(sizeof *s);
	t->busy--;
	if (!s)
		return NULL;
	s->api = api;
	s->userdata = userdata;
	fsr_mutex_lock(&sess_lock);
	int i;
	for (i = 0; i < fsr_nfsessions; i++)
		if (!fsr_fsessions[i])
			break;
	if (i >= FSR_FSESS_MAX) {
		fsr_mutex_unlock(&sess_lock);
		fsr_free(s);
		return NULL;
	}
	__atomic_store_n(&fsr_fsessions[i], s, __ATOMIC_RELEASE);
	if (i == fsr_nfsessions)
		__atomic_store_n(&fsr_nfsessions, i + 1, __ATOMIC_RELEASE);
	fsr_mutex_unlock(&sess_lock);
	return s;
}

/* s itself stays allocated: a late reply may still name it */
void fsr_fsess_drop(struct fsr_fsess *s)
{
	fsr_mutex_lock(&sess_lock);
	for (int i = 0; i < fsr_nfsessions; i++)
		if (fsr_fsessions[i] == s)
			__atomic_store_n(&fsr_fsessions[i], NULL, __ATOMIC_RELEASE);
	fsr_mutex_unlock(&sess_lock);
}

/* ---- the op context ---- */

void fsr_op_enter(struct fsr_opctx *c, fuse_req_t req, struct fsr_fsess *s, const char *name, fuse_ino_t ino)
{
	struct fsr_thread *t = fsr_thread_self();
	c->s = s;
	c->req = req;
	c->name = name;
	c->ino = ino;
	c->parent = 0;
	c->entry_name = NULL;
	c->hl_path = NULL;
	c->kind = FSR_OPK_OTHER;
	c->open_flags = 0;
	c->pend = -1;
	c->gated = 0;
	c->slot = -1;
	if (s) {
		s->fork_gen = fsr_fork_gen;   /* this process reads it: ours */
		if (!__atomic_load_n(&s->mt, __ATOMIC_RELAXED)) {
			fsr_gate_enter(&s->gate);
			c->gated = 1;
		}
		c->slot = fsr_inflight_add(s->inflight, ino);
	}
	/* the wire sets its connection's owner bit after this */
	fsr_ctx_push(t, c, FSR_CTX_V3, name, s ? fsr_oplock_owner(s) : t->op_locks, 1);
}

void fsr_op_exit(struct fsr_opctx *c, const char *returns)
{
	struct fsr_thread *t = fsr_thread_self();
	struct fsr_fsess *s = c->s;
	fsr_ctx_pop(t, c);
	if (s) {
		fsr_inflight_del(s->inflight, c->slot);
		if (c->gated)
			fsr_gate_exit(&s->gate);
	}
	if (!t->busy)
		fsr_scope_check_leak(t, c->nscopes, returns);
}

static void init_done(struct fsr_fsess *s)
{
	if (s && !__atomic_load_n(&s->own_loop, __ATOMIC_ACQUIRE) && !fsr_fuse_no_callbacks())
		__atomic_store_n(&s->live, 1, __ATOMIC_SEQ_CST);
}

/* no callback after destroy: close the session, wait for those running;
 * then the forgets still owed are paid, as the kernel's come before destroy
 * (no other callback can run now, and the daemon's loop is over) */
static void destroy_begin(struct fsr_fsess *s)
{
	if (!s)
		return;
	__atomic_store_n(&s->live, 0, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&s->cb_active, __ATOMIC_SEQ_CST))
		fsr_futex_wait(&s->cb_active, 1, 1000000ull);
	if (__atomic_load_n(&s->nowed, __ATOMIC_ACQUIRE)) {
		struct fuse_ctx ctx;
		memset(&ctx, 0, sizeof ctx);
		struct fsr_thread *t = fsr_thread_self();
		fsr_busy_enter(t);
		unsigned long n = fsr_state_pay_owed(s, &ctx);
		t->busy--;
		__atomic_add_fetch(&fsr_stat_callbacks, n, __ATOMIC_RELAXED);
	}
}

/* fs-reentry forgets the session's mount (unmount, destroy) */
static void mount_gone(struct fsr_fsess *s)
{
	if (s->mountpoint[0]) {
		fsr_reentry_del_mount(s->mountpoint);
		s->mountpoint[0] = 0;
	}
}

/* its libfuse session is gone; s itself stays: a late reply may still name it */
void fsr_fsess_destroyed(struct fsr_fsess *s)
{
	__atomic_store_n(&s->live, 0, __ATOMIC_SEQ_CST);
	mount_gone(s);
	s->se = NULL;
}

void fsr_fsess_set_mt(struct fsr_fsess *s)
{
	if (!s || __atomic_load_n(&s->mt, __ATOMIC_ACQUIRE))
		return;
	fsr_gate_drain(&s->gate);
	__atomic_store_n(&s->mt, 1, __ATOMIC_RELEASE);
}

/* ---- the wrappers ---- */

#define ENTER(nm, ino) \
	struct fsr_opctx c; \
	struct fsr_fsess *s = fsr_fsess_of_req(req); \
	fsr_op_enter(&c, req, s, #nm, (ino))
#define LEAVE(nm) fsr_op_exit(&c, "FUSE op " #nm " returns")
#define SIMPLE(nm, ino, params, args) \
	static void w_##nm params { ENTER(nm, ino); s->real.nm args; LEAVE(nm); }

void fsr_fsess_init_op(void *ud, void *conn)
{
	struct fsr_fsess *s = fsr_fsess_of_userdata(ud);
	struct fsr_opctx c;
	fsr_reentry_devfd_retry();       /* a /dev/fd/N mount not known at fuse_session_mount */
	fsr_op_enter(&c, NULL, s, "init", 0);
	if (s)
		s->api->init(s, conn);
	LEAVE(init);
	init_done(s);
}

void fsr_fsess_destroy_op(void *ud)
{
	struct fsr_fsess *s = fsr_fsess_of_userdata(ud);
	destroy_begin(s);
	struct fsr_opctx c;
	fsr_op_enter(&c, NULL, s, "destroy", 0);
	if (s)
		s->api->destroy(s);
	LEAVE(destroy);
}

static void w_init(void *ud, struct fuse_conn_info *conn)
{
	fsr_fsess_init_op(ud, conn);
}

static void w_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	ENTER(lookup, parent);
	c.kind = FSR_OPK_ENTRY; c.parent = parent; c.entry_name = name;
	fsr_state_track(&c);
	s->real.lookup(req, parent, name);
	LEAVE(lookup);
}

static void w_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	ENTER(forget, 0);
	fsr_state_forget(s, ino, nlookup);
	s->real.forget(req, ino, nlookup);
	LEAVE(forget);
}

static void w_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	ENTER(forget_multi, 0);
	for (size_t i = 0; i < count; i++)
		fsr_state_forget(s, forgets[i].ino, forgets[i].nlookup);
	s->real.forget_multi(req, count, forgets);
	LEAVE(forget_multi);
}

SIMPLE(getattr, ino, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi))
SIMPLE(setattr, ino, (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi),
       (req, ino, attr, to_set, fi))
SIMPLE(readlink, ino, (fuse_req_t req, fuse_ino_t ino), (req, ino))

static void w_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	ENTER(mknod, parent);
	c.kind = FSR_OPK_ENTRY; c.parent = parent; c.entry_name = name;
	fsr_state_track(&c);
	s->real.mknod(req, parent, name, mode, rdev);
	LEAVE(mknod);
}

static void w_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	ENTER(mkdir, parent);
	c.kind = FSR_OPK_ENTRY; c.parent = parent; c.entry_name = name;
	fsr_state_track(&c);
	s->real.mkdir(req, parent, name, mode);
	LEAVE(mkdir);
}

SIMPLE(unlink, parent, (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name))
SIMPLE(rmdir, parent, (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name))

static void w_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	ENTER(symlink, parent);
	c.kind = FSR_OPK_ENTRY; c.parent = parent; c.entry_name = name;
	fsr_state_track(&c);
	s->real.symlink(req, link, parent, name);
	LEAVE(symlink);
}

SIMPLE(rename, parent, (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
			const char *newname, unsigned int flags), (req, parent, name, newparent, newname, flags))

static void w_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	ENTER(link, ino);
	c.kind = FSR_OPK_ENTRY; c.parent = newparent; c.entry_name = newname;
	fsr_state_track(&c);
	s->real.link(req, ino, newparent, newname);
	LEAVE(link);
}

static void w_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	ENTER(open, ino);
	c.kind = FSR_OPK_OPEN; c.open_flags = fi->flags;
	fsr_state_track(&c);
	s->real.open(req, ino, fi);
	LEAVE(open);
}

SIMPLE(read, ino, (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
       (req, ino, size, off, fi))
SIMPLE(write, ino, (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi), (req, ino, buf, size, off, fi))
SIMPLE(flush, ino, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi))

static void w_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	ENTER(release, ino);
	fsr_state_release(s, ino, fi->fh, 0);
	s->real.release(req, ino, fi);
	LEAVE(release);
}

SIMPLE(fsync, ino, (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi),
       (req, ino, datasync, fi))

static void w_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	ENTER(opendir, ino);
	c.kind = FSR_OPK_OPENDIR; c.open_flags = fi->flags;
	fsr_state_track(&c);
	s->real.opendir(req, ino, fi);
	LEAVE(opendir);
}

SIMPLE(readdir, ino, (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
       (req, ino, size, off, fi))

static void w_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	ENTER(releasedir, ino);
	fsr_state_release(s, ino, fi->fh, 1);
	s->real.releasedir(req, ino, fi);
	LEAVE(releasedir);
}

SIMPLE(fsyncdir, ino, (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi),
       (req, ino, datasync, fi))
SIMPLE(statfs, ino, (fuse_req_t req, fuse_ino_t ino), (req, ino))
SIMPLE(setxattr, ino, (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
		       int flags), (req, ino, name, value, size, flags))
SIMPLE(getxattr, ino, (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size), (req, ino, name, size))
SIMPLE(listxattr, ino, (fuse_req_t req, fuse_ino_t ino, size_t size), (req, ino, size))
SIMPLE(removexattr, ino, (fuse_req_t req, fuse_ino_t ino, const char *name), (req, ino, name))
SIMPLE(access, ino, (fuse_req_t req, fuse_ino_t ino, int mask), (req, ino, mask))

static void w_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	ENTER(create, parent);
	c.kind = FSR_OPK_CREATE; c.parent = parent; c.entry_name = name; c.open_flags = fi->flags;
	fsr_state_track(&c);
	s->real.create(req, parent, name, mode, fi);
	LEAVE(create);
}

SIMPLE(getlk, ino, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock),
       (req, ino, fi, lock))
SIMPLE(setlk, ino, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock, int sleep),
       (req, ino, fi, lock, sleep))
SIMPLE(bmap, ino, (fuse_req_t req, fuse_ino_t ino, size_t blocksize, uint64_t idx), (req, ino, blocksize, idx))
SIMPLE(ioctl, ino, (fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg, struct fuse_file_info *fi,
		    unsigned flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz),
       (req, ino, cmd, arg, fi, flags, in_buf, in_bufsz, out_bufsz))
SIMPLE(poll, ino, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph),
       (req, ino, fi, ph))
SIMPLE(write_buf, ino, (fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
			struct fuse_file_info *fi), (req, ino, bufv, off, fi))
SIMPLE(retrieve_reply, ino, (fuse_req_t req, void *cookie, fuse_ino_t ino, off_t offset,
			     struct fuse_bufvec *bufv), (req, cookie, ino, offset, bufv))
SIMPLE(flock, ino, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op), (req, ino, fi, op))
SIMPLE(fallocate, ino, (fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			struct fuse_file_info *fi), (req, ino, mode, offset, length, fi))
SIMPLE(readdirplus, ino, (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
       (req, ino, size, off, fi))
SIMPLE(copy_file_range, ino_in, (fuse_req_t req, fuse_ino_t ino_in, off_t off_in, struct fuse_file_info *fi_in,
				 fuse_ino_t ino_out, off_t off_out, struct fuse_file_info *fi_out, size_t len,
				 int flags), (req, ino_in, off_in, fi_in, ino_out, off_out, fi_out, len, flags))
SIMPLE(lseek, ino, (fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi),
       (req, ino, off, whence, fi))

/* 3.17: an anonymous file, answered like create (entry and handle) */
static void w_tmpfile(fuse_req_t req, fuse_ino_t parent, mode_t mode, struct fuse_file_info *fi)
{
	ENTER(tmpfile, parent);
	c.kind = FSR_OPK_CREATE; c.parent = parent; c.open_flags = fi->flags;   /* no name: the entry is not recalled */
	fsr_state_track(&c);
	s->real_tmpfile(req, parent, mode, fi);
	LEAVE(tmpfile);
}

static void build_wrap(struct fsr_fsess *s)
{
	struct fuse_lowlevel_ops *w = &s->wrap.ops, *r = &s->real;
	w->init = w_init;          /* always: init and destroy bound the callbacks */
	w->destroy = fsr_fsess_destroy_op;
#define W(nm) if (r->nm) w->nm = w_##nm
	W(lookup); W(forget); W(getattr); W(setattr); W(readlink); W(mknod); W(mkdir);
	W(unlink); W(rmdir); W(symlink); W(rename); W(link); W(open); W(read); W(write);
	W(flush); W(release); W(fsync); W(opendir); W(readdir); W(releasedir); W(fsyncdir);
	W(statfs); W(setxattr); W(getxattr); W(listxattr); W(removexattr); W(access);
	W(create); W(getlk); W(setlk); W(bmap); W(ioctl); W(poll); W(write_buf);
	W(retrieve_reply); W(forget_multi); W(flock); W(fallocate); W(readdirplus);
	W(copy_file_range); W(lseek);
#undef W
	if (s->real_tmpfile)
		FSR_LL_TMPFILE(&s->wrap) = w_tmpfile;
}

/* ---- how callbacks call a libfuse3 session's ops ---- */

static void ll3_init(struct fsr_fsess *s, void *conn)
{
	if (s->real.init)
		s->real.init(s->userdata, conn);
}

static void ll3_destroy(struct fsr_fsess *s)
{
	if (s->real.destroy)
		s->real.destroy(s->userdata);
}

static int ll3_has(struct fsr_fsess *s, int cb)
{
	switch (cb) {
	case FSR_CB_FSYNC: return s->real.fsync != NULL;
	case FSR_CB_FLUSH: return s->real.flush != NULL;
	case FSR_CB_FORGET: return s->real.lookup && (s->real.forget || s->real.forget_multi);
	}
	return 0;
}

static void ll3_fsync(struct fsr_fsess *s, fuse_req_t req, const struct fsr_handle *h)
{
	union fsr_fi u;                /* a 3.17 daemon's fi is larger */
	memset(&u, 0, sizeof u);
	u.fi.fh = h->fh;
	u.fi.flags = h->flags;
	s->real.fsync(req, h->ino, 1, &u.fi);
}

static void ll3_flush(struct fsr_fsess *s, fuse_req_t req, const struct fsr_handle *h, uint64_t owner)
{
	union fsr_fi u;
	memset(&u, 0, sizeof u);
	u.fi.fh = h->fh;
	u.fi.flags = h->flags;
	u.fi.flush = 1;
	u.fi.lock_owner = owner;
	s->real.flush(req, h->ino, &u.fi);
}

static void ll3_lookup(struct fsr_fsess *s, fuse_req_t req, fuse_ino_t parent, const char *name)
{
	s->real.lookup(req, parent, name);
}

static void ll3_forget(struct fsr_fsess *s, fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	if (s->real.forget) {
		s->real.forget(req, ino, n);
	} else {
		struct fuse_forget_data fd = { .ino = ino, .nlookup = n };
		s->real.forget_multi(req, 1, &fd);
	}
}

static const struct fsr_llapi ll3_api = {
	.init = ll3_init, .destroy = ll3_destroy, .has = ll3_has, .fsync = ll3_fsync, .flush = ll3_flush,
	.lookup = ll3_lookup, .forget = ll3_forget, .req_ctx = fsr_real_req_ctx,
};

/* ---- libfuse3 entry points ---- */

/* A session: the daemon's table copied (as much of it as the shim knows),
 * the wrappers handed to libfuse with the same op_size.  A constructor that
 * libfuse reaches from inside another (3.17's fuse_session_new@FUSE_3.0 ->
 * fuse_session_new_versioned) already gets the wrappers: it passes through. */
struct fuse_session *fsr_session_new(fsr_session_call_fn call, void *real, struct fuse_args *args,
				     const struct fuse_lowlevel_ops *op, size_t op_size,
				     void *version, void *userdata)
{
	/* nested, or the wire serves it (fuse_transport=wire, a libfuse loaded at run time) */
	if (in_session_new || fsr_fuse_on_wire(real))
		return call(real, args, op, op_size, version, userdata);
	fsr_fuse_libfuse_seen = 1;
	/* the wrappers hand the daemon its userdata back through the real
	 * fuse_req_userdata: without it, the session passes through unwrapped */
	static void *req_userdata;
	if (!req_userdata && !(req_userdata = fsr_fuse_real("fuse_req_userdata", "FUSE_3.0"))) {
		fsr_say("fsreclaim: the session's ops are not wrapped (no real fuse_req_userdata)");
		return call(real, args, op, op_size, version, userdata);
	}
	struct fsr_fsess *s = op ? fsr_fsess_add(&ll3_api, userdata) : NULL;
	if (!s)
		return call(real, args, op, op_size, version, userdata);
	if (op_size > sizeof s->wrap) {
		static int said;
		if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
			fsr_say("fsreclaim: the daemon's FUSE ops table (%zu bytes) is newer than the shim's (%zu):"
				" its later ops are not offered to the kernel", op_size, sizeof s->wrap);
		op_size = sizeof s->wrap;
	}
	memcpy(&s->real, op, op_size < sizeof s->real ? op_size : sizeof s->real);
	if (op_size >= FSR_LL_TMPFILE_END)
		s->real_tmpfile = FSR_LL_TMPFILE((const struct fsr_llops *)(const void *)op);
	build_wrap(s);
	s->highlevel = in_fuse_new > 0;
	if (s->highlevel) {
		s->hl = pending_hl;
		pending_hl = NULL;
	}
	in_session_new++;
	struct fuse_session *se = call(real, args, &s->wrap.ops, op_size, version, s);
	in_session_new--;
	if (!se) {
		fsr_fsess_drop(s);
		return NULL;
	}
	s->se = se;
	return se;
}

typedef struct fuse_session *(*session_new_fn)(struct fuse_args *, const struct fuse_lowlevel_ops *, size_t, void *);
static struct fuse_session *call_session_new(void *real, struct fuse_args *args, const struct fuse_lowlevel_ops *op,
					     size_t op_size, void *version, void *userdata)
{
	return ((session_new_fn)real)(args, op, op_size, userdata);
}

FSRW struct fuse_session *fsrw_session_new(struct fuse_args *args, const struct fuse_lowlevel_ops *op,
					   size_t op_size, void *userdata);
FSR_SYMVER(fsrw_session_new, "fuse_session_new@@FUSE_3.0");
struct fuse_session *fsrw_session_new(struct fuse_args *args, const struct fuse_lowlevel_ops *op,
				      size_t op_size, void *userdata)
{
	static session_new_fn real;
	if (!real)
		real = (session_new_fn)fsr_fuse_real("fuse_session_new", "FUSE_3.0");
	if (!real)
		return NULL;
	return fsr_session_new(call_session_new, (void *)real, args, op, op_size, NULL, userdata);
}

typedef int (*session_mount_fn)(struct fuse_session *, const char *);
FSRW int fsrw_session_mount(struct fuse_session *se, const char *mountpoint);
FSR_SYMVER(fsrw_session_mount, "fuse_session_mount@@FUSE_3.0");
int fsrw_session_mount(struct fuse_session *se, const char *mountpoint)
{
	static session_mount_fn real;
	if (!real)
		real = (session_mount_fn)fsr_fuse_real("fuse_session_mount", "FUSE_3.0");
	if (!real)
		return -1;
	/* seen (the "ops not visible" notice); under fuse_transport=wire the
	 * session is not wrapped, and the wire must not take it for a wrapped one */
	if (!fsr_fuse_on_wire((void *)real))
		fsr_fuse_libfuse_seen = 1;
	struct fsr_fsess *s = fsr_fsess_of_se(se);
	char abs[PATH_MAX];
	abs[0] = 0;
	/* resolve before mounting: afterwards the path is on the mount */
	if (s && mountpoint && fsr_devfd_of(mountpoint) < 0) {
		struct fsr_thread *t = fsr_thread_self();
		fsr_busy_enter(t);
		if (!realpath(mountpoint, abs))
			abs[0] = 0;
		t->busy--;
	}
	int r = real(se, mountpoint);
	if (r == 0 && s && abs[0]) {
		memcpy(s->mountpoint, abs, sizeof abs);
		fsr_reentry_add_mount(s->mountpoint);
	} else if (r == 0 && s && mountpoint && fsr_devfd_of(mountpoint) >= 0) {
		/* a parent mounted /dev/fuse and passed its fd: the mount is found by the fd */
		fsr_fmt(s->mountpoint, sizeof s->mountpoint, "%s", mountpoint);
		fsr_reentry_add_devfd(fsr_devfd_of(mountpoint));
	}
	return r;
}

typedef void (*session_unmount_fn)(struct fuse_session *);
FSRW void fsrw_session_unmount(struct fuse_session *se);
FSR_SYMVER(fsrw_session_unmount, "fuse_session_unmount@@FUSE_3.0");
void fsrw_session_unmount(struct fuse_session *se)
{
	static session_unmount_fn real;
	if (!real)
		real = (session_unmount_fn)fsr_fuse_real("fuse_session_unmount", "FUSE_3.0");
	struct fsr_fsess *s = fsr_fsess_of_se(se);
	if (s)
		mount_gone(s);
	if (real)
		real(se);
}

typedef void (*session_destroy_fn)(struct fuse_session *);
FSRW void fsrw_session_destroy(struct fuse_session *se);
FSR_SYMVER(fsrw_session_destroy, "fuse_session_destroy@@FUSE_3.0");
void fsrw_session_destroy(struct fuse_session *se)
{
	static session_destroy_fn real;
	if (!real)
		real = (session_destroy_fn)fsr_fuse_real("fuse_session_destroy", "FUSE_3.0");
	fsr_session_destroy(real, se);
}

/* fuse_session_destroy of either library: real calls the session's destroy
 * op (our wrapper) if the kernel did not; then its record ends */
void fsr_session_destroy(void (*real)(struct fuse_session *), struct fuse_session *se)
{
	struct fsr_fsess *s = fsr_fsess_of_se(se);
	if (real)
		real(se);
	if (s)
		fsr_fsess_destroyed(s);
}

/* A daemon that runs its own loop (libfuse 3.14's loops call the internal
 * fuse_session_process_buf_int; 3.17's single-threaded one calls this, from
 * inside fuse_session_loop, in_lib_loop): its ops may count on being
 * called only from that loop (pyfuse3's handlers leave a coroutine for its
 * loop to await), so its requests are op contexts, but it gets no callbacks.
 * The first buffer is FUSE_INIT: marked before init can open the session. */
typedef void (*process_buf_fn)(struct fuse_session *, const struct fuse_buf *);
FSRW void fsrw_session_process_buf(struct fuse_session *se, const struct fuse_buf *buf);
FSR_SYMVER(fsrw_session_process_buf, "fuse_session_process_buf@@FUSE_3.0");
void fsrw_session_process_buf(struct fuse_session *se, const struct fuse_buf *buf)
{
	static process_buf_fn real;
	if (!real)
		real = (process_buf_fn)fsr_fuse_real("fuse_session_process_buf", "FUSE_3.0");
	struct fsr_fsess *s = in_lib_loop ? NULL : fsr_fsess_of_se(se);
	if (s && !__atomic_load_n(&s->own_loop, __ATOMIC_RELAXED)) {
		static int said;
		__atomic_store_n(&s->own_loop, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&s->live, 0, __ATOMIC_SEQ_CST);
		if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
			fsr_say("fsreclaim: the daemon runs its own FUSE loop (fuse_session_process_buf): its ops"
				" are seen, but not called back from reclaim (they may expect to run only from"
				" that loop)");
	}
	if (real)
		real(se, buf);
}

/* loops: a single-threaded loop keeps the session closed to callbacks while
 * an op runs; a multi-threaded one lets them in */
typedef int (*session_loop_fn)(struct fuse_session *);
FSRW int fsrw_session_loop(struct fuse_session *se);
FSR_SYMVER(fsrw_session_loop, "fuse_session_loop@@FUSE_3.0");
int fsrw_session_loop(struct fuse_session *se)
{
	static session_loop_fn real;
	if (!real)
		real = (session_loop_fn)fsr_fuse_real("fuse_session_loop", "FUSE_3.0");
	struct fsr_fsess *s = fsr_fsess_of_se(se);
	if (s)
		__atomic_store_n(&s->mt, 0, __ATOMIC_RELEASE);
	in_lib_loop++;
	int r = real ? real(se) : -1;
	in_lib_loop--;
	return r;
}

typedef int (*session_loop_mt_fn)(struct fuse_session *, void *);
static int loop_mt(struct fuse_session *se, void *arg, session_loop_mt_fn *real, const char *name, const char *ver)
{
	if (!*real)
		*real = (session_loop_mt_fn)fsr_fuse_real(name, ver);
	fsr_fsess_set_mt(fsr_fsess_of_se(se));
	return *real ? (*real)(se, arg) : -1;
}

#define LOOP_MT(fn, name, symver, ver) \
	FSRW int fn(struct fuse_session *se, void *arg); \
	FSR_SYMVER(fn, symver); \
	int fn(struct fuse_session *se, void *arg) \
	{ static session_loop_mt_fn real; return loop_mt(se, arg, &real, name, ver); }

LOOP_MT(fsrw_session_loop_mt_30, "fuse_session_loop_mt", "fuse_session_loop_mt@FUSE_3.0", "FUSE_3.0")
LOOP_MT(fsrw_session_loop_mt_32v, "fuse_session_loop_mt", "fuse_session_loop_mt@FUSE_3.2", "FUSE_3.2")
LOOP_MT(fsrw_session_loop_mt_312v, "fuse_session_loop_mt", "fuse_session_loop_mt@@FUSE_3.12", "FUSE_3.12")
LOOP_MT(fsrw_session_loop_mt_31, "fuse_session_loop_mt_31", "fuse_session_loop_mt_31@@FUSE_3.2", "FUSE_3.2")
LOOP_MT(fsrw_session_loop_mt_32, "fuse_session_loop_mt_32", "fuse_session_loop_mt_32@@FUSE_3.2", "FUSE_3.2")
LOOP_MT(fsrw_session_loop_mt_312, "fuse_session_loop_mt_312", "fuse_session_loop_mt_312@@FUSE_3.12", "FUSE_3.12")

/* fuse_new (high level): the daemon's struct fuse_operations, wrapped once
 * (open/create to learn the path of each handle, rename/unlink to keep it
 * current, init for its private data); the session libfuse makes inside is
 * marked high level */
static struct fsr_opctx *cur_opctx(void)
{
	struct fsr_opctx *c = fsr_thread_self()->fuse_ctx;
	return c && c->api == FSR_CTX_V3 ? c : NULL;
}

static struct fsr_hl *cur_hl(void)
{
	struct fsr_opctx *c = cur_opctx();
	return c && c->s ? c->s->hl : NULL;
}

static void *hl_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct fsr_hl *hl = cur_hl();
	void *pd;
	if (hl && hl->real.init) {
		pd = hl->real.init(conn, cfg);
	} else {
		struct fuse_context *c = fuse_get_context();
		pd = c ? c->private_data : NULL;
	}
	if (hl)
		hl->private_data = pd;
	return pd;
}

static int hl_open(const char *path, struct fuse_file_info *fi)
{
	struct fsr_opctx *c = cur_opctx();
	struct fsr_hl *hl = c && c->s ? c->s->hl : NULL;
	if (!hl)
		return -EIO;
	int r = hl->real.open(path, fi);
	if (r == 0 && c)
		c->hl_path = path;      /* the reply that follows records it */
	return r;
}

static int hl_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct fsr_opctx *c = cur_opctx();
	struct fsr_hl *hl = c && c->s ? c->s->hl : NULL;
	if (!hl)
		return -EIO;
	int r = hl->real.create(path, mode, fi);
	if (r == 0 && c)
		c->hl_path = path;
	return r;
}

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* the handles' paths follow a rename or unlink (ledger.c) */
static void hl_moved(struct fsr_fsess *s, const char *from, const char *to, int exchange)
{
	if (!s || !from || !__atomic_load_n(&s->led.nhnd, __ATOMIC_RELAXED))
		return;
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	fsr_mutex_lock(&s->lock);
	fsr_ledger_move_paths(&s->led, from, to, exchange, fsr_state_wait_unpin, s);
	fsr_mutex_unlock(&s->lock);
	t->busy--;
}

static int hl_rename(const char *from, const char *to, unsigned int flags)
{
	struct fsr_opctx *c = cur_opctx();
	struct fsr_hl *hl = c && c->s ? c->s->hl : NULL;
	if (!hl)
		return -EIO;
	int r = hl->real.rename(from, to, flags);
	if (r == 0)
		hl_moved(c->s, from, to, (flags & RENAME_EXCHANGE) != 0);
	return r;
}

static int hl_unlink(const char *path)
{
	struct fsr_opctx *c = cur_opctx();
	struct fsr_hl *hl = c && c->s ? c->s->hl : NULL;
	if (!hl)
		return -EIO;
	int r = hl->real.unlink(path);
	if (r == 0)
		hl_moved(c->s, path, NULL, 0);
	return r;
}

void *fsr_fuse_new(fsr_fuse_new_call_fn call, void *real, struct fuse_args *args, const void *op,
		   size_t size, void *version, void *ud)
{
	const void *use = op;
	if (!in_fuse_new && op && !fsr_fuse_on_wire(real)) {
		struct fsr_thread *t = fsr_thread_self();
		fsr_busy_enter(t);
		struct fsr_hl *hl = fsr_alloc(sizeof *hl);
		t->busy--;
		if (hl) {
			if (size > sizeof hl->real)
				size = sizeof hl->real;    /* libfuse reads size bytes of the copy */
			memcpy(&hl->real, op, size);
			hl->wrap = hl->real;
			hl->wrap.init = hl_init;
			if (hl->real.open)
				hl->wrap.open = hl_open;
			if (hl->real.create)
				hl->wrap.create = hl_create;
			if (hl->real.rename)
				hl->wrap.rename = hl_rename;
			if (hl->real.unlink)
				hl->wrap.unlink = hl_unlink;
			pending_hl = hl;
			use = &hl->wrap;
		}
	}
	in_fuse_new++;
	void *f = call(real, args, use, size, version, ud);
	in_fuse_new--;
	if (!in_fuse_new)
		pending_hl = NULL;     /* taken by the session, or unused (leaks) */
	return f;
}

typedef void *(*fuse_new_real_fn)(struct fuse_args *, const void *, size_t, void *);
static void *call_fuse_new(void *real, struct fuse_args *args, const void *op, size_t size, void *version, void *ud)
{
	return ((fuse_new_real_fn)real)(args, op, size, ud);
}

#define FUSE_NEW(fn, name, symver, ver) \
	FSRW void *fn(struct fuse_args *args, const void *op, size_t size, void *ud); \
	FSR_SYMVER(fn, symver); \
	void *fn(struct fuse_args *args, const void *op, size_t size, void *ud) \
	{ \
		static fuse_new_real_fn real; \
		if (!real) \
			real = (fuse_new_real_fn)fsr_fuse_real(name, ver); \
		return real ? fsr_fuse_new(call_fuse_new, (void *)real, args, op, size, NULL, ud) : NULL; \
	}

FUSE_NEW(fsrw_fuse_new_30v, "fuse_new", "fuse_new@FUSE_3.0", "FUSE_3.0")
FUSE_NEW(fsrw_fuse_new_31v, "fuse_new", "fuse_new@@FUSE_3.1", "FUSE_3.1")
FUSE_NEW(fsrw_fuse_new_30, "fuse_new_30", "fuse_new_30@@FUSE_3.1", "FUSE_3.1")
FUSE_NEW(fsrw_fuse_new_31, "fuse_new_31", "fuse_new_31@@FUSE_3.1", "FUSE_3.1")

/* libfuse2 entry points: fuse2.c */
