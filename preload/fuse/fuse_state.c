/* fuse_state.c - what the kernel holds of each session (open handles, looked
 * up entries) and the reclaim callbacks made from it.
 *
 * Entries: the shim's count of an inode is never above the daemon's own (it
 * is raised before the reply reaches the kernel and lowered before the
 * daemon's forget runs; lookups it does not see, such as readdirplus, only
 * make it lower), so an entry the shim calls back on is always alive in the
 * daemon.  A callback pins the entry and its parent, a handle it uses pins
 * the handle: the forget and release wrappers wait for the pin to drop.
 * The tables, the targets and their choice are ledger.c's, shared with the
 * wire (wire_proto.c), under s->lock.
 *
 * Callbacks run on the thread serving the pass (the allocator inline, the
 * reclaimer in handoff) under NORECLAIM; a single-threaded session takes them
 * only while none of its ops runs, and no op enters it until they are done. */
#include "fuse_shim.h"
#include "wire.h"
#include <errno.h>
#include <string.h>

void fsr_state_wait_unpin(void *arg)
{
	struct fsr_fsess *s = arg;
	int seq = __atomic_load_n(&s->unpin_seq, __ATOMIC_ACQUIRE);
	fsr_mutex_unlock(&s->lock);
	fsr_futex_wait(&s->unpin_seq, seq, 50000000ull);
	fsr_mutex_lock(&s->lock);
}

static void unpin_wake(struct fsr_fsess *s)
{
	__atomic_add_fetch(&s->unpin_seq, 1, __ATOMIC_RELEASE);
	fsr_futex_wake(&s->unpin_seq, 0x7fffffff);
}

static void entry_reply(struct fsr_opctx *c, fuse_ino_t ino)
{
	struct fsr_fsess *s = c->s;
	if (!s || s->highlevel || !ino || c->kind == FSR_OPK_OTHER || !c->entry_name)
		return;
	struct fsr_thread *t = fsr_thread_self();
	size_t len = strlen(c->entry_name);
	fsr_busy_enter(t);
	fsr_mutex_lock(&s->lock);
	(void)fsr_ledger_ent_add(&s->led, ino, c->parent, c->entry_name, len, 0, 1);   /* no room: an under-count */
	fsr_mutex_unlock(&s->lock);
	t->busy--;
}

void fsr_state_forget(struct fsr_fsess *s, fuse_ino_t ino, uint64_t n)
{
	if (!s || s->highlevel)
		return;
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	fsr_mutex_lock(&s->lock);
	struct fsr_entry **pp;
	while (*(pp = fsr_ledger_ent_slot(&s->led, ino)) && (*pp)->pin)
		fsr_state_wait_unpin(s);
	fsr_ledger_ent_add(&s->led, ino, 0, NULL, 0, 0, -(int64_t)(n > INT64_MAX ? INT64_MAX : n));
	fsr_mutex_unlock(&s->lock);
	t->busy--;
}

static void open_reply(struct fsr_opctx *c, uint64_t fh)
{
	struct fsr_fsess *s = c->s;
	if (!s || (c->kind != FSR_OPK_OPEN && c->kind != FSR_OPK_OPENDIR && c->kind != FSR_OPK_CREATE))
		return;
	int dir = c->kind == FSR_OPK_OPENDIR;
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	fsr_mutex_lock(&s->lock);
	char *path = NULL;
	if (s->hl && c->hl_path) {
		size_t l = strlen(c->hl_path);
		path = fsr_alloc(l + 1);
		if (path)
			memcpy(path, c->hl_path, l + 1);
	}
	(void)fsr_ledger_hnd_open(&s->led, c->ino, fh, dir, c->open_flags, &path);
	fsr_mutex_unlock(&s->lock);
	fsr_free(path);
	t->busy--;
}

/* ---- replies, on the op's thread or another ---- */

static int npending;    /* all sessions' occupied pending slots (atomic) */

