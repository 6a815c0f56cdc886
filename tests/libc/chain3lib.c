/* chain3lib.c - the third thread's code for tests/libc/chain3.c, in a
 * library of its own that libc.sh strips (its debug info only on the test's
 * debuginfod server): nothing else in the report is in this module, so
 * its frames are named only if the report's prefetch covered this thread's
 * stack and the site of the lock it holds. */
#include <pthread.h>
#include <sched.h>

__attribute__((noinline)) void chain3_hold_then_wait(pthread_mutex_t *held, pthread_mutex_t *wanted,
						     int *holding, const int *go)
{
	pthread_mutex_lock(held);                    /* MARK: chain3 holds */
	__atomic_store_n(holding, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(go, __ATOMIC_ACQUIRE))
		sched_yield();                       /* no allocation: no pass while lock_b is held */
	pthread_mutex_lock(wanted);                  /* MARK: chain3 blocks */
	pthread_mutex_unlock(wanted);
	pthread_mutex_unlock(held);
}
