/* fuse2_ll.c - libfuse2 low-level daemons (fuse_lowlevel_new@FUSE_2.6).
 *
 * A libfuse2 low-level session gets what a libfuse3 one gets (fuse_ops.c,
 * fuse_state.c): its ops table wrapped once, each op an op context counted
 * in fs_ops, live state (open handles, looked-up entries) from its replies,
 * and callbacks: fsync and flush on open handles, a lookup of a known entry
 * followed by a forget of the reference it took.  Only the types differ: the
 * libfuse2 ops and struct fuse_file_info are declared in fuse2_abi.h (this
 * file is built on libfuse3's headers, as the machinery is), and every
 * libfuse2 function is reached by version (FUSE_2.x), never by name alone.
 *
 * The replies that make kernel references (entry, create, open) and those
 * that end a callback (err, none) are interposed here at their libfuse2
 * versions, for libfuse2's high level too (fuse2.c records its handles at
 * the open and create replies); the other libfuse2 replies are in fuse2.c. */
#include "fuse_shim.h"
#include "fuse2_abi.h"
#include <errno.h>
#include <string.h>

FSR_SAME_IN_BOTH_LIBRARIES();   /* fuse2.c checks libfuse2's */

#define FSR_SYMVER(fn, symver) __asm__(".symver " #fn ", " symver)

struct ll2 {
	struct fsr_ll2_ops real, wrap;
};

static inline struct fsr_ll2_ops *ops(struct fsr_fsess *s)
{
	return &((struct ll2 *)s->ops2)->real;
}

/* ---- the real libfuse2 functions ---- */

/* real: a static function pointer of type; found once */
#define REAL2(type, real, nm, ver) \
	static type real; \
	if (!real) real = (type)fsr_fuse_real(nm, ver)

typedef void *(*userdata_fn)(fuse_req_t);
typedef const struct fuse_ctx *(*ctx_fn)(fuse_req_t);

static void *real2_userdata(fuse_req_t req)
{
	REAL2(userdata_fn, real, "fuse_req_userdata", "FUSE_2.4");
	return real ? real(req) : NULL;
}

static const struct fuse_ctx *real2_ctx(fuse_req_t req)
{
	REAL2(ctx_fn, real, "fuse_req_ctx", "FUSE_2.8");
	return real ? real(req) : NULL;
}

static struct fsr_fsess *sess2(fuse_req_t req)
{
	return fsr_fsess_of_userdata(real2_userdata(req));
}

/* ---- the wrapped ops ---- */

