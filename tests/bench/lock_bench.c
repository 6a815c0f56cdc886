/* lock_bench.c - the cost of lock tracking on uncontended locks.
 *
 *   lock_bench CASE THREADS [ITERS]
 * CASE: plain    pthread_mutex_lock + unlock
 *       nested2  two mutexes, taken in order and released
 *       nested4  four, likewise
 *       rwread   pthread_rwlock_rdlock + unlock
 *       malloc   lock, malloc(64) + free, unlock (the lock benchmark: an
 *                allocation under a lock)
 *       initfree malloc(64), pthread_mutex_init, lock + unlock, destroy, free
 *                (libfuse's per-request struct: a heap mutex's whole life)
 * Each thread has its own locks (static, one cache line each: no lock is
 * contended) and runs ITERS / THREADS iterations (default 4M in all).
 * Prints `ns_per_op=X cpu_ns_per_op=Y`: wall time and process CPU time per
 * iteration (CPU time is the steadier one on a shared machine). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXT 64
static struct {
	pthread_mutex_t m[4];
	pthread_rwlock_t rw;
} __attribute__((aligned(64))) per[MAXT];
static __thread void *volatile keep;   /* per thread: no double free */
static long iters;
static int which;
static pthread_barrier_t start;

static void *loop(void *a)
{
	int k = (int)(long)a;
	pthread_mutex_t *m = per[k].m;
	pthread_barrier_wait(&start);
	switch (which) {
	case 0:
		for (long i = 0; i < iters; i++) {
			pthread_mutex_lock(&m[0]);
			pthread_mutex_unlock(&m[0]);
		}
		break;
	case 1:
		for (long i = 0; i < iters; i++) {
			pthread_mutex_lock(&m[0]);
			pthread_mutex_lock(&m[1]);
			pthread_mutex_unlock(&m[1]);
			pthread_mutex_unlock(&m[0]);
		}
		break;
	case 2:
		for (long i = 0; i < iters; i++) {
			pthread_mutex_lock(&m[0]);
			pthread_mutex_lock(&m[1]);
			pthread_mutex_lock(&m[2]);
			pthread_mutex_lock(&m[3]);
			pthread_mutex_unlock(&m[3]);
			pthread_mutex_unlock(&m[2]);
			pthread_mutex_unlock(&m[1]);
			pthread_mutex_unlock(&m[0]);
		}
		break;
	case 3:
		for (long i = 0; i < iters; i++) {
			pthread_rwlock_rdlock(&per[k].rw);
			pthread_rwlock_unlock(&per[k].rw);
		}
		break;
	case 5:
		for (long i = 0; i < iters; i++) {
			pthread_mutex_t *h = malloc(64);
			pthread_mutex_init(h, NULL);
			pthread_mutex_lock(h);
			pthread_mutex_unlock(h);
			pthread_mutex_destroy(h);
			keep = h;
			free(h);
		}
		break;
	default:
		for (long i = 0; i < iters; i++) {
			pthread_mutex_lock(&m[0]);
			keep = malloc(64);
			free(keep);
			pthread_mutex_unlock(&m[0]);
		}
	}
	return NULL;
}

static double clk(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const char *cases[] = { "plain", "nested2", "nested4", "rwread", "malloc", "initfree" };
	which = -1;
	for (int i = 0; argc > 1 && i < 6; i++)
		if (!strcmp(argv[1], cases[i]))
			which = i;
	int nt = argc > 2 ? atoi(argv[2]) : 1;
	long total = argc > 3 ? atol(argv[3]) : 4000000;
	if (which < 0 || nt < 1 || nt > MAXT || total < nt) {
		fprintf(stderr, "usage: lock_bench plain|nested2|nested4|rwread|malloc|initfree THREADS [ITERS]\n");
		return 2;
	}
	iters = total / nt;
	for (int i = 0; i < nt; i++) {
		for (int j = 0; j < 4; j++)
			per[i].m[j] = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
		per[i].rw = (pthread_rwlock_t)PTHREAD_RWLOCK_INITIALIZER;
	}
	pthread_t t[MAXT];
	pthread_barrier_init(&start, NULL, (unsigned)nt + 1);
	for (int i = 0; i < nt; i++)
		pthread_create(&t[i], NULL, loop, (void *)(long)i);
	pthread_barrier_wait(&start);
	double t0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	double t1 = clk(CLOCK_MONOTONIC), c1 = clk(CLOCK_PROCESS_CPUTIME_ID);
	double ops = (double)iters * nt;
	printf("ns_per_op=%.2f cpu_ns_per_op=%.2f\n", (t1 - t0) / ops, (c1 - c0) / ops);
	return 0;
}
