/* condlock.h - a lock built from a mutex and a condition variable (boost
 * style), which no lock tracker sees: between cond_lock and cond_unlock
 * no pthread lock is held.  The test programs that hide a reclaim hazard
 * behind it (tests/fuse/condfs.c, lockfs.c, tests/faults/robust.c) include
 * this; some of robust.c's callbacks wait on m and cv themselves. */
#ifndef FSR_TESTS_CONDLOCK_H
#define FSR_TESTS_CONDLOCK_H
#include <pthread.h>

struct condlock {
	pthread_mutex_t m;
	pthread_cond_t cv;
	int owned;              /* under m */
};
#define CONDLOCK_INITIALIZER { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

static inline void cond_lock(struct condlock *l)
{
	pthread_mutex_lock(&l->m);
	while (l->owned)
		pthread_cond_wait(&l->cv, &l->m);
	l->owned = 1;
	pthread_mutex_unlock(&l->m);
}

static inline void cond_unlock(struct condlock *l)
{
	pthread_mutex_lock(&l->m);
	l->owned = 0;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->m);
}
#endif
