/* kdaemon.c - a kernel-style daemon written only against <fsreclaim/linux.h>,
 * as ported kernel filesystem code is: kmalloc with masks, __vmalloc,
 * might_alloc, memalloc_nofs_save, and a superblock cache shrinker in the
 * Linux 6.7+ shape (shrinker_alloc/shrinker_register/shrinker_free) beside
 * one in the 6.0-6.6 shape (register_shrinker(s, name)).  Both shrinkers
 * take sb_lock, as a superblock shrinker takes its fs's locks.
 *   kdaemon MODE: one seeded bug per mode, or the clean twin
 *     clean                  everything done right (also quiet with
 *                            detect_needless_nofs=1 and vmalloc_model=legacy)
 *     gfp-kernel-under-lock  kmalloc(GFP_KERNEL) under sb_lock, no scope
 *     might-alloc-under-lock might_alloc(GFP_KERNEL) under sb_lock, no scope
 *     vmalloc-nofs           __vmalloc(GFP_NOFS) under sb_lock (a bug before 5.17)
 *     needless-mask          kmalloc(GFP_NOFS) with no lock held ("just in case")
 *     redundant-mask         kmalloc(GFP_NOFS) inside a memalloc_nofs_save() scope
 * Prints the shrinkers' scan counts; exits 0 (the shim's exitcode aside). */
#include <fsreclaim/linux.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t sb_lock = PTHREAD_MUTEX_INITIALIZER;
/* an allocation whose result is never used may be elided by the compiler
 * (kmalloc(GFP_KERNEL) is malloc itself): the blocks go through here */
static void *volatile sink;
#define USE(p) (sink = (p), sink)
static unsigned long cached = 1000, new_scans, old_scans;

static unsigned long sb_count(struct shrinker *s, struct shrink_control *sc)
{
	(void)s; (void)sc;
	return __atomic_load_n(&cached, __ATOMIC_RELAXED);
}

static unsigned long sb_scan(struct shrinker *s, struct shrink_control *sc)
{
	if (!(sc->gfp_mask & __GFP_FS))
		return SHRINK_STOP;          /* as super_cache_scan() */
	pthread_mutex_lock(&sb_lock);
	unsigned long n = sc->nr_to_scan < cached ? sc->nr_to_scan : cached;
	cached -= n / 2;
	if (s->private_data == &new_scans)
		new_scans++;
	else
		old_scans++;
	pthread_mutex_unlock(&sb_lock);
	return n / 2;
}

static struct shrinker old_shape = { .count_objects = sb_count, .scan_objects = sb_scan, .seeks = DEFAULT_SEEKS };

/* ---- the clean twin: each call as the document advises ---- */
__attribute__((noinline)) void sb_write_locked(void)
{
	pthread_mutex_lock(&sb_lock);
	unsigned int nofs = memalloc_nofs_save();      /* sb_lock is taken by reclaim */
	kfree(USE(kmalloc(128, GFP_KERNEL)));
	vfree(USE(__vmalloc(4096, GFP_KERNEL)));
	memalloc_nofs_restore(nofs);
	kfree(USE(kmalloc(64, GFP_NOFS)));                  /* the traditional way: also right */
	might_alloc(GFP_NOFS);
	kfree(USE(kmalloc(32, GFP_NOWAIT)));                /* never reclaims */
	pthread_mutex_unlock(&sb_lock);
	kvfree(USE(kvmalloc(8192, GFP_KERNEL)));
	char *z = kzalloc(64, GFP_KERNEL);
	kfree(USE(krealloc(z, 256, GFP_KERNEL)));
	kfree(USE(kcalloc(4, 16, GFP_KERNEL)));
}

/* ---- the seeded bugs ---- */
__attribute__((noinline)) void sb_alloc_under_lock(void)
{
	pthread_mutex_lock(&sb_lock);
	kfree(USE(kmalloc(128, GFP_KERNEL)));   /* BUG: reclaim may run sb_scan, which takes sb_lock */
	pthread_mutex_unlock(&sb_lock);
}

__attribute__((noinline)) void sb_might_alloc_locked(void)
{
	pthread_mutex_lock(&sb_lock);
	might_alloc(GFP_KERNEL);           /* BUG: an allocation here could recurse into sb_scan */
	pthread_mutex_unlock(&sb_lock);
}

__attribute__((noinline)) void sb_vmalloc_locked(void)
{
	pthread_mutex_lock(&sb_lock);
	vfree(USE(__vmalloc(4096, GFP_NOFS)));  /* BUG before Linux 5.17: vmalloc ignores the mask */
	pthread_mutex_unlock(&sb_lock);
}

__attribute__((noinline)) void sb_stat_unlocked(void)
{
	kfree(USE(kmalloc(64, GFP_NOFS)));      /* "just in case": no lock that reclaim takes is held */
}

__attribute__((noinline)) void sb_scoped_redundant(void)
{
	pthread_mutex_lock(&sb_lock);
	unsigned int nofs = memalloc_nofs_save();
	kfree(USE(kmalloc(64, GFP_NOFS)));      /* the scope already says NOFS */
	memalloc_nofs_restore(nofs);
	pthread_mutex_unlock(&sb_lock);
}

static const char *mode;

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		kfree(USE(kmalloc(256, GFP_KERNEL)));   /* outside locks: reclaim runs the shrinkers */
		if (!strcmp(mode, "clean"))
			sb_write_locked();
		else if (!strcmp(mode, "gfp-kernel-under-lock"))
			sb_alloc_under_lock();
		else if (!strcmp(mode, "might-alloc-under-lock"))
			sb_might_alloc_locked();
		else if (!strcmp(mode, "vmalloc-nofs"))
			sb_vmalloc_locked();
		else if (!strcmp(mode, "needless-mask"))
			sb_stat_unlocked();
		else if (!strcmp(mode, "redundant-mask"))
			sb_scoped_redundant();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "clean", "gfp-kernel-under-lock", "might-alloc-under-lock",
		"vmalloc-nofs", "needless-mask", "redundant-mask" };
	int known = 0;
	mode = argc > 1 ? argv[1] : "";
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		known |= !strcmp(mode, modes[i]);
	if (!known) {
		fprintf(stderr, "usage: kdaemon clean|gfp-kernel-under-lock|might-alloc-under-lock|"
			"vmalloc-nofs|needless-mask|redundant-mask\n");
		return 2;
	}
	struct shrinker *sb = shrinker_alloc(0, "kdaemon-%s", "sb");
	if (!sb)
		return 1;
	sb->count_objects = sb_count;
	sb->scan_objects = sb_scan;
	sb->private_data = &new_scans;
	shrinker_register(sb);
	if (register_shrinker(&old_shape, "kdaemon-%s", "old") != 0)
		return 1;
	pthread_t th;
	pthread_create(&th, NULL, worker, NULL);
	pthread_join(th, NULL);
	unregister_shrinker(&old_shape);
	shrinker_free(sb);
	printf("new_scans=%lu old_scans=%lu\n", new_scans, old_scans);
	return 0;
}
