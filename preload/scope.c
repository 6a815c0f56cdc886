/* scope.c - the memalloc_*_save/restore scopes, transactions, the API
 * table that fsreclaim.h finds, and the same calls exported under their own
 * names (for dlsym, ctypes, Rust FFI and ported code that declares them).
 *
 * Linux semantics (include/linux/sched/mm.h): save sets its flag and returns
 * the bits it newly set; restore clears exactly those.  Each save is also
 * pushed on a small per-thread stack with its site, so that a restore out of
 * order or with a value no save returned is a scope-imbalance, and a scope
 * still open when an op returns (or a thread exits) is a scope-leak. */
#include "fsr.h"
#include <string.h>

static const char *scope_name(unsigned int kind)
{
	return kind & FSR_PF_NORECLAIM ? "noreclaim" : kind & FSR_PF_NOIO ? "noio" : "nofs";
}

unsigned int fsr_scope_save(struct fsr_thread *t, unsigned int kind, void *site)
{
	/* NOIO implies NOFS: gfp_of() handles it, the flag stays what was asked.
	 * IO_FLUSHER is PF_MEMALLOC_NOIO in Linux: under it a noio save sets
	 * nothing new and returns 0, and its restore(0) keeps the state */
	unsigned int have = t->flags;
	if (have & FSR_PF_IOFLUSHER)
		have |= FSR_PF_NOIO;
	unsigned int newly = ~have & kind;
	t->flags |= newly;
	fsr_look(t);
	if (t->nscopes < FSR_MAX_SCOPES) {
		struct fsr_scope_rec *r = &t->scopes[t->nscopes];
		r->newly = newly;
		r->kind = kind;
		r->site = site;
	}
	t->nscopes++;
	fsr_graph_scope_save(t, kind, newly, site);
	return newly;
}

static void report_imbalance(struct fsr_thread *t, unsigned int newly, unsigned int kind,
			     void *site, const struct fsr_scope_rec *top, int found)
{
	struct fsr_hazard h;
	fsr_hazard_init(&h, "scope-imbalance", FSR_WARNING);
	if (found)
		fsr_fmt(h.message, sizeof h.message,
			"memalloc_%s_restore() closes a scope out of order: the innermost open scope "
			"is a %s scope opened later", scope_name(kind), top ? scope_name(top->kind) : "?");
	else
		fsr_fmt(h.message, sizeof h.message,
			"memalloc_%s_restore(%u) got a value that no open memalloc_%s_save() returned",
			scope_name(kind), newly, scope_name(kind));
	fsr_hazard_add_held_locks(&h, t);
	fsr_stack_capture(&h.stacks[h.nstacks++], "restore");
	if (top)
		fsr_stack_from_pc(&h.stacks[h.nstacks++], "innermost open scope opened at", top->site);
	(void)site;
	fsr_report(&h);
}

void fsr_scope_restore(struct fsr_thread *t, unsigned int newly, unsigned int kind, void *site)
{
	fsr_graph_scope_restore(t, newly, kind);
	int n = t->nscopes < FSR_MAX_SCOPES ? t->nscopes : FSR_MAX_SCOPES;
	if (t->nscopes > FSR_MAX_SCOPES) {
		/* deeper than we record: trust the caller */
		t->nscopes--;
		t->flags &= ~newly;
		return;
	}
	struct fsr_scope_rec *top = n ? &t->scopes[n - 1] : NULL;
	if (top && top->newly == newly && top->kind == kind) {
		t->nscopes--;
	} else {
		/* search for the save this value came from */
		int i;
		for (i = n - 1; i >= 0; i--)
			if (t->scopes[i].newly == newly && t->scopes[i].kind == kind)
				break;
		fsr_busy_enter(t);
		report_imbalance(t, newly, kind, site, top, i >= 0);
		t->busy--;
		if (i >= 0) {
			memmove(&t->scopes[i], &t->scopes[i + 1], (size_t)(n - i - 1) * sizeof(t->scopes[0]));
			t->nscopes--;
		}
		/* a value no save returned may only clear what a scope could set */
		newly &= kind;
	}
	t->flags &= ~newly;
}

void fsr_scope_check_leak(struct fsr_thread *t, int before, const char *what)
{
	if (t->nscopes <= before)
		return;
	int i = before < FSR_MAX_SCOPES ? before : FSR_MAX_SCOPES - 1;
	struct fsr_hazard h;
	fsr_busy_enter(t);
	fsr_hazard_init(&h, "scope-leak", FSR_WARNING);
	fsr_fmt(h.message, sizeof h.message,
		"%s with %d memalloc_%s_save() scope%s still open: every later allocation of this "
		"thread runs without reclaim it should have", what, t->nscopes - before,
		scope_name(t->scopes[i].kind), t->nscopes - before > 1 ? "s" : "");
	fsr_hazard_add_held_locks(&h, t);
	fsr_stack_from_pc(&h.stacks[h.nstacks++], "scope opened at", t->scopes[i].site);
	fsr_stack_capture(&h.stacks[h.nstacks++], "left open here");
	fsr_report(&h);
	t->busy--;
}

/* ---- transactions (Linux current->journal_info) ---- */

static char txn_dummy;

