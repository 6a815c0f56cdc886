/* faults.c - programs that put the shim under the faults it must survive
 * (issue 6): each subcommand is one scenario, driven by faults.sh, which
 * bounds its time and checks the outcome.
 *
 *   slowpass         a shrinker that blocks for seconds (killed mid-pass)
 *   thread-exit      threads exit inside a scope / holding a tracked lock
 *   fork-callback    a shrinker that forks; the child allocates and exits
 *   fork-threads     fork while other threads are in passes
 *   enomem           the real allocator fails: ENOMEM passes through
 *   locks N          N live lock instances, each locked once; prints RSS
 */
#include <fsreclaim.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void churn(int n)
{
	for (int i = 0; i < n; i++) {
		void *volatile p = malloc(64);   /* volatile: gcc drops free(malloc()) */
		free(p);
	}
}

static unsigned long count10(struct fsr_shrinker *s, unsigned int g) { (void)s; (void)g; return 10; }

/* ---- slowpass ---- */
static const char *marker;
static unsigned long slow_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	if (marker) {
		FILE *f = fopen(marker, "w");
		if (f) fclose(f);
	}
	sleep(30);
	return n;
}

/* ---- fork-callback ---- */
static unsigned long fork_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	pid_t p = fork();
	if (p == 0) {
		churn(1000);          /* the child has its own shim state */
		_exit(0);
	}
	if (p > 0) {
		int st;
		waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			abort();
	}
	return n;
}

static unsigned long plain_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	churn(2);
	return n;
}

static pthread_mutex_t held_by_dead = PTHREAD_MUTEX_INITIALIZER;
static void *exit_in_scope(void *a)
{
	(void)a;
	memalloc_nofs_save();       /* never restored: a scope-leak at thread exit */
	churn(10);
	return NULL;
}
static void *exit_holding(void *a)
{
	(void)a;
	pthread_mutex_lock(&held_by_dead);
	churn(10);
	pthread_exit(NULL);          /* with the lock held */
}

static void *churner(void *a) { (void)a; churn(20000); return NULL; }

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	/* a shell starts background jobs with SIGINT ignored; a daemon has it */
	signal(SIGINT, SIG_DFL);
	static struct fsr_shrinker sh = { "faults", count10, plain_scan, FSR_SHRINKER_FS, NULL };

	if (!strcmp(what, "slowpass")) {
		marker = argc > 2 ? argv[2] : NULL;
		sh.scan_objects = slow_scan;
		fsr_register_shrinker(&sh);
		churn(1000);
		return 0;
	}
	if (!strcmp(what, "thread-exit")) {
		pthread_t t;
		fsr_register_shrinker(&sh);
		pthread_create(&t, NULL, exit_in_scope, NULL);
		pthread_join(t, NULL);
		pthread_create(&t, NULL, exit_holding, NULL);
		pthread_join(t, NULL);
		if (pthread_mutex_trylock(&held_by_dead) != EBUSY)
			return 3;
		churn(1000);                 /* passes go on after both */
		return 0;
	}
	if (!strcmp(what, "fork-callback")) {
		sh.scan_objects = fork_scan;
		fsr_register_shrinker(&sh);
		churn(2000);
		return 0;
	}
	if (!strcmp(what, "fork-threads")) {
		pthread_t t[4];
		fsr_register_shrinker(&sh);
		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, churner, NULL);
		for (int i = 0; i < 20; i++) {
			pid_t p = fork();
			if (p == 0) { churn(5000); _exit(0); }
			int st;
			if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st))
				return 4;
		}
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		return 0;
	}
	if (!strcmp(what, "enomem")) {
		fsr_register_shrinker(&sh);
		volatile size_t huge = SIZE_MAX, half = SIZE_MAX / 2;
		errno = 0;
		if (malloc(huge) || errno != ENOMEM) return 5;
		errno = 0;
		if (calloc(half, 4) || errno != ENOMEM) return 6;
		struct rlimit rl = { 256 << 20, 256 << 20 };
		setrlimit(RLIMIT_AS, &rl);
		void **keep = calloc(4096, sizeof(void *));
		int n = 0;
		for (; n < 4096; n++) {
			errno = 0;
			keep[n] = malloc(1 << 20);
			if (!keep[n]) {
				if (errno != ENOMEM) return 7;
				break;
			}
			memset(keep[n], 1, 4096);
		}
		if (n == 4096) return 8;       /* the limit never bit */
		while (n--) free(keep[n]);
		free(keep);
		churn(1000);
		printf("enomem after the real allocator failed: ok\n");
		return 0;
	}
	if (!strcmp(what, "locks")) {
		long n = argc > 2 ? atol(argv[2]) : 1000000;
		pthread_mutex_t *m = calloc((size_t)n, sizeof *m);
		if (!m) return 9;
		for (long i = 0; i < n; i++) {
			pthread_mutex_init(&m[i], NULL);
			pthread_mutex_lock(&m[i]);
			if (i % 1000 == 0) churn(1);
			pthread_mutex_unlock(&m[i]);
		}
		FILE *f = fopen("/proc/self/status", "r");
		char line[256];
		while (f && fgets(line, sizeof line, f))
			if (!strncmp(line, "VmRSS:", 6))
				printf("rss_kib=%ld\n", atol(line + 6));
		if (f) fclose(f);
		return 0;
	}
	fprintf(stderr, "usage: faults slowpass|thread-exit|fork-callback|fork-threads|enomem|locks [N]\n");
	return 2;
}
