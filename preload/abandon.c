/* abandon.c - inline callbacks that block in a wait no tracker sees are
 * abandoned at timeout_ms, as pthread_cancel abandons a thread at a
 * cancellation point.
 *
 * An inline callback runs on the allocating thread, inside malloc.  When it
 * waits for something that thread itself holds but no tracker sees (a lock
 * built from a mutex and a condition variable, a semaphore, a file lock of
 * another open file), it would wait forever.  The wait wrappers
 * (lockwrap.c's condition variables, untracked.c's semaphores, filelock.c's
 * flock and F_OFD_SETLKW) ask fsr_wait_bounded() first: inside such a
 * callback the wait is made a timed one (a LOCK_NB poll for file locks)
 * ending at the callback's start plus timeout_ms.  Past that, the callback
 * is abandoned: reported (reclaim-wait-timeout, with the wait's frames),
 * unwound back to fsr_cb_run by a forced unwind (_Unwind_ForcedUnwind, as
 * pthread_cancel does: C++ destructors and -fexceptions cleanups of the
 * daemon run; a siglongjmp where the unwinder cannot go on), the pthread
 * locks it took and still holds released (the condition's mutex
 * included), the thread's shim state put back as it was when the callback
 * began; the allocation then goes on.
 *
 * That is sound only while the callback has changed nothing it would leave
 * half done: it is abandoned only at its first untracked wait (the same
 * wait repeated by the daemon's own loop counts as one), when it holds no
 * lock but the wait's own mutex, has released none since it began (no
 * critical section of its was completed), woke no other thread (a
 * condition signalled or a semaphore posted: it may have handed that
 * thread a request on its stack, which the unwind would free), opened no
 * transaction and took no file lock.  Otherwise the report says why it cannot be abandoned and
 * the wait goes on as the daemon asked (the old behaviour).  Memory the
 * callback allocated before the wait leaks (C code has no destructors).
 *
 * A wait site abandoned once on a thread is abandoned at once when an
 * inline callback of that thread reaches it again (it waits only when what
 * it waits for is taken: the daemon's loop checked), said once. */
#include "lockdep.h"
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <string.h>
#include <unwind.h>

uint64_t fsr_stat_abandoned;

struct fsr_cb_guard {
	sigjmp_buf jb;
	uintptr_t sp;              /* in fsr_cb_run's frame: the unwind stops above it */
	struct fsr_pass *pass;
	uint64_t deadline;         /* CLOCK_MONOTONIC ns */
	uint64_t pushes;           /* t->held_pushes at the start */
	int nheld, nscopes, txn_depth, op_depth, nfilelocks, busy, in_libc;
	unsigned int flags, reclaim_gfp;
	const char *op, *txn_name;
	void *txn_site, *fuse_ctx;
	const void *first_obj;     /* the callback's first untracked wait */
	void *first_site;
	int waiting;               /* in a bounded wait now */
	int unwinding;             /* abandoned: its cleanups run now */
	int woke;                  /* it signalled a condition or posted a semaphore */
	struct _Unwind_Exception exc;
	struct fsr_cb_guard *prev;
};

typedef _Unwind_Reason_Code (*forced_unwind_fn)(struct _Unwind_Exception *, _Unwind_Stop_Fn, void *);
typedef _Unwind_Word (*get_cfa_fn)(struct _Unwind_Context *);
static forced_unwind_fn forced_unwind;
static get_cfa_fn get_cfa;
static int unwind_looked;

/* libgcc_s's unwinder, looked up once, with t->busy set (dlopen allocates);
 * glibc's backtrace() and pthread_cancel use the same library */
static void unwind_lookup(struct fsr_thread *t)
{
	if (__atomic_load_n(&unwind_looked, __ATOMIC_ACQUIRE))
		return;
	fsr_busy_enter(t);
	void *h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD);
	if (!h)
		h = dlopen("libgcc_s.so.1", RTLD_NOW);
	if (h) {
		get_cfa = (get_cfa_fn)dlsym(h, "_Unwind_GetCFA");
		forced_unwind = (forced_unwind_fn)dlsym(h, "_Unwind_ForcedUnwind");
	}
	__atomic_store_n(&unwind_looked, 1, __ATOMIC_RELEASE);
	t->busy--;
}

/* the pass t serves is an inline one of its own, watched by timeout_ms */
static int abandonable(struct fsr_thread *t)
{
	struct fsr_pass *p = t->pass;
	return p && p->allocator == t && __atomic_load_n(&p->inline_run, __ATOMIC_ACQUIRE) &&
	       fsr_opt.mode == FSR_MODE_INLINE && fsr_opt.timeout_ms;
}

/* unlock a lock the abandoned callback took, by its kind (through the
 * shim's own wrappers: they pop it from held[] too) */
static void unlock_held(const struct fsr_held *h)
{
	void *l = (void *)h->lock;
	switch (h->kind) {
	case FSR_LOCK_MUTEX:
	case FSR_LOCK_MTX:         /* glibc's mtx_t is a pthread_mutex_t */
		pthread_mutex_unlock(l);
		break;
	case FSR_LOCK_RWLOCK:
		pthread_rwlock_unlock(l);
		break;
	case FSR_LOCK_SPIN:
		pthread_spin_unlock(l);
		break;
	default:
		break;
	}
}

