/* Short-lived threads (libfuse 3.14's low-level loop starts a worker for
 * almost every request): each thread takes the table lock, makes 4
 * allocations under it and exits; the shrinker takes the same lock.  With
 * the interval counted per thread from zero, interval=7 never gives a
 * pass and the deadlock is never seen (issue 11 item 24).
 * Usage: hz_shortlived NTHREADS [count]
 * count: the shrinker takes no lock (no deadlock, so no pass is ever
 * skipped while an abandoned callback finishes): the passes counted are
 * exactly the schedule's */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static void *volatile keep[4];
static int count_only;

static unsigned long count(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return 1; }
static unsigned long evict_entries(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	(void)s; (void)gfp;
	if (count_only)
		return 0;
	pthread_mutex_lock(&table_lock);
	pthread_mutex_unlock(&table_lock);
	return nr;
}
static struct fsr_shrinker shrinker = { "table", count, evict_entries, FSR_SHRINKER_FS, NULL };

__attribute__((noinline)) static void serve_request(void)
{
	pthread_mutex_lock(&table_lock);
	for (int i = 0; i < 4; i++)
		keep[i] = malloc(64);
	for (int i = 0; i < 4; i++)
		free(keep[i]);
	pthread_mutex_unlock(&table_lock);
}

static void *worker(void *arg)
{
	(void)arg;
	serve_request();
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 50;
	count_only = argc > 2;
	fsr_register_shrinker(&shrinker);
	for (int i = 0; i < n; i++) {
		pthread_t th;
		if (pthread_create(&th, NULL, worker, NULL))
			return 1;
		pthread_join(th, NULL);
	}
	printf("done\n");
	return 0;
}
