/* lockdep_test - lock classes and the fs_reclaim graph, driven directly
 * (no interposition), several threads at once: built into the sanitizer
 * builds too, where TSan checks the lock-free parts.  Exit 0 on success. */
#include "lockdep.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(c, ...) do { if (!(c)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } else printf("ok   " __VA_ARGS__), printf("\n"); } while (0)

#define SITE(n) ((void *)(uintptr_t)(0x1000 + (n)))
static uint64_t hazards(void) { return __atomic_load_n(&fsr_stat_hazards, __ATOMIC_RELAXED); }

static void take(const void *l, int read, void *site)
{
	fsr_lock_acquired(fsr_thread_self(), l, FSR_LOCK_MUTEX, read, site, 1);
}
static void drop(const void *l) { fsr_lock_released(fsr_thread_self(), l); }
static void alloc_fs(void) { fsr_graph_might_alloc(fsr_thread_self(), FSR_GFP_FS | FSR_GFP_IO); }

static pthread_mutex_t s_a, s_b;       /* static storage: classed by address */

struct job { void (*fn)(void *); void *arg; };
static void *job_main(void *p) { struct job *j = p; j->fn(j->arg); return NULL; }
static void on_thread(void (*fn)(void *), void *arg)
{
	struct job j = { fn, arg };
	pthread_t t;
	pthread_create(&t, NULL, job_main, &j);
	pthread_join(t, NULL);
}

static void hold_and_alloc(void *l) { take(l, 0, SITE(1)); alloc_fs(); drop(l); }
static void reclaim_takes(void *l)
{
	struct fsr_thread *t = fsr_thread_self();
	fsr_graph_reclaim_enter(t, FSR_GFP_FS | FSR_GFP_IO);
	take(l, 0, SITE(2));
	drop(l);
	fsr_graph_reclaim_exit(t);
}
static void reclaim_reads(void *l)
{
	struct fsr_thread *t = fsr_thread_self();
	fsr_graph_reclaim_enter(t, FSR_GFP_FS | FSR_GFP_IO);
	take(l, 1, SITE(3));
	drop(l);
	fsr_graph_reclaim_exit(t);
}
static void read_and_alloc(void *l) { take(l, 1, SITE(4)); alloc_fs(); drop(l); }
static void nest(void *ab) { void **p = ab; take(p[0], 0, SITE(5)); take(p[1], 0, SITE(6)); drop(p[1]); drop(p[0]); }

#define NLOCKS 32
#define NTHREADS 4
static pthread_mutex_t *pool;
static pthread_mutex_t leaf;
static void *stress(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg * 2654435761u + 1;
	struct fsr_thread *t = fsr_thread_self();
	for (int n = 0; n < 50000; n++) {
		int i = rand_r(&seed) % NLOCKS, j = i + 1 + rand_r(&seed) % 3;
		take(&pool[i], rand_r(&seed) & 1, SITE(10 + i));
		if (j < NLOCKS)
			take(&pool[j], 0, SITE(10 + j));
		alloc_fs();
		if (j < NLOCKS)
			drop(&pool[j]);
		drop(&pool[i]);
		if (n % 64 == 0) {           /* reclaim takes only the leaf lock */
			fsr_graph_reclaim_enter(t, FSR_GFP_FS | FSR_GFP_IO);
			take(&leaf, 0, SITE(99));
			drop(&leaf);
			fsr_graph_reclaim_exit(t);
		}
		if (n % 1000 == 0) {         /* instances come and go */
			pthread_mutex_t *m = malloc(sizeof *m);
			fsr_lock_init_instance(m, FSR_LOCK_MUTEX, SITE(200));
			take(m, 0, SITE(201));
			drop(m);
			fsr_lock_forget_instance(m);
			free(m);
		}
	}
	return NULL;
}

/* two threads initialise and destroy locks that start in one line: the
 * one left initialised must keep the line marked (the unmarker and the
 * learner race without hl_lock) */
static unsigned char *shared_line;
static void *line_churn(void *arg)
{
	void *m = shared_line + (arg ? 40 : 0);
	for (int n = 0; n < 20000; n++) {
		fsr_lock_init_instance(m, FSR_LOCK_MUTEX, SITE(arg ? 81 : 80));
		fsr_lock_forget_instance(m);
	}
	if (arg)
		fsr_lock_init_instance(m, FSR_LOCK_MUTEX, SITE(81));
	return NULL;
}

