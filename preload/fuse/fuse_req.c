/* fuse_req.c - every exported fuse_reply_* and fuse_req_* of libfuse3.
 *
 * A callback the shim makes gets a request of the shim's own (a fake one from
 * a static ring): its replies are absorbed here and never reach libfuse or
 * the kernel, also when they come late, from another thread.  Real requests
 * pass through; the replies that create kernel references (entries, open
 * handles) are recorded first (fuse_state.c), before the kernel can answer
 * them with a forget or a release. */
#include "fuse_shim.h"
#include <errno.h>
#include <string.h>

#define NFAKE 1024

static struct fsr_fake_req fakes[NFAKE];
static unsigned int fake_next;

fuse_req_t fsr_fake_req_new(struct fsr_fsess *s, const struct fuse_ctx *ctx)
{
	unsigned int i = __atomic_fetch_add(&fake_next, 1, __ATOMIC_RELAXED) % NFAKE;
	struct fsr_fake_req *f = &fakes[i];
	f->s = s;
	if (ctx)
		f->ctx = *ctx;
	else
		memset(&f->ctx, 0, sizeof f->ctx);
	f->entry_ino = 0;
	__atomic_store_n(&f->state, FSR_FAKE_OPEN, __ATOMIC_RELEASE);
	return (fuse_req_t)(void *)f;
}

int fsr_req_is_fake(const void *req)
{
	const char *p = req;
	return p >= (const char *)fakes && p < (const char *)(fakes + NFAKE);
}

static inline struct fsr_fake_req *fake_of(const void *req)
{
	return fsr_req_is_fake(req) ? (struct fsr_fake_req *)req : NULL;
}

