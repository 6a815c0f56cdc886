/* A 3-lock cycle through fs_reclaim, across threads:
 *   inode_lock -> fs_reclaim      (a thread allocates holding inode_lock)
 *   fs_reclaim -> lru_lock        (the shrinker takes lru_lock)
 *   lru_lock -> journal_lock      (a thread takes journal_lock under lru_lock)
 *   journal_lock -> inode_lock    (a thread takes inode_lock under journal_lock)
 * The threads run one after another: nothing really deadlocks, the graph
 * predicts it (run with interval=0).  "ordered": journal_lock is never
 * taken before inode_lock: no cycle. */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t inode_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lru_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t journal_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread void *volatile keep;   /* per thread: threads churn at once */
static int ordered;

static unsigned long lru_count(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return 10; }
__attribute__((noinline)) static unsigned long lru_scan(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	(void)s; (void)gfp;
	pthread_mutex_lock(&lru_lock);
	pthread_mutex_unlock(&lru_lock);
	return nr;
}
static struct fsr_shrinker shrinker = { "lru", lru_count, lru_scan, FSR_SHRINKER_FS, NULL };

__attribute__((noinline)) static void *grow_inode(void *a)
{
	(void)a;
	pthread_mutex_lock(&inode_lock);
	keep = malloc(512);
	free(keep);
	pthread_mutex_unlock(&inode_lock);
	return NULL;
}

__attribute__((noinline)) static void *lru_to_journal(void *a)
{
	(void)a;
	pthread_mutex_lock(&lru_lock);
	pthread_mutex_lock(&journal_lock);
	pthread_mutex_unlock(&journal_lock);
	pthread_mutex_unlock(&lru_lock);
	return NULL;
}

__attribute__((noinline)) static void *journal_to_inode(void *a)
{
	(void)a;
	if (ordered) {
		pthread_mutex_lock(&inode_lock);
		pthread_mutex_lock(&journal_lock);
	} else {
		pthread_mutex_lock(&journal_lock);
		pthread_mutex_lock(&inode_lock);
	}
	pthread_mutex_unlock(&inode_lock);
	pthread_mutex_unlock(&journal_lock);
	return NULL;
}

__attribute__((noinline)) static void teach(void)
{
	fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO);
	lru_scan(&shrinker, 1, FSR_GFP_FS | FSR_GFP_IO);
	fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
}

int main(int argc, char **argv)
{
	ordered = argc > 1 && !strcmp(argv[1], "ordered");
	fsr_register_shrinker(&shrinker);
	teach();
	void *(*steps[3])(void *) = { lru_to_journal, journal_to_inode, grow_inode };
	for (int i = 0; i < 3; i++) {
		pthread_t t;
		pthread_create(&t, NULL, steps[i], NULL);
		pthread_join(t, NULL);
	}
	printf("done\n");
	return 0;
}
