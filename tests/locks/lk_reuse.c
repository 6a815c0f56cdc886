/* Lock memory reused: a zero-initialised heap mutex (never
 * pthread_mutex_init'd nor destroyed) is freed, and its memory becomes an
 * unrelated object with a mutex at the same address.
 *   lk_reuse          the old mutex is held while allocating (old -> fs_reclaim);
 *                     reclaim takes the new one (fs_reclaim -> new): no cycle,
 *                     unless the new mutex inherits the old one's class
 *   lk_reuse init     the same with the old mutex pthread_mutex_init'd (not destroyed)
 *   lk_reuse thread   the new object is locked by another thread
 *   lk_reuse spin     the same with spinlocks at offset 4 (an address 4 mod 8:
 *                     free() probes such addresses only in lines marked for one);
 *                     the old one pthread_spin_init'd, the new one given the
 *                     value of an unlocked spinlock (glibc's is 1, not 0)
 *   lk_reuse same     control: reclaim takes the journal's own lock (not
 *                     freed): a real inversion, reported
 * Exits 3 when malloc did not hand the same memory back (no test). */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct journal { pthread_mutex_t lock; int nrec; };          /* the old object */
struct cache_entry { pthread_mutex_t lock; long key, val; }; /* the new one */
static void *volatile keep;
/* called through a volatile pointer: malloc + memset would become calloc,
 * which does not take the block glibc's tcache just got back */
static void *(*volatile zero)(void *, int, size_t) = memset;

__attribute__((noinline)) static void journal_append(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	keep = malloc(128);          /* may enter reclaim, journal lock held */
	free(keep);
	j->nrec++;
	pthread_mutex_unlock(&j->lock);
}

__attribute__((noinline)) static void cache_shrink(struct cache_entry *e)
{
	fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO);      /* reclaim takes the entry's lock */
	pthread_mutex_lock(&e->lock);
	e->val = 0;
	pthread_mutex_unlock(&e->lock);
	fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
}

static void *shrink_thread(void *e) { cache_shrink(e); return NULL; }

/* spin: the lock after an int, in both objects */
struct spin_journal { int nrec; pthread_spinlock_t lock; };
struct spin_entry { int key; pthread_spinlock_t lock; long val; };

__attribute__((noinline)) static void spin_append(struct spin_journal *j)
{
	pthread_spin_lock(&j->lock);
	keep = malloc(128);
	free(keep);
	j->nrec++;
	pthread_spin_unlock(&j->lock);
}

__attribute__((noinline)) static void spin_shrink(struct spin_entry *e)
{
	fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO);
	pthread_spin_lock(&e->lock);
	e->val = 0;
	pthread_spin_unlock(&e->lock);
	fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
}

static int spin_case(void)
{
	struct spin_journal *j = malloc(sizeof *j);
	zero(j, 0, sizeof *j);
	pthread_spin_init(&j->lock, PTHREAD_PROCESS_PRIVATE);
	if (((uintptr_t)&j->lock & 7) != 4) {
		fprintf(stderr, "lk_reuse: the spinlock is not at 4 mod 8\n");
		return 3;
	}
	for (int i = 0; i < 3; i++)
		spin_append(j);
	void *old = j;
	free(j);
	struct spin_entry *e = malloc(sizeof *e);
	zero(e, 0, sizeof *e);
	if ((void *)e != old) {
		fprintf(stderr, "lk_reuse: malloc did not reuse the block\n");
		return 3;
	}
	pthread_spinlock_t unlocked;
	pthread_spin_init(&unlocked, PTHREAD_PROCESS_PRIVATE);
	e->lock = unlocked;             /* no init of e->lock itself */
	spin_shrink(e);
	free(e);
	printf("done\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "";
	if (!strcmp(how, "spin"))
		return spin_case();
	struct journal *j = malloc(sizeof *j);
	zero(j, 0, sizeof *j);
	if (!strcmp(how, "init"))
		pthread_mutex_init(&j->lock, NULL);
	for (int i = 0; i < 3; i++)
		journal_append(j);
	if (!strcmp(how, "same")) {
		cache_shrink((struct cache_entry *)(void *)j);   /* lock at offset 0 in both */
		free(j);
		return 0;
	}
	void *old = j;
	free(j);
	struct cache_entry *e = malloc(sizeof *e);
	zero(e, 0, sizeof *e);
	if ((void *)e != old) {
		fprintf(stderr, "lk_reuse: malloc did not reuse the block\n");
		return 3;
	}
	if (!strcmp(how, "thread")) {
		pthread_t t;
		pthread_create(&t, NULL, shrink_thread, e);
		pthread_join(t, NULL);
	} else
		cache_shrink(e);
	free(e);
	printf("done\n");
	return 0;
}
