/* lockwrap.c - pthread/C11 lock interposition.
 *
 * Every blocking acquisition is "trylock first": uncontended, the real
 * trylock takes the lock and the shim records it: held[] and the edges
 * held -> it, which are already known almost always, so that a lock and
 * held set seen before are one compare in the thread's acquisition memo
 * and seven thread-local stores (took_memo; lockdep.h), an unlock of the
 * top two (fsr_lock_pop_top).  When
 * the lock is taken, lock.c records the edges before the thread blocks (a
 * prediction is never lost to a hang) and marks the thread blocked_on it;
 * a reclaim callback serving a handoff pass instead waits in short timed
 * steps, looking each time for a wait-for chain back to its allocator
 * (reclaim-deadlock, then the allocator is released).
 *
 * Real functions come from dlsym(RTLD_NEXT) on first use, with t->busy set
 * (dlsym may call calloc).  A thread inside the shim (t->busy) is never
 * tracked; an unlock always pops what was tracked. */
#include "lockdep.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <threads.h>
#include <time.h>

#define SITE __builtin_return_address(0)

static int stub_mutex_trylock(pthread_mutex_t *);
static int stub_mutex_unlock(pthread_mutex_t *);
static int stub_rw_tryrdlock(pthread_rwlock_t *);
static int stub_rw_trywrlock(pthread_rwlock_t *);
static int stub_rw_unlock(pthread_rwlock_t *);
static int stub_spin_trylock(pthread_spinlock_t *);
static int stub_spin_unlock(pthread_spinlock_t *);
static int stub_mtx_trylock(mtx_t *);
static int stub_mtx_unlock(mtx_t *);

