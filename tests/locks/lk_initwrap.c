/* Locks initialised through one wrapper function, as ported kernel code
 * does (mutex_init(m) calling pthread_mutex_init): each lock's class is
 * keyed by the wrapper's caller, not by the one call inside the wrapper.
 *   lk_initwrap           the journal lock is held while allocating, reclaim
 *                         takes the unrelated cache lock: no cycle
 *   lk_initwrap same      control: reclaim takes the journal lock: reported
 *   lk_initwrap headline  two inode locks of one class; the thread holds the
 *                         second while allocating: the report's headline
 *                         names that instance (inode_locks+0x28) */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t journal_lock, cache_lock, inode_locks[2];
static void *volatile keep;
static volatile int ninodes = 2;      /* a loop the compiler keeps */

/* not a tail call: it checks the result */
__attribute__((noinline)) static void mutex_init(pthread_mutex_t *m)
{
	if (pthread_mutex_init(m, NULL))
		abort();
}

__attribute__((noinline)) static void alloc_under(pthread_mutex_t *m)
{
	pthread_mutex_lock(m);
	keep = malloc(128);
	free(keep);
	pthread_mutex_unlock(m);
}

__attribute__((noinline)) static void reclaim_takes(pthread_mutex_t *m)
{
	fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO);
	pthread_mutex_lock(m);
	pthread_mutex_unlock(m);
	fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "";
	mutex_init(&journal_lock);
	mutex_init(&cache_lock);
	for (int i = 0; i < ninodes; i++)
		mutex_init(&inode_locks[i]);          /* one call site: one class */
	if (!strcmp(how, "headline")) {
		reclaim_takes(&inode_locks[0]);       /* the class's first instance */
		alloc_under(&inode_locks[1]);
		return 0;
	}
	alloc_under(&journal_lock);
	reclaim_takes(!strcmp(how, "same") ? &journal_lock : &cache_lock);
	return 0;
}
