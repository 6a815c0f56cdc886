/* untracked.c - sem_wait, a wait no lock tracker follows (a semaphore has
 * no owner), bounded inside an inline reclaim callback.
 *
 * Outside such a callback it is glibc's sem_wait, one TLS load later.
 * Inside one (abandon.c) it waits at most until the callback's timeout_ms
 * is used up; past that the callback is abandoned, or, where that would
 * not be sound, it waits on as asked.  Timed waits (sem_timedwait,
 * sem_clockwait) are the daemon's own bound and are left alone. */
#include "fsr.h"
#include <errno.h>
#include <semaphore.h>
#include <time.h>

typedef int (*sem_wait_fn)(sem_t *);
typedef int (*sem_clockwait_fn)(sem_t *, clockid_t, const struct timespec *);
static void *real_sem_wait, *real_sem_clockwait;

__attribute__((noinline, cold)) static int sem_bounded(struct fsr_thread *t, sem_t *s, void *site)
{
	uint64_t dl;
	sem_clockwait_fn cw = (sem_clockwait_fn)fsr_dlsym_next(&real_sem_clockwait, "sem_clockwait");
	if (!cw || !fsr_wait_bounded(t, s, site, &dl))
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
	sem_wait_fn f = (sem_wait_fn)fsr_dlsym_next(&real_sem_wait, "sem_wait");
	if (!f) {
		errno = ENOSYS;
		return -1;
	}
	return f(s);
}