static struct {
	int (*mutex_init)(pthread_mutex_t *, const pthread_mutexattr_t *);
	int (*mutex_destroy)(pthread_mutex_t *);
	int (*mutex_lock)(pthread_mutex_t *);
	int (*mutex_trylock)(pthread_mutex_t *);
	int (*mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
	int (*mutex_clocklock)(pthread_mutex_t *, clockid_t, const struct timespec *);
	int (*mutex_unlock)(pthread_mutex_t *);
	int (*rw_init)(pthread_rwlock_t *, const pthread_rwlockattr_t *);
	int (*rw_destroy)(pthread_rwlock_t *);
	int (*rw_rdlock)(pthread_rwlock_t *);
	int (*rw_wrlock)(pthread_rwlock_t *);
	int (*rw_tryrdlock)(pthread_rwlock_t *);
	int (*rw_trywrlock)(pthread_rwlock_t *);
	int (*rw_timedrdlock)(pthread_rwlock_t *, const struct timespec *);
	int (*rw_timedwrlock)(pthread_rwlock_t *, const struct timespec *);
	int (*rw_clockrdlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
	int (*rw_clockwrlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
	int (*rw_unlock)(pthread_rwlock_t *);
	int (*spin_init)(pthread_spinlock_t *, int);
	int (*spin_destroy)(pthread_spinlock_t *);
	int (*spin_lock)(pthread_spinlock_t *);
	int (*spin_trylock)(pthread_spinlock_t *);
	int (*spin_unlock)(pthread_spinlock_t *);
	int (*cond_wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
	int (*cond_clockwait)(pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *);
	int (*mtx_init)(mtx_t *, int);
	void (*mtx_destroy)(mtx_t *);
	int (*mtx_lock)(mtx_t *);
	int (*mtx_trylock)(mtx_t *);
	int (*mtx_timedlock)(mtx_t *__restrict, const struct timespec *__restrict);
	int (*mtx_unlock)(mtx_t *);
	int (*cnd_wait)(cnd_t *, mtx_t *);
	int (*cnd_timedwait)(cnd_t *__restrict, mtx_t *__restrict, const struct timespec *__restrict);
} real = {
	/* the calls the fast paths make without ENSURE: resolving stubs
	 * until resolve() stores the real ones */
	.mutex_trylock = stub_mutex_trylock, .mutex_unlock = stub_mutex_unlock,
	.rw_tryrdlock = stub_rw_tryrdlock, .rw_trywrlock = stub_rw_trywrlock, .rw_unlock = stub_rw_unlock,
	.spin_trylock = stub_spin_trylock, .spin_unlock = stub_spin_unlock,
	.mtx_trylock = stub_mtx_trylock, .mtx_unlock = stub_mtx_unlock,
};
static int resolved;

__attribute__((noinline, cold)) static void resolve(void)
{
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
#define R(f, name) do { void *p_ = dlsym(RTLD_NEXT, name); if (p_) __atomic_store_n((void **)&real.f, p_, __ATOMIC_RELEASE); } while (0)
	R(mutex_init, "pthread_mutex_init");
	R(mutex_destroy, "pthread_mutex_destroy");
	R(mutex_trylock, "pthread_mutex_trylock");
	R(mutex_timedlock, "pthread_mutex_timedlock");
	R(mutex_clocklock, "pthread_mutex_clocklock");
	R(mutex_unlock, "pthread_mutex_unlock");
	R(rw_init, "pthread_rwlock_init");
	R(rw_destroy, "pthread_rwlock_destroy");
	R(rw_rdlock, "pthread_rwlock_rdlock");
	R(rw_wrlock, "pthread_rwlock_wrlock");
	R(rw_tryrdlock, "pthread_rwlock_tryrdlock");
	R(rw_trywrlock, "pthread_rwlock_trywrlock");
	R(rw_timedrdlock, "pthread_rwlock_timedrdlock");
	R(rw_timedwrlock, "pthread_rwlock_timedwrlock");
	R(rw_clockrdlock, "pthread_rwlock_clockrdlock");
	R(rw_clockwrlock, "pthread_rwlock_clockwrlock");
	R(rw_unlock, "pthread_rwlock_unlock");
	R(spin_init, "pthread_spin_init");
	R(spin_destroy, "pthread_spin_destroy");
	R(spin_lock, "pthread_spin_lock");
	R(spin_trylock, "pthread_spin_trylock");
	R(spin_unlock, "pthread_spin_unlock");
	R(cond_wait, "pthread_cond_wait");
	R(cond_timedwait, "pthread_cond_timedwait");
	R(cond_clockwait, "pthread_cond_clockwait");
	R(mtx_init, "mtx_init");
	R(mtx_destroy, "mtx_destroy");
	R(mtx_lock, "mtx_lock");
	R(mtx_trylock, "mtx_trylock");
	R(mtx_timedlock, "mtx_timedlock");
	R(mtx_unlock, "mtx_unlock");
	R(cnd_wait, "cnd_wait");
	R(cnd_timedwait, "cnd_timedwait");
	R(mutex_lock, "pthread_mutex_lock");    /* last: the "resolved" test */
#undef R
	__atomic_store_n(&resolved, 1, __ATOMIC_RELEASE);
	t->busy--;
}

/* fork: prepare handlers run in reverse order of registration, so ours
 * (registered after init.c's, priority 101) take our locks before the
 * core's registry lock, the order the wait-for check takes them in */
static void atfork_prepare(void) { fsr_graph_atfork_prepare(); fsr_lock_atfork_prepare(); }
static void atfork_parent(void) { fsr_lock_atfork_parent(); fsr_graph_atfork_parent(); }
static void atfork_child(void) { fsr_lock_atfork_child(); fsr_graph_atfork_child(); }

__attribute__((constructor(150))) static void lockwrap_init(void)
{
	if (!__atomic_load_n(&resolved, __ATOMIC_ACQUIRE))
		resolve();
	fsr_busy_enter(&fsr_self);
	fsr_lock_setup();
	fsr_self.busy--;
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

#define ENSURE() do { if (unlikely(!__atomic_load_n(&resolved, __ATOMIC_ACQUIRE))) resolve(); } while (0)

/* a stub's first call resolves every real function (one the libc lacks
 * stays the stub: fail, not recurse) */
#define STUB(f, type, fail)                                                     \
	__attribute__((noinline, cold)) static int stub_##f(type *l)            \
	{                                                                       \
		ENSURE();                                                       \
		if (__atomic_load_n(&real.f, __ATOMIC_ACQUIRE) == stub_##f)     \
			return (fail);                                          \
		return real.f(l);                                               \
	}
STUB(mutex_trylock, pthread_mutex_t, ENOSYS)
STUB(mutex_unlock, pthread_mutex_t, ENOSYS)
STUB(rw_tryrdlock, pthread_rwlock_t, ENOSYS)
STUB(rw_trywrlock, pthread_rwlock_t, ENOSYS)
STUB(rw_unlock, pthread_rwlock_t, ENOSYS)
STUB(spin_trylock, pthread_spinlock_t, ENOSYS)
STUB(spin_unlock, pthread_spinlock_t, ENOSYS)
STUB(mtx_trylock, mtx_t, thrd_error)
STUB(mtx_unlock, mtx_t, thrd_error)
#undef STUB

/* tracked at all? (not inside the shim, shim initialised) */
#define TRACK(t) (likely(!(t)->busy) && likely(fsr_ready))
/* the same for the blocking acquisitions' fast path, one test of busy
 * and op_locks (inside a FUSE op the class is noted: the *_other paths):
 * fsr_ready is not tested, as before init (or after exit) the memo has no
 * entry that was filled (took_slow fills it only when fsr_ready), and the
 * slow continuations (took_slow, mutex_busy, contended) test it themselves */
static inline __attribute__((always_inline)) int hot_track(void)
{
	uintptr_t ts = FSR_TLS_BASE(fsr_self);
	return !((uint64_t)FSR_TLS_AT(unsigned int, ts, offsetof(struct fsr_thread, busy)) |
		 FSR_TLS_AT(uint64_t, ts, offsetof(struct fsr_thread, op_locks)));
}

/* ---- blocking with a wait-for check ---- */
enum { OP_MUTEX, OP_RD, OP_WR, OP_SPIN, OP_MTX };

static int op_block(int op, void *l)
{
	switch (op) {
	case OP_MUTEX: return real.mutex_lock(l);
	case OP_RD: return real.rw_rdlock(l);
	case OP_WR: return real.rw_wrlock(l);
	case OP_SPIN: return real.spin_lock(l);
	default: return real.mtx_lock(l);
	}
}

static int op_acquired(int op, int r)
{
	if (op == OP_MUTEX)
		return r == 0 || r == EOWNERDEAD;
	if (op == OP_MTX)
		return r == thrd_success;
	return r == 0;
}

/* one timed attempt of at most ns: 0/EOWNERDEAD acquired, ETIMEDOUT, or an error
 * (for OP_MTX, thrd_* values except that a timeout is ETIMEDOUT) */
static int op_step(int op, void *l, uint64_t ns)
{
	int orig = op;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec += (long)(ns % 1000000000u);
	if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
	if (unlikely(!real.mutex_clocklock || !real.rw_clockrdlock || !real.rw_clockwrlock))
		op = OP_SPIN;           /* an old libc: poll with trylock */
	switch (op) {
	case OP_MUTEX: return real.mutex_clocklock(l, CLOCK_MONOTONIC, &ts);
	case OP_RD: return real.rw_clockrdlock(l, CLOCK_MONOTONIC, &ts);
	case OP_WR: return real.rw_clockwrlock(l, CLOCK_MONOTONIC, &ts);
	case OP_MTX: {
		/* glibc's mtx_t is a pthread_mutex_t */
		int r = real.mutex_clocklock(l, CLOCK_MONOTONIC, &ts);
		return r == 0 ? thrd_success : r == ETIMEDOUT ? ETIMEDOUT : thrd_error;
	}
	default: {
		uint64_t end = fsr_now_ns() + ns;
		do {
			int r = orig == OP_SPIN ? real.spin_trylock(l) : orig == OP_MUTEX ? real.mutex_trylock(l)
				: orig == OP_RD ? real.rw_tryrdlock(l) : orig == OP_WR ? real.rw_trywrlock(l)
				: (real.mtx_trylock(l) == thrd_success ? 0 : EBUSY);
			if (r != EBUSY)
				return orig == OP_MTX ? (r == 0 ? thrd_success : thrd_error) : r;
			struct timespec d = { 0, 50000 };
			nanosleep(&d, NULL);
		} while (fsr_now_ns() < end);
		return ETIMEDOUT;
	}
	}
}

static int reclaim_wait(struct fsr_thread *t, void *l, int op, int chain)
{
	uint64_t step = 1000000;
	int r, prev = chain;
	for (;;) {
		r = op_step(op, l, step);
		if (r != ETIMEDOUT)
			return r;
		if (!fsr_lock_serving_handoff(t))
			return op_block(op, l);
		int found = fsr_lock_deadlock_check(t, l, prev);
		if (found && prev)          /* reported, the allocator released */
			return op_block(op, l);
		prev = found;
		if (step < 16000000)
			step *= 2;
	}
}

/* the lock was busy: record, then block (or wait in steps in reclaim) */
__attribute__((noinline)) static int contended(struct fsr_thread *t, void *l, int op, int kind,
					       int read, void *site)
{
	int chain, r;
	/* the fast paths call only the trylocks (resolving stubs) before
	 * this: another thread may be inside resolve(), the trylock already
	 * stored, the blocking call (op_block, op_step) not yet */
	ENSURE();
	if (unlikely(!fsr_ready))
		return op_block(op, l);     /* hot_track: not tracked */
	fsr_lock_contended(t, l, kind, read, site, &chain);   /* also notes this waiter's own stack */
	__atomic_store_n(&t->blocked_on, l, __ATOMIC_RELEASE);
	if (fsr_lock_serving_handoff(t))
		r = reclaim_wait(t, l, op, chain);
	else
		r = op_block(op, l);
	__atomic_store_n(&t->blocked_on, NULL, __ATOMIC_RELEASE);
	if (op_acquired(op, r))
		fsr_lock_acquired(t, l, kind, read, site, 0);
	return r;
}

/* a user's timed acquisition that found the lock busy */
#define TIMED_CONTENDED(t, l, kind, read, site, call)                         \
	do {                                                                    \
		int chain_;                                                     \
		fsr_lock_contended(t, l, kind, read, site, &chain_);            \
		__atomic_store_n(&(t)->blocked_on, (const void *)(l), __ATOMIC_RELEASE); \
		r = (call);                                                     \
		__atomic_store_n(&(t)->blocked_on, NULL, __ATOMIC_RELEASE);     \
	} while (0)

/* ---- mutexes ---- */

FSR_EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	ENSURE();
	int r = real.mutex_init(m, a);
	struct fsr_thread *t = &fsr_self;
	if (r == 0 && !t->busy)
		fsr_lock_init_instance(m, FSR_LOCK_MUTEX, SITE);
	return r;
}

FSR_EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
	ENSURE();
	if (!fsr_self.busy)
		fsr_lock_forget_instance(m);
	return real.mutex_destroy(m);
}

/* An uncontended acquisition that the memo (lockdep.h) does not know, k
 * its key: the lock's class, with edges the edges held -> it and reclaim
 * -> it, then (a tracked class, edges recorded) the memo entry that makes
 * the next such acquisition one compare.  A trylock has no edges: it
 * uses the memo, never fills it. */
__attribute__((noinline)) static int took_slow(const void *l, int kind, int read, void *site, uint64_t k,
					       int edges)
{
	struct fsr_thread *t = &fsr_self;
	struct fsr_lock_tls *lt = &fsr_ltls;
	if (unlikely(!fsr_ready))
		return 0;       /* hot_track: not tracked before init or after exit */
	int tracked;            /* 0: classes full, untracked: not remembered */
	unsigned int c = fsr_lock_take_class(t, l, kind, read, site, edges, &tracked);
	int n = t->nheld;
	if (n >= FSR_MAX_HELD)
		return 0;
	uint64_t word = fsr_held_word(c, kind, read), next = fsr_chain_next(lt->top, c, read);
	if (edges && tracked && !t->in_reclaim) {
		/* not in reclaim: there every acquisition takes this path, so
		 * that abandon.c counts it (fsr_held_put's held_pushes).  Two ways, the key's slot and its neighbour: the newest entry
		 * goes to the slot, the one it displaces to the neighbour (two
		 * acquisitions whose keys share a slot do not evict each other) */
		unsigned int i = fsr_acq_slot(k), j = i ^ 1;
		if (lt->acq_key[i]) {
			lt->acq_key[j] = lt->acq_key[i];
			lt->acq_word[j] = lt->acq_word[i];
			lt->acq_next[j] = lt->acq_next[i];
		}
		lt->acq_key[i] = k;
		lt->acq_word[i] = word;
		lt->acq_next[i] = next;
	}
	fsr_held_put(n, l, word, site, next);
	return 0;
}

/* An uncontended acquisition of l by the calling thread (kind and read are
 * constants in every caller): first or nested, in reclaim or not, a lock
 * and held set seen before are one compare (the memo's key covers the held
 * stack, the reclaim state, the lock and gen) and fsr_held_put's
 * thread-local stores (the held entry's three words, chain[n + 1], top,
 * nheld, the look mark), here all %fs: displacements from one TLS offset;
 * no shared line is written.  Measured per lock+unlock (callgrind, one
 * thread): 115 instructions, glibc 66, a forwarding preload 68. */
static inline __attribute__((always_inline)) int took_memo(const void *l, int kind, int read, void *site,
							   int edges, int in_op)
{
	/* one TLS offset for fsr_self and its lt, every access an %fs:
	 * displacement from it (LT: a field of lt) */
#define LT(f) (offsetof(struct fsr_thread, lt) + offsetof(struct fsr_lock_tls, f))
	uintptr_t ts = FSR_TLS_BASE_AGAIN(fsr_self);
	/* the lookup's chain of loads is what the next locked instruction
	 * (this lock's unlock) waits for: top and the product of l, not
	 * nheld then chain[nheld]; one index for the three arrays */
	uint64_t k = fsr_acq_key(FSR_TLS_AT(uint64_t, ts, LT(top)), l, kind, read);
	uintptr_t j = fsr_acq_slot(k);
	uintptr_t n = FSR_TLS_AT(unsigned int, ts, offsetof(struct fsr_thread, nheld));
	if (unlikely(FSR_TLS_AT(uint64_t, ts + 8 * j, LT(acq_key)) != k)) {
		/* the slot's neighbour, the memo's second way (the offset
		 * loaded again here: GCC would keep its address in a register
		 * on the hit path) */
		uintptr_t ts2 = FSR_TLS_BASE_AGAIN(fsr_self);
		j ^= 1;
		if (FSR_TLS_AT(uint64_t, ts2 + 8 * j, LT(acq_key)) != k)
			return took_slow(l, kind, read, site, k, edges);
	}
	if (unlikely(n >= FSR_MAX_HELD))
		return took_slow(l, kind, read, site, k, edges);
	uint64_t next = FSR_TLS_AT(uint64_t, ts + 8 * j, LT(acq_next));
	uint64_t word = FSR_TLS_AT(uint64_t, ts + 8 * j, LT(acq_word));
	uintptr_t h = ts + n * sizeof(struct fsr_held);
#define HELD(f) (offsetof(struct fsr_thread, held) + offsetof(struct fsr_held, f))
	/* top first: a signal handler's lock and unlock after it, before the
	 * count, overwrites the entry and chain[n + 1] and leaves top at
	 * chain[n], which the one test after the count sees (fsr_held_redo,
	 * lockdep.h); one before it is overwritten by the stores after it */
	FSR_TLS_AT(uint64_t, ts, LT(top)) = next;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	FSR_TLS_AT(const void *, h, HELD(lock)) = l;
	FSR_TLS_AT(uint64_t, h, HELD(cls)) = word;
	FSR_TLS_AT(void *, h, HELD(site)) = site;
	FSR_TLS_AT(uint64_t, ts + 8 * n, LT(chain) + 8) = next;
	FSR_TLS_PUBLISH_ADD(int, ts, offsetof(struct fsr_thread, nheld), 1);   /* the entry before the count */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (unlikely(FSR_TLS_AT(uint64_t, ts, LT(top)) != next))
		fsr_held_redo((int)n, l, word, site, next);
	FSR_TLS_AT(int64_t, ts, offsetof(struct fsr_thread, gate)) |= FSR_LOOK;   /* fsr_look */
	/* inside a FUSE op: the class noted as taken in it (lock_in_op) */
	if (in_op && unlikely(FSR_TLS_AT(uint64_t, ts, offsetof(struct fsr_thread, op_locks))))
		return fsr_oplock_took(&fsr_self, FSR_TLS_AT(unsigned int, h, HELD(cls)));
	return 0;
#undef HELD
#undef LT
}
/* the wrappers' fast paths, which tested busy and op_locks together
 * (hot_track): no FUSE op to note the class in */
#define took_hot(l, kind, read, site) took_memo(l, kind, read, site, 1, 0)
#define took(t, l, kind, read, site) took_memo(l, kind, read, site, 1, 1)
#define took_try(t, l, kind, read, site) took_memo(l, kind, read, site, 0, 1)

__attribute__((noinline)) static int mutex_busy(struct fsr_thread *t, pthread_mutex_t *m, int r, void *site)
{
	if (r != EBUSY) {
		if (r == EOWNERDEAD && fsr_ready)
			fsr_lock_acquired(t, m, FSR_LOCK_MUTEX, 0, site, 1);
		return r;
	}
	return contended(t, m, OP_MUTEX, FSR_LOCK_MUTEX, 0, site);
}

/* The blocking acquisitions: the fast path (not busy, not in a FUSE op)
 * is the real trylock and took_hot; anything else goes through NAME_other
 * (site: the wrapper's caller), noinline, so that the fast path needs no
 * frame beyond its call */
__attribute__((noinline)) static int mutex_lock_other(pthread_mutex_t *m, void *site)
{
	struct fsr_thread *t = &fsr_self;
	ENSURE();
	if (t->busy)
		return real.mutex_lock(m);
	int r = real.mutex_trylock(m);
	if (likely(r == 0))
		return took(t, m, FSR_LOCK_MUTEX, 0, site);
	return mutex_busy(t, m, r, site);
}

FSR_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	if (unlikely(!hot_track()))
		return mutex_lock_other(m, SITE);
	int r = real.mutex_trylock(m);
	if (likely(r == 0))
		return took_hot(m, FSR_LOCK_MUTEX, 0, SITE);
	return mutex_busy(&fsr_self, m, r, SITE);
}

FSR_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
	struct fsr_thread *t = &fsr_self;
	ENSURE();
	int r = real.mutex_trylock(m);
	if (likely(r == 0) && TRACK(t))
		return took_try(t, m, FSR_LOCK_MUTEX, 0, SITE);
	if (r == EOWNERDEAD && TRACK(t))
		fsr_lock_acquired(t, m, FSR_LOCK_MUTEX, 0, SITE, 0);
	return r;
}

/* a timed mutex acquisition: CALL is the real timed lock of m */
#define MUTEX_TIMED(m, call)                                                    \
	struct fsr_thread *t = &fsr_self;                                      \
	ENSURE();                                                              \
	if (!TRACK(t))                                                         \
		return (call);                                                 \
	int r = real.mutex_trylock(m);                                         \
	if (r == EBUSY)                                                        \
		TIMED_CONTENDED(t, m, FSR_LOCK_MUTEX, 0, SITE, (call));        \
	else if (r == 0)                                                       \
		return took(t, m, FSR_LOCK_MUTEX, 0, SITE);                    \
	else if (r == EOWNERDEAD) {                                            \
		fsr_lock_acquired(t, m, FSR_LOCK_MUTEX, 0, SITE, 1);           \
		return r;                                                      \
	}                                                                      \
	if (r == 0 || r == EOWNERDEAD)                                         \
		fsr_lock_acquired(t, m, FSR_LOCK_MUTEX, 0, SITE, 0);           \
	return r

/* glibc rejects these arguments with EINVAL before it tries the lock, so
 * the trylock first must not take it: such calls go straight to glibc
 * (pthread_mutex_clocklock checks the clock only; the rwlocks' timed calls
 * check the clock and tv_nsec; pthread_mutex_timedlock checks tv_nsec only
 * when it has to wait, as the trylock first does) */
static inline int clock_bad(clockid_t c) { return c != CLOCK_REALTIME && c != CLOCK_MONOTONIC; }
static inline int abstime_bad(clockid_t c, const struct timespec *ts)
{
	return !ts || clock_bad(c) || (unsigned long)ts->tv_nsec >= 1000000000ul;
}

FSR_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *ts)
{ MUTEX_TIMED(m, real.mutex_timedlock(m, ts)); }
FSR_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t c, const struct timespec *ts)
{
	if (unlikely(clock_bad(c))) {
		ENSURE();
		return real.mutex_clocklock(m, c, ts);
	}
	MUTEX_TIMED(m, real.mutex_clocklock(m, c, ts));
}

