/* malloc_bench.c - the cost of the shim on the malloc family.
 *
 *   malloc_bench WORKLOAD THREADS [OPS]
 * WORKLOAD: mixed | small (malloc/free of 16 B-64 KiB log-uniform, or
 * 16-512 B), realloc-mixed | realloc-small (chains of 8 reallocs of one
 * block, then free), kmalloc-mixed | kmalloc-small (as mixed and small,
 * through fsr_kmalloc(n, FSR_GFP_KERNEL) and fsr_kfree), kmalloc-named-mixed |
 * kmalloc-named-small (the shim's exported fsr_kmalloc, found with dlsym, as
 * a ctypes or Rust caller reaches it; malloc without the shim).  Each thread keeps 64 live blocks and does OPS
 * operations (default 4M small, 2M mixed).  One cheap FS shrinker is
 * registered through fsreclaim.h (a no-op without the shim).  Prints
 * `ns_per_op=X` (wall time from the start barrier to the last join / OPS
 * per thread) and `cpu_ns_per_op=Y` (CPU time of the whole process over
 * that interval, reclaimer thread included, / total OPS): on a loaded
 * machine the CPU time is the steadier of the two.
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

static void *worker(void *arg)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uintptr_t)arg;
	void *slot[SLOTS] = { 0 };
	unsigned char len[SLOTS] = { 0 };
	unsigned k = (unsigned)(uintptr_t)arg * 977;
	pthread_barrier_wait(&start);
	if (workload >= 6) {
		for (long i = 0; i < ops; i++) {
			unsigned j = (unsigned)xs(&seed) % SLOTS;
			free(slot[j]);
			char *p = named_kmalloc(sizes[k++ % TABLE], FSR_GFP_KERNEL);
			p[0] = (char)i;
			slot[j] = p;
		}
	} else if (workload >= 4) {
		for (long i = 0; i < ops; i++) {
			unsigned j = (unsigned)xs(&seed) % SLOTS;
			fsr_kfree(slot[j]);
			char *p = fsr_kmalloc(sizes[k++ % TABLE], FSR_GFP_KERNEL);
			p[0] = (char)i;
			slot[j] = p;
		}
	} else if (workload < 2) {
		for (long i = 0; i < ops; i++) {
			unsigned j = (unsigned)xs(&seed) % SLOTS;
			free(slot[j]);
			char *p = malloc(sizes[k++ % TABLE]);
			p[0] = (char)i;
			slot[j] = p;
		}
	} else {
		for (long i = 0; i < ops; i++) {
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
	for (int j = 0; j < SLOTS; j++)
		free(slot[j]);     /* fsr_kfree is free */
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
	fsr_register_shrinker(&cheap);
	pthread_barrier_init(&start, NULL, (unsigned)nt + 1);
	pthread_t th[64];
	for (int i = 0; i < nt; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
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
	printf("ns_per_op=%.3f cpu_ns_per_op=%.3f scans=%lu\n", ns / (double)ops, cpu / (double)ops / nt, scans);
	return 0;
}
