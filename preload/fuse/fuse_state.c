/* fuse_state.c - what the kernel holds of each session (open handles, looked
 * up entries) and the reclaim callbacks made from it.
 *
 * Entries: the shim's count of an inode is never above the daemon's own (it
 * is raised before the reply reaches the kernel and lowered before the
 * daemon's forget runs; lookups it does not see, such as readdirplus, only
 * make it lower), so an entry the shim calls back on is always alive in the
 * daemon.  A callback pins the entry and its parent, a handle it uses pins
 * the handle: the forget and release wrappers wait for the pin to drop.
 *
 * Callbacks run on the thread serving the pass (the allocator inline, the
 * reclaimer in handoff) under NORECLAIM; a single-threaded session takes them
 * only while none of its ops runs, and no op enters it until they are done. */
#include "fuse_shim.h"
#include "wire.h"
#include <errno.h>
#include <string.h>

static inline unsigned int hash_ino(fuse_ino_t ino)
{
	uint64_t x = (uint64_t)ino * 0x9e3779b97f4a7c15ull;
	return (unsigned int)(x >> 40) % FSR_HASH_BUCKETS;
}

static struct fsr_entry **entry_slot(struct fsr_fsess *s, fuse_ino_t ino)
{
	struct fsr_entry **pp = &s->entries[hash_ino(ino)];
	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	return pp;
}

static struct fsr_handle **handle_slot(struct fsr_fsess *s, fuse_ino_t ino, uint64_t fh, int dir)
{
	struct fsr_handle **pp = &s->handles[hash_ino(ino ^ fh)];
	while (*pp && ((*pp)->ino != ino || (*pp)->fh != fh || (*pp)->dir != dir))
		pp = &(*pp)->next;
	return pp;
}

