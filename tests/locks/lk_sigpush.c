/* A signal handler that locks and unlocks a mutex of its own, delivered
 * (by another thread, as fast as it can) while the main thread locks and
 * unlocks another for 2 s.  A handler that lands between a push's stores
 * and its count (lockwrap.c's took_memo) used to leave its mutex x on
 * held[] for good: the allocation afterwards, with nothing held, was "under
 * x", and reclaim taking x then reported a reclaim-lock-inversion.
 *   lk_sigpush sig    the signals (locks.sh: no report)
 *   lk_sigpush        without them (the same, the control of the counting)
 * Prints how many handlers ran (stderr). */
#include <fsreclaim.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, x = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;
static pthread_t main_thread;
static volatile long handled;
static void *volatile keep;

static void handler(int s)
{
	(void)s;
	pthread_mutex_lock(&x);
	pthread_mutex_unlock(&x);
	handled++;
}

static void *kicker(void *p)
{
	(void)p;
	while (!stop) {
		pthread_kill(main_thread, SIGUSR1);
		for (volatile int j = 0; j < 200; j++)
			;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int sig = argc > 1 && !strcmp(argv[1], "sig");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	main_thread = pthread_self();
	pthread_t k;
	if (sig && pthread_create(&k, NULL, kicker, NULL))
		return 2;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0;; i++) {
		pthread_mutex_lock(&a);
		pthread_mutex_unlock(&a);
		if (!(i & 1023)) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (t1.tv_sec - t0.tv_sec >= 2)
				break;
		}
	}
	stop = 1;
	if (sig)
		pthread_join(k, NULL);
	/* nothing held now: an allocation, then reclaim takes x */
	keep = malloc(64);
	free(keep);
	fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO);
	pthread_mutex_lock(&x);
	pthread_mutex_unlock(&x);
	fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
	fprintf(stderr, "handled %ld\n", handled);
	return 0;
}