/* An unlock: the top of held[] popped in place (it was pushed by a
 * wrapper: the real calls are resolved), then a tail call into the real
 * unlock; anything else (not the top, not resolved yet) in a noinline
 * call, so that the common case needs no stack frame. */
#define UNLOCK_FNS(name, type, fn)                                                      \
	__attribute__((noinline)) static int name##_unlock_slow(type *l)                \
	{                                                                               \
		ENSURE();                                                               \
		fsr_lock_released(&fsr_self, (const void *)l);                          \
		return real.fn(l);                                                      \
	}                                                                               \
	FSR_EXPORT int name##_unlock(type *l)                                           \
	{                                                                               \
		if (likely(fsr_lock_pop_top((const void *)l)))                          \
			return real.fn(l);      /* pushed by a wrapper, so resolved */  \
		if (likely(!fsr_self.nheld))                                            \
			return real.fn(l);      /* a stub resolves it first */          \
		return name##_unlock_slow(l);                                           \
	}
UNLOCK_FNS(pthread_mutex, pthread_mutex_t, mutex_unlock)

/* ---- condition variables: the mutex is dropped for the wait ---- */

static int held_index(struct fsr_thread *t, const void *l)
{
	for (int i = t->nheld - 1; i >= 0; i--)
		if (t->held[i].lock == l)
			return i;
	return -1;
}

