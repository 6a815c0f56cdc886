/* needless-nofs: a NOFS scope around allocations while no lock is held
 * ("just in case"), and one around an allocation under a lock that the
 * shrinker takes (needed).  Run with detect_needless_nofs=1 interval=1. */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t dir_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread void *volatile keep;   /* per thread: threads churn at once */
static unsigned long count(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return 4; }
static unsigned long scan(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	(void)s; (void)gfp;
	pthread_mutex_lock(&dir_lock);
	pthread_mutex_unlock(&dir_lock);
	return nr;
}
static struct fsr_shrinker shrinker = { "dir", count, scan, FSR_SHRINKER_FS, NULL };

__attribute__((noinline)) static void just_in_case(void)
{
	unsigned int f = memalloc_nofs_save();
	keep = malloc(100);
	free(keep);
	memalloc_nofs_restore(f);
}

__attribute__((noinline)) static void needed_scope(void)
{
	pthread_mutex_lock(&dir_lock);
	unsigned int f = memalloc_nofs_save();
	keep = malloc(100);
	free(keep);
	memalloc_nofs_restore(f);
	pthread_mutex_unlock(&dir_lock);
}

int main(void)
{
	fsr_register_shrinker(&shrinker);
	for (int i = 0; i < 10; i++) {
		keep = malloc(10);     /* passes: reclaim takes dir_lock */
		free(keep);
		just_in_case();
		needed_scope();
	}
	printf("done\n");
	return 0;
}