void fsr_state_track(struct fsr_opctx *c)
{
	struct fsr_fsess *s = c->s;
	c->pend = -1;
	if (!s || s->highlevel || !c->req || (c->entry_name && strlen(c->entry_name) >= sizeof s->pending[0].name))
		return;
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	fsr_mutex_lock(&s->lock);
	for (unsigned int k = 0; k < FSR_PENDING_MAX; k++) {
		unsigned int i = (s->pend_hint + k) % FSR_PENDING_MAX;
		struct fsr_pending *p = &s->pending[i];
		if (p->req)
			continue;
		p->req = c->req;
		p->kind = c->kind;
		p->open_flags = c->open_flags;
		p->ino = c->ino;
		p->parent = c->parent;
		if (c->entry_name)
			strcpy(p->name, c->entry_name);
		else
			p->name[0] = 0;
		c->pend = (int)i;
		s->pend_hint = i + 1;
		__atomic_add_fetch(&npending, 1, __ATOMIC_RELAXED);
		break;
	}
	/* full: a reply from another thread is not seen (the shim's counts
	 * stay at or below the daemon's: safe) */
	fsr_mutex_unlock(&s->lock);
	t->busy--;
}

/* s->lock held; the next op takes the slot freed last (LIFO: its lines
 * are in the cache, where walking all 256 slots, 75 KiB, missed at each) */
static void pending_free(struct fsr_fsess *s, struct fsr_pending *p)
{
	p->req = NULL;
	s->pend_hint = (unsigned int)(p - s->pending);
	__atomic_sub_fetch(&npending, 1, __ATOMIC_RELAXED);
}

void fsr_state_reply(fuse_req_t req, struct fsr_fsess *(*sess_of)(fuse_req_t), fuse_ino_t ino,
		     int has_fh, uint64_t fh)
{
	struct fsr_opctx tmp, *c = fsr_opctx_of_req(req);
	char name[sizeof c->s->pending[0].name];
	if (c) {
		/* this thread's op: its slot is free again (a reply after the op
		 * returned is found by its slot, below) */
		if (c->pend >= 0 && c->s) {
			struct fsr_thread *t = fsr_thread_self();
			fsr_busy_enter(t);
			fsr_mutex_lock(&c->s->lock);
			struct fsr_pending *p = &c->s->pending[c->pend];
			if (p->req == c->req)    /* one reply per request: still its own */
				pending_free(c->s, p);
			fsr_mutex_unlock(&c->s->lock);
			t->busy--;
			c->pend = -1;
		}
	} else {
		/* not this thread's op: one tracked by another thread, or whose op is over */
		if (!__atomic_load_n(&npending, __ATOMIC_RELAXED))
			return;
		struct fsr_fsess *s = sess_of(req);
		if (!s)
			return;
		struct fsr_thread *t = fsr_thread_self();
		fsr_busy_enter(t);
		fsr_mutex_lock(&s->lock);
		for (int i = 0; i < FSR_PENDING_MAX && !c; i++) {
			struct fsr_pending *p = &s->pending[i];
			if (p->req != req)
				continue;
			memset(&tmp, 0, sizeof tmp);
			tmp.api = FSR_CTX_V3;
			tmp.s = s;
			tmp.req = req;
			tmp.kind = p->kind;
			tmp.open_flags = p->open_flags;
			tmp.ino = p->ino;
			tmp.parent = p->parent;
			tmp.pend = -1;
			c = &tmp;
			if (p->name[0]) {      /* the name outlives the slot */
				strcpy(name, p->name);
				tmp.entry_name = name;
			}
			pending_free(s, p);
		}
		fsr_mutex_unlock(&s->lock);
		t->busy--;
		if (!c)
			return;
	}
	if (ino)
		entry_reply(c, ino);       /* before the kernel can forget it */
	if (has_fh) {
		fuse_ino_t saved = c->ino;
		if (c->kind == FSR_OPK_CREATE && ino)
			c->ino = ino;          /* the handle is on the new inode */
		open_reply(c, fh);         /* before the kernel can release it */
		c->ino = saved;
	}
}

void fsr_state_release(struct fsr_fsess *s, fuse_ino_t ino, uint64_t fh, int dir)
{
	if (!s)
		return;
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	fsr_mutex_lock(&s->lock);
	struct fsr_handle **pp;
	while (*(pp = fsr_ledger_hnd_slot(&s->led, ino, fh, dir)) && (*pp)->pin)
		fsr_state_wait_unpin(s);
	fsr_ledger_hnd_release(&s->led, ino, fh, dir);
	fsr_mutex_unlock(&s->lock);
	t->busy--;
}

/* ---- callbacks ---- */

/* the callbacks the session's daemon has ops for (FSR_CB_*): the high
 * level's by path, the low level's through its library's table */