/* a condition wait's mutex back on held[]: the same acquisition, not a
 * new one (abandon.c counts a callback's pushes) */
static void held_put(struct fsr_thread *t, const struct fsr_held *h)
{
	int n = t->nheld;
	if (n < FSR_MAX_HELD) {
		fsr_held_push(n, h->lock, h->cls, h->kind, h->read, h->site);
		t->held_pushes--;
	}
}

#define COND_WAIT(t, m, call)                                           \
	do {                                                            \
		int i_ = held_index(t, m);                              \
		if (i_ < 0)                                             \
			return (call);                                  \
		struct fsr_held h_ = t->held[i_];                      \
		fsr_lock_released(t, m);                                \
		int r_ = (call);                                        \
		held_put(t, &h_);                                       \
		return r_;                                              \
	} while (0)

/* Inside an inline reclaim callback an untimed wait is bounded by the
 * callback's timeout_ms (abandon.c): it waits until then, and past it the
 * callback is abandoned (no return) or, where that is not sound, waits on
 * as asked.  -1: not such a wait, or a wait to make unbounded now. */
static int cond_wait_until(struct fsr_thread *t, pthread_cond_t *c, pthread_mutex_t *m, const char *what,
			   uint64_t dl)
{
	struct timespec ts = { (time_t)(dl / 1000000000u), (long)(dl % 1000000000u) };
	int i = held_index(t, m);
	struct fsr_held h = { 0 };   /* set when i >= 0 (GCC cannot tell) */
	if (i >= 0) {
		h = t->held[i];
		fsr_lock_released(t, m);
	}
	int r = real.cond_clockwait(c, m, CLOCK_MONOTONIC, &ts);
	if (i >= 0) {
		held_put(t, &h);
	}
	if (r != ETIMEDOUT) {
		fsr_wait_done(t);
		return r;
	}
	fsr_wait_expired(t, what, c, m);
	return -1;
}