/* wait (s->lock held, dropped while waiting) until a pin drops */
static void wait_unpin(struct fsr_fsess *s)
{
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
	struct fsr_entry **pp = entry_slot(s, ino), *old = *pp;
	if (old && old->parent == c->parent && strcmp(old->name, c->entry_name) == 0) {
		old->count++;
	} else {
		struct fsr_entry *n = fsr_alloc(sizeof *n + len + 1);
		if (n) {
			n->ino = ino;
			n->parent = c->parent;
			memcpy(n->name, c->entry_name, len + 1);
			n->count = 1;
			if (old) {       /* same inode by another name: keep the newest name */
				n->count += old->count;
				n->pin = old->pin;
				n->next = old->next;
				*pp = n;
				if (!old->pin)
					fsr_free(old);
				/* a pinned old one stays allocated: its callback looks it up again by ino */
			} else {
				n->next = NULL;
				*pp = n;
				s->nentries++;
			}
		} else if (old) {
			old->count++;
		}
	}
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
	while (*(pp = entry_slot(s, ino)) && (*pp)->pin)
		wait_unpin(s);
	struct fsr_entry *e = *pp;
	if (e) {
		e->count -= (int64_t)n;
		if (e->count <= 0) {
			*pp = e->next;
			s->nentries--;
			fsr_free(e);
		}
	}
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
	struct fsr_handle **pp = handle_slot(s, c->ino, fh, dir);
	if (*pp) {
		(*pp)->refs++;
		if (path && !(*pp)->pin) {    /* the latest path (a pinned one is in use) */
			fsr_free((*pp)->path);
			(*pp)->path = path;
			path = NULL;
		}
	} else {
		struct fsr_handle *h = fsr_alloc(sizeof *h);
		if (h) {
			h->path = path;
			path = NULL;
			h->ino = c->ino;
			h->fh = fh;
			h->flags = c->open_flags;
			h->dir = dir;
			h->refs = 1;
			h->pin = 0;
			h->order = ++s->nopened;
			h->next = NULL;
			*pp = h;
			s->nhandles++;
		}
	}
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

static void pending_free(struct fsr_pending *p)
{
	p->req = NULL;
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
				pending_free(p);
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
			pending_free(p);
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
	while (*(pp = handle_slot(s, ino, fh, dir)) && (*pp)->pin)
		wait_unpin(s);
	struct fsr_handle *h = *pp;
	if (h && --h->refs <= 0) {
		*pp = h->next;
		s->nhandles--;
		fsr_free(h->path);
		fsr_free(h);
	}
	fsr_mutex_unlock(&s->lock);
	t->busy--;
}

/* ---- callbacks ---- */

/* A callback's target as replay names it (s->lock held): an entry by its
 * path from the root, a handle by its open order and its path ("#3:/d/f").
 * Node ids and file handles are the daemon's choice and differ by run. */
static size_t entry_target(struct fsr_fsess *s, fuse_ino_t ino, char *b, size_t len)
{
	const char *names[32];
	int d = 0;
	while (ino != FUSE_ROOT_ID && d < 32) {
		struct fsr_entry *e = *entry_slot(s, ino);
		if (!e || !e->name[0]) {
			names[d++] = "?";     /* a parent the shim never saw looked up */
			break;
		}
		names[d++] = e->name;
		ino = e->parent;
	}
	return fsr_target_path(b, len, names, d);
}

static void handle_target(struct fsr_fsess *s, const struct fsr_handle *h, char *b, size_t len)
{
	int o = fsr_fmt(b, len, "#%lu:", h->order);
	if (h->path)
		fsr_target_put(b + o, len - (size_t)o, h->path);
	else
		entry_target(s, h->ino, b + o, len - (size_t)o);
}

static int ino_in_flight(struct fsr_fsess *s, fuse_ino_t ino)
{
	for (int i = 0; i < FSR_INFLIGHT_MAX; i++)
		if (__atomic_load_n(&s->inflight[i], __ATOMIC_RELAXED) == ino)
			return 1;
	return 0;
}

static int wants_handles(struct fsr_fsess *s)
{
	if (s->highlevel)
		return s->hl && (((fsr_opt.callbacks & FSR_CB_FSYNC) && s->hl->real.fsync) ||
				 ((fsr_opt.callbacks & FSR_CB_FLUSH) && s->hl->real.flush));
	return ((fsr_opt.callbacks & FSR_CB_FSYNC) && s->api->has(s, FSR_CB_FSYNC)) ||
	       ((fsr_opt.callbacks & FSR_CB_FLUSH) && s->api->has(s, FSR_CB_FLUSH));
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
	if (!(s->nhandles && wants_handles(s)) && !__atomic_load_n(&s->nowed, __ATOMIC_RELAXED) &&
	    !(s->nentries && !s->highlevel && (fsr_opt.callbacks & FSR_CB_FORGET)))
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
	x->c.api = FSR_CTX_V3;
	x->t = t;
	x->c.s = s;
	x->c.req = req;
	x->c.name = name;
	x->c.slot = -1;
	x->c.prev_ctx = t->fuse_ctx;
	x->c.prev_op = t->op;
	x->c.prev_op_locks = t->op_locks;
	t->op_locks = fsr_oplock_owner(s);   /* a callback is an op of the session too */
	x->c.nscopes = t->nscopes;
	t->fuse_ctx = &x->c;
	t->op = name;
	t->op_depth++;
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
	t->fuse_ctx = x->c.prev_ctx;
	t->op = x->c.prev_op;
	t->op_locks = x->c.prev_op_locks;
	t->op_depth--;
	fsr_op_left(t);
}

static int handle_eligible(struct fsr_fsess *s, const struct fsr_handle *x, int hl)
{
	return !(x->dir || x->refs <= 0 || (hl && !x->path) || ino_in_flight(s, x->ino));
}

static unsigned long handle_callbacks(struct fsr_fsess *s, const struct fuse_ctx *ctx, struct fsr_pass *p)
{
	/* high level: the daemon's own ops, by path, never through libfuse (whose
	 * node-table and path locks the allocating thread may hold) */
	struct fsr_hl *hl = s->highlevel ? s->hl : NULL;
	if (s->highlevel && !hl)
		return 0;
	int do_fsync = (fsr_opt.callbacks & FSR_CB_FSYNC) &&
		       (hl ? hl->real.fsync != NULL : s->api->has(s, FSR_CB_FSYNC));
	int do_flush = (fsr_opt.callbacks & FSR_CB_FLUSH) &&
		       (hl ? hl->real.flush != NULL : s->api->has(s, FSR_CB_FLUSH));
	if ((!do_fsync && !do_flush) || !s->nhandles)
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
	struct fsr_handle *h = NULL;
	char tgt[160];
	/* a replayed pass: the handle the original chose, if the kernel holds it */
	uint32_t want = fsr_schedule_want(p, 'h');
	fsr_mutex_lock(&s->lock);
	for (unsigned long k = 0; want && k < FSR_HASH_BUCKETS && !h; k++)
		for (struct fsr_handle *x = s->handles[k]; x; x = x->next) {
			if (!handle_eligible(s, x, hl != NULL))
				continue;
			handle_target(s, x, tgt, sizeof tgt);
			if (fsr_target_hash(tgt) == want) {
				h = x;
				break;
			}
		}
	int matched = h != NULL;
	unsigned long start = s->cursor_h;
	for (unsigned long k = 0; k < FSR_HASH_BUCKETS && !h; k++) {
		for (struct fsr_handle *x = s->handles[(start + k) % FSR_HASH_BUCKETS]; x; x = x->next) {
			if (!handle_eligible(s, x, hl != NULL))
				continue;
			h = x;
			s->cursor_h = start + k + 1;   /* the next pass starts after it */
			break;
		}
	}
	if (h) {
		h->pin++;
		handle_target(s, h, tgt, sizeof tgt);
	}
	fsr_mutex_unlock(&s->lock);
	if (want && !matched)
		fsr_schedule_instead(p, 'h', do_fsync && do_flush ? "fsync+flush" : do_fsync ? "fsync" : "flush",
				     h ? tgt : NULL);
	if (!h)
		return 0;
	fsr_schedule_callback(p, NULL, 'h', tgt);
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
		if (hl)
			hl->real.fsync(h->path, 1, fi);
		else
			s->api->fsync(s, req, h);
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
		if (hl)
			hl->real.flush(h->path, fi);
		else
			s->api->flush(s, req, h, owner);
		cb_end(&x);
		n++;
	}
	cb_hctx = NULL;
	fsr_mutex_lock(&s->lock);
	h->pin--;
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
	s->api->forget(s, req, ino, 1);
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

static int entry_eligible(struct fsr_fsess *s, struct fsr_entry *e, struct fsr_entry **pe, size_t namemax)
{
	if (e->count <= 0 || !e->name[0] || strlen(e->name) >= namemax)
		return 0;
	*pe = NULL;
	if (e->parent != FUSE_ROOT_ID) {
		*pe = *entry_slot(s, e->parent);
		if (!*pe || (*pe)->count <= 0)
			return 0;
	}
	return 1;
}

static unsigned long entry_callbacks(struct fsr_fsess *s, const struct fuse_ctx *ctx, struct fsr_pass *p)
{
	if (s->highlevel || !s->api->has(s, FSR_CB_FORGET))
		return 0;
	unsigned long n = fsr_state_pay_owed(s, ctx);
	if (!(fsr_opt.callbacks & FSR_CB_FORGET) || !s->nentries)
		return n;
	char name[256], tgt[160];
	fuse_ino_t ino = 0, parent = 0;
	struct fsr_entry *pick = NULL, *pe = NULL;
	/* a replayed pass: the entry the original chose, if the kernel holds it */
	uint32_t want = fsr_schedule_want(p, 'e');
	fsr_mutex_lock(&s->lock);
	for (unsigned long k = 0; want && k < FSR_HASH_BUCKETS && !pick; k++)
		for (struct fsr_entry *e = s->entries[k]; e; e = e->next) {
			if (!entry_eligible(s, e, &pe, sizeof name))
				continue;
			entry_target(s, e->ino, tgt, sizeof tgt);
			if (fsr_target_hash(tgt) == want) {
				pick = e;
				break;
			}
		}
	int matched = pick != NULL;
	unsigned long start = s->cursor_e;
	for (unsigned long k = 0; k < FSR_HASH_BUCKETS && !pick; k++) {
		for (struct fsr_entry *e = s->entries[(start + k) % FSR_HASH_BUCKETS]; e; e = e->next) {
			if (!entry_eligible(s, e, &pe, sizeof name))
				continue;
			pick = e;
			s->cursor_e = start + k + 1;
			break;
		}
	}
	if (pick) {
		pick->pin++;
		if (pe)
			pe->pin++;
		ino = pick->ino;
		parent = pick->parent;
		strcpy(name, pick->name);
		entry_target(s, ino, tgt, sizeof tgt);
	}
	fsr_mutex_unlock(&s->lock);
	if (want && !matched)
		fsr_schedule_instead(p, 'e', "lookup", pick ? tgt : NULL);
	if (!pick)
		return n;
	n++;
	fsr_schedule_callback(p, "lookup", 'e', tgt);
	struct cbctx x;
	fuse_req_t req = cb_begin(&x, s, "lookup", ctx);
	s->api->lookup(s, req, parent, name);
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
	struct fsr_entry *e = *entry_slot(s, ino);
	if (e && e->pin)
		e->pin--;
	if (parent != FUSE_ROOT_ID && (e = *entry_slot(s, parent)) && e->pin)
		e->pin--;
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
		if (st) {
			int z = 0;
			if (!__atomic_compare_exchange_n(&s->gate, &z, FSR_GATE_CB, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				continue;
		}
		__atomic_add_fetch(&s->cb_active, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&s->live, __ATOMIC_SEQ_CST)) {
			n += handle_callbacks(s, &ctx, p);
			n += entry_callbacks(s, &ctx, p);
		}
		if (__atomic_sub_fetch(&s->cb_active, 1, __ATOMIC_SEQ_CST) == 0)
			fsr_futex_wake(&s->cb_active, 0x7fffffff);
		if (st) {
			__atomic_store_n(&s->gate, 0, __ATOMIC_RELEASE);
			fsr_futex_wake(&s->gate, 0x7fffffff);
		}
	}
	t->busy--;
	return n + fsr_fuse2_reclaim(p, &ids) + fsr_wire_reclaim(p);
}
