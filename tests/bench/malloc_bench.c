/* malloc_bench.c - the cost of the shim on the malloc family.
 *
 *   malloc_bench WORKLOAD THREADS [OPS]
 * WORKLOAD: mixed | small (malloc/free of 16 B-64 KiB log-uniform, or
 * 16-512 B), realloc-mixed | realloc-small (chains of 8 reallocs of one
 * block, then free), kmalloc-mixed | kmalloc-small (as mixed and small,
 * through fsr_kmalloc(n, FSR_GFP_KERNEL) and fsr_kfree), kmalloc-named-mixed |
 * kmalloc-named-small (the shim's exported fsr_kmalloc, found with dlsym, as
 * a ctypes or Rust caller reaches it; malloc without the shim).  Each thread keeps 64 live blocks and does OPS
 * operations (default 4M small, 2M mixed) after an untimed warm-up of
 * 64K operations (the same loop).  One cheap FS shrinker is registered
 * through fsreclaim.h (a no-op without the shim).  Prints `ns_per_op=X`
 * (wall time from the start barrier to the last join / OPS per thread),
 * `cpu_ns_per_op=Y` (CPU time of the whole process over that interval,
 * reclaimer thread included, / total OPS) and `p10_ns_per_op`,
 * `p50_ns_per_op`: the timed loop runs in chunks of 4096 operations (one
 * pass over the size table), each timed by the wall clock, and these are
 * the 10th percentile and the median chunk per operation, averaged over
 * the threads.  On a loaded machine a whole run's time carries every
 * preemption and neighbour's burst that hit it; the low chunks are the
 * loop undisturbed, the steadiest figure of the four.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* RTLD_DEFAULT */
#endif
#include <fsreclaim.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 64
#define TABLE 4096

static int workload;          /* 0 mixed, 1 small, 2 realloc-mixed, 3 realloc-small, 4/5 kmalloc-mixed/small,
				 6/7 kmalloc-named-mixed/small */
static void *plain_kmalloc(size_t n, unsigned int gfp) { (void)gfp; return malloc(n); }
static void *(*named_kmalloc)(size_t, unsigned int) = plain_kmalloc;
static long ops;
static size_t sizes[TABLE];
static pthread_barrier_t start;
static volatile unsigned long cached = 1000, scans;

static unsigned long cheap_count(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return cached; }
static unsigned long cheap_scan(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	(void)s; (void)gfp;
	scans++;
	return nr;
}
static struct fsr_shrinker cheap = { "bench-cheap", cheap_count, cheap_scan, FSR_SHRINKER_FS, NULL };

static uint64_t xs(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13; x ^= x >> 7; x ^= x << 17;
	return *s = x;
}

/* one chunk of the loop is one pass over the size table (the same sizes,
 * in the same order, in every chunk and every variant) */
#define CHUNK TABLE
#define WARM (16 * CHUNK)     /* per thread, before the start barrier */

struct wstate {
	uint64_t seed;
	unsigned k;
	void *slot[SLOTS];
	unsigned char len[SLOTS];
	double *chunk_ns;        /* wall ns of each timed chunk */
	long nchunks;
	double quant[2];         /* this thread's p10 and p50 chunk, ns per op */
};

static struct wstate ws[64];
static struct wstate *ws_base(void) { return ws; }

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* n iterations of the workload, i counting on from i0 */
static void run(struct wstate *w, long i0, long n)
{
	void **slot = w->slot;
	unsigned char *len = w->len;
	uint64_t seed = w->seed;
	unsigned k = w->k;
	if (workload >= 6) {
		for (long i = i0; i < i0 + n; i++) {
			unsigned j = (unsigned)xs(&seed) % SLOTS;
			free(slot[j]);
			char *p = named_kmalloc(sizes[k++ % TABLE], FSR_GFP_KERNEL);
			p[0] = (char)i;
			slot[j] = p;
		}
	} else if (workload >= 4) {
		for (long i = i0; i < i0 + n; i++) {
			unsigned j = (unsigned)xs(&seed) % SLOTS;
			fsr_kfree(slot[j]);
			char *p = fsr_kmalloc(sizes[k++ % TABLE], FSR_GFP_KERNEL);
			p[0] = (char)i;
			slot[j] = p;
		}
	} else if (workload < 2) {
		for (long i = i0; i < i0 + n; i++) {
			unsigned j = (unsigned)xs(&seed) % SLOTS;
			free(slot[j]);
			char *p = malloc(sizes[k++ % TABLE]);
			p[0] = (char)i;
			slot[j] = p;
		}
	} else {
		for (long i = i0; i < i0 + n; i++) {
			unsigned j = (unsigned)xs(&seed) % SLOTS;
			if (len[j] == 8) {
				free(slot[j]);
				slot[j] = NULL;
				len[j] = 0;
			}
			char *p = realloc(slot[j], sizes[k++ % TABLE] * (len[j] + 1u) / 8 + 16);
			p[0] = (char)i;
			slot[j] = p;
			len[j]++;
		}
	}
	w->seed = seed;
	w->k = k;
}