__attribute__((noinline, cold)) static int cond_bounded(struct fsr_thread *t, pthread_cond_t *c,
							pthread_mutex_t *m, const char *what, void *site)
{
	uint64_t dl;
	if (!real.cond_clockwait || !fsr_wait_bounded(t, c, m, site, &dl))
		return -1;
	return cond_wait_until(t, c, m, what, dl);
}

/* A timed wait whose deadline (abstime on clock ck) is later than the
 * callback's is bounded the same way.  pthread_cond_timedwait's clock is
 * the condition's attribute, which glibc does not expose: it is read as
 * CLOCK_REALTIME, and a CLOCK_MONOTONIC deadline so read lies far in the
 * past, so the wait is then left to its own (earlier) deadline. */
__attribute__((noinline, cold)) static int cond_timed_bounded(struct fsr_thread *t, pthread_cond_t *c,
							      pthread_mutex_t *m, clockid_t ck,
							      const struct timespec *abstime,
							      const char *what, void *site)
{
	uint64_t dl;
	if (!real.cond_clockwait || !abstime || (unsigned long)abstime->tv_nsec >= 1000000000ul ||
	    (ck != CLOCK_REALTIME && ck != CLOCK_MONOTONIC) || !fsr_wait_bounded(t, c, m, site, &dl))
		return -1;
	struct timespec now;
	clock_gettime(ck, &now);
	int64_t theirs = ((int64_t)abstime->tv_sec - (int64_t)now.tv_sec) * 1000000000 +
			 (abstime->tv_nsec - now.tv_nsec);
	int64_t ours = (int64_t)dl - (int64_t)fsr_now_ns();
	if (theirs <= ours) {
		fsr_wait_done(t);       /* its own deadline comes first */
		return -1;
	}
	return cond_wait_until(t, c, m, what, dl);
}

