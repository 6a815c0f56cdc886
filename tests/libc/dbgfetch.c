/* dbgfetch.c - debuginfod=1: another thread's report does not wait for a
 * fetch (issue 11, item 9).  Thread A's report asks a debuginfod server
 * that never answers for this stripped program's debug info; once the
 * server holds A's connection (it creates the file $DBGFETCH_FLAG then),
 * the main thread allocates and makes a report of its own.  A says whether
 * that one was done before its own report returned. */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int b_done;

static unsigned long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

__attribute__((noinline)) static void restore_a(void) { memalloc_nofs_restore(0x1); }
__attribute__((noinline)) static void restore_b(void) { memalloc_nofs_restore(0x1); }

static void *thread_a(void *arg)
{
	(void)arg;
	unsigned long long t0 = now_ms();
	restore_a();
	int b = __atomic_load_n(&b_done, __ATOMIC_ACQUIRE);
	printf("A: report in %llu ms, the other thread's %s\n", now_ms() - t0,
	       b ? "was done before it" : "was not done before it");
	return NULL;
}

int main(void)
{
	const char *flag = getenv("DBGFETCH_FLAG");
	pthread_t a;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!flag || pthread_create(&a, NULL, thread_a, NULL))
		return 2;
	int i;
	for (i = 0; i < 1000 && access(flag, F_OK); i++) {    /* at most 10 s */
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
	if (i == 1000)
		printf("B: the server got no connection\n");
	unsigned long long t0 = now_ms();
	void *volatile p = malloc(100);
	free(p);
	restore_b();
	printf("B: allocation and report in %llu ms\n", now_ms() - t0);
	__atomic_store_n(&b_done, 1, __ATOMIC_RELEASE);
	pthread_join(a, NULL);
	return 0;
}
