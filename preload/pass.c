/* pass.c - one synthetic reclaim pass: shrinkers and FUSE-op callbacks.
 *
 * inline: the callbacks run on the allocating thread, under NORECLAIM, as
 * Linux direct reclaim does.  handoff: they run on the process's reclaimer
 * thread while the allocator waits (at most timeout_ms); this is also how an
 * inline pass runs when the allocator holds a tracked lock or a file lock
 * (filelock.c), so that a callback that needs that lock is found by lock.c's
 * wait-for chain, or reported at timeout_ms, instead of deadlocking the
 * thread against itself.
 *
 * There is one pass slot per process.  A pass whose allocator was released
 * early (a deadlock found, or a timeout) keeps the slot until its callback
 * returns: until then no new pass starts (fsr_stat_skipped counts those). */
#include "fsr.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

uint64_t fsr_stat_passes;
uint64_t fsr_stat_callbacks;
uint64_t fsr_stat_skipped;

static struct fsr_pass slot;
static int slot_taken;             /* atomic: a pass is in flight */
static int kick;                   /* futex: bumped when a pass is queued */
static int reclaimer_state;        /* 0 none, 1 starting, 2 running */
static struct fsr_thread *reclaimer;
static struct fsr_stack alloc_stack;  /* the slot's allocation stack, filled on demand */

/* run the pass's callbacks on thread r (the allocator itself, or the reclaimer) */
static void run_callbacks(struct fsr_thread *r, struct fsr_pass *p)
{
	unsigned int saved = r->flags;
	const char *saved_op = r->op;
	int saved_busy = r->busy;
	r->pass = p;
	r->busy = 0;        /* the callbacks are user code: their locks are tracked */
	/* reclaim never recurses: everything a callback allocates is NORECLAIM */
	r->flags |= FSR_PF_NORECLAIM;
	fsr_look(r);
	if (r != p->allocator)
		r->op = p->op;
	fsr_graph_reclaim_enter(r, p->gfp);
	unsigned long calls = 0;
	if (p->shrink) {
		fsr_schedule_callback(p, "shrinkers", 0, NULL);
		calls += fsr_shrinkers_run(p->gfp);
	}
	if (p->fuse)
		calls += fsr_fuse_reclaim(p);
	fsr_schedule_end(p, 1);
	fsr_graph_reclaim_exit(r);
	r->busy = saved_busy;
	fsr_look(r);
	r->flags = saved;
	fsr_look(r);
	r->op = saved_op;
	r->pass = NULL;
	__atomic_add_fetch(&fsr_stat_callbacks, calls, __ATOMIC_RELAXED);
}

static void slot_release(void)
{
	__atomic_store_n(&slot.state, FSR_PASS_IDLE, __ATOMIC_RELEASE);
	__atomic_store_n(&slot_taken, 0, __ATOMIC_RELEASE);
}

/* Inline mode's watchdog, on the reclaimer thread: an inline pass whose
 * callback has not returned in timeout_ms waits for something the lock
 * tracker cannot see (a lock made of a mutex and a condition variable, a
 * semaphore, a pipe) and may never return on that thread.  It is reported,
 * never a silent hang; the thread itself cannot be taken out of the
 * daemon's code, so it waits on (as the kernel's direct reclaim would),
 * while the rest of the daemon goes on. */
static void report_inline_timeout(struct fsr_pass *p, uint64_t ms)
{
	struct fsr_hazard h;
	fsr_hazard_init(&h, "reclaim-wait-timeout", FSR_ERROR);
	h.tid = p->allocator_tid;
	h.op = p->op;
	fsr_fmt(h.message, sizeof h.message,
		"an inline reclaim pass on thread %d has not returned in %llu ms: its callback waits for "
		"something the lock tracker cannot see (a lock built from a mutex and a condition variable, "
		"a semaphore, a pipe); no new pass starts until it returns",
		(int)p->allocator_tid, (unsigned long long)ms);
	fsr_hazard_add_locks(&h, p->held, p->nheld);
	if (fsr_stack_capture_thread(p->allocator_tid, &h.stacks[h.nstacks], "inline reclaim callback") == 0)
		h.nstacks++;
	fsr_schedule_snap(&h.sched, p);
	fsr_schedule_end(p, 0);  /* the callback may never return */
	fsr_report(&h);
}

static uint64_t watch_serial, watch_since;
/* timeout_ms in ns for the inline passes, set by the thread that starts
 * one (0: no inline pass yet); the reclaimer reads this, never fsr_opt */
static uint64_t watch_limit;

/* how long the reclaimer may sleep: for ever, or until the inline pass in
 * flight has run timeout_ms (reported then, once) */