FSR_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	struct fsr_thread *t = &fsr_self;
	ENSURE();
	if (unlikely(t->cb_guard != NULL)) {
		int r = cond_bounded(t, c, m, "pthread_cond_wait", SITE);
		if (r >= 0)
			return r;
	}
	COND_WAIT(t, m, real.cond_wait(c, m));
}

FSR_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts)
{
	struct fsr_thread *t = &fsr_self;
	ENSURE();
	if (unlikely(t->cb_guard != NULL)) {
		int r = cond_timed_bounded(t, c, m, CLOCK_REALTIME, ts, "pthread_cond_timedwait", SITE);
		if (r >= 0)
			return r;
	}
	COND_WAIT(t, m, real.cond_timedwait(c, m, ts));
}

FSR_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t ck, const struct timespec *ts)
{
	struct fsr_thread *t = &fsr_self;
	ENSURE();
	if (unlikely(t->cb_guard != NULL)) {
		int r = cond_timed_bounded(t, c, m, ck, ts, "pthread_cond_clockwait", SITE);
		if (r >= 0)
			return r;
	}
	COND_WAIT(t, m, real.cond_clockwait(c, m, ck, ts));
}

/* ---- rwlocks ---- */

FSR_EXPORT int pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *a)
{
	ENSURE();
	int r = real.rw_init(l, a);
	if (r == 0 && !fsr_self.busy)
		fsr_lock_init_instance(l, FSR_LOCK_RWLOCK, SITE);
	return r;
}