#define ENTER(nm, ino) \
	struct fsr_opctx c; \
	struct fsr_fsess *s = sess2(req); \
	fsr_op_enter(&c, req, s, #nm, (ino))
#define LEAVE(nm) fsr_op_exit(&c, "FUSE op " #nm " returns")
#define SIMPLE(nm, ino, params, args) \
	static void w_##nm params { ENTER(nm, ino); ops(s)->nm args; LEAVE(nm); }
#define ENTRY(nm, ino, parent_, name_, params, args) \
	static void w_##nm params \
	{ \
		ENTER(nm, ino); \
		c.kind = FSR_OPK_ENTRY; c.parent = (parent_); c.entry_name = (name_); \
		fsr_state_track(&c); \
		ops(s)->nm args; \
		LEAVE(nm); \
	}
#define OPEN(nm, kind_, params, args) \
	static void w_##nm params \
	{ \
		ENTER(nm, ino); \
		c.kind = (kind_); c.open_flags = fi->flags; \
		fsr_state_track(&c); \
		ops(s)->nm args; \
		LEAVE(nm); \
	}

ENTRY(lookup, parent, parent, name, (fsr_req2_t req, fsr_ino2_t parent, const char *name), (req, parent, name))

static void w_forget(fsr_req2_t req, fsr_ino2_t ino, unsigned long nlookup)
{
	ENTER(forget, 0);
	fsr_state_forget(s, ino, nlookup);
	ops(s)->forget(req, ino, nlookup);
	LEAVE(forget);
}

static void w_forget_multi(fsr_req2_t req, size_t count, void *forgets)
{
	ENTER(forget_multi, 0);
	const struct fsr_forget2 *f = forgets;
	for (size_t i = 0; i < count; i++)
		fsr_state_forget(s, f[i].ino, f[i].nlookup);
	ops(s)->forget_multi(req, count, forgets);
	LEAVE(forget_multi);
}

SIMPLE(getattr, ino, (fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi), (req, ino, fi))
SIMPLE(setattr, ino, (fsr_req2_t req, fsr_ino2_t ino, struct stat *attr, int to_set, struct fsr_fi2 *fi),
       (req, ino, attr, to_set, fi))
SIMPLE(readlink, ino, (fsr_req2_t req, fsr_ino2_t ino), (req, ino))
ENTRY(mknod, parent, parent, name, (fsr_req2_t req, fsr_ino2_t parent, const char *name, mode_t mode, dev_t rdev),
      (req, parent, name, mode, rdev))
ENTRY(mkdir, parent, parent, name, (fsr_req2_t req, fsr_ino2_t parent, const char *name, mode_t mode),
      (req, parent, name, mode))
SIMPLE(unlink, parent, (fsr_req2_t req, fsr_ino2_t parent, const char *name), (req, parent, name))
SIMPLE(rmdir, parent, (fsr_req2_t req, fsr_ino2_t parent, const char *name), (req, parent, name))
ENTRY(symlink, parent, parent, name, (fsr_req2_t req, const char *link, fsr_ino2_t parent, const char *name),
      (req, link, parent, name))
SIMPLE(rename, parent, (fsr_req2_t req, fsr_ino2_t parent, const char *name, fsr_ino2_t newparent,
			const char *newname), (req, parent, name, newparent, newname))
ENTRY(link, ino, newparent, newname, (fsr_req2_t req, fsr_ino2_t ino, fsr_ino2_t newparent, const char *newname),
      (req, ino, newparent, newname))
OPEN(open, FSR_OPK_OPEN, (fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi), (req, ino, fi))
SIMPLE(read, ino, (fsr_req2_t req, fsr_ino2_t ino, size_t size, off_t off, struct fsr_fi2 *fi),
       (req, ino, size, off, fi))
SIMPLE(write, ino, (fsr_req2_t req, fsr_ino2_t ino, const char *buf, size_t size, off_t off, struct fsr_fi2 *fi),
       (req, ino, buf, size, off, fi))
SIMPLE(flush, ino, (fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi), (req, ino, fi))

#define RELEASE(nm, dir) \
	static void w_##nm(fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi) \
	{ \
		ENTER(nm, ino); \
		fsr_state_release(s, ino, fi->fh, dir); \
		ops(s)->nm(req, ino, fi); \
		LEAVE(nm); \
	}
RELEASE(release, 0)

SIMPLE(fsync, ino, (fsr_req2_t req, fsr_ino2_t ino, int datasync, struct fsr_fi2 *fi), (req, ino, datasync, fi))
OPEN(opendir, FSR_OPK_OPENDIR, (fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi), (req, ino, fi))
SIMPLE(readdir, ino, (fsr_req2_t req, fsr_ino2_t ino, size_t size, off_t off, struct fsr_fi2 *fi),
       (req, ino, size, off, fi))

RELEASE(releasedir, 1)

SIMPLE(fsyncdir, ino, (fsr_req2_t req, fsr_ino2_t ino, int datasync, struct fsr_fi2 *fi), (req, ino, datasync, fi))
SIMPLE(statfs, ino, (fsr_req2_t req, fsr_ino2_t ino), (req, ino))
SIMPLE(setxattr, ino, (fsr_req2_t req, fsr_ino2_t ino, const char *name, const char *value, size_t size, int flags),
       (req, ino, name, value, size, flags))
SIMPLE(getxattr, ino, (fsr_req2_t req, fsr_ino2_t ino, const char *name, size_t size), (req, ino, name, size))
SIMPLE(listxattr, ino, (fsr_req2_t req, fsr_ino2_t ino, size_t size), (req, ino, size))
SIMPLE(removexattr, ino, (fsr_req2_t req, fsr_ino2_t ino, const char *name), (req, ino, name))
SIMPLE(access, ino, (fsr_req2_t req, fsr_ino2_t ino, int mask), (req, ino, mask))

static void w_create(fsr_req2_t req, fsr_ino2_t parent, const char *name, mode_t mode, struct fsr_fi2 *fi)
{
	ENTER(create, parent);
	c.kind = FSR_OPK_CREATE; c.parent = parent; c.entry_name = name; c.open_flags = fi->flags;
	fsr_state_track(&c);
	ops(s)->create(req, parent, name, mode, fi);
	LEAVE(create);
}

SIMPLE(getlk, ino, (fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi, struct flock *lock), (req, ino, fi, lock))
SIMPLE(setlk, ino, (fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi, struct flock *lock, int sleep),
       (req, ino, fi, lock, sleep))
SIMPLE(bmap, ino, (fsr_req2_t req, fsr_ino2_t ino, size_t blocksize, uint64_t idx), (req, ino, blocksize, idx))
SIMPLE(ioctl, ino, (fsr_req2_t req, fsr_ino2_t ino, int cmd, void *arg, struct fsr_fi2 *fi, unsigned flags,
		    const void *in_buf, size_t in_bufsz, size_t out_bufsz),
       (req, ino, cmd, arg, fi, flags, in_buf, in_bufsz, out_bufsz))
SIMPLE(poll, ino, (fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi, void *ph), (req, ino, fi, ph))
SIMPLE(write_buf, ino, (fsr_req2_t req, fsr_ino2_t ino, void *bufv, off_t off, struct fsr_fi2 *fi),
       (req, ino, bufv, off, fi))
SIMPLE(retrieve_reply, ino, (fsr_req2_t req, void *cookie, fsr_ino2_t ino, off_t offset, void *bufv),
       (req, cookie, ino, offset, bufv))
SIMPLE(flock, ino, (fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi, int op), (req, ino, fi, op))
SIMPLE(fallocate, ino, (fsr_req2_t req, fsr_ino2_t ino, int mode, off_t offset, off_t length, struct fsr_fi2 *fi),
       (req, ino, mode, offset, length, fi))

static void build_wrap(struct ll2 *l)
{
	struct fsr_ll2_ops *w = &l->wrap, *r = &l->real;
	*w = *r;
	w->init = fsr_fsess_init_op;     /* always: init and destroy bound the callbacks (fuse_ops.c) */
	w->destroy = fsr_fsess_destroy_op;
#define W(nm) if (r->nm) w->nm = w_##nm
	W(lookup); W(forget); W(getattr); W(setattr); W(readlink); W(mknod); W(mkdir);
	W(unlink); W(rmdir); W(symlink); W(rename); W(link); W(open); W(read); W(write);
	W(flush); W(release); W(fsync); W(opendir); W(readdir); W(releasedir); W(fsyncdir);
	W(statfs); W(setxattr); W(getxattr); W(listxattr); W(removexattr); W(access);
	W(create); W(getlk); W(setlk); W(bmap); W(ioctl); W(poll); W(write_buf);
	W(retrieve_reply); W(forget_multi); W(flock); W(fallocate);
#undef W
}

/* ---- how callbacks call them ---- */

static void ll2_init(struct fsr_fsess *s, void *conn)
{
	if (ops(s)->init)
		ops(s)->init(s->userdata, conn);
}

static void ll2_destroy(struct fsr_fsess *s)
{
	if (ops(s)->destroy)
		ops(s)->destroy(s->userdata);
}

static int ll2_has(struct fsr_fsess *s, int cb)
{
	struct fsr_ll2_ops *o = ops(s);
	switch (cb) {
	case FSR_CB_FSYNC: return o->fsync != NULL;
	case FSR_CB_FLUSH: return o->flush != NULL;
	case FSR_CB_FORGET: return o->lookup && (o->forget || o->forget_multi);
	}
	return 0;
}

static void ll2_fsync(struct fsr_fsess *s, fuse_req_t req, const struct fsr_handle *h)
{
	struct fsr_fi2 fi;
	memset(&fi, 0, sizeof fi);
	fi.fh = h->fh;
	fi.fh_old = (unsigned long)h->fh;
	fi.flags = h->flags;
	ops(s)->fsync(req, h->ino, 1, &fi);
}

static void ll2_flush(struct fsr_fsess *s, fuse_req_t req, const struct fsr_handle *h, uint64_t owner)
{
	struct fsr_fi2 fi;
	memset(&fi, 0, sizeof fi);
	fi.fh = h->fh;
	fi.fh_old = (unsigned long)h->fh;
	fi.flags = h->flags;
	fi.flush = 1;
	fi.lock_owner = owner;
	ops(s)->flush(req, h->ino, &fi);
}

static void ll2_lookup(struct fsr_fsess *s, fuse_req_t req, fuse_ino_t parent, const char *name)
{
	ops(s)->lookup(req, parent, name);
}

static void ll2_forget(struct fsr_fsess *s, fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	if (ops(s)->forget) {
		ops(s)->forget(req, ino, n);
	} else {
		struct fsr_forget2 fd = { .ino = ino, .nlookup = n };
		ops(s)->forget_multi(req, 1, &fd);
	}
}

static const struct fsr_llapi ll2_api = {
	.init = ll2_init, .destroy = ll2_destroy, .has = ll2_has, .fsync = ll2_fsync, .flush = ll2_flush,
	.lookup = ll2_lookup, .forget = ll2_forget, .req_ctx = real2_ctx,
};

/* ---- the entry point that takes the ops ---- */

typedef struct fuse_session *(*llnew_fn)(void *args, const struct fsr_ll2_ops *op, size_t size, void *ud);
FSR_EXPORT struct fuse_session *fsrw2_lowlevel_new(void *args, const struct fsr_ll2_ops *op, size_t size, void *ud);
FSR_SYMVER(fsrw2_lowlevel_new, "fuse_lowlevel_new@FUSE_2.6");
struct fuse_session *fsrw2_lowlevel_new(void *args, const struct fsr_ll2_ops *op, size_t size, void *ud)
{
	static llnew_fn real;
	if (!real)
		real = (llnew_fn)fsr_fuse_real("fuse_lowlevel_new", "FUSE_2.6");
	if (!real)
		return NULL;
	if (fsr_fuse_on_wire((void *)real))
		return real(args, op, size, ud);   /* the wire serves it, unwrapped */
	fsr_fuse_libfuse_seen = 1;
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	struct ll2 *l = op ? fsr_alloc(sizeof *l) : NULL;
	t->busy--;
	struct fsr_fsess *s = l ? fsr_fsess_add(&ll2_api, ud) : NULL;
	if (!s) {
		fsr_free(l);
		return real(args, op, size, ud);
	}
	memset(l, 0, sizeof *l);
	memcpy(&l->real, op, size < sizeof l->real ? size : sizeof l->real);
	build_wrap(l);
	s->ops2 = l;
	struct fuse_session *se = real(args, &l->wrap, sizeof l->wrap, s);
	if (!se) {
		fsr_fsess_drop(s);
		return NULL;
	}
	s->se = se;
	return se;
}

/* fuse2.c's loops and request entry ask whether a session is one of these */
int fsr_ll2_owns(const void *se)
{
	struct fsr_fsess *s = se ? fsr_fsess_of_se(se) : NULL;
	return s && s->api == &ll2_api;
}

/* a multi-threaded loop runs se: 1 if se is one of these (now multi-threaded) */
int fsr_ll2_set_mt(const void *se)
{
	struct fsr_fsess *s = se ? fsr_fsess_of_se(se) : NULL;
	if (!s || s->api != &ll2_api)
		return 0;
	fsr_fsess_set_mt(s);
	return 1;
}

/* its destroy: a later session may get the same address */
typedef void (*sdestroy_fn)(struct fuse_session *);
FSR_EXPORT void fsrw2_session_destroy(struct fuse_session *se);
FSR_SYMVER(fsrw2_session_destroy, "fuse_session_destroy@FUSE_2.4");
void fsrw2_session_destroy(struct fuse_session *se)
{
	static sdestroy_fn real;
	if (!real)
		real = (sdestroy_fn)fsr_fuse_real("fuse_session_destroy", "FUSE_2.4");
	fsr_session_destroy(real, se);
}

/* ---- the replies and requests it takes part in ---- */

#define DEF2(ret, nm, ver, params) \
	FSR_EXPORT ret fsrw2_##nm params; \
	FSR_SYMVER(fsrw2_##nm, #nm "@" ver); \
	ret fsrw2_##nm params

DEF2(int, fuse_reply_err, "FUSE_2.4", (fuse_req_t req, int err))
{
	typedef int (*fn)(fuse_req_t, int);
	REAL2(fn, real, "fuse_reply_err", "FUSE_2.4");
	if (fsr_fake_reply(req, 0))
		return 0;
	fsr_state_reply(req, sess2, 0, 0, 0);   /* the end of a tracked op */
	return real ? real(req, err) : -ENOSYS;
}

DEF2(void, fuse_reply_none, "FUSE_2.4", (fuse_req_t req))
{
	typedef void (*fn)(fuse_req_t);
	REAL2(fn, real, "fuse_reply_none", "FUSE_2.4");
	if (fsr_fake_reply(req, 0))
		return;
	if (real)
		real(req);
}

DEF2(int, fuse_reply_entry, "FUSE_2.4", (fuse_req_t req, const struct fuse_entry_param *e))
{
	typedef int (*fn)(fuse_req_t, const struct fuse_entry_param *);
	REAL2(fn, real, "fuse_reply_entry", "FUSE_2.4");
	if (fsr_fake_reply(req, e ? e->ino : 0))
		return 0;
	fsr_state_reply(req, sess2, e ? e->ino : 0, 0, 0);
	return real ? real(req, e) : -ENOSYS;
}

DEF2(int, fuse_reply_create, "FUSE_2.5", (fuse_req_t req, const struct fuse_entry_param *e,
					 const struct fsr_fi2 *fi))
{
	typedef int (*fn)(fuse_req_t, const struct fuse_entry_param *, const struct fsr_fi2 *);
	REAL2(fn, real, "fuse_reply_create", "FUSE_2.5");
	if (fsr_fake_reply(req, e ? e->ino : 0))
		return 0;
	if (e)
		fsr_state_reply(req, sess2, e->ino, fi != NULL, fi ? fi->fh : 0);
	if (e && fi)
		fsr_fuse2_reply_open(e->ino, fi->fh, fi->flags);   /* libfuse2's high level */
	return real ? real(req, e, fi) : -ENOSYS;
}

DEF2(int, fuse_reply_open, "FUSE_2.5", (fuse_req_t req, const struct fsr_fi2 *fi))
{
	typedef int (*fn)(fuse_req_t, const struct fsr_fi2 *);
	REAL2(fn, real, "fuse_reply_open", "FUSE_2.5");
	if (fsr_fake_reply(req, 0))
		return 0;
	if (fi) {
		fsr_state_reply(req, sess2, 0, 1, fi->fh);
		fsr_fuse2_reply_open(0, fi->fh, fi->flags);        /* libfuse2's high level */
	}
	return real ? real(req, fi) : -ENOSYS;
}

/* the daemon gets its own userdata back (libfuse2 has the session's) */
DEF2(void *, fuse_req_userdata, "FUSE_2.4", (fuse_req_t req))
{
	if (fsr_req_is_fake(req))
		return fsr_fake_userdata(req);
	void *u = real2_userdata(req);
	struct fsr_fsess *s = fsr_fsess_of_userdata(u);
	return s ? s->userdata : u;
}

DEF2(const struct fuse_ctx *, fuse_req_ctx, "FUSE_2.8", (fuse_req_t req))
{
	if (fsr_req_is_fake(req))
		return fsr_fake_ctx(req);
	return real2_ctx(req);
}