static void *txn_begin(const char *name, void *site)
{
	struct fsr_thread *t = fsr_thread_self();
	struct fsr_pass *p = t->pass;
	if (t->in_reclaim && p && p->txn_depth > 0) {
		/* reclaim nests a transaction into the allocator's: in the kernel
		 * this is a journal deadlock (the handle cannot be restarted) */
		struct fsr_hazard h;
		fsr_busy_enter(t);
		fsr_hazard_init(&h, "nested-transaction", FSR_ERROR);
		h.op = p->op;
		fsr_fmt(h.message, sizeof h.message,
			"reclaim began transaction '%s' while the allocating thread (tid %d) is inside "
			"transaction '%s'", name ? name : "?", (int)p->allocator_tid,
			p->txn_name ? p->txn_name : "?");
		/* from the pass's copy: the allocator may be gone (released at
		 * timeout_ms, then exited) */
		fsr_hazard_add_locks(&h, p->held, p->nheld);
		fsr_stack_capture(&h.stacks[h.nstacks++], "transaction begun in reclaim");
		if (p->alloc_stack)
			h.stacks[h.nstacks++] = *p->alloc_stack;
		fsr_stack_from_pc(&h.stacks[h.nstacks++], "outer transaction begun at", p->txn_site);
		fsr_report(&h);
		t->busy--;
	}
	if (t->txn_depth++ == 0) {
		fsr_look(t);
		t->txn_name = name;
		t->txn_site = site;
	}
	return &txn_dummy;
}

static void txn_end(void *cookie, void *site)
{
	struct fsr_thread *t = fsr_thread_self();
	(void)cookie; (void)site;
	if (t->txn_depth > 0 && --t->txn_depth == 0)
		t->txn_name = NULL;
}

/* ---- the API table ---- */

static unsigned int nofs_save(void *site) { return fsr_scope_save(fsr_thread_self(), FSR_PF_NOFS, site); }
static void nofs_restore(unsigned int f, void *site) { fsr_scope_restore(fsr_thread_self(), f, FSR_PF_NOFS, site); }
static unsigned int noio_save(void *site) { return fsr_scope_save(fsr_thread_self(), FSR_PF_NOIO, site); }
static void noio_restore(unsigned int f, void *site) { fsr_scope_restore(fsr_thread_self(), f, FSR_PF_NOIO, site); }
static unsigned int noreclaim_save(void *site) { return fsr_scope_save(fsr_thread_self(), FSR_PF_NORECLAIM, site); }
static void noreclaim_restore(unsigned int f, void *site) { fsr_scope_restore(fsr_thread_self(), f, FSR_PF_NORECLAIM, site); }

static void reclaim_acquire(unsigned int gfp, void *site)
{
	struct fsr_thread *t = fsr_thread_self();
	(void)site;
	fsr_busy_enter(t);
	fsr_graph_reclaim_enter(t, gfp);
	t->busy--;
}

static void reclaim_release(unsigned int gfp, void *site)
{
	struct fsr_thread *t = fsr_thread_self();
	(void)gfp; (void)site;
	fsr_busy_enter(t);
	fsr_graph_reclaim_exit(t);
	t->busy--;
}

const struct fsr_api fsr_api = {
	.size = sizeof(struct fsr_api),
	.nofs_save = nofs_save,
	.nofs_restore = nofs_restore,
	.noio_save = noio_save,
	.noio_restore = noio_restore,
	.noreclaim_save = noreclaim_save,
	.noreclaim_restore = noreclaim_restore,
	.register_shrinker = fsr_shrinker_register,
	.unregister_shrinker = fsr_shrinker_unregister,
	.transaction_begin = txn_begin,
	.transaction_end = txn_end,
	.reclaim_acquire = reclaim_acquire,
	.reclaim_release = reclaim_release,
	.lock_exclude = fsr_lock_exclude_addr,
	.kmalloc = fsr_kmalloc,
	.kcalloc = fsr_kcalloc,
	.krealloc = fsr_krealloc,
	.kvmalloc = fsr_kvmalloc,
	.vmalloc_gfp = fsr___vmalloc,
	.current_gfp_context = fsr_current_gfp_context,
	.might_alloc = fsr_might_alloc,
};

/* ---- the exported names: each call's site is its caller ---- */
#define CALLER __builtin_return_address(0)
#define EXPORTED FSR_EXPORT __attribute__((noinline))
EXPORTED unsigned int memalloc_nofs_save(void) { return nofs_save(CALLER); }
EXPORTED void memalloc_nofs_restore(unsigned int f) { nofs_restore(f, CALLER); }
EXPORTED unsigned int memalloc_noio_save(void) { return noio_save(CALLER); }
EXPORTED void memalloc_noio_restore(unsigned int f) { noio_restore(f, CALLER); }
EXPORTED unsigned int memalloc_noreclaim_save(void) { return noreclaim_save(CALLER); }
EXPORTED void memalloc_noreclaim_restore(unsigned int f) { noreclaim_restore(f, CALLER); }
EXPORTED int fsr_register_shrinker(struct fsr_shrinker *s) { return fsr_shrinker_register(s); }
EXPORTED void fsr_unregister_shrinker(struct fsr_shrinker *s) { fsr_shrinker_unregister(s); }
EXPORTED void *fsr_transaction_begin(const char *name) { return txn_begin(name, CALLER); }
EXPORTED void fsr_transaction_end(void *cookie) { txn_end(cookie, CALLER); }
EXPORTED void fsr_reclaim_acquire(unsigned int gfp) { reclaim_acquire(gfp, CALLER); }
EXPORTED void fsr_reclaim_release(unsigned int gfp) { reclaim_release(gfp, CALLER); }
EXPORTED void fsr_lock_exclude(const void *lock) { fsr_lock_exclude_addr(lock); }