int main(void)
{
	char err[256];
	fsr_options_defaults(&fsr_opt);
	if (fsr_out_init(err, sizeof err)) {
		printf("out init: %s\n", err);
		return 2;
	}
	fsr_pid = getpid();
	fsr_thread_register(fsr_thread_self());

	/* classes */
	unsigned int ca = fsr_lock_class(&s_a, FSR_LOCK_MUTEX, SITE(1));
	CHECK(ca >= FSR_CLS_FIRST && fsr_lock_class(&s_a, FSR_LOCK_MUTEX, SITE(2)) == ca,
	      "a static lock keeps its class whatever the acquisition site");
	CHECK(fsr_lock_class(&s_b, FSR_LOCK_MUTEX, SITE(1)) != ca, "two static locks: two classes");
	pthread_mutex_t *h = calloc(2, sizeof *h);
	fsr_lock_init_instance(&h[0], FSR_LOCK_MUTEX, SITE(50));
	fsr_lock_init_instance(&h[1], FSR_LOCK_MUTEX, SITE(50));
	CHECK(fsr_lock_class(&h[0], FSR_LOCK_MUTEX, SITE(7)) == fsr_lock_class(&h[1], FSR_LOCK_MUTEX, SITE(8)),
	      "two locks initialised at one site: one class");
	fsr_lock_forget_instance(&h[1]);
	fsr_lock_init_instance(&h[1], FSR_LOCK_MUTEX, SITE(51));
	CHECK(fsr_lock_class(&h[0], FSR_LOCK_MUTEX, SITE(7)) != fsr_lock_class(&h[1], FSR_LOCK_MUTEX, SITE(8)),
	      "destroyed and initialised elsewhere: a new class");

	/* heap lock lines: a destroy unmarks the line of its lock (the free
	 * after it takes no lock) unless another lock starts there; a lock
	 * freed without destroy is still forgotten by free */
	unsigned char *blk = aligned_alloc(4096, 4096);
	void *m1 = blk + 64, *m2 = blk + 64 + 40;       /* two mutexes starting in one line */
	fsr_lock_init_instance(m1, FSR_LOCK_MUTEX, SITE(60));
	unsigned int c1 = fsr_lock_class(m1, FSR_LOCK_MUTEX, SITE(7));
	CHECK(fsr_lock_free_would_probe(m1, 40), "an initialised heap lock: its line is marked");
	fsr_lock_forget_instance(m1);
	CHECK(!fsr_lock_free_would_probe(m1, 40), "destroyed: its line unmarked (free takes no lock)");
	fsr_lock_free_range(m1, 40);
	unsigned int c2 = fsr_lock_class(m1, FSR_LOCK_MUTEX, SITE(61));
	CHECK(c2 && c2 != c1, "destroyed, freed, first taken at another site: not the old class");
	fsr_lock_free_range(m1, 40);
	CHECK(!fsr_inst_lookup(fsr_inst_bucket_of(m1), (uintptr_t)m1),
	      "a lock marked again after a destroy unmarked its line: free forgets it");
	fsr_lock_init_instance(m1, FSR_LOCK_MUTEX, SITE(60));
	fsr_lock_init_instance(m2, FSR_LOCK_MUTEX, SITE(62));
	fsr_lock_forget_instance(m1);
	CHECK(fsr_lock_free_would_probe(m1, 40), "one of two locks in a line destroyed: still marked");
	fsr_lock_free_range(m2, 40);
	CHECK(!fsr_inst_lookup(fsr_inst_bucket_of(m2), (uintptr_t)m2), "the other freed undestroyed: forgotten");
	CHECK(!fsr_lock_free_would_probe(blk + 64, 64), "both gone: the line unmarked");
	void *s1 = blk + 128 + 4, *s2 = blk + 128 + 12;  /* spinlocks at 4 mod 8 */
	fsr_lock_init_instance(s1, FSR_LOCK_SPIN, SITE(63));
	fsr_lock_forget_instance(s1);
	CHECK(!fsr_lock_free_would_probe(s1, 4), "a destroyed spinlock: its line unmarked");
	CHECK(fsr_lock_class(s2, FSR_LOCK_SPIN, SITE(64)), "a spinlock first taken in that line");
	fsr_lock_free_range(blk + 128 + 8, 8);
	CHECK(!fsr_inst_lookup(fsr_inst_bucket_of(s2), (uintptr_t)s2), "... forgotten by free (the odd mark is back)");
	free(blk);
	shared_line = aligned_alloc(4096, 4096);
	pthread_t lc[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&lc[i], NULL, line_churn, (void *)(uintptr_t)i);
	for (int i = 0; i < 2; i++)
		pthread_join(lc[i], NULL);
	CHECK(fsr_lock_free_would_probe(shared_line + 40, 40),
	      "two threads churning locks in one line: the lock left keeps it marked");
	/* (its destroy need not unmark it: a race counts a lock twice) */
	fsr_lock_forget_instance(shared_line + 40);
	free(shared_line);

	/* a thread's init memo (last site -> class) keeps sites apart */
	pthread_mutex_t *im = calloc(3, sizeof *im);
	fsr_lock_init_instance(&im[0], FSR_LOCK_MUTEX, SITE(70));
	fsr_lock_init_instance(&im[1], FSR_LOCK_MUTEX, SITE(71));
	fsr_lock_init_instance(&im[2], FSR_LOCK_MUTEX, SITE(71));
	unsigned int i0 = fsr_lock_class(&im[0], FSR_LOCK_MUTEX, SITE(7)),
		     i1 = fsr_lock_class(&im[1], FSR_LOCK_MUTEX, SITE(7));
	CHECK(i0 && i1 && i0 != i1 && fsr_lock_class(&im[2], FSR_LOCK_MUTEX, SITE(7)) == i1,
	      "inits at one site after another: a class per site");
	fsr_lock_forget_instance(&im[0]);
	fsr_lock_init_instance(&im[0], FSR_LOCK_MUTEX, SITE(70));
	CHECK(fsr_lock_class(&im[0], FSR_LOCK_MUTEX, SITE(7)) == i0, "... and the same class again at the first");
	free(im);

	/* the 2-cycle through fs_reclaim, across threads, reported once */
	uint64_t h0 = hazards();
	on_thread(hold_and_alloc, &s_a);
	CHECK(hazards() == h0, "an allocation under a lock alone: no report");
	on_thread(reclaim_takes, &s_a);
	CHECK(hazards() == h0 + 1, "reclaim takes the lock: reclaim-lock-inversion");
	on_thread(hold_and_alloc, &s_a);
	on_thread(reclaim_takes, &s_a);
	CHECK(hazards() == h0 + 1, "the same cycle again: not reported twice");

	/* readers do not exclude readers */
	static pthread_rwlock_t rw;
	h0 = hazards();
	on_thread(read_and_alloc, &rw);
	on_thread(reclaim_reads, &rw);
	CHECK(hazards() == h0, "read-held while allocating, read in reclaim: no report");
	on_thread(reclaim_takes, &rw);
	CHECK(hazards() == h0 + 1, "... written in reclaim: reported");

	/* a 3-lock cycle, and an excluded class */
	static pthread_mutex_t x, y, z;
	h0 = hazards();
	void *xy[2] = { &x, &y }, *yz[2] = { &y, &z };
	on_thread(reclaim_takes, &x);
	on_thread(nest, xy);
	on_thread(nest, yz);
	CHECK(hazards() == h0, "fs_reclaim -> x -> y -> z: no cycle yet");
	on_thread(hold_and_alloc, &z);
	CHECK(hazards() == h0 + 1, "z held while allocating closes z -> fs_reclaim -> x -> y -> z");
	static pthread_mutex_t ex;
	fsr_lock_exclude_addr(&ex);
	h0 = hazards();
	on_thread(reclaim_takes, &ex);
	on_thread(hold_and_alloc, &ex);
	CHECK(hazards() == h0, "an excluded lock: no report");

	/* several threads at once, a correct locking discipline */
	pool = calloc(NLOCKS, sizeof *pool);
	for (int i = 0; i < NLOCKS; i++)
		fsr_lock_init_instance(&pool[i], FSR_LOCK_MUTEX, SITE(300 + i));
	h0 = hazards();
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, stress, (void *)(uintptr_t)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	CHECK(hazards() == h0, "4 threads, 32 locks in order, reclaim takes a leaf: no report");
	CHECK(fsr_thread_self()->nheld == 0, "nothing left held");

	printf("%d failure%s\n", failures, failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