/* ---- the interleaved comparison (MALLOC_BENCH_PAIR=FORWARD.so) ----
 * Three arms in one thread, one chunk each in turn: the process's malloc
 * family (the shim's when it is preloaded), the forwarding preload's
 * (dlopen'd locally: its malloc, not the interposed one) and glibc's
 * __libc_* entry points (plain: glibc's malloc is __libc_malloc).  All
 * three are called through pointers, so the caller's side is the same
 * and the ratio of two adjacent chunks is the callee's difference,
 * measured microseconds apart instead of runs apart. */
struct arm {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*realloc)(void *, size_t);
};
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_realloc(void *, size_t);
static struct arm arms[3];     /* 0 the process's, 1 forward, 2 glibc */
static int cmp_double(const void *a, const void *b);

static double run_arm(struct wstate *w, const struct arm *a, long n)
{
	void **slot = w->slot;
	unsigned char *len = w->len;
	uint64_t seed = w->seed;
	unsigned k = w->k;
	double t0 = now_ns();
	if (workload < 2) {
		for (long i = 0; i < n; i++) {
			unsigned j = (unsigned)xs(&seed) % SLOTS;
			a->free(slot[j]);
			char *p = a->malloc(sizes[k++ % TABLE]);
			p[0] = (char)i;
			slot[j] = p;
		}
	} else {
		for (long i = 0; i < n; i++) {
			unsigned j = (unsigned)xs(&seed) % SLOTS;
			if (len[j] == 8) {
				a->free(slot[j]);
				slot[j] = NULL;
				len[j] = 0;
			}
			char *p = a->realloc(slot[j], sizes[k++ % TABLE] * (len[j] + 1u) / 8 + 16);
			p[0] = (char)i;
			slot[j] = p;
			len[j]++;
		}
	}
	double t1 = now_ns();
	w->seed = seed;
	w->k = k;
	return t1 - t0;
}