static unsigned int session_has(struct fsr_fsess *s)
{
	if (s->highlevel)
		return s->hl ? (s->hl->real.fsync ? FSR_CB_FSYNC : 0) | (s->hl->real.flush ? FSR_CB_FLUSH : 0) : 0;
	return (s->api->has(s, FSR_CB_FSYNC) ? FSR_CB_FSYNC : 0) | (s->api->has(s, FSR_CB_FLUSH) ? FSR_CB_FLUSH : 0) |
	       (s->api->has(s, FSR_CB_FORGET) ? FSR_CB_FORGET : 0);
}

static int wants_handles(struct fsr_fsess *s)
{
	return (fsr_ledger_callbacks(session_has(s)) & (FSR_CB_FSYNC | FSR_CB_FLUSH)) != 0;
}

/* Fork: the child has copies of the daemon's sessions, with its fds; a
 * helper child that never reads them must not call the daemon's ops on
 * those copies, and the child of libfuse's daemonizing fork, which serves
 * the mount from then on, must.  So after a fork (in both processes) a
 * session is called back only once this process got a request of it. */
unsigned int fsr_fork_gen;

void fsr_fuse_atfork(void)
{
	fsr_fork_gen++;
}

static int usable(struct fsr_fsess *s, struct fsr_thread *alloc)
{
	if (!__atomic_load_n(&s->live, __ATOMIC_ACQUIRE) || s->fork_gen != fsr_fork_gen)
		return 0;
	if (!(s->led.nhnd && wants_handles(s)) && !__atomic_load_n(&s->nowed, __ATOMIC_RELAXED) &&
	    !(s->led.nent && !s->highlevel && fsr_ledger_callbacks(FSR_CB_FORGET)))
		return 0;
	if (!__atomic_load_n(&s->mt, __ATOMIC_ACQUIRE) && __atomic_load_n(&s->gate, __ATOMIC_ACQUIRE))
		return 0;   /* single-threaded, an op in progress */
	(void)alloc;
	return 1;
}

/* per-thread snapshots of the allocator's request ids (slot = thread index) */
#define NSNAP 256
static struct snap {
	struct fsr_thread *t;
	struct fsr_ids ids;
} snaps[NSNAP];

static void snapshot(struct fsr_thread *t)
{
	struct snap *sn = &snaps[t->index % NSNAP];
	struct fsr_ids ids;
	memset(&ids, 0, sizeof ids);
	struct fsr_ctxhdr *h = t->fuse_ctx;
	if (h && h->api == FSR_CTX_V3) {
		struct fsr_opctx *c = t->fuse_ctx;
		const struct fuse_ctx *rc = NULL;
		if (c->req && fsr_req_is_fake(c->req))
			rc = fsr_fake_ctx(c->req);
		else if (c->req && c->s)
			rc = c->s->api->req_ctx(c->req);
		if (rc) {
			ids.uid = rc->uid;
			ids.gid = rc->gid;
			ids.pid = (unsigned int)rc->pid;
			ids.umask = rc->umask;
		}
	} else if (h && h->api == FSR_CTX_V2) {
		fsr_fuse2_ids(h, &ids);
	}
	__atomic_store_n(&sn->t, NULL, __ATOMIC_RELEASE);
	sn->ids = ids;
	__atomic_store_n(&sn->t, t, __ATOMIC_RELEASE);
}

static void snapshot_of(struct fsr_thread *alloc, struct fsr_ids *ids)
{
	memset(ids, 0, sizeof *ids);
	for (int i = 0; i < NSNAP; i++)
		if (__atomic_load_n(&snaps[i].t, __ATOMIC_ACQUIRE) == alloc) {
			*ids = snaps[i].ids;
			return;
		}
}

/* called by fsr_pass_run on the allocating thread, before the pass */
int fsr_fuse_reclaim_possible(struct fsr_thread *t)
{
	int yes = fsr_fuse2_reclaim_possible(t) || fsr_wire_reclaim_possible(t);
	int n = __atomic_load_n(&fsr_nfsessions, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n && !yes; i++) {
		struct fsr_fsess *s = __atomic_load_n(&fsr_fsessions[i], __ATOMIC_ACQUIRE);
		if (s && usable(s, t))
			yes = 1;
	}
	if (yes && t == fsr_thread_self())
		snapshot(t);
	return yes;
}

