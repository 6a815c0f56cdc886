/* policy.c - does this allocation get a reclaim pass?
 *
 * Failslab's order: times, then space (bytes this thread allocated), then
 * interval (the thread's n-th allocation that may reclaim, n from 1), then
 * probability (a draw from seed, thread key and n, so the same seed and
 * program give the same schedule).  limit bypasses interval and
 * probability.
 *
 * Each thread's interval is shifted by a phase in [0, interval) drawn from
 * the seed and its key: its first pass falls anywhere in its first
 * `interval` allocations, so a thread that lives for fewer allocations
 * than the interval still gets a pass with probability lifetime/interval
 * (libfuse starts a worker per request; counted from zero, none would ever
 * reach its first interval hit).  The expected pass rate stays 1/interval
 * for every thread lifetime.
 *
 * malloc.c keeps a per-thread countdown to the next interval hit so that
 * the common allocation costs one decrement, in the same word as the
 * thread's "needs a look" mark (fsr.h's gate); this file runs only when the
 * countdown hits zero (or its low part runs out), or when the thread is in a
 * state that needs a look (a scope, a held lock, a transaction, space/limit
 * being counted). */
#include "fsr.h"
#include <errno.h>
#include "lockdep.h"

struct fsr_ready_flags fsr_ready_flags;
static uint64_t heap_live;     /* limit=: live heap bytes (atomic) */

int fsr_policy_decide(const struct fsr_options *o, unsigned int ti, uint64_t n,
		      uint64_t space_seen, int64_t passes, int over_limit)
{
	if (o->times >= 0 && passes >= o->times)
		return 0;
	if (space_seen < o->space)
		return 0;
	if (over_limit)
		return 1;
	if (!o->interval || n % o->interval)
		return 0;
	if (o->probability >= 100)
		return 1;
	uint64_t r = fsr_mix64(o->seed ^ fsr_mix64(((uint64_t)ti << 40) ^ n));
	return r % 100 < o->probability;
}

/* may-reclaim allocations from n to the thread's next interval hit:
 * the next n with (n + phase) % interval == 0 */
static uint64_t next_countdown(const struct fsr_thread *t, uint64_t n)
{
	uint64_t iv = fsr_opt.interval;
	if (!iv || fsr_slow_all)
		return UINT64_MAX;
	return iv - (n + t->phase) % iv;
}

uint64_t fsr_policy_phase(uint64_t seed, uint64_t key_hash, uint64_t interval)
{
	return interval ? fsr_mix64(seed ^ fsr_mix64(key_hash ^ 0x7068617365ull)) % interval : 0;
}

static void look_at_all(struct fsr_thread *t, void *unused)
{
	(void)unused;
	fsr_look(t);
}

void fsr_policy_init(void)
{
	/* replay=: every allocation is looked at, so n and the op's count
	 * are exact where the key is matched */
	fsr_slow_all = fsr_opt.space > 0 || fsr_opt.limit > 0 || fsr_replay_on;
	if (fsr_slow_all) {
		fsr_look(&fsr_self);
		fsr_threads_foreach(look_at_all, NULL);   /* threads started before us */
	}
	/* free() tests one word: heap lock pages, plus one while limit=
	 * counts the heap (lockdep.h) */
	if (fsr_opt.limit) {
		__atomic_add_fetch(&fsr_heap_lock_pages, 1, __ATOMIC_RELAXED);
		fsr_heap_locks_on();
	}
}

void fsr_policy_thread_init(struct fsr_thread *t)
{
	t->phase = fsr_policy_phase(fsr_opt.seed, t->key_hash, fsr_opt.interval);
	fsr_countdown_set(t, next_countdown(t, t->may_reclaim));
	t->countdown_base = fsr_countdown(t);
	if (fsr_slow_all)
		fsr_look(t);
}

/* the reasons an allocation needs a look (what fsr_look() announced) */
static inline int needs_look(const struct fsr_thread *t)
{
	return (t->flags | (unsigned int)t->busy | (unsigned int)t->nheld |
		(unsigned int)t->txn_depth | (unsigned int)fsr_slow_all) != 0;
}

