/* The held stack's edge cases under the shim, each leaving nothing held:
 * more nested locks than held[] has room for (unlocked in either order), a
 * recursive mutex locked twice, an error-checking one relocked (EDEADLK)
 * and unlocked unowned (EPERM), a robust one whose owner died
 * (EOWNERDEAD), a mutex left locked by a thread that exited and unlocked
 * here after a failed trylock (EBUSY) and timedlock (ETIMEDOUT), an
 * rwlock read twice (trywrlock EBUSY), an unlock with nothing held, a
 * condition wait on a mutex below the top, and a fork child unlocking what
 * the parent held.  Then an allocation and reclaim taking every lock: an
 * entry left on held[] would be "held" at the allocation and reclaim's
 * taking it a reclaim-lock-inversion (locks.sh: no report).  Prints the
 * error codes' checks (1: as glibc returns them). */
#include <fsreclaim.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#define N 60
static pthread_mutex_t m[N], rec, ec, rob, other;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static void *volatile keep;
static void *dier(void *p) { (void)p; pthread_mutex_lock(&rob); return NULL; }
static void *taker(void *p) { (void)p; pthread_mutex_lock(&other); return NULL; }
static void probe(pthread_mutex_t *l) {
	fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO); pthread_mutex_lock(l); pthread_mutex_unlock(l);
	fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
}
int main(void)
{
	pthread_mutexattr_t a;
	for (int i = 0; i < N; i++) pthread_mutex_init(&m[i], NULL);
	pthread_mutexattr_init(&a); pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE); pthread_mutex_init(&rec, &a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK); pthread_mutex_init(&ec, &a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL); pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST); pthread_mutex_init(&rob, &a);
	pthread_mutex_init(&other, NULL);
	/* overflow */
	for (int i = 0; i < N; i++) pthread_mutex_lock(&m[i]);
	for (int i = N - 1; i >= 0; i--) pthread_mutex_unlock(&m[i]);
	/* overflow, unlocked in lock order */
	for (int i = 0; i < N; i++) pthread_mutex_lock(&m[i]);
	for (int i = 0; i < N; i++) pthread_mutex_unlock(&m[i]);
	/* recursive twice */
	pthread_mutex_lock(&rec); pthread_mutex_lock(&rec); pthread_mutex_unlock(&rec); pthread_mutex_unlock(&rec);
	/* errorcheck: EDEADLK, unlock not owned EPERM */
	pthread_mutex_lock(&ec); int r1 = pthread_mutex_lock(&ec); pthread_mutex_unlock(&ec); int r2 = pthread_mutex_unlock(&ec);
	/* robust owner dead */
	pthread_t t; pthread_create(&t, NULL, dier, NULL); pthread_join(t, NULL);
	int r3 = pthread_mutex_lock(&rob); pthread_mutex_consistent(&rob); pthread_mutex_unlock(&rob);
	/* locked by another thread (which exits holding it), trylock EBUSY, timedlock ETIMEDOUT, unlocked here */
	pthread_create(&t, NULL, taker, NULL); pthread_join(t, NULL);
	int r4 = pthread_mutex_trylock(&other);
	struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts); ts.tv_nsec += 10000000; if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
	int r5 = pthread_mutex_timedlock(&other, &ts);
	pthread_mutex_unlock(&other);
	/* rwlock: read twice, write EBUSY/EDEADLK */
	pthread_rwlock_rdlock(&rw); pthread_rwlock_rdlock(&rw); int r6 = pthread_rwlock_trywrlock(&rw);
	pthread_rwlock_unlock(&rw); pthread_rwlock_unlock(&rw);
	/* unlock with nothing held */
	int r7 = pthread_mutex_unlock(&m[0]);
	/* a condition wait on m[1], below m[2]: released and retaken */
	pthread_mutex_lock(&m[1]); pthread_mutex_lock(&m[2]);
	clock_gettime(CLOCK_REALTIME, &ts); ts.tv_nsec += 5000000; if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
	int r8 = pthread_cond_timedwait(&cv, &m[1], &ts);
	pthread_mutex_unlock(&m[2]); pthread_mutex_unlock(&m[1]);
	/* a fork child unlocks what the parent holds, then probes as below */
	pthread_mutex_lock(&m[3]);
	pid_t p = fork();
	if (p == 0) {
		pthread_mutex_unlock(&m[3]);
		keep = malloc(64); free(keep);
		for (int i = 0; i < 8; i++) probe(&m[i]);
		_exit(0);
	}
	int st = -1;
	waitpid(p, &st, 0);
	pthread_mutex_unlock(&m[3]);
	printf("%d %d %d %d %d %d %d %d child %d\n", r8 == ETIMEDOUT, r1 == EDEADLK, r2 == EPERM, r3 == EOWNERDEAD, r4 == EBUSY, r5 == ETIMEDOUT, r6 == EBUSY, r7, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	/* nothing held: an allocation, then reclaim takes each */
	keep = malloc(64); free(keep);
	for (int i = 0; i < N; i++) probe(&m[i]);
	probe(&rec); probe(&ec); probe(&rob); probe(&other);
	return 0;
}
