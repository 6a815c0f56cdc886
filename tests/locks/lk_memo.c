/* The lock wrappers' acquisition memo (lockdep.h): an acquisition seen
 * before is one compare, and nothing else is recorded for it.  Each mode
 * first makes the memo know an acquisition, then repeats it where it must
 * record something new; the inversion that closes is reported only if it
 * did.
 *   lk_memo trylock  A then a trylock of B (no edge A -> B), then A then B
 *                    blocking: A -> B is recorded (a trylock never fills
 *                    the memo); reclaim takes A, B held at an allocation
 *   lk_memo reclaim  A taken outside reclaim, then by reclaim: fs_reclaim
 *                    -> A is recorded (reclaim is in the memo's key); A held
 *                    at an allocation
 *   lk_memo rebase   B then A, then B held when reclaim begins and A taken
 *                    in it: fs_reclaim -> A (the held stack's key is
 *                    rebased when reclaim begins); A held at an allocation
 *   lk_memo reinit   A initialised at one site and taken, destroyed and
 *                    initialised at another: its new class (the memo's
 *                    key has fsr_inst_gen); reclaim takes A, A held at an
 *                    allocation (the old class would close no cycle)
 *   lk_memo none     control: all of the above but the allocations under
 *                    the lock reclaim took: no report
 * Each reported mode exits 66 under fsreclaim-run (exitcode). */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t A = PTHREAD_MUTEX_INITIALIZER, B = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t heapish;          /* reinit: initialised at run time */
static void *volatile keep;
static int alloc_under = 1;

__attribute__((noinline)) static void alloc_holding(pthread_mutex_t *m)
{
	pthread_mutex_lock(m);
	if (alloc_under) {
		keep = malloc(96);       /* may enter reclaim, m held */
		free(keep);
	}
	pthread_mutex_unlock(m);
}

__attribute__((noinline)) static void reclaim_takes(pthread_mutex_t *m)
{
	fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO);
	pthread_mutex_lock(m);
	pthread_mutex_unlock(m);
	fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
}

static void mode_trylock(void)
{
	for (int i = 0; i < 3; i++) {
		pthread_mutex_lock(&A);
		if (pthread_mutex_trylock(&B) == 0)
			pthread_mutex_unlock(&B);
		pthread_mutex_unlock(&A);
	}
	pthread_mutex_lock(&A);
	pthread_mutex_lock(&B);          /* A -> B */
	pthread_mutex_unlock(&B);
	pthread_mutex_unlock(&A);
	reclaim_takes(&A);               /* fs_reclaim -> A */
	alloc_holding(&B);               /* B -> fs_reclaim: B -> fs_reclaim -> A -> B */
}

static void mode_reclaim(void)
{
	for (int i = 0; i < 3; i++) {
		pthread_mutex_lock(&A);
		pthread_mutex_unlock(&A);
	}
	reclaim_takes(&A);               /* fs_reclaim -> A */
	alloc_holding(&A);               /* A -> fs_reclaim */
}

static void mode_rebase(void)
{
	for (int i = 0; i < 3; i++) {
		pthread_mutex_lock(&B);
		pthread_mutex_lock(&A);
		pthread_mutex_unlock(&A);
		pthread_mutex_unlock(&B);
	}
	pthread_mutex_lock(&B);
	reclaim_takes(&A);               /* B -> A seen, fs_reclaim -> A new */
	pthread_mutex_unlock(&B);
	alloc_holding(&A);
}

/* two init sites, each in a function longer than the shim's wrapper
 * limit (lock.c's WRAP_MAX, 128 bytes: a shorter one would pass its
 * class key on to its caller, one for both) */
#define NOT_A_WRAPPER(n) __asm__ volatile(".skip " #n ", 0x90")   /* n: no two alike (identical code folding) */
__attribute__((noinline)) static void init_one(void) { pthread_mutex_init(&heapish, NULL); NOT_A_WRAPPER(192); }
__attribute__((noinline)) static void init_two(void) { pthread_mutex_init(&heapish, NULL); NOT_A_WRAPPER(200); }

static void mode_reinit(void)
{
	init_one();
	for (int i = 0; i < 3; i++)
		alloc_holding(&heapish);   /* class one -> fs_reclaim */
	pthread_mutex_destroy(&heapish);
	init_two();
	reclaim_takes(&heapish);         /* fs_reclaim -> class two */
	alloc_holding(&heapish);         /* class two -> fs_reclaim */
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "none";
	if (!strcmp(m, "trylock"))
		mode_trylock();
	else if (!strcmp(m, "reclaim"))
		mode_reclaim();
	else if (!strcmp(m, "rebase"))
		mode_rebase();
	else if (!strcmp(m, "reinit"))
		mode_reinit();
	else if (!strcmp(m, "none")) {
		alloc_under = 0;
		mode_trylock();
		mode_reclaim();
		mode_rebase();
		mode_reinit();
	} else {
		fprintf(stderr, "usage: lk_memo trylock|reclaim|rebase|reinit|none\n");
		return 2;
	}
	return 0;
}