int fsr_alloc_gate(struct fsr_thread *t)
{
	t->gate++;      /* the hot test's decrement: the countdown is not consumed yet */
	if (t->gate < 0 || unlikely(fsr_slow_all)) {
		if (needs_look(t)) {
			fsr_look(t);    /* slow_all in a thread that never registered */
			return 1;
		}
		t->gate &= FSR_GATE_CD;   /* nothing left to look at */
		/* interval=0: what the looks' countdown counted goes into n,
		 * and the gate is idle again (fsr_countdown_set; with stats=
		 * it counts on) */
		if (!fsr_opt.interval) {
			t->may_reclaim += t->countdown_base - fsr_countdown(t);
			fsr_countdown_set(t, UINT64_MAX);
			t->countdown_base = fsr_countdown(t);
			if ((t->gate & FSR_GATE_CD) == FSR_GATE_IDLE)
				return 0;       /* idle: not counted */
		}
	}
	/* the plain countdown: a hit at one, the fast part refilled from
	 * countdown_hi, zero wraps (a thread not initialised never hits) */
	uint64_t n = fsr_countdown(t);
	fsr_countdown_set(t, n - 1);
	return n == 1 ? 2 : 0;
}

void fsr_heap_add(size_t n) { __atomic_add_fetch(&heap_live, n, __ATOMIC_RELAXED); }
/* a block allocated before the shim's constructor (by a library's) was
 * never added: its free must not wrap the counter (it stops at zero) */
void fsr_heap_sub(size_t n)
{
	uint64_t v = __atomic_load_n(&heap_live, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&heap_live, &v, v > n ? v - n : 0, 1,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void alloc_slow_full(struct fsr_thread *t, size_t size, int counted);

void fsr_alloc_slow(struct fsr_thread *t, size_t size, int counted)
{
	if (!fsr_alloc_locked_fast(t, size, counted))
		alloc_slow_full(t, size, counted);
}

__attribute__((noinline)) static void alloc_slow_full(struct fsr_thread *t, size_t size, int counted)
{
	if (t->busy) {
		if (!counted)
			t->allocs++;
		return;
	}
	/* the countdown consumed since the last look: allocations that may
	 * reclaim and went the fast way */
	if (!counted && !(t->flags & FSR_PF_NORECLAIM) && !t->in_reclaim)
		fsr_countdown_set(t, fsr_countdown(t) - 1);
	else if (!counted)
		t->allocs++;
	t->may_reclaim += t->countdown_base - fsr_countdown(t);
	t->space += size;
	if (!fsr_ready || (t->flags & FSR_PF_NORECLAIM) || t->in_reclaim) {
		t->countdown_base = fsr_countdown(t);
		return;
	}
	fsr_busy_enter(t);
	unsigned int gfp = fsr_gfp_of(t);
	/* the prediction (lockdep's might_alloc): held locks -> fs_reclaim,
	 * whether or not a pass runs now */
	if (t->nheld && gfp)
		fsr_graph_might_alloc(t, gfp);
	int over = fsr_opt.limit && __atomic_load_n(&heap_live, __ATOMIC_RELAXED) > fsr_opt.limit;
	int64_t passes = (int64_t)__atomic_load_n(&fsr_stat_passes, __ATOMIC_RELAXED);
	/* the allocation is counted either way; inside libc's internals (a
	 * FILE lock, the loader's lock, the resolver's) it gets no pass */
	t->sched_site_valid = 0;
	if ((unlikely(fsr_replay_on) ? fsr_replay_match(t, passes) :
	     fsr_policy_decide(&fsr_opt, (unsigned int)t->key_hash, t->may_reclaim + t->phase,
			       t->space, passes, over)) &&
	    fsr_pass_callable(t, gfp) && !fsr_stack_alloc_in_libc(t)) {
		/* the caller's errno is not the callbacks' business (glibc's
		 * malloc leaves it alone when it succeeds) */
		int e = errno;
		fsr_pass_run(t, gfp);
		errno = e;
	}
	fsr_countdown_set(t, next_countdown(t, t->may_reclaim));
	t->countdown_base = fsr_countdown(t);
	t->busy--;
}
