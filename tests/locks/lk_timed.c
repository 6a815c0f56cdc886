/* Timed lock calls with invalid arguments (an unsupported clock, tv_nsec
 * out of range) and valid ones, on a free lock: prints each call's result
 * and whether the lock is held afterwards.  locks.sh compares the output
 * under the shim with the plain run (glibc's own answers). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

/* after a call: is the lock held?  (a trylock from here fails) */
static const char *mutex_state(int r)
{
	if (r == 0) {
		pthread_mutex_unlock(&m);
		return "held";
	}
	int t = pthread_mutex_trylock(&m);
	if (t == 0)
		pthread_mutex_unlock(&m);
	return t == 0 ? "free" : "held-but-failed";
}

static const char *rw_state(int r)
{
	if (r == 0) {
		pthread_rwlock_unlock(&rw);
		return "held";
	}
	int t = pthread_rwlock_trywrlock(&rw);
	if (t == 0)
		pthread_rwlock_unlock(&rw);
	return t == 0 ? "free" : "held-but-failed";
}

int main(void)
{
	struct timespec now, bad_lo, bad_hi;
	clock_gettime(CLOCK_REALTIME, &now);
	now.tv_sec += 1;
	bad_lo = now; bad_lo.tv_nsec = -1;
	bad_hi = now; bad_hi.tv_nsec = 1000000000;
	const struct { const char *name; clockid_t c; const struct timespec *ts; } cases[] = {
		{ "valid", CLOCK_REALTIME, &now },
		{ "monotonic", CLOCK_MONOTONIC, &now },
		{ "cputime-clock", CLOCK_PROCESS_CPUTIME_ID, &now },
		{ "bogus-clock", (clockid_t)12345, &now },
		{ "nsec=-1", CLOCK_REALTIME, &bad_lo },
		{ "nsec=1e9", CLOCK_REALTIME, &bad_hi },
		{ "bogus-clock+nsec", (clockid_t)-7, &bad_hi },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int r;
		if (cases[i].c == CLOCK_REALTIME) {
			r = pthread_mutex_timedlock(&m, cases[i].ts);
			printf("mutex_timedlock %s: %s, %s\n", cases[i].name, strerror(r), mutex_state(r));
			r = pthread_rwlock_timedrdlock(&rw, cases[i].ts);
			printf("rwlock_timedrdlock %s: %s, %s\n", cases[i].name, strerror(r), rw_state(r));
			r = pthread_rwlock_timedwrlock(&rw, cases[i].ts);
			printf("rwlock_timedwrlock %s: %s, %s\n", cases[i].name, strerror(r), rw_state(r));
		}
		r = pthread_mutex_clocklock(&m, cases[i].c, cases[i].ts);
		printf("mutex_clocklock %s: %s, %s\n", cases[i].name, strerror(r), mutex_state(r));
		r = pthread_rwlock_clockrdlock(&rw, cases[i].c, cases[i].ts);
		printf("rwlock_clockrdlock %s: %s, %s\n", cases[i].name, strerror(r), rw_state(r));
		r = pthread_rwlock_clockwrlock(&rw, cases[i].c, cases[i].ts);
		printf("rwlock_clockwrlock %s: %s, %s\n", cases[i].name, strerror(r), rw_state(r));
	}
	return 0;
}