/* run op fn of s on this thread as a callback: op context for reports */
struct cbctx {
	struct fsr_opctx c;
	struct fsr_thread *t;
	int busy;
};

static __thread struct fuse_context *cb_hctx __attribute__((tls_model("initial-exec")));

static fuse_req_t cb_begin(struct cbctx *x, struct fsr_fsess *s, const char *name, const struct fuse_ctx *ctx)
{
	fsr_cb_context = cb_hctx;
	struct fsr_thread *t = fsr_thread_self();
	fuse_req_t req = fsr_fake_req_new(s, ctx);
	memset(&x->c, 0, sizeof x->c);
	x->t = t;
	x->c.s = s;
	x->c.req = req;
	x->c.name = name;
	x->c.slot = -1;
	/* a callback is an op of the session too (its owner bit) */
	fsr_ctx_push(t, &x->c, FSR_CTX_V3, name, fsr_oplock_owner(s), 0);
	x->busy = t->busy;
	t->busy = 0;      /* the daemon's own code runs now: track its locks, check its calls */
	return req;
}

static void cb_end(struct cbctx *x)
{
	struct fsr_thread *t = x->t;
	fsr_cb_context = NULL;
	t->busy = x->busy;
	fsr_look(t);
	fsr_ctx_pop(t, &x->c);
}

/* a call of the daemon's op as a callback that may be abandoned
 * (abandon.c: an inline one blocked in an untracked wait is unwound back
 * here, and cb_end closes its op context as after a return) */
enum { DC_HL_FSYNC, DC_LL_FSYNC, DC_HL_FLUSH, DC_LL_FLUSH, DC_FORGET, DC_LOOKUP };
struct dcall {
	int kind;
	struct fsr_fsess *s;
	fuse_req_t req;
	struct fsr_hl *hl;
	struct fsr_handle *h;
	struct fuse_file_info *fi;
	uint64_t owner;
	fuse_ino_t ino;
	const char *name;
};

static void dcall_run(void *arg)
{
	struct dcall *d = arg;
	switch (d->kind) {
	case DC_HL_FSYNC: d->hl->real.fsync(d->h->path, 1, d->fi); break;
	case DC_LL_FSYNC: d->s->api->fsync(d->s, d->req, d->h); break;
	case DC_HL_FLUSH: d->hl->real.flush(d->h->path, d->fi); break;
	case DC_LL_FLUSH: d->s->api->flush(d->s, d->req, d->h, d->owner); break;
	case DC_FORGET: d->s->api->forget(d->s, d->req, d->ino, 1); break;
	case DC_LOOKUP: d->s->api->lookup(d->s, d->req, d->ino, d->name); break;
	}
}