static uint64_t inline_watch(void)
{
	uint64_t limit = __atomic_load_n(&watch_limit, __ATOMIC_ACQUIRE);
	if (!limit)
		return UINT64_MAX;
	uint64_t now = fsr_now_ns();
	uint64_t serial = __atomic_load_n(&slot.serial, __ATOMIC_ACQUIRE);
	if (__atomic_load_n(&slot.state, __ATOMIC_ACQUIRE) != FSR_PASS_RUNNING ||
	    !__atomic_load_n(&slot.inline_run, __ATOMIC_ACQUIRE))
		return limit / 2;
	if (serial != watch_serial) {   /* first seen now: it began at most limit/2 ago */
		watch_serial = serial;
		watch_since = now;
		return limit;
	}
	/* a callback in a wait bounded by itself reports on its own (abandon.c) */
	if (watch_since && now - watch_since >= limit &&
	    !__atomic_load_n(&slot.inline_self, __ATOMIC_ACQUIRE)) {
		report_inline_timeout(&slot, (now - watch_since) / 1000000ull);
		watch_since = 0;     /* once per pass */
	}
	return limit / 2;
}

static void *reclaimer_main(void *arg)
{
	struct fsr_thread *t = fsr_thread_self();
	(void)arg;
	fsr_busy_enter(t);
	fsr_gettid();
	fsr_thread_register(t);
	reclaimer = t;
	__atomic_store_n(&reclaimer_state, 2, __ATOMIC_RELEASE);
	fsr_futex_wake(&reclaimer_state, 64);
	t->busy--;
	for (;;) {
		int seen = __atomic_load_n(&kick, __ATOMIC_ACQUIRE);
		int st = FSR_PASS_QUEUED;
		if (__atomic_compare_exchange_n(&slot.state, &st, FSR_PASS_RUNNING, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			run_callbacks(t, &slot);
			st = FSR_PASS_RUNNING;
			if (__atomic_compare_exchange_n(&slot.state, &st, FSR_PASS_DONE, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				fsr_futex_wake(&slot.state, 1);
			else
				slot_release();    /* abandoned: its allocator went on */
			continue;
		}
		if (st == FSR_PASS_ABANDONED) {   /* abandoned before it began */
			slot_release();
			continue;
		}
		fsr_futex_wait(&kick, seen, inline_watch());
	}
	return NULL;
}

/* Start the reclaimer thread of this process (lazily: a forked child gets
 * its own on its first handoff pass). */
static int reclaimer_start(void)
{
	int st = 0;
	if (__atomic_compare_exchange_n(&reclaimer_state, &st, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		pthread_attr_t a;
		pthread_t th;
		sigset_t all, old;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&a, 1 << 20);
		/* signals belong to the daemon's threads, not ours */
		sigfillset(&all);
		sigdelset(&all, SIGSEGV);
		sigdelset(&all, SIGBUS);
		sigdelset(&all, SIGFPE);
		sigdelset(&all, SIGILL);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		int r = pthread_create(&th, &a, reclaimer_main, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&a);
		if (r) {
			__atomic_store_n(&reclaimer_state, 0, __ATOMIC_RELEASE);
			return -1;
		}
		st = 1;
	}
	while ((st = __atomic_load_n(&reclaimer_state, __ATOMIC_ACQUIRE)) == 1)
		fsr_futex_wait(&reclaimer_state, 1, 10000000);
	return st == 2 ? 0 : -1;
}

static void report_timeout(struct fsr_thread *t, struct fsr_pass *p)
{
	struct fsr_hazard h;
	fsr_hazard_init(&h, "reclaim-wait-timeout", FSR_ERROR);
	fsr_fmt(h.message, sizeof h.message,
		"a reclaim pass handed to the reclaimer thread (tid %d) did not finish in %llu ms; "
		"the allocating thread goes on and no new pass starts until that callback returns",
		reclaimer ? (int)reclaimer->tid : 0, (unsigned long long)fsr_opt.timeout_ms);
	fsr_hazard_add_held_locks(&h, t);
	fsr_stack_capture(&h.stacks[h.nstacks++], "allocation waiting for reclaim");
	if (reclaimer && fsr_stack_capture_thread(reclaimer->tid, &h.stacks[h.nstacks], "reclaimer thread") == 0)
		h.nstacks++;
	fsr_schedule_snap(&h.sched, p);
	fsr_schedule_end(p, 0);  /* the callback may never return */
	fsr_report(&h);
}

void fsr_pass_abandon(struct fsr_pass *p)
{
	int st = FSR_PASS_RUNNING;
	fsr_schedule_end(p, 0);  /* the callback may never return */
	if (__atomic_compare_exchange_n(&p->state, &st, FSR_PASS_ABANDONED, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		fsr_futex_wake(&p->state, 1);
}

static void run_pass(struct fsr_thread *t, struct fsr_pass *p);

int fsr_pass_callable(struct fsr_thread *t, unsigned int gfp)
{
	return ((fsr_opt.callbacks & FSR_CB_SHRINKERS) && fsr_shrinkers_any(gfp)) ||
	       ((gfp & FSR_GFP_FS) && fsr_fuse_reclaim_possible(t));
}

void fsr_pass_run(struct fsr_thread *t, unsigned int gfp)
{
	int shrink = (fsr_opt.callbacks & FSR_CB_SHRINKERS) && fsr_shrinkers_any(gfp);
	int fuse = (gfp & FSR_GFP_FS) && fsr_fuse_reclaim_possible(t);
	int zero = 0;
	/* nothing this allocation's mask allows could be called: no pass, and
	 * nothing counted against times= (failslab does not count calls its
	 * gfp filter lets through either) */
	if (!shrink && !fuse)
		return;
	if (!__atomic_compare_exchange_n(&slot_taken, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&fsr_stat_skipped, 1, __ATOMIC_RELAXED);
		fsr_record_skip(t);
		return;
	}
	uint64_t number = __atomic_add_fetch(&fsr_stat_passes, 1, __ATOMIC_RELAXED);
	struct fsr_pass *p = &slot;
	p->allocator = t;
	p->gfp = gfp;
	p->shrink = shrink;
	p->fuse = fuse && (fsr_opt.callbacks & (FSR_CB_FORGET | FSR_CB_FSYNC | FSR_CB_FLUSH));
	p->op = t->op;
	p->txn_depth = t->txn_depth;
	p->txn_name = t->txn_name;
	p->txn_site = t->txn_site;
	p->alloc_stack = NULL;
	p->allocator_tid = fsr_gettid();
	__atomic_add_fetch(&p->serial, 1, __ATOMIC_RELEASE);
	p->nheld = t->nheld < FSR_MAX_HELD ? t->nheld : FSR_MAX_HELD;
	memcpy(p->held, t->held, (size_t)p->nheld * sizeof p->held[0]);
	fsr_schedule_begin(p, t, number);
	/* reclaim cannot be cancelled midway (the kernel's cannot): no
	 * callback and no wait inside malloc is a cancellation point, and a
	 * pthread_cancel() sent meanwhile acts at the thread's next one */
	int cancel_was;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_was);
	run_pass(t, p);
	pthread_setcancelstate(cancel_was, NULL);
}

/* run pass p for allocator t, inline or handed off */
static void run_pass(struct fsr_thread *t, struct fsr_pass *p)
{
	/* a lock the allocator holds (tracked, or a file lock) hands the pass
	 * off: a callback that needs it then cannot hang this thread */
	int holds = t->nheld > 0 || t->nfilelocks > 0;
	int handoff = fsr_opt.mode == FSR_MODE_HANDOFF || holds;
	if (!handoff || reclaimer_start() != 0) {
		if (holds) {              /* never run callbacks under the allocator's locks */
			slot_release();
			return;
		}
		/* inline: the reclaimer watches it (inline_watch) */
		if (fsr_opt.mode == FSR_MODE_INLINE && fsr_opt.timeout_ms) {
			__atomic_store_n(&watch_limit, fsr_opt.timeout_ms * 1000000ull, __ATOMIC_RELEASE);
			(void)reclaimer_start();
		}
		__atomic_store_n(&p->inline_self, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&p->inline_run, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&p->state, FSR_PASS_RUNNING, __ATOMIC_RELEASE);
		fsr_schedule_site(p, NULL);
		run_callbacks(t, p);
		__atomic_store_n(&p->inline_run, 0, __ATOMIC_RELEASE);
		slot_release();
		return;
	}
	/* the allocation stack, for reports made on the reclaimer (the one
	 * policy.c's gate unwound, when it was whole) */
	if (!fsr_stack_alloc_take(&alloc_stack, "allocation"))
		fsr_stack_capture(&alloc_stack, "allocation");
	p->alloc_stack = &alloc_stack;
	fsr_schedule_site(p, &alloc_stack);
	t->waiting = p;
	__atomic_store_n(&p->state, FSR_PASS_QUEUED, __ATOMIC_RELEASE);
	__atomic_add_fetch(&kick, 1, __ATOMIC_RELEASE);
	fsr_futex_wake(&kick, 1);
	uint64_t deadline = fsr_now_ns() + fsr_opt.timeout_ms * 1000000ull;
	int st;
	int e = errno;
	while ((st = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE)) == FSR_PASS_QUEUED || st == FSR_PASS_RUNNING) {
		uint64_t now = fsr_now_ns();
		if (now >= deadline) {
			if (__atomic_compare_exchange_n(&p->state, &st, FSR_PASS_ABANDONED, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				t->waiting = NULL;
				report_timeout(t, p);
				errno = e;
				return;
			}
			continue;
		}
		fsr_futex_wait(&p->state, st, deadline - now);
	}
	t->waiting = NULL;
	errno = e;
	if (st == FSR_PASS_DONE)
		slot_release();
	/* ABANDONED: the reclaimer releases the slot when its callback returns */
}

void fsr_pass_atfork_child(void)
{
	/* the reclaimer thread did not survive the fork; a pass in flight in
	 * the parent is not ours */
	reclaimer_state = 0;
	reclaimer = NULL;
	kick = 0;
	slot.state = FSR_PASS_IDLE;
	slot_taken = 0;
	slot.sched_lock.v = 0;   /* the parent's reclaimer may have held it */
}