int fsr_fake_reply(const void *req, fuse_ino_t ino)
{
	struct fsr_fake_req *f = fake_of(req);
	if (!f)
		return 0;
	__atomic_store_n(&f->entry_ino, ino, __ATOMIC_RELAXED);
	int st = FSR_FAKE_OPEN;
	if (!__atomic_compare_exchange_n(&f->state, &st, FSR_FAKE_REPLIED, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
	    st == FSR_FAKE_CLOSED && ino && f->s)
		fsr_state_owe_forget(f->s, ino);   /* the lookup callback is over */
	return 1;
}

void *fsr_fake_userdata(const void *req)
{
	struct fsr_fake_req *f = fake_of(req);
	return f && f->s ? f->s->userdata : NULL;
}

const struct fuse_ctx *fsr_fake_ctx(const void *req)
{
	struct fsr_fake_req *f = fake_of(req);
	return f ? &f->ctx : NULL;
}

/* the op context a reply belongs to: this thread's (innermost first) */
struct fsr_opctx *fsr_opctx_of_req(fuse_req_t req)
{
	struct fsr_thread *t = fsr_thread_self();
	for (struct fsr_opctx *c = t->fuse_ctx; c; c = c->prev_ctx)
		if (c->api == FSR_CTX_V3 && c->req == req)
			return c;
	return NULL;
}

struct fsr_fsess *fsr_fsess_of_req(fuse_req_t req)
{
	return fsr_fsess_of_userdata(fsr_real_req_userdata(req));
}

#define REAL(nm) \
	static __typeof__(&nm) real_##nm; \
	if (!real_##nm) real_##nm = (__typeof__(&nm))fsr_fuse_real(#nm, "FUSE_3.0")

/* one wrapper: fsrw_NAME exported as NAME@@FUSE_3.0 */
#define DEF(ret, nm, params) \
	FSR_EXPORT ret fsrw_##nm params; \
	FSR_SYMVER(fsrw_##nm, #nm "@@FUSE_3.0"); \
	ret fsrw_##nm params

/* a reply that needs nothing but absorption of fake requests */
#define REPLY(nm, params, args) \
	DEF(int, nm, params) \
	{ \
		if (fsr_fake_reply(req, 0)) \
			return 0; \
		REAL(nm); \
		return real_##nm ? real_##nm args : -ENOSYS; \
	}

void *fsr_real_req_userdata(fuse_req_t req)
{
	REAL(fuse_req_userdata);
	return real_fuse_req_userdata ? real_fuse_req_userdata(req) : NULL;
}

const struct fuse_ctx *fsr_real_req_ctx(fuse_req_t req)
{
	REAL(fuse_req_ctx);
	return real_fuse_req_ctx ? real_fuse_req_ctx(req) : NULL;
}

DEF(int, fuse_reply_err, (fuse_req_t req, int err))
{
	if (fsr_fake_reply(req, 0))
		return 0;
	fsr_state_reply(req, fsr_fsess_of_req, 0, 0, 0);   /* the end of a tracked op */
	REAL(fuse_reply_err);
	return real_fuse_reply_err ? real_fuse_reply_err(req, err) : -ENOSYS;
}

DEF(void, fuse_reply_none, (fuse_req_t req))
{
	if (fsr_fake_reply(req, 0))
		return;
	REAL(fuse_reply_none);
	if (real_fuse_reply_none)
		real_fuse_reply_none(req);
}

DEF(int, fuse_reply_entry, (fuse_req_t req, const struct fuse_entry_param *e))
{
	if (fsr_fake_reply(req, e ? e->ino : 0))
		return 0;
	REAL(fuse_reply_entry);
	fsr_state_reply(req, fsr_fsess_of_req, e ? e->ino : 0, 0, 0);
	return real_fuse_reply_entry ? real_fuse_reply_entry(req, e) : -ENOSYS;
}

DEF(int, fuse_reply_create, (fuse_req_t req, const struct fuse_entry_param *e, const struct fuse_file_info *fi))
{
	if (fsr_fake_reply(req, e ? e->ino : 0))
		return 0;
	REAL(fuse_reply_create);
	if (e)
		fsr_state_reply(req, fsr_fsess_of_req, e->ino, fi != NULL, fi ? fi->fh : 0);
	return real_fuse_reply_create ? real_fuse_reply_create(req, e, fi) : -ENOSYS;
}

DEF(int, fuse_reply_open, (fuse_req_t req, const struct fuse_file_info *fi))
{
	if (fsr_fake_reply(req, 0))
		return 0;
	REAL(fuse_reply_open);
	if (fi)
		fsr_state_reply(req, fsr_fsess_of_req, 0, 1, fi->fh);
	return real_fuse_reply_open ? real_fuse_reply_open(req, fi) : -ENOSYS;
}

REPLY(fuse_reply_attr, (fuse_req_t req, const struct stat *attr, double attr_timeout), (req, attr, attr_timeout))
REPLY(fuse_reply_bmap, (fuse_req_t req, uint64_t idx), (req, idx))
REPLY(fuse_reply_buf, (fuse_req_t req, const char *buf, size_t size), (req, buf, size))
REPLY(fuse_reply_data, (fuse_req_t req, struct fuse_bufvec *bufv, enum fuse_buf_copy_flags flags),
      (req, bufv, flags))
REPLY(fuse_reply_ioctl, (fuse_req_t req, int result, const void *buf, size_t size), (req, result, buf, size))
REPLY(fuse_reply_ioctl_iov, (fuse_req_t req, int result, const struct iovec *iov, int count),
      (req, result, iov, count))
REPLY(fuse_reply_ioctl_retry, (fuse_req_t req, const struct iovec *in_iov, size_t in_count,
			       const struct iovec *out_iov, size_t out_count),
      (req, in_iov, in_count, out_iov, out_count))
REPLY(fuse_reply_iov, (fuse_req_t req, const struct iovec *iov, int count), (req, iov, count))
REPLY(fuse_reply_lock, (fuse_req_t req, const struct flock *lock), (req, lock))
REPLY(fuse_reply_lseek, (fuse_req_t req, off_t off), (req, off))
REPLY(fuse_reply_poll, (fuse_req_t req, unsigned revents), (req, revents))
REPLY(fuse_reply_readlink, (fuse_req_t req, const char *link), (req, link))
REPLY(fuse_reply_statfs, (fuse_req_t req, const struct statvfs *stbuf), (req, stbuf))
REPLY(fuse_reply_write, (fuse_req_t req, size_t count), (req, count))
REPLY(fuse_reply_xattr, (fuse_req_t req, size_t count), (req, count))

/* ---- fuse_req_* ---- */

DEF(void *, fuse_req_userdata, (fuse_req_t req))
{
	if (fsr_req_is_fake(req))
		return fsr_fake_userdata(req);
	void *u = fsr_real_req_userdata(req);
	struct fsr_fsess *s = fsr_fsess_of_userdata(u);
	return s ? s->userdata : u;
}

DEF(const struct fuse_ctx *, fuse_req_ctx, (fuse_req_t req))
{
	if (fsr_req_is_fake(req))
		return fsr_fake_ctx(req);
	return fsr_real_req_ctx(req);
}

DEF(int, fuse_req_getgroups, (fuse_req_t req, int size, gid_t list[]))
{
	if (fake_of(req))
		return -ENOSYS;
	REAL(fuse_req_getgroups);
	return real_fuse_req_getgroups ? real_fuse_req_getgroups(req, size, list) : -ENOSYS;
}

DEF(void, fuse_req_interrupt_func, (fuse_req_t req, fuse_interrupt_func_t func, void *data))
{
	if (fake_of(req))
		return;
	REAL(fuse_req_interrupt_func);
	if (real_fuse_req_interrupt_func)
		real_fuse_req_interrupt_func(req, func, data);
}

DEF(int, fuse_req_interrupted, (fuse_req_t req))
{
	if (fake_of(req))
		return 0;
	REAL(fuse_req_interrupted);
	return real_fuse_req_interrupted ? real_fuse_req_interrupted(req) : 0;
}

/* ---- fuse_get_context: during a high-level callback, the allocator's ---- */

__thread struct fuse_context *fsr_cb_context __attribute__((tls_model("initial-exec")));

FSR_EXPORT struct fuse_context *fsrw_fuse_get_context(void);
FSR_SYMVER(fsrw_fuse_get_context, "fuse_get_context@@FUSE_3.0");
struct fuse_context *fsrw_fuse_get_context(void)
{
	if (fsr_cb_context)
		return fsr_cb_context;
	REAL(fuse_get_context);
	return real_fuse_get_context ? real_fuse_get_context() : NULL;
}