int fsr_cb_run(struct fsr_thread *t, void (*fn)(void *), void *arg)
{
	if (!abandonable(t)) {
		fn(arg);
		return 0;
	}
	unwind_lookup(t);
	struct fsr_cb_guard g;
	memset(&g.exc, 0, sizeof g.exc);
	g.sp = (uintptr_t)__builtin_frame_address(0);
	g.pass = t->pass;
	g.deadline = fsr_now_ns() + fsr_opt.timeout_ms * 1000000ull;
	g.pushes = t->held_pushes;
	g.nheld = t->nheld;
	g.nscopes = t->nscopes;
	g.txn_depth = t->txn_depth;
	g.txn_name = t->txn_name;
	g.txn_site = t->txn_site;
	g.op_depth = t->op_depth;
	g.op = t->op;
	g.fuse_ctx = t->fuse_ctx;
	g.nfilelocks = t->nfilelocks;
	g.busy = t->busy;
	g.in_libc = t->in_libc;
	g.flags = t->flags;
	g.reclaim_gfp = t->reclaim_gfp;
	g.first_obj = NULL;
	g.first_site = NULL;
	g.waiting = 0;
	g.unwinding = 0;
	g.woke = 0;
	g.prev = t->cb_guard;
	/* the signal mask too: the callback may have blocked signals */
	if (sigsetjmp(g.jb, 1) == 0) {
		t->cb_guard = &g;
		fn(arg);
		t->cb_guard = g.prev;
		return 0;
	}
	/* abandoned: back from the callback's untracked wait */
	t->busy = g.busy + 1;           /* the unlocks below are the shim's (an unlock
					 * pops held[] whatever busy is) */
	t->cb_guard = g.prev;
	__atomic_store_n(&t->blocked_on, NULL, __ATOMIC_RELEASE);
	while (t->nheld > g.nheld) {
		int n = t->nheld;
		struct fsr_held h = t->held[n - 1];
		unlock_held(&h);
		if (t->nheld >= n)          /* not popped by an unlock of ours (no wrappers) */
			__atomic_store_n(&t->nheld, n - 1, __ATOMIC_RELEASE);
	}
	fsr_held_resig(t);
	t->held_pushes = g.pushes;
	t->nscopes = g.nscopes;
	t->flags = g.flags;
	t->txn_depth = g.txn_depth;
	t->txn_name = g.txn_name;
	t->txn_site = g.txn_site;
	t->op_depth = g.op_depth;
	t->op = g.op;
	t->fuse_ctx = g.fuse_ctx;
	t->nfilelocks = g.nfilelocks;
	t->in_libc = g.in_libc;
	t->reclaim_gfp = g.reclaim_gfp;
	t->busy = g.busy;
	fsr_look(t);
	__atomic_store_n(&g.pass->inline_self, 0, __ATOMIC_RELEASE);
	__atomic_add_fetch(&fsr_stat_abandoned, 1, __ATOMIC_RELAXED);
	return 1;
}

/* why the callback of g cannot be abandoned now, or NULL */
static const char *unsound(struct fsr_thread *t, struct fsr_cb_guard *g, const void *mutex)
{
	int above = t->nheld - g->nheld;
	if (above < 0)
		return "it released a lock its allocator held";
	/* what it changed under another lock it holds would be left half done
	 * once that lock is released; the wait's own mutex only guards the
	 * check it waits on (a lock made of a mutex and a condition) */
	for (int i = g->nheld; i < t->nheld; i++)
		if (t->held[i].lock != mutex)
			return "it holds another lock it took: what it changed under it would be left half done";
	if (t->held_pushes - g->pushes != (uint64_t)above)
		return "it released a lock it took (a critical section of its is over: its changes would be left half done)";
	if (t->txn_depth != g->txn_depth)
		return "it began a transaction";
	if (t->nfilelocks != g->nfilelocks)
		return "it took a file lock";
	if (g->woke)
		return "it woke another thread (a condition signalled, a semaphore posted): it may have handed that thread something of its own";
	if (t->nscopes < g->nscopes)
		return "it restored a scope its allocator saved";
	return NULL;
}

static int gone_before(struct fsr_thread *t, void *site)
{
	for (int i = 0; i < t->ngone; i++)
		if (t->gone_site[i] == site)
			return 1;
	return 0;
}

int fsr_wait_bounded(struct fsr_thread *t, const void *obj, const void *mutex, void *site, uint64_t *deadline)
{
	struct fsr_cb_guard *g = t->cb_guard;
	if (!g || t->busy || t->pass != g->pass)
		return 0;
	if (g->unwinding) {         /* a cleanup that waits: no waiting now */
		*deadline = 0;
		return 1;
	}
	if (g->first_obj && (g->first_obj != obj || g->first_site != site))
		return 0;      /* past its first untracked wait: the callback is not abandoned */
	g->first_obj = obj;
	g->first_site = site;
	g->waiting = 1;
	__atomic_store_n(&g->pass->inline_self, 1, __ATOMIC_RELEASE);
	/* a wait abandoned before is abandoned at once, where that is sound */
	*deadline = gone_before(t, site) && !unsound(t, g, mutex) ? 0 : g->deadline;
	return 1;
}

