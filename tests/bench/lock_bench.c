/* Lock-heavy microbenchmark: lock, allocate and free, unlock.
 *   lock_bench uncontended N     one thread, N iterations
 *   lock_bench contended N       two threads on one mutex, N iterations each
 * Prints "ns_per_op=X cpu_ns_per_op=Y": wall time and process CPU time
 * over the total iterations (CPU time is steadier on a loaded machine). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t inner = PTHREAD_MUTEX_INITIALIZER;
static void *volatile keep;
static long iters;

static void *loop(void *a)
{
	(void)a;
	for (long i = 0; i < iters; i++) {
		pthread_mutex_lock(&m);
		keep = malloc(64);
		free(keep);
		if ((i & 7) == 0) {              /* a nested lock now and then */
			pthread_mutex_lock(&inner);
			pthread_mutex_unlock(&inner);
		}
		pthread_mutex_unlock(&m);
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
	const char *mode = argc > 1 ? argv[1] : "uncontended";
	iters = argc > 2 ? atol(argv[2]) : 2000000;
	int nt = !strcmp(mode, "contended") ? 2 : 1;
	pthread_t t[2];
	double t0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
	if (nt == 1)
		loop(NULL);
	else {
		for (int i = 0; i < nt; i++)
			pthread_create(&t[i], NULL, loop, NULL);
		for (int i = 0; i < nt; i++)
			pthread_join(t[i], NULL);
	}
	double t1 = clk(CLOCK_MONOTONIC), c1 = clk(CLOCK_PROCESS_CPUTIME_ID);
	printf("ns_per_op=%.2f cpu_ns_per_op=%.2f\n", (t1 - t0) / (double)(iters * nt),
	       (c1 - c0) / (double)(iters * nt));
	return 0;
}
