/* chain3.c - a reclaim-deadlock through a third thread (issue 11, item 9):
 * the allocating thread holds lock_a and allocates; the pass's shrinker
 * takes lock_b, which the third thread (its code in libchain3, stripped)
 * holds while it waits for lock_a.  With debuginfod=1 the report names the
 * third thread's frames and the site where it took lock_b by file:line,
 * from the debug info fetched before the report's locks.
 * Run with interval=1 (handoff): the wait-for chain is
 * reclaimer -> lock_b -> third thread -> lock_a -> allocating thread. */
#include <fsreclaim.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

void chain3_hold_then_wait(pthread_mutex_t *held, pthread_mutex_t *wanted, int *holding, const int *go);

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static int b_held, a_held, armed;

static unsigned long count_objects(struct fsr_shrinker *s, unsigned int gfp)
{
	(void)s; (void)gfp;
	return 1;
}

__attribute__((noinline)) static unsigned long scan_objects(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	(void)s; (void)gfp;
	if (__atomic_load_n(&armed, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&lock_b);
		pthread_mutex_unlock(&lock_b);
	}
	return nr;
}

static struct fsr_shrinker shrinker = {
	.name = "chain3", .count_objects = count_objects,
	.scan_objects = scan_objects, .flags = FSR_SHRINKER_FS,
};

static void *third(void *arg)
{
	(void)arg;
	chain3_hold_then_wait(&lock_b, &lock_a, &b_held, &a_held);
	return NULL;
}

__attribute__((noinline)) static void allocate_under_a(void)
{
	pthread_mutex_lock(&lock_a);
	__atomic_store_n(&armed, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&a_held, 1, __ATOMIC_RELEASE);
	/* allocate once the third thread waits for lock_a (glibc's lock word
	 * is 2 with a waiter): the reclaimer then finds the whole chain at its
	 * first look, and no inversion report (which would fetch the third
	 * thread's module for its own stacks) comes before the deadlock's */
	while (__atomic_load_n(&lock_a.__data.__lock, __ATOMIC_ACQUIRE) != 2)
		sched_yield();
	void *volatile p = malloc(256);          /* the pass: its shrinker waits for lock_b */
	free(p);
	__atomic_store_n(&armed, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock_a);
}

static void *allocator(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&b_held, __ATOMIC_ACQUIRE))
		sched_yield();
	allocate_under_a();
	return NULL;
}

int main(void)
{
	pthread_t c, t;
	fsr_register_shrinker(&shrinker);
	if (pthread_create(&c, NULL, third, NULL) || pthread_create(&t, NULL, allocator, NULL))
		return 2;
	pthread_join(t, NULL);
	pthread_join(c, NULL);
	printf("chain3: done\n");
	return 0;
}
