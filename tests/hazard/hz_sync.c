/* Lock flavours and waits that must be tracked exactly.
 *   condwait        a thread waits on a condvar (its mutex dropped), then
 *                   allocates with no lock: no report (interval=1)
 *   trylock         a failed trylock is not a held lock: no report (interval=0)
 *   rw-read         rdlock held while allocating, reclaim takes it for read:
 *                   readers do not exclude readers, no report (interval=0)
 *   rw-write        rdlock held while allocating, reclaim takes it for
 *                   write: reclaim-lock-inversion (interval=0)
 *   rw-deadlock     wrlock held while allocating, the shrinker's rdlock
 *                   waits: reclaim-deadlock (interval=1)
 *   spin-deadlock   the same with a spinlock
 *   mtx-deadlock    the same with a C11 mtx_t */
#include <fsreclaim.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <unistd.h>

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t state_cond = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t map_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_spinlock_t stat_lock;
static mtx_t c11_lock;
static int go, locked;
static const char *mode;
static __thread void *volatile keep;   /* per thread: threads churn at once */

static unsigned long count(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return 10; }
__attribute__((noinline)) static unsigned long scan_state(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	(void)s; (void)gfp;
	if (!strcmp(mode, "rw-read") || !strcmp(mode, "rw-deadlock")) {
		pthread_rwlock_rdlock(&map_lock);
		pthread_rwlock_unlock(&map_lock);
	} else if (!strcmp(mode, "rw-write")) {
		pthread_rwlock_wrlock(&map_lock);
		pthread_rwlock_unlock(&map_lock);
	} else if (!strcmp(mode, "spin-deadlock")) {
		pthread_spin_lock(&stat_lock);
		pthread_spin_unlock(&stat_lock);
	} else if (!strcmp(mode, "mtx-deadlock")) {
		mtx_lock(&c11_lock);
		mtx_unlock(&c11_lock);
	} else {
		pthread_mutex_lock(&state_lock);
		pthread_mutex_unlock(&state_lock);
	}
	return nr;
}
static struct fsr_shrinker shrinker = { "state", count, scan_state, FSR_SHRINKER_FS, NULL };

__attribute__((noinline)) static void teach(void)
{
	fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO);
	scan_state(&shrinker, 1, FSR_GFP_FS | FSR_GFP_IO);
	fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
}

static void churn(int n)
{
	for (int i = 0; i < n; i++) {
		keep = malloc(64);
		free(keep);
	}
}

static void *cond_waiter(void *a)
{
	(void)a;
	pthread_mutex_lock(&state_lock);
	while (!go)
		pthread_cond_wait(&state_cond, &state_lock);
	pthread_mutex_unlock(&state_lock);
	churn(200);                /* no lock held: passes take state_lock */
	return NULL;
}

static void *holder(void *a)
{
	(void)a;
	pthread_mutex_lock(&state_lock);
	__atomic_store_n(&locked, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		usleep(1000);
	pthread_mutex_unlock(&state_lock);
	return NULL;
}

__attribute__((noinline)) static void *rw_reader_allocates(void *a)
{
	(void)a;
	pthread_rwlock_rdlock(&map_lock);
	churn(20);
	pthread_rwlock_unlock(&map_lock);
	return NULL;
}

__attribute__((noinline)) static void *rw_writer_allocates(void *a)
{
	(void)a;
	for (int i = 0; i < 20; i++) {
		pthread_rwlock_wrlock(&map_lock);
		churn(5);
		pthread_rwlock_unlock(&map_lock);
	}
	return NULL;
}

__attribute__((noinline)) static void *spin_allocates(void *a)
{
	(void)a;
	for (int i = 0; i < 20; i++) {
		pthread_spin_lock(&stat_lock);
		churn(5);
		pthread_spin_unlock(&stat_lock);
	}
	return NULL;
}

__attribute__((noinline)) static void *mtx_allocates(void *a)
{
	(void)a;
	for (int i = 0; i < 20; i++) {
		mtx_lock(&c11_lock);
		churn(5);
		mtx_unlock(&c11_lock);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	mode = argc > 1 ? argv[1] : "";
	pthread_spin_init(&stat_lock, 0);
	mtx_init(&c11_lock, mtx_plain);
	fsr_register_shrinker(&shrinker);
	if (!strcmp(mode, "condwait")) {
		pthread_create(&t, NULL, cond_waiter, NULL);
		usleep(50000);
		churn(100);            /* passes while the waiter is in cond_wait */
		pthread_mutex_lock(&state_lock);
		go = 1;
		pthread_cond_signal(&state_cond);
		pthread_mutex_unlock(&state_lock);
		pthread_join(t, NULL);
	} else if (!strcmp(mode, "trylock")) {
		teach();
		pthread_create(&t, NULL, holder, NULL);
		while (!__atomic_load_n(&locked, __ATOMIC_ACQUIRE))
			usleep(1000);
		if (pthread_mutex_trylock(&state_lock) != EBUSY)
			return 3;
		churn(100);            /* must not count as allocating under state_lock */
		__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
		pthread_join(t, NULL);
	} else if (!strcmp(mode, "rw-read") || !strcmp(mode, "rw-write")) {
		teach();
		pthread_create(&t, NULL, rw_reader_allocates, NULL);
		pthread_join(t, NULL);
	} else if (!strcmp(mode, "rw-deadlock")) {
		pthread_create(&t, NULL, rw_writer_allocates, NULL);
		pthread_join(t, NULL);
	} else if (!strcmp(mode, "spin-deadlock")) {
		pthread_create(&t, NULL, spin_allocates, NULL);
		pthread_join(t, NULL);
	} else if (!strcmp(mode, "mtx-deadlock")) {
		pthread_create(&t, NULL, mtx_allocates, NULL);
		pthread_join(t, NULL);
	} else {
		fprintf(stderr, "usage: hz_sync condwait|trylock|rw-read|rw-write|rw-deadlock|spin-deadlock|mtx-deadlock\n");
		return 2;
	}
	fsr_unregister_shrinker(&shrinker);
	printf("done\n");
	return 0;
}