static double median_of(double *v, long n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double pair_ratio[64][3];   /* per thread: median of process/forward, forward/glibc, process/glibc */

static void *pair_worker(void *arg)
{
	struct wstate *w = arg;
	int me = (int)(w - ws_base());
	for (int a = 0; a < 3; a++)
		run_arm(w, &arms[a], WARM / 3);
	pthread_barrier_wait(&start);
	long cycles = ops / (3 * CHUNK);
	if (cycles < 1)
		cycles = 1;
	double *r[3];
	for (int q = 0; q < 3; q++)
		r[q] = w->chunk_ns + q * cycles;
	for (long c = 0; c < cycles; c++) {
		double t[3];
		/* ABC, CBA, ABC...: each adjacent pair in both orders */
		for (int a = 0; a < 3; a++) {
			int arm = c % 2 ? 2 - a : a;
			t[arm] = run_arm(w, &arms[arm], CHUNK);
		}
		r[0][c] = t[0] / t[1];
		r[1][c] = t[1] / t[2];
		r[2][c] = t[0] / t[2];
	}
	for (int j = 0; j < SLOTS; j++)
		free(w->slot[j]);
	for (int q = 0; q < 3; q++)
		pair_ratio[me][q] = median_of(r[q], cycles);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void *worker(void *arg)
{
	struct wstate *w = arg;
	/* warm the heap, the caches and the shim's thread state before the
	 * clock starts: a run's first allocations are not its steady cost */
	run(w, 0, WARM);
	pthread_barrier_wait(&start);
	long done = 0, c = 0;
	while (done < ops) {
		long n = ops - done < CHUNK ? ops - done : CHUNK;
		double t0 = now_ns();
		run(w, done, n);
		double t1 = now_ns();
		if (n == CHUNK)
			w->chunk_ns[c++] = t1 - t0;
		done += n;
	}
	for (int j = 0; j < SLOTS; j++)
		free(w->slot[j]);     /* fsr_kfree is free */
	/* the low chunks are the loop undisturbed: a chunk a preemption, an
	 * interrupt or a neighbour's burst hit is long, and on a shared machine
	 * most runs have some (the whole run's time carries them all) */
	if (c) {
		qsort(w->chunk_ns, (size_t)c, sizeof(double), cmp_double);
		w->quant[0] = w->chunk_ns[c / 10] / CHUNK;
		w->quant[1] = w->chunk_ns[c / 2] / CHUNK;
	}
	w->nchunks = c;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: malloc_bench mixed|small|realloc-mixed|realloc-small|kmalloc-mixed|"
			"kmalloc-small|kmalloc-named-mixed|kmalloc-named-small THREADS [OPS]\n");
		return 2;
	}
	const char *w = argv[1];
	workload = !strcmp(w, "mixed") ? 0 : !strcmp(w, "small") ? 1 : !strcmp(w, "realloc-mixed") ? 2
		 : !strcmp(w, "realloc-small") ? 3 : !strcmp(w, "kmalloc-mixed") ? 4
		 : !strcmp(w, "kmalloc-small") ? 5 : !strcmp(w, "kmalloc-named-mixed") ? 6
		 : !strcmp(w, "kmalloc-named-small") ? 7 : -1;
	void *named = dlsym(RTLD_DEFAULT, "fsr_kmalloc");
	if (named)
		named_kmalloc = (void *(*)(size_t, unsigned int))named;
	int nt = atoi(argv[2]);
	if (workload < 0 || nt < 1 || nt > 64) {
		fprintf(stderr, "malloc_bench: bad arguments\n");
		return 2;
	}
	int small = workload & 1;
	ops = argc > 3 ? atol(argv[3]) : small ? 4000000 : 2000000;
	uint64_t seed = 12345;
	for (int i = 0; i < TABLE; i++) {
		if (small)
			sizes[i] = 16 + xs(&seed) % 497;                 /* 16..512 */
		else {
			unsigned e = (unsigned)(xs(&seed) % 12);         /* 16 << 0..12: 16 B..64 KiB */
			size_t lo = (size_t)16 << e;
			sizes[i] = lo + xs(&seed) % lo;
			if (sizes[i] > 65536)
				sizes[i] = 65536;
		}
	}
	const char *pair = getenv("MALLOC_BENCH_PAIR");
	if (pair && *pair) {
		void *h = dlopen(pair, RTLD_NOW | RTLD_LOCAL);
		void *fm = h ? dlsym(h, "malloc") : NULL, *ff = h ? dlsym(h, "free") : NULL;
		void *fr = h ? dlsym(h, "realloc") : NULL;
		if (!fm || !ff || !fr || workload > 3) {
			fprintf(stderr, "malloc_bench: MALLOC_BENCH_PAIR=%s: %s\n", pair,
				workload > 3 ? "malloc and realloc workloads only" : dlerror());
			return 2;
		}
		arms[0] = (struct arm){ malloc, free, realloc };
		arms[1] = (struct arm){ (void *(*)(size_t))fm, (void (*)(void *))ff,
					(void *(*)(void *, size_t))fr };
		arms[2] = (struct arm){ __libc_malloc, __libc_free, __libc_realloc };
	} else
		pair = NULL;
	fsr_register_shrinker(&cheap);
	pthread_barrier_init(&start, NULL, (unsigned)nt + 1);
	pthread_t th[64];
	for (int i = 0; i < nt; i++) {
		ws[i].seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(i + 1);
		ws[i].k = (unsigned)(i + 1) * 977;
		ws[i].chunk_ns = malloc(((size_t)ops / CHUNK + 3) * sizeof(double));
		if (!ws[i].chunk_ns)
			return 1;
		pthread_create(&th[i], NULL, pair ? pair_worker : worker, &ws[i]);
	}
	struct timespec t0, t1, c0, c1;
	pthread_barrier_wait(&start);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (int i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fsr_unregister_shrinker(&cheap);
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	double cpu = (double)(c1.tv_sec - c0.tv_sec) * 1e9 + (double)(c1.tv_nsec - c0.tv_nsec);
	double p10 = 0, p50 = 0;
	for (int i = 0; i < nt; i++) {
		p10 += ws[i].quant[0] / nt;
		p50 += ws[i].quant[1] / nt;
	}
	if (pair) {
		double q[3] = { 0, 0, 0 };
		for (int i = 0; i < nt; i++)
			for (int k = 0; k < 3; k++)
				q[k] += pair_ratio[i][k] / nt;
		printf("pair_self_fwd=%.4f pair_fwd_libc=%.4f pair_self_libc=%.4f scans=%lu\n",
		       q[0], q[1], q[2], scans);
		return 0;
	}
	printf("ns_per_op=%.3f cpu_ns_per_op=%.3f p10_ns_per_op=%.3f p50_ns_per_op=%.3f scans=%lu\n",
	       ns / (double)ops, cpu / (double)ops / nt, p10, p50, scans);
	return 0;
}
