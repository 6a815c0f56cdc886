/* A correct program: several threads allocate under many locks (always in
 * index order), wait on condition variables, use rwlocks, and a shrinker
 * takes lru_lock, under which nothing allocates except in a NOFS scope.
 * Runs for SECONDS (argv[1], default 10): zero reports expected. */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NLOCKS 64
#define NTHREADS 4
static pthread_mutex_t locks[NLOCKS];
static pthread_mutex_t lru_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t tree_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static int q_items, stop;
static unsigned long lru_n = 1000;
static __thread void *volatile keep;   /* per thread: threads churn at once */
/* free(malloc()) would be optimised away */
static void churn(size_t n) { keep = malloc(n); free(keep); }

static unsigned long lru_count(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return lru_n; }
static unsigned long lru_scan(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	(void)s; (void)gfp;
	pthread_mutex_lock(&lru_lock);
	unsigned long n = nr < lru_n ? nr : lru_n;
	lru_n -= n;
	pthread_mutex_unlock(&lru_lock);
	return n;
}
static struct fsr_shrinker shrinker = { "lru", lru_count, lru_scan, FSR_SHRINKER_FS, NULL };

static void *worker(void *a)
{
	unsigned int seed = (unsigned int)(uintptr_t)a * 7919u + 1;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int i = rand_r(&seed) % NLOCKS, j = i + 1 + rand_r(&seed) % 4;
		pthread_mutex_lock(&locks[i]);
		if (j < NLOCKS)
			pthread_mutex_lock(&locks[j]);
		churn(32 + (size_t)(rand_r(&seed) % 512));
		if (j < NLOCKS)
			pthread_mutex_unlock(&locks[j]);
		pthread_mutex_unlock(&locks[i]);

		pthread_rwlock_rdlock(&tree_lock);
		churn(64);
		pthread_rwlock_unlock(&tree_lock);
		if (rand_r(&seed) % 8 == 0) {
			pthread_rwlock_wrlock(&tree_lock);
			churn(64);
			pthread_rwlock_unlock(&tree_lock);
		}

		pthread_mutex_lock(&lru_lock);     /* allocation under lru_lock: NOFS */
		unsigned int f = memalloc_nofs_save();
		churn(48);
		lru_n++;
		memalloc_nofs_restore(f);
		pthread_mutex_unlock(&lru_lock);

		pthread_mutex_lock(&q_lock);
		q_items++;
		pthread_cond_signal(&q_cond);
		pthread_mutex_unlock(&q_lock);
	}
	return NULL;
}

static void *consumer(void *a)
{
	(void)a;
	pthread_mutex_lock(&q_lock);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10000000;
		if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
		while (!q_items && !__atomic_load_n(&stop, __ATOMIC_RELAXED))
			if (pthread_cond_timedwait(&q_cond, &q_lock, &ts))
				break;
		if (q_items)
			q_items--;
		churn(16);                  /* under q_lock: fine, reclaim never takes it */
	}
	pthread_mutex_unlock(&q_lock);
	return NULL;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 10;
	pthread_t t[NTHREADS + 1];
	for (int i = 0; i < NLOCKS; i++)
		pthread_mutex_init(&locks[i], NULL);
	fsr_register_shrinker(&shrinker);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
	pthread_create(&t[NTHREADS], NULL, consumer, NULL);
	struct timespec d = { secs, 0 };
	nanosleep(&d, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&q_lock);
	pthread_cond_broadcast(&q_cond);
	pthread_mutex_unlock(&q_lock);
	for (int i = 0; i <= NTHREADS; i++)
		pthread_join(t[i], NULL);
	fsr_unregister_shrinker(&shrinker);
	printf("done\n");
	return 0;
}
