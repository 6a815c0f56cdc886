/* Preloaded after the shim: a thread that exists before the shim resolves
 * its real lock functions, and takes a busy mutex while another thread is
 * inside that resolution (lk_resolve.c; locks.sh).
 *
 * Its constructor (run before the shim's: preloads are initialised last
 * to first) starts the thread.  The shim's dlsym(RTLD_NEXT, "cnd_timedwait")
 * finds this library's cnd_timedwait, an IFUNC: its resolver runs inside
 * the shim's resolve(), after pthread_mutex_trylock's real address is
 * stored and before pthread_mutex_lock's is (resolve stores it last).
 * There the resolver lets the thread call pthread_mutex_lock on a mutex
 * that is already locked and waits for it (bounded) before returning. */
#include <pthread.h>
#include <threads.h>
#include <time.h>

pthread_mutex_t lk_resolve_busy = PTHREAD_MUTEX_INITIALIZER;
pthread_t lk_resolve_thread;
int lk_resolve_window;          /* 1: a resolver call saw the thread's call begin */
static int go, calling;

static void pause_ms(long ms)
{
	struct timespec d = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&d, NULL);
}

static void *taker(void *arg)
{
	(void)arg;
	/* bounded: without the shim (or a shim that no longer looks the
	 * function up) the resolver never runs, and lk_resolve says so */
	for (int i = 0; i < 5000 && !__atomic_load_n(&go, __ATOMIC_ACQUIRE); i++)
		pause_ms(1);
	__atomic_store_n(&calling, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&lk_resolve_busy);   /* busy: the slow path */
	pthread_mutex_unlock(&lk_resolve_busy);
	return NULL;
}

static int fake_cnd_timedwait(cnd_t *c, mtx_t *m, const struct timespec *ts)
{
	(void)c; (void)m; (void)ts;
	return thrd_error;
}

/* inside dlsym: no lock call here, only the flags and nanosleep */
static void *resolve_cnd_timedwait(void)
{
	static int first = 1;
	if (first && lk_resolve_thread) {
		first = 0;
		__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
		for (int i = 0; i < 2000 && !__atomic_load_n(&calling, __ATOMIC_ACQUIRE); i++)
			pause_ms(1);
		if (__atomic_load_n(&calling, __ATOMIC_ACQUIRE)) {
			lk_resolve_window = 1;
			pause_ms(300);  /* the thread reaches the real lock call (or crashes) */
		}
	}
	return (void *)fake_cnd_timedwait;
}
int cnd_timedwait(cnd_t *__restrict, mtx_t *__restrict, const struct timespec *__restrict)
	__attribute__((ifunc("resolve_cnd_timedwait")));

__attribute__((constructor)) static void lk_resolve_init(void)
{
	/* locked without a lock call (glibc's normal mutex: __lock 1), so
	 * that nothing here resolves the shim's functions first */
	lk_resolve_busy.__data.__lock = 1;
	pthread_create(&lk_resolve_thread, NULL, taker, NULL);
}
