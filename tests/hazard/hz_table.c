/* One hazard: an entry table whose lock is held while allocating, and a
 * shrinker that takes the same lock to evict entries.
 *   hz_table deadlock [fixed]  inserts from a worker thread (run with interval=1:
 *                              handoff finds the real deadlock)
 *   hz_table predict [fixed]   interval=0: the reclaim path is taught with
 *                              fsr_reclaim_acquire, then the insertions
 *                              predict the inversion
 *   hz_table limit [fixed]     interval=0 limit=...: one pass while the heap
 *                              is over the limit (no lock held) teaches
 *                              fs_reclaim -> table_lock
 * "fixed": the allocation under table_lock is in a NOFS scope. */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long nentries = 1000;
static int fixed;
static __thread void *volatile keep;   /* per thread: threads churn at once */

static unsigned long count_entries(struct fsr_shrinker *s, unsigned int gfp)
{
	(void)s; (void)gfp;
	return nentries;
}

__attribute__((noinline)) static unsigned long evict_entries(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	(void)s; (void)gfp;
	pthread_mutex_lock(&table_lock);
	unsigned long n = nr < nentries ? nr : nentries;
	nentries -= n;
	pthread_mutex_unlock(&table_lock);
	return n;
}

static struct fsr_shrinker shrinker = {
	.name = "entry-table", .count_objects = count_entries,
	.scan_objects = evict_entries, .flags = FSR_SHRINKER_FS,
};

__attribute__((noinline)) static void insert_entry(void)
{
	pthread_mutex_lock(&table_lock);
	unsigned int f = fixed ? memalloc_nofs_save() : 0;
	keep = malloc(256);            /* the allocation under table_lock */
	free(keep);
	nentries++;
	if (fixed)
		memalloc_nofs_restore(f);
	pthread_mutex_unlock(&table_lock);
}

static void *inserter(void *a)
{
	(void)a;
	for (int i = 0; i < 50; i++)
		insert_entry();
	return NULL;
}

__attribute__((noinline)) static void teach_reclaim_path(void)
{
	fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO);
	evict_entries(&shrinker, 1, FSR_GFP_FS | FSR_GFP_IO);
	fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "deadlock";
	fixed = argc > 2 && !strcmp(argv[2], "fixed");
	fsr_register_shrinker(&shrinker);
	if (!strcmp(mode, "predict"))
		teach_reclaim_path();
	else if (!strcmp(mode, "limit")) {
		/* over the limit: the next allocation gets a pass, no lock held */
		char *volatile big = malloc(8 << 20);
		memset(big, 1, 8 << 20);
		keep = malloc(16);
		free(keep);
		free(big);
	} else if (strcmp(mode, "deadlock")) {
		fprintf(stderr, "usage: hz_table deadlock|predict|limit [fixed]\n");
		return 2;
	}
	pthread_t t;
	pthread_create(&t, NULL, inserter, NULL);
	pthread_join(t, NULL);
	fsr_unregister_shrinker(&shrinker);
	printf("done\n");
	return 0;
}