static void dcall(struct dcall *d)
{
	if (!fsr_cb_run(fsr_thread_self(), dcall_run, d) || !d->req)
		return;
	/* abandoned: its request is retired (a late reply is absorbed; a
	 * lookup's given before is paid back by entry_callbacks) */
	struct fsr_fake_req *f = (struct fsr_fake_req *)(void *)d->req;
	int st = FSR_FAKE_OPEN;
	if (d->kind != DC_LOOKUP)
		__atomic_compare_exchange_n(&f->state, &st, FSR_FAKE_CLOSED, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* the libfuse transport's own rule on a handle: the high level calls by
 * path (none: not callable), and no kernel op is on its inode now */
static int handle_free(void *arg, const struct fsr_handle *h, unsigned int ops)
{
	struct fsr_fsess *s = arg;
	(void)ops;
	return !(s->highlevel && !h->path) && !fsr_inflight_has(s->inflight, h->ino);
}

static unsigned long handle_callbacks(struct fsr_fsess *s, const struct fuse_ctx *ctx, struct fsr_pass *p)
{
	/* high level: the daemon's own ops, by path, never through libfuse (whose
	 * node-table and path locks the allocating thread may hold) */
	struct fsr_hl *hl = s->highlevel ? s->hl : NULL;
	if (s->highlevel && !hl)
		return 0;
	unsigned int cbs = fsr_ledger_callbacks(session_has(s));
	int do_fsync = (cbs & FSR_CB_FSYNC) != 0, do_flush = (cbs & FSR_CB_FLUSH) != 0;
	if ((!do_fsync && !do_flush) || !s->led.nhnd)
		return 0;
	struct fuse_context hctx;
	if (hl) {
		/* what libfuse would give the daemon for a request of the allocator's */
		memset(&hctx, 0, sizeof hctx);
		hctx.fuse = s->userdata;           /* libfuse's struct fuse */
		hctx.uid = ctx->uid;
		hctx.gid = ctx->gid;
		hctx.pid = ctx->pid;
		hctx.umask = ctx->umask;
		hctx.private_data = hl->private_data;
	}
	/* file handles only: the daemon's fsyncdir is not called back here */
	struct fsr_pick k;
	fsr_mutex_lock(&s->lock);
	struct fsr_handle *h = fsr_ledger_pick_hnd(&s->led, p, (do_fsync ? FSR_LOP_FSYNC : 0) | (do_flush ? FSR_LOP_FLUSH : 0),
						   handle_free, s, &k);
	if (h) {
		h->pin++;
		fsr_ledger_advance(&s->led.cur_h, &k);
	}
	fsr_mutex_unlock(&s->lock);
	fsr_ledger_say_instead(p, 'h', do_fsync && do_flush ? "fsync+flush" : do_fsync ? "fsync" : "flush", &k, h != NULL);
	if (!h)
		return 0;
	fsr_schedule_callback(p, NULL, 'h', k.tgt);
	unsigned long n = 0;
	union fsr_fi u;                        /* a 3.17 daemon's fi is larger */
	struct fuse_file_info *fi = &u.fi;
	struct cbctx x;
	cb_hctx = hl ? &hctx : NULL;
	if (do_fsync) {
		memset(&u, 0, sizeof u);
		fi->fh = h->fh;
		fi->flags = h->flags;
		fsr_schedule_callback(p, "fsync", 0, NULL);
		fuse_req_t req = cb_begin(&x, s, "fsync", ctx);
		struct dcall d = { hl ? DC_HL_FSYNC : DC_LL_FSYNC, s, req, hl, h, fi, 0, 0, NULL };
		dcall(&d);
		cb_end(&x);
		n++;
	}
	if (do_flush) {
		/* an owner no process has: the flush releases nobody's POSIX locks */
		uint64_t owner = 0x66737265636c6d00ull ^ (uint64_t)(uintptr_t)s;
		memset(&u, 0, sizeof u);
		fi->fh = h->fh;
		fi->flags = h->flags;
		fi->flush = 1;
		fi->lock_owner = owner;
		fsr_schedule_callback(p, "flush", 0, NULL);
		fuse_req_t req = cb_begin(&x, s, "flush", ctx);
		struct dcall d = { hl ? DC_HL_FLUSH : DC_LL_FLUSH, s, req, hl, h, fi, owner, 0, NULL };
		dcall(&d);
		cb_end(&x);
		n++;
	}
	cb_hctx = NULL;
	fsr_mutex_lock(&s->lock);
	fsr_ledger_hnd_unpin(&s->led, h->ino, h->fh, h->dir);
	fsr_mutex_unlock(&s->lock);
	unpin_wake(s);
	return n;
}

/* A lookup callback's reply may come after the callback returned, from
 * another thread (a daemon that answers asynchronously): the reference it
 * gave is owed back, and paid by the session's next callback (or before its
 * destroy).  A reply to a fake whose ring slot was reused meanwhile (1024
 * callbacks later) would be missed: that reference stays with the daemon. */
void fsr_state_owe_forget(struct fsr_fsess *s, fuse_ino_t ino)
{
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	fsr_mutex_lock(&s->lock);
	if (s->nowed < FSR_OWED_MAX)
		s->owed[s->nowed++] = ino;
	fsr_mutex_unlock(&s->lock);
	t->busy--;
}

static void forget_one(struct fsr_fsess *s, const struct fuse_ctx *ctx, fuse_ino_t ino)
{
	struct cbctx x;
	fuse_req_t req = cb_begin(&x, s, "forget", ctx);
	struct dcall d = { DC_FORGET, s, req, NULL, NULL, NULL, 0, ino, NULL };
	dcall(&d);
	cb_end(&x);
}

unsigned long fsr_state_pay_owed(struct fsr_fsess *s, const struct fuse_ctx *ctx)
{
	unsigned long n = 0;
	for (;;) {
		fuse_ino_t ino = 0;
		fsr_mutex_lock(&s->lock);
		if (s->nowed)
			ino = s->owed[--s->nowed];
		fsr_mutex_unlock(&s->lock);
		if (!ino)
			return n;
		forget_one(s, ctx, ino);
		n++;
	}
}

static unsigned long entry_callbacks(struct fsr_fsess *s, const struct fuse_ctx *ctx, struct fsr_pass *p)
{
	if (s->highlevel || !s->api->has(s, FSR_CB_FORGET))
		return 0;
	unsigned long n = fsr_state_pay_owed(s, ctx);
	if (!fsr_ledger_callbacks(FSR_CB_FORGET) || !s->led.nent)
		return n;
	char name[FSR_LEDGER_NAME_MAX + 1];
	fuse_ino_t ino = 0, parent = 0;
	struct fsr_pick k;
	fsr_mutex_lock(&s->lock);
	struct fsr_entry *pick = fsr_ledger_pick_ent(&s->led, p, &k);
	if (pick) {
		pick->pin++;
		if (k.parent)
			k.parent->pin++;
		ino = pick->ino;
		parent = pick->parent;
		strcpy(name, pick->name);
		fsr_ledger_advance(&s->led.cur_e, &k);
	}
	fsr_mutex_unlock(&s->lock);
	fsr_ledger_say_instead(p, 'e', "lookup", &k, pick != NULL);
	if (!pick)
		return n;
	n++;
	fsr_schedule_callback(p, "lookup", 'e', k.tgt);
	struct cbctx x;
	fuse_req_t req = cb_begin(&x, s, "lookup", ctx);
	struct dcall d = { DC_LOOKUP, s, req, NULL, NULL, NULL, 0, parent, name };
	dcall(&d);
	cb_end(&x);
	struct fsr_fake_req *f = (struct fsr_fake_req *)(void *)req;
	int st = FSR_FAKE_OPEN;
	/* no reply yet: close the request, a later entry reply is owed back */
	if (!__atomic_compare_exchange_n(&f->state, &st, FSR_FAKE_CLOSED, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		fuse_ino_t got = __atomic_load_n(&f->entry_ino, __ATOMIC_ACQUIRE);
		if (got) {
			fsr_schedule_callback(p, "forget", 0, NULL);
			forget_one(s, ctx, got);   /* give back exactly the reference the lookup took */
			n++;
		}
	}
	fsr_mutex_lock(&s->lock);
	fsr_ledger_ent_unpin(&s->led, ino);
	if (parent != FUSE_ROOT_ID)
		fsr_ledger_ent_unpin(&s->led, parent);
	fsr_mutex_unlock(&s->lock);
	unpin_wake(s);
	return n;
}

unsigned long fsr_fuse_reclaim(struct fsr_pass *p)
{
	struct fsr_thread *t = fsr_thread_self();
	/* the allocator's context, for fuse_req_ctx / fuse_get_context: from the
	 * snapshot its thread took, never from its stack */
	struct fsr_ids ids;
	snapshot_of(p->allocator, &ids);
	struct fuse_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	ctx.uid = ids.uid;
	ctx.gid = ids.gid;
	ctx.pid = (pid_t)ids.pid;
	ctx.umask = ids.umask;
	unsigned long n = 0;
	fsr_busy_enter(t);
	int ns = __atomic_load_n(&fsr_nfsessions, __ATOMIC_ACQUIRE);
	for (int i = 0; i < ns; i++) {
		struct fsr_fsess *s = __atomic_load_n(&fsr_fsessions[i], __ATOMIC_ACQUIRE);
		if (!s || !usable(s, p->allocator))
			continue;
		int st = !__atomic_load_n(&s->mt, __ATOMIC_ACQUIRE);
		if (st && !fsr_gate_close(&s->gate))
			continue;
		__atomic_add_fetch(&s->cb_active, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&s->live, __ATOMIC_SEQ_CST)) {
			n += handle_callbacks(s, &ctx, p);
			n += entry_callbacks(s, &ctx, p);
		}
		if (__atomic_sub_fetch(&s->cb_active, 1, __ATOMIC_SEQ_CST) == 0)
			fsr_futex_wake(&s->cb_active, 0x7fffffff);
		if (st)
			fsr_gate_open(&s->gate);
	}
	t->busy--;
	return n + fsr_fuse2_reclaim(p, &ids) + fsr_wire_reclaim(p);
}