void fsr_wait_woke(struct fsr_thread *t)
{
	struct fsr_cb_guard *g = t->cb_guard;
	if (g && !t->busy)
		g->woke = 1;
}

void fsr_wait_done(struct fsr_thread *t)
{
	struct fsr_cb_guard *g = t->cb_guard;
	if (g && g->waiting) {
		g->waiting = 0;
		__atomic_store_n(&g->pass->inline_self, 0, __ATOMIC_RELEASE);
	}
}

static _Unwind_Reason_Code stop_at_guard(int version, _Unwind_Action actions, _Unwind_Exception_Class cls,
					 struct _Unwind_Exception *exc, struct _Unwind_Context *ctx, void *arg)
{
	struct fsr_cb_guard *g = arg;
	(void)version; (void)cls; (void)exc;
	/* every frame below fsr_cb_run's is the callback's: its cleanups run;
	 * fsr_cb_run's own frame (CFA above g->sp) is where it stops */
	if ((actions & _UA_END_OF_STACK) || (uintptr_t)get_cfa(ctx) > g->sp)
		siglongjmp(g->jb, 1);
	return _URC_NO_REASON;
}

static void exc_cleanup(_Unwind_Reason_Code r, struct _Unwind_Exception *e)
{
	(void)r; (void)e;   /* a catch(...) that did not rethrow: the callback goes on */
}

static void report_wait(struct fsr_thread *t, struct fsr_cb_guard *g, const char *what,
			const void *obj, const void *mutex, const char *why, uint64_t ms)
{
	struct fsr_hazard h;
	char on[64], mu[80] = "";
	fsr_hazard_init(&h, "reclaim-wait-timeout", FSR_ERROR);
	h.op = g->pass->op;
	fsr_lock_name(obj, on, sizeof on);
	if (mutex) {
		char mn[64];
		fsr_lock_name(mutex, mn, sizeof mn);
		fsr_fmt(mu, sizeof mu, " with mutex %s", mn);
	}
	if (!why)
		fsr_fmt(h.message, sizeof h.message,
			"an inline reclaim callback on thread %d waited %llu ms in %s (%s%s), which no lock "
			"tracker sees (its own thread may hold what it waits for): the callback is abandoned "
			"at that wait, as pthread_cancel would abandon it, and the allocation goes on",
			(int)t->tid, (unsigned long long)ms, what, on, mu);
	else
		fsr_fmt(h.message, sizeof h.message,
			"an inline reclaim callback on thread %d waited %llu ms in %s (%s%s), which no lock "
			"tracker sees; it cannot be abandoned (%s): it waits on, and no new pass starts until "
			"it returns", (int)t->tid, (unsigned long long)ms, what, on, mu, why);
	fsr_hazard_add_locks(&h, g->pass->held, g->pass->nheld);
	fsr_stack_capture(&h.stacks[h.nstacks++], "untracked wait in an inline reclaim callback");
	fsr_schedule_snap(&h.sched, g->pass);
	if (why)
		fsr_schedule_end(g->pass, 0);   /* the callback may never return */
	fsr_report(&h);
}

void fsr_wait_expired(struct fsr_thread *t, const char *what, const void *obj, const void *mutex)
{
	struct fsr_cb_guard *g = t->cb_guard;
	if (!g)
		return;
	if (g->unwinding)
		siglongjmp(g->jb, 1);   /* the rest of its cleanups are skipped */
	fsr_busy_enter(t);
	uint64_t ms = (fsr_now_ns() - (g->deadline - fsr_opt.timeout_ms * 1000000ull)) / 1000000ull;
	const char *why = unsound(t, g, mutex);
	g->waiting = 0;
	if (why) {
		/* the pass stays marked inline_self: this was its report */
		report_wait(t, g, what, obj, mutex, why, ms);
		t->cb_guard = g->prev;   /* no second bounded wait in it */
		t->busy--;
		return;
	}
	if (!gone_before(t, g->first_site)) {
		report_wait(t, g, what, obj, mutex, NULL, ms);
		if (t->ngone < (int)(sizeof t->gone_site / sizeof t->gone_site[0]))
			t->gone_site[t->ngone++] = g->first_site;
		fsr_say("fsreclaim: thread %d: an inline callback that reaches this wait again is abandoned "
			"at once, without waiting %llu ms", (int)t->tid, (unsigned long long)fsr_opt.timeout_ms);
	}
	g->unwinding = 1;
	t->busy--;                      /* the daemon's cleanups run as its own code */
	if (forced_unwind && get_cfa) {
		g->exc.exception_class = 0x46535200524c4d00ull;   /* "FSR\0RLM\0" */
		g->exc.exception_cleanup = exc_cleanup;
		forced_unwind(&g->exc, stop_at_guard, g);
	}
	/* no unwinder, or it could not go on: straight back */
	siglongjmp(g->jb, 1);
}
