/* shrink.c - txfs's reclaim entry points.
 *
 *  - "txfs-fs" (FSR_SHRINKER_FS): writes back dirty pages, drops clean
 *    cache pages and evicts unreferenced (orphan) inodes.  It takes journal_lock
 *    through wb_begin(), like forget, fsync and flush.
 *  - "txfs-io" (FSR_SHRINKER_IO): trims the IO layer's queue of records
 *    (writes them out); it takes io_lock.
 */
#include "txfs.h"
#include <fsreclaim.h>

struct scan_state {
	unsigned long nr, done;
};

static void scan_inode(struct tinode *in, void *arg)
{
	struct scan_state *s = arg;
	if (s->done >= s->nr || !S_ISREG(in->mode) || !in->ncache)
		return;
	cache_writeback(in);
	s->done += cache_evict_clean(in, s->nr - s->done);
}

static unsigned long fs_shrink_count(struct fsr_shrinker *sh, unsigned int gfp)
{
	return __atomic_load_n(&cache_pages_total, __ATOMIC_RELAXED) + 1;
}

static unsigned long fs_shrink_scan(struct fsr_shrinker *sh, unsigned long nr,
				    unsigned int gfp)
{
	struct scan_state s = { .nr = nr ? nr : 1, .done = 0 };
	struct wb w;

	if (!(gfp & FSR_GFP_FS))
		return 0;
	wb_begin(&w);
	s.done += tree_evict_orphans(s.nr);
	tree_for_each(scan_inode, &s);
	wb_end(&w);
	return s.done;
}

static unsigned long io_shrink_count(struct fsr_shrinker *sh, unsigned int gfp)
{
	return jio_pending() + 1;
}

static unsigned long io_shrink_scan(struct fsr_shrinker *sh, unsigned long nr,
				    unsigned int gfp)
{
	if (!(gfp & FSR_GFP_IO))
		return 0;
	return jio_trim(nr ? nr : 1);
}

static struct fsr_shrinker fs_shrinker = {
	.name = "txfs-fs",
	.count_objects = fs_shrink_count,
	.scan_objects = fs_shrink_scan,
	.flags = FSR_SHRINKER_FS,
};

static struct fsr_shrinker io_shrinker = {
	.name = "txfs-io",
	.count_objects = io_shrink_count,
	.scan_objects = io_shrink_scan,
	.flags = FSR_SHRINKER_IO,
};

void shrink_register(void)
{
	fsr_register_shrinker(&fs_shrinker);
	fsr_register_shrinker(&io_shrinker);
}

void shrink_unregister(void)
{
	fsr_unregister_shrinker(&io_shrinker);
	fsr_unregister_shrinker(&fs_shrinker);
}

/* Teach the shim's graph, once at start-up, which locks reclaim takes (as
 * Linux's dma_resv_lockdep() does): a missing scope is then reported at
 * the first allocation under such a lock, not when a pass happens to hit. */
void prime_reclaim_graph(void)
{
	/* FS reclaim (an allocation that allows FS and IO): the FS shrinker,
	 * forget, fsync and flush take journal_lock, and io_lock below it */
	fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO);
	pthread_mutex_lock(&journal_lock);
	pthread_mutex_unlock(&journal_lock);
	pthread_mutex_lock(&io_lock);
	pthread_mutex_unlock(&io_lock);
	fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
	/* IO reclaim (allowed under NOFS too): the IO shrinker takes io_lock */
	fsr_reclaim_acquire(FSR_GFP_IO);
	pthread_mutex_lock(&io_lock);
	pthread_mutex_unlock(&io_lock);
	fsr_reclaim_release(FSR_GFP_IO);
}