FSR_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
	ENSURE();
	if (!fsr_self.busy)
		fsr_lock_forget_instance(l);
	return real.rw_destroy(l);
}

/* the trylock first (TOOK: took or took_hot) and what follows it */
#define RW_LOCK(l, read, tryfn, op, TOOK, site)                                 \
	int r = tryfn(l);                                                      \
	if (likely(r == 0))                                                    \
		return TOOK(l, FSR_LOCK_RWLOCK, read, site);                   \
	if (r != EBUSY)                                                        \
		return r;                                                      \
	return contended(&fsr_self, l, op, FSR_LOCK_RWLOCK, read, site)
#define took_op(l, kind, read, site) took(&fsr_self, l, kind, read, site)
#define RW_LOCK_FNS(name, read, tryfn, blockfn, op)                             \
	__attribute__((noinline)) static int name##_other(pthread_rwlock_t *l, void *site) \
	{                                                                      \
		ENSURE();                                                      \
		if (fsr_self.busy)                                             \
			return blockfn(l);                                     \
		RW_LOCK(l, read, tryfn, op, took_op, site);                    \
	}                                                                      \
	FSR_EXPORT int pthread_##name(pthread_rwlock_t *l)                     \
	{                                                                      \
		if (unlikely(!hot_track()))                                    \
			return name##_other(l, SITE);                          \
		RW_LOCK(l, read, tryfn, op, took_hot, SITE);                   \
	}
RW_LOCK_FNS(rwlock_rdlock, 1, real.rw_tryrdlock, real.rw_rdlock, OP_RD)
RW_LOCK_FNS(rwlock_wrlock, 0, real.rw_trywrlock, real.rw_wrlock, OP_WR)
#undef RW_LOCK_FNS

#define RW_TRY(l, read, tryfn)                                                  \
	ENSURE();                                                              \
	int r = tryfn(l);                                                      \
	if (r == 0 && TRACK(&fsr_self))                                        \
		return took_try(&fsr_self, l, FSR_LOCK_RWLOCK, read, SITE);    \
	return r

FSR_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l) { RW_TRY(l, 1, real.rw_tryrdlock); }
FSR_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l) { RW_TRY(l, 0, real.rw_trywrlock); }

#define RW_TIMED(l, read, tryfn, call)                                          \
	struct fsr_thread *t = &fsr_self;                                      \
	ENSURE();                                                              \
	if (!TRACK(t))                                                         \
		return (call);                                                 \
	int r = tryfn(l);                                                      \
	if (r == 0)                                                            \
		return took(t, l, FSR_LOCK_RWLOCK, read, SITE);                \
	if (r != EBUSY)                                                        \
		return r;                                                      \
	TIMED_CONTENDED(t, l, FSR_LOCK_RWLOCK, read, SITE, (call));            \
	if (r == 0)                                                            \
		fsr_lock_acquired(t, l, FSR_LOCK_RWLOCK, read, SITE, 0);      \
	return r

#define RW_BAD(c, ts, call) do { if (unlikely(abstime_bad(c, ts))) { ENSURE(); return (call); } } while (0)
FSR_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *ts)
{
	RW_BAD(CLOCK_REALTIME, ts, real.rw_timedrdlock(l, ts));
	RW_TIMED(l, 1, real.rw_tryrdlock, real.rw_timedrdlock(l, ts));
}
FSR_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *ts)
{
	RW_BAD(CLOCK_REALTIME, ts, real.rw_timedwrlock(l, ts));
	RW_TIMED(l, 0, real.rw_trywrlock, real.rw_timedwrlock(l, ts));
}
FSR_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t c, const struct timespec *ts)
{
	RW_BAD(c, ts, real.rw_clockrdlock(l, c, ts));
	RW_TIMED(l, 1, real.rw_tryrdlock, real.rw_clockrdlock(l, c, ts));
}
FSR_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t c, const struct timespec *ts)
{
	RW_BAD(c, ts, real.rw_clockwrlock(l, c, ts));
	RW_TIMED(l, 0, real.rw_trywrlock, real.rw_clockwrlock(l, c, ts));
}

UNLOCK_FNS(pthread_rwlock, pthread_rwlock_t, rw_unlock)

/* ---- spinlocks ---- */

FSR_EXPORT int pthread_spin_init(pthread_spinlock_t *l, int pshared)
{
	ENSURE();
	int r = real.spin_init(l, pshared);
	if (r == 0 && !fsr_self.busy)
		fsr_lock_init_instance((const void *)l, FSR_LOCK_SPIN, SITE);
	return r;
}

FSR_EXPORT int pthread_spin_destroy(pthread_spinlock_t *l)
{
	ENSURE();
	if (!fsr_self.busy)
		fsr_lock_forget_instance((const void *)l);
	return real.spin_destroy(l);
}

