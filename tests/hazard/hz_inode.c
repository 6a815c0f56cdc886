/* Lock classes: per-inode locks made by one pthread_mutex_init call site
 * are one class, as in lockdep.  A thread allocates holding inode 0's lock;
 * the shrinker evicts inode 7, taking its lock.  No deadlock happens on
 * this run (different instances), but the same code deadlocks when the
 * shrinker picks the inode being filled: reclaim-lock-inversion.
 *   hz_inode            the hazard (interval=1)
 *   hz_inode exclude    fsr_lock_exclude() on the class: no report */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inode {
	pthread_mutex_t lock;
	int nblocks;
	void *blocks[4];
};
#define NINODES 16
static struct inode *inodes[NINODES];
static __thread void *volatile keep;

__attribute__((noinline)) static struct inode *inode_new(void)
{
	struct inode *i = calloc(1, sizeof *i);
	pthread_mutex_init(&i->lock, NULL);
	return i;
}

static unsigned long icount(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return 1; }
__attribute__((noinline)) static unsigned long evict_inode(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	(void)s; (void)gfp;
	struct inode *victim = inodes[7];
	pthread_mutex_lock(&victim->lock);
	victim->nblocks = 0;
	pthread_mutex_unlock(&victim->lock);
	return nr;
}
static struct fsr_shrinker shrinker = { "icache", icount, evict_inode, FSR_SHRINKER_FS, NULL };

__attribute__((noinline)) static void *fill_inode(void *a)
{
	struct inode *i = a;
	for (int k = 0; k < 20; k++) {
		pthread_mutex_lock(&i->lock);
		keep = malloc(4096);         /* a block, allocated under the inode's lock */
		free(keep);
		i->nblocks++;
		pthread_mutex_unlock(&i->lock);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int exclude = argc > 1 && !strcmp(argv[1], "exclude");
	for (int k = 0; k < NINODES; k++) {
		inodes[k] = inode_new();
		if (exclude)
			fsr_lock_exclude(&inodes[k]->lock);
	}
	fsr_register_shrinker(&shrinker);
	pthread_t t;
	pthread_create(&t, NULL, fill_inode, inodes[0]);
	pthread_join(t, NULL);
	fsr_unregister_shrinker(&shrinker);
	printf("done\n");
	return 0;
}
