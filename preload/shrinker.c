/* shrinker.c - the registry of the filesystem's shrinkers (Linux struct
 * shrinker) and the part of a pass that calls them.
 *
 * A fixed table: registration never allocates.  Each slot has a count of
 * passes using it; fsr_shrinker_unregister() clears the slot and then waits
 * for that count to reach zero, so after it returns the shrinker is never
 * called again (Linux: unregister_shrinker + synchronize_srcu). */
#include "fsr.h"
#include <errno.h>
#include <sched.h>

#define MAX_SHRINKERS 256

static struct slot {
	struct fsr_shrinker *s;
	int users;
} slots[MAX_SHRINKERS];
static struct fsr_mutex reg_lock;
static int nslots;           /* high-water mark of used slots */

/* the shrinker this thread is calling now (unregister from inside it) */
static __thread struct fsr_shrinker *running __attribute__((tls_model("initial-exec")));

int fsr_shrinker_register(struct fsr_shrinker *s)
{
	if (!s || !s->scan_objects || !s->count_objects)
		return -EINVAL;
	int r = -ENOMEM;
	fsr_mutex_lock(&reg_lock);
	for (int i = 0; i < MAX_SHRINKERS; i++) {
		if (!__atomic_load_n(&slots[i].s, __ATOMIC_RELAXED)) {
			__atomic_store_n(&slots[i].s, s, __ATOMIC_RELEASE);
			if (i >= nslots)
				__atomic_store_n(&nslots, i + 1, __ATOMIC_RELEASE);
			r = 0;
			break;
		}
	}
	fsr_mutex_unlock(&reg_lock);
	return r;
}

void fsr_shrinker_unregister(struct fsr_shrinker *s)
{
	struct slot *found = NULL;
	fsr_mutex_lock(&reg_lock);
	for (int i = 0; i < nslots; i++)
		if (slots[i].s == s) {
			__atomic_store_n(&slots[i].s, NULL, __ATOMIC_SEQ_CST);
			found = &slots[i];
			break;
		}
	fsr_mutex_unlock(&reg_lock);
	if (!found || running == s)
		return;
	/* wait out passes that picked it up before the slot was cleared */
	while (__atomic_load_n(&found->users, __ATOMIC_SEQ_CST) > 0)
		sched_yield();
}

static int eligible(const struct fsr_shrinker *s, unsigned int gfp)
{
	if (s->flags & FSR_SHRINKER_IO)
		return !!(gfp & FSR_GFP_IO);
	return !!(gfp & FSR_GFP_FS);   /* FS, or unflagged: treated as FS */
}

int fsr_shrinkers_any(unsigned int gfp)
{
	int n = __atomic_load_n(&nslots, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++) {
		struct fsr_shrinker *s = __atomic_load_n(&slots[i].s, __ATOMIC_ACQUIRE);
		if (s && eligible(s, gfp))
			return 1;
	}
	return 0;
}

/* one shrinker's count and scan, as a callback that may be abandoned
 * (abandon.c: an inline one blocked in an untracked wait) */
struct shrink_call {
	struct slot *sl;
	struct fsr_shrinker *s;
	unsigned int gfp;
	int scanned;
};

static void shrink_one(void *arg)
{
	struct shrink_call *c = arg;
	struct fsr_shrinker *s = c->s;
	unsigned long have = s->count_objects(s, c->gfp);
	/* count_objects may have unregistered it (itself, or another
	 * thread meanwhile): once unregistered, it is never scanned */
	if (have && __atomic_load_n(&c->sl->s, __ATOMIC_SEQ_CST) == s) {
		/* Linux scans in batches of 128 (SHRINK_BATCH) */
		unsigned long nr = have < 128 ? have : 128;
		c->scanned = 1;
		s->scan_objects(s, nr, c->gfp);
	}
}

unsigned long fsr_shrinkers_run(unsigned int gfp)
{
	unsigned long calls = 0;
	int n = __atomic_load_n(&nslots, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++) {
		struct slot *sl = &slots[i];
		if (!__atomic_load_n(&sl->s, __ATOMIC_ACQUIRE))
			continue;
		__atomic_add_fetch(&sl->users, 1, __ATOMIC_SEQ_CST);
		struct fsr_shrinker *s = __atomic_load_n(&sl->s, __ATOMIC_SEQ_CST);
		if (s && eligible(s, gfp)) {
			unsigned int g = gfp;   /* as the allocation's effective mask had it */
			/* an IO shrinker is IO reclaim, also in a pass that could do
			 * FS too: the locks it takes are learned as io_reclaim -> L,
			 * which a NOFS (but not NOIO) allocation under L closes */
			unsigned int saved_gfp = fsr_self.reclaim_gfp;
			if (s->flags & FSR_SHRINKER_IO)
				fsr_self.reclaim_gfp = FSR_GFP_IO;
			running = s;
			struct shrink_call c = { sl, s, g, 0 };
			(void)fsr_cb_run(&fsr_self, shrink_one, &c);
			calls += (unsigned long)c.scanned;
			running = NULL;
			fsr_self.reclaim_gfp = saved_gfp;
		}
		__atomic_sub_fetch(&sl->users, 1, __ATOMIC_SEQ_CST);
	}
	return calls;
}

void fsr_shrinker_atfork_child(void)
{
	/* the child has only the forking thread: no pass is using any slot */
	reg_lock.v = 0;
	for (int i = 0; i < MAX_SHRINKERS; i++)
		slots[i].users = 0;
}