__attribute__((noinline)) static int spin_lock_other(pthread_spinlock_t *l, void *site)
{
	struct fsr_thread *t = &fsr_self;
	ENSURE();
	if (t->busy)
		return real.spin_lock(l);
	int r = real.spin_trylock(l);
	if (likely(r == 0))
		return took(t, (const void *)l, FSR_LOCK_SPIN, 0, site);
	return contended(t, (void *)l, OP_SPIN, FSR_LOCK_SPIN, 0, site);
}

FSR_EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
	if (unlikely(!hot_track()))
		return spin_lock_other(l, SITE);
	int r = real.spin_trylock(l);
	if (likely(r == 0))
		return took_hot((const void *)l, FSR_LOCK_SPIN, 0, SITE);
	return contended(&fsr_self, (void *)l, OP_SPIN, FSR_LOCK_SPIN, 0, SITE);
}

FSR_EXPORT int pthread_spin_trylock(pthread_spinlock_t *l)
{
	ENSURE();
	int r = real.spin_trylock(l);
	if (r == 0 && TRACK(&fsr_self))
		return took_try(&fsr_self, (const void *)l, FSR_LOCK_SPIN, 0, SITE);
	return r;
}

UNLOCK_FNS(pthread_spin, pthread_spinlock_t, spin_unlock)

/* ---- C11 ---- */

FSR_EXPORT int mtx_init(mtx_t *m, int type)
{
	ENSURE();
	int r = real.mtx_init(m, type);
	if (r == thrd_success && !fsr_self.busy)
		fsr_lock_init_instance(m, FSR_LOCK_MTX, SITE);
	return r;
}

FSR_EXPORT void mtx_destroy(mtx_t *m)
{
	ENSURE();
	if (!fsr_self.busy)
		fsr_lock_forget_instance(m);
	real.mtx_destroy(m);
}

__attribute__((noinline)) static int mtx_lock_other(mtx_t *m, void *site)
{
	struct fsr_thread *t = &fsr_self;
	ENSURE();
	if (t->busy)
		return real.mtx_lock(m);
	int r = real.mtx_trylock(m);
	if (likely(r == thrd_success))
		return took(t, m, FSR_LOCK_MTX, 0, site) + thrd_success;
	if (r != thrd_busy)
		return r;
	return contended(t, m, OP_MTX, FSR_LOCK_MTX, 0, site);
}

FSR_EXPORT int mtx_lock(mtx_t *m)
{
	if (unlikely(!hot_track()))
		return mtx_lock_other(m, SITE);
	int r = real.mtx_trylock(m);
	if (likely(r == thrd_success))
		return took_hot(m, FSR_LOCK_MTX, 0, SITE) + thrd_success;
	if (r != thrd_busy)
		return r;
	return contended(&fsr_self, m, OP_MTX, FSR_LOCK_MTX, 0, SITE);
}

FSR_EXPORT int mtx_trylock(mtx_t *m)
{
	ENSURE();
	int r = real.mtx_trylock(m);
	if (r == thrd_success && TRACK(&fsr_self))
		return took_try(&fsr_self, m, FSR_LOCK_MTX, 0, SITE) + thrd_success;
	return r;
}

FSR_EXPORT int mtx_timedlock(mtx_t *__restrict m, const struct timespec *__restrict ts)
{
	struct fsr_thread *t = &fsr_self;
	ENSURE();
	if (!TRACK(t))
		return real.mtx_timedlock(m, ts);
	int r = real.mtx_trylock(m);
	if (r == thrd_success)
		return took(t, m, FSR_LOCK_MTX, 0, SITE) + thrd_success;
	if (r != thrd_busy)
		return r;
	TIMED_CONTENDED(t, m, FSR_LOCK_MTX, 0, SITE, real.mtx_timedlock(m, ts));
	if (r == thrd_success)
		fsr_lock_acquired(t, m, FSR_LOCK_MTX, 0, SITE, 0);
	return r;
}

UNLOCK_FNS(mtx, mtx_t, mtx_unlock)
#undef UNLOCK_FNS

FSR_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
	struct fsr_thread *t = &fsr_self;
	ENSURE();
	if (unlikely(t->cb_guard != NULL)) {
		/* glibc's cnd_t and mtx_t are a pthread_cond_t and a pthread_mutex_t */
		int r = cond_bounded(t, (pthread_cond_t *)(void *)c, (pthread_mutex_t *)(void *)m, "cnd_wait", SITE);
		if (r >= 0)
			return r == 0 ? thrd_success : thrd_error;
	}
	COND_WAIT(t, m, real.cnd_wait(c, m));
}

FSR_EXPORT int cnd_timedwait(cnd_t *__restrict c, mtx_t *__restrict m, const struct timespec *__restrict ts)
{
	struct fsr_thread *t = &fsr_self;
	ENSURE();
	if (unlikely(t->cb_guard != NULL)) {
		/* C11: the deadline is TIME_UTC's, CLOCK_REALTIME */
		int r = cond_timed_bounded(t, (pthread_cond_t *)(void *)c, (pthread_mutex_t *)(void *)m,
					   CLOCK_REALTIME, ts, "cnd_timedwait", SITE);
		if (r >= 0)
			return r == 0 ? thrd_success : thrd_error;
	}
	COND_WAIT(t, m, real.cnd_timedwait(c, m, ts));
}
