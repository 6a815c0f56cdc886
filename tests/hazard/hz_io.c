/* The IO flavour: an IO shrinker (writeback) takes wb_lock; a thread
 * allocates under wb_lock inside a NOFS scope, which still allows IO
 * reclaim.  NOIO is the fix.
 *   hz_io deadlock [fixed]   interval=1: the IO pass deadlocks (handoff)
 *   hz_io predict [fixed]    interval=0: fsr_reclaim_acquire(FSR_GFP_IO)
 *                            teaches io_reclaim -> wb_lock
 *   hz_io mixed [fixed]      interval=1:times=5: the passes all come from
 *                            plain allocations (FS and IO allowed), none
 *                            from queue_page: the IO shrinker in them must
 *                            still teach io_reclaim -> wb_lock */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t wb_lock = PTHREAD_MUTEX_INITIALIZER;
static int fixed;
static __thread void *volatile keep;

static unsigned long wb_count(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return 8; }
__attribute__((noinline)) static unsigned long wb_writeback(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	(void)s; (void)gfp;
	pthread_mutex_lock(&wb_lock);
	pthread_mutex_unlock(&wb_lock);
	return nr;
}
static struct fsr_shrinker shrinker = { "writeback", wb_count, wb_writeback, FSR_SHRINKER_IO, NULL };

__attribute__((noinline)) static void *queue_page(void *a)
{
	(void)a;
	for (int i = 0; i < 20; i++) {
		pthread_mutex_lock(&wb_lock);
		unsigned int f = fixed ? memalloc_noio_save() : memalloc_nofs_save();
		keep = malloc(128);
		free(keep);
		if (fixed)
			memalloc_noio_restore(f);
		else
			memalloc_nofs_restore(f);
		pthread_mutex_unlock(&wb_lock);
	}
	return NULL;
}

__attribute__((noinline)) static void teach_io_reclaim(void)
{
	fsr_reclaim_acquire(FSR_GFP_IO);
	wb_writeback(&shrinker, 1, FSR_GFP_IO);
	fsr_reclaim_release(FSR_GFP_IO);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "deadlock";
	fixed = argc > 2 && !strcmp(argv[2], "fixed");
	fsr_register_shrinker(&shrinker);
	if (!strcmp(mode, "predict"))
		teach_io_reclaim();
	if (!strcmp(mode, "mixed"))
		for (int i = 0; i < 10; i++) {   /* uses up times=5 with FS+IO passes */
			keep = malloc(64);
			free(keep);
		}
	pthread_t t;
	pthread_create(&t, NULL, queue_page, NULL);
	pthread_join(t, NULL);
	fsr_unregister_shrinker(&shrinker);
	printf("done\n");
	return 0;
}
