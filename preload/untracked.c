/* untracked.c - sem_wait, a wait no lock tracker follows (a semaphore has
 * no owner), bounded inside an inline reclaim callback; and the calls that
 * wake another thread (sem_post, pthread_cond_signal/broadcast, C11's
 * cnd_signal/broadcast), noted there: a callback that handed another
 * thread work is never abandoned (abandon.c).
 *
 * Outside such a callback it is glibc's sem_wait, one TLS load later.
 * Inside one (abandon.c) it waits at most until the callback's timeout_ms
 * is used up; past that the callback is abandoned, or, where that would
 * not be sound, it waits on as asked.  Timed waits (sem_timedwait,
 * sem_clockwait) are the daemon's own bound and are left alone. */
#include "fsr.h"
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <threads.h>
#include <time.h>

typedef int (*sem_wait_fn)(sem_t *);
typedef int (*sem_clockwait_fn)(sem_t *, clockid_t, const struct timespec *);
static void *real_sem_wait, *real_sem_clockwait;

__attribute__((noinline, cold)) static int sem_bounded(struct fsr_thread *t, sem_t *s, void *site)
{
	uint64_t dl;
	sem_clockwait_fn cw = (sem_clockwait_fn)fsr_dlsym_next(&real_sem_clockwait, "sem_clockwait");
	if (!cw || !fsr_wait_bounded(t, s, NULL, site, &dl))
		return 1;
	struct timespec ts = { (time_t)(dl / 1000000000u), (long)(dl % 1000000000u) };
	int e = errno;
	int r = cw(s, CLOCK_MONOTONIC, &ts);
	if (r == 0 || errno != ETIMEDOUT) {
		fsr_wait_done(t);
		return r;            /* taken, or EINTR as sem_wait gives it */
	}
	errno = e;
	fsr_wait_expired(t, "sem_wait", s, NULL);
	return 1;
}

FSR_EXPORT int sem_wait(sem_t *s)
{
	struct fsr_thread *t = fsr_thread_self();
	if (unlikely(t->cb_guard != NULL)) {
		int r = sem_bounded(t, s, __builtin_return_address(0));
		if (r <= 0)
			return r;
	}
	sem_wait_fn f = (sem_wait_fn)__atomic_load_n(&real_sem_wait, __ATOMIC_ACQUIRE);
	if (unlikely(!f))
		f = (sem_wait_fn)fsr_dlsym_next(&real_sem_wait, "sem_wait");
	if (!f) {
		errno = ENOSYS;
		return -1;
	}
	return f(s);
}

/* the wake-ups: one TLS load outside an inline callback */
#define WAKE(ret, name, params, args, fail)                                     \
	static void *real_##name;                                               \
	FSR_EXPORT ret name params                                              \
	{                                                                       \
		struct fsr_thread *t = fsr_thread_self();                       \
		if (unlikely(t->cb_guard != NULL))                              \
			fsr_wait_woke(t);                                       \
		ret (*f) params = (ret (*) params)__atomic_load_n(&real_##name, __ATOMIC_ACQUIRE); \
		if (unlikely(!f))       /* the first call resolves it */           \
			f = (ret (*) params)fsr_dlsym_next(&real_##name, #name); \
		return f ? f args : (fail);                                     \
	}
WAKE(int, sem_post, (sem_t *s), (s), (errno = ENOSYS, -1))
WAKE(int, pthread_cond_signal, (pthread_cond_t *c), (c), ENOSYS)
WAKE(int, pthread_cond_broadcast, (pthread_cond_t *c), (c), ENOSYS)
WAKE(int, cnd_signal, (cnd_t *c), (c), thrd_error)
WAKE(int, cnd_broadcast, (cnd_t *c), (c), thrd_error)
#undef WAKE

/* sem_post is async-signal-safe: its real function is looked up here, at
 * load, never first in a signal handler (dlsym is not) */
__attribute__((constructor(160))) static void untracked_init(void)
{
	(void)fsr_dlsym_next(&real_sem_post, "sem_post");
	(void)fsr_dlsym_next(&real_sem_wait, "sem_wait");
	(void)fsr_dlsym_next(&real_sem_clockwait, "sem_clockwait");
}
