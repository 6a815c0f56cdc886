/* robust.c - scenarios in which the shim must never crash, hang or mislead
 * the program it watches (issue 11), each forced deterministically: the
 * callback parks on a semaphore that the scenario posts at the moment the
 * race needs.  robust.sh runs each under fsreclaim-run and checks the
 * outcome; a subcommand prints "ok: ..." lines and returns 0, or says what
 * went wrong and returns 3.
 * The scenarios, what each forces and its shrinker's scan, are the table
 * at the end of this file; "robust" alone lists them.
 */
#include <fsreclaim.h>
#include "../lib/condlock.h"
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#define PR_GET_IO_FLUSHER 58
#endif

static int fails;
#define CHECK(cond, ...) do { if (cond) { printf("ok: " __VA_ARGS__); putchar('\n'); } \
	else { printf("FAIL: " __VA_ARGS__); putchar('\n'); fails++; } fflush(stdout); } while (0)

static void churn(int n)
{
	for (int i = 0; i < n; i++) {
		void *volatile p = malloc(64);   /* volatile: gcc drops free(malloc()) */
		free(p);
	}
}

/* a bounded sem_wait: every wait of these tests ends */
static int sem_wait_s(sem_t *s, int seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	int r;
	while ((r = sem_timedwait(s, &ts)) < 0 && errno == EINTR)
		;
	return r;
}

static volatile int armed;           /* the scenario's callback may act now */
static volatile int scans, scan_done;
static sem_t go, done;

static unsigned long count10(struct fsr_shrinker *s, unsigned int g) { (void)s; (void)g; return 10; }
static unsigned long count_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	__atomic_add_fetch(&scans, 1, __ATOMIC_SEQ_CST);
	return n;
}
static struct fsr_shrinker sh = { "robust", count10, count_scan, FSR_SHRINKER_FS, NULL };

/* the scenario's callback takes its turn: was it armed? */
static int disarm(void) { return __atomic_exchange_n(&armed, 0, __ATOMIC_SEQ_CST); }

/* arm the callback and allocate: a pass may call it on this thread */
static void alloc_armed(void)
{
	armed = 1;
	void *volatile p = malloc(100);
	free(p);
}

/* ---- txn-dead-allocator ---- */
static unsigned long txn_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	if (!disarm())
		return n;
	sem_post(&done);                 /* parked: the allocator may time out */
	if (sem_wait_s(&go, 20) == 0) {
		void *c = fsr_transaction_begin("in-reclaim");   /* nested-transaction */
		fsr_transaction_end(c);
	}
	scan_done = 1;
	sem_post(&done);
	return n;
}

static void *txn_allocator(void *a)
{
	(void)a;
	void *c = fsr_transaction_begin("outer");
	alloc_armed();           /* handoff pass; released at timeout_ms */
	fsr_transaction_end(c);
	return NULL;
}

static int txn_dead_allocator(void)
{
	fsr_register_shrinker(&sh);
	/* the thread's TLS lives in a stack we own: unmapped after the join */
	size_t sz = 1 << 20;
	void *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_attr_t at;
	pthread_t th;
	pthread_attr_init(&at);
	pthread_attr_setstack(&at, stack, sz);
	pthread_create(&th, &at, txn_allocator, NULL);
	CHECK(sem_wait_s(&done, 20) == 0, "the callback parked while its allocator waits");
	pthread_join(th, NULL);
	CHECK(munmap(stack, sz) == 0, "the allocator was released at timeout_ms, exited, its stack unmapped");
	sem_post(&go);
	CHECK(sem_wait_s(&done, 20) == 0 && scan_done, "the callback began a transaction and returned");
	return fails ? 3 : 0;
}

/* ---- cancel-inline ---- */
static pthread_t victim;
static volatile int after_malloc;
static unsigned long cancel_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	__atomic_add_fetch(&scans, 1, __ATOMIC_SEQ_CST);
	if (armed && pthread_equal(pthread_self(), victim)) {
		armed = 0;
		usleep(1000);           /* a cancellation point, cancel pending */
		scan_done = 1;
	}
	return n;
}

static void *cancel_victim(void *a)
{
	(void)a;
	pthread_cancel(pthread_self());  /* deferred: pending until a cancellation point */
	alloc_armed();           /* inline pass on this thread */
	after_malloc = 1;
	pthread_testcancel();            /* the cancel acts here, outside malloc */
	return NULL;
}

static int cancel_inline(void)
{
	fsr_register_shrinker(&sh);
	void *r;
	pthread_create(&victim, NULL, cancel_victim, NULL);
	pthread_join(victim, &r);
	CHECK(r == PTHREAD_CANCELED, "the thread was cancelled");
	CHECK(scan_done, "the shrinker ran to its end (no cancellation inside it)");
	CHECK(after_malloc, "malloc returned before the cancel acted");
	int before = scans;
	churn(100);
	CHECK(scans > before, "passes go on after it (the pass slot is free)");
	fsr_unregister_shrinker(&sh);    /* hangs if a pass still counts as using it */
	CHECK(1, "fsr_unregister_shrinker returned");
	return fails ? 3 : 0;
}

/* ---- unregister-in-count ---- */
static volatile int unregistered, scanned_after;
static unsigned long unreg_count(struct fsr_shrinker *s, unsigned int g)
{
	(void)g;
	if (!unregistered) {
		fsr_unregister_shrinker(s);
		unregistered = 1;
	}
	return 10;
}
static unsigned long unreg_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	if (unregistered)
		scanned_after = 1;
	return n;
}

static int unregister_in_count(void)
{
	sh.count_objects = unreg_count;
	fsr_register_shrinker(&sh);
	churn(100);
	CHECK(unregistered, "count_objects ran and unregistered its shrinker");
	CHECK(!scanned_after, "scan_objects never ran after that");
	return fails ? 3 : 0;
}

/* ---- limit-preinit ---- */
static void *early_block;
static void early_alloc(int argc, char **argv, char **envp)
{
	(void)argc; (void)envp;
	if (argv[1] && !strcmp(argv[1], "limit-preinit"))
		early_block = malloc(8 << 20);   /* before any library constructor */
}
__attribute__((section(".preinit_array"), used)) static void (*early)(int, char **, char **) = early_alloc;

static int limit_preinit(void)
{
	CHECK(early_block != NULL, "an 8 MiB block allocated before the shim's constructor");
	fsr_register_shrinker(&sh);
	free(early_block);
	churn(100);
	/* live heap is far below limit=: no allocation gets a pass */
	CHECK(scans == 0, "no pass after its free (shrinker scanned %d times)", scans);
	void *volatile big = malloc(96 << 20);   /* now above the limit: passes */
	churn(10);
	CHECK(scans > 0, "over the limit, passes run (%d scans)", scans);
	free(big);
	return fails ? 3 : 0;
}

/* ---- fork-exitcode ---- */
static int fork_exitcode(void)
{
	memalloc_nofs_restore(12345);    /* scope-imbalance: a report in the parent */
	pid_t p = fork();
	if (p == 0) {
		churn(10);
		exit(0);                 /* the child reported nothing */
	}
	int st = -1;
	waitpid(p, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's exit(0) is status 0 (got %d)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return fails ? 3 : 0;
}

/* ---- ioflusher-noio ---- */
static int ioflusher_noio(void)
{
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0) {
		printf("FAIL: PR_SET_IO_FLUSHER: %s\n", strerror(errno));
		return 3;
	}
	unsigned int f = memalloc_noio_save();
	CHECK(f == 0, "memalloc_noio_save() under IO_FLUSHER returns 0, as Linux (got %u)", f);
	memalloc_noio_restore(f);
	CHECK(prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0) == 1, "its restore keeps the thread an IO flusher");
	unsigned int n = memalloc_nofs_save();
	CHECK(n != 0, "memalloc_nofs_save() still sets NOFS (a separate flag in Linux)");
	memalloc_nofs_restore(n);
	prctl(PR_SET_IO_FLUSHER, 0, 0, 0, 0);
	f = memalloc_noio_save();
	CHECK(f != 0, "without IO_FLUSHER memalloc_noio_save() sets NOIO");
	memalloc_noio_restore(f);
	return fails ? 3 : 0;
}

/* ---- inline-handoff ---- */
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static unsigned long park_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	__atomic_add_fetch(&scans, 1, __ATOMIC_SEQ_CST);
	if (!disarm())
		return n;
	if (sem_wait_s(&go, 20) == 0)
		scan_done = 1;
	sem_post(&done);
	return n;
}

static int inline_handoff(void)
{
	fsr_register_shrinker(&sh);
	pthread_mutex_lock(&held);
	alloc_armed();           /* under a tracked lock: handed off */
	pthread_mutex_unlock(&held);
	CHECK(!scan_done, "the allocator was released at timeout_ms while its callback runs");
	churn(50);
	CHECK(scans == 1, "no new pass starts while that callback runs (%d scans)", scans);
	sem_post(&go);
	CHECK(sem_wait_s(&done, 20) == 0 && scan_done, "the callback was not interrupted: it ran to its end");
	/* the reclaimer frees the pass slot just after the callback returns */
	for (int i = 0; i < 2000 && scans == 1; i++) {
		churn(1);
		usleep(1000);
	}
	CHECK(scans > 1, "passes go on once it returned (%d scans)", scans);
	return fails ? 3 : 0;
}

/* ---- flock-inline ---- */
static char lockpath[] = "/tmp/fsr-robust-flock.XXXXXX";
static unsigned long flock_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	__atomic_add_fetch(&scans, 1, __ATOMIC_SEQ_CST);
	if (!disarm())
		return n;
	int fd = open(lockpath, O_RDWR);      /* another open file: flock conflicts */
	if (fd >= 0 && flock(fd, LOCK_EX) == 0) {   /* waits for the allocator's lock */
		scan_done = 1;
		flock(fd, LOCK_UN);
	}
	if (fd >= 0)
		close(fd);
	sem_post(&done);
	return n;
}

static int flock_inline(void)
{
	int fd = mkstemp(lockpath);
	if (fd < 0)
		return 3;
	fsr_register_shrinker(&sh);
	flock(fd, LOCK_EX);                   /* a lock the tracker cannot see */
	alloc_armed();           /* its pass must not run on this thread */
	CHECK(!scan_done, "the allocator holding a flock was released at timeout_ms");
	flock(fd, LOCK_UN);
	CHECK(sem_wait_s(&done, 20) == 0 && scan_done, "the callback got the lock once it was released");
	close(fd);
	unlink(lockpath);
	return fails ? 3 : 0;
}

/* ---- condlock-inline ---- */
/* a lock built from a mutex and a condition variable (boost style): held
 * between lock and unlock with no pthread lock held, so the tracker cannot
 * see it */
static struct condlock cl = CONDLOCK_INITIALIZER;

/* a callback abandoned in a wait for cl gave cl.m back */
static void check_cl_m_free(const char *what)
{
	int r = pthread_mutex_trylock(&cl.m);
	CHECK(r == 0, "%s (trylock: %d)", what, r);
	if (r == 0)
		pthread_mutex_unlock(&cl.m);
}

/* The callback waits for cl, which its own thread holds: issue 11 item 22.
 * It is abandoned at timeout_ms (reported), unwound back into malloc with
 * cl.m released, and the allocation goes on. */
static unsigned long condlock_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	__atomic_add_fetch(&scans, 1, __ATOMIC_SEQ_CST);
	if (!disarm())
		return n;
	cond_lock(&cl);                       /* its own thread holds it: waits */
	cond_unlock(&cl);
	scan_done = 1;
	return n;
}

static int condlock_inline(void)
{
	cond_lock(&cl);
	fsr_register_shrinker(&sh);
	alloc_armed();           /* inline: the shrinker waits for cl on this thread */
	CHECK(!armed && !scan_done, "the callback was abandoned at its wait, the allocation went on");
	check_cl_m_free("the condition's mutex the callback held was released");
	alloc_armed();           /* the same wait again: abandoned at once */
	CHECK(!armed && !scan_done, "abandoned again at the same wait");
	cond_unlock(&cl);
	alloc_armed();           /* the lock is free now: the callback runs whole */
	fsr_unregister_shrinker(&sh);
	CHECK(!armed && scan_done, "with the lock free the callback ran to its end");
	return fails ? 3 : 0;
}

/* ---- condlock-timed: the same lock waited for with a deadline (60 s)
 * later than the callback's ---- */
static unsigned long timed_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	if (!disarm())
		return n;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 60;
	pthread_mutex_lock(&cl.m);
	int r = 0;
	while (cl.owned && r == 0)
		r = pthread_cond_timedwait(&cl.cv, &cl.m, &ts);
	pthread_mutex_unlock(&cl.m);
	scan_done = 1;
	return n;
}

static int condlock_timed(void)
{
	cond_lock(&cl);
	fsr_register_shrinker(&sh);
	alloc_armed();
	fsr_unregister_shrinker(&sh);
	CHECK(!armed && !scan_done, "the callback was abandoned at its timed wait");
	check_cl_m_free("the condition's mutex the callback held was released");
	cond_unlock(&cl);
	return fails ? 3 : 0;
}

/* ---- condlock-cleanup: the forced unwind runs the callback's cleanups
 * (a unique_lock of C, with -fexceptions) ---- */
static volatile int cleanups;
static void cl_unlock_m(pthread_mutex_t **m)
{
	cleanups++;
	pthread_mutex_unlock(*m);
}
static unsigned long cleanup_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	__atomic_add_fetch(&scans, 1, __ATOMIC_SEQ_CST);
	if (!disarm())
		return n;
	pthread_mutex_lock(&cl.m);
	pthread_mutex_t *held_m __attribute__((cleanup(cl_unlock_m))) = &cl.m;
	while (cl.owned)
		pthread_cond_wait(&cl.cv, &cl.m);
	scan_done = 1;
	return n;
}

static int condlock_cleanup(void)
{
	cond_lock(&cl);
	fsr_register_shrinker(&sh);
	alloc_armed();
	fsr_unregister_shrinker(&sh);
	CHECK(!scan_done, "the callback was abandoned at its wait");
	CHECK(cleanups == 1, "its cleanup ran on the way out (%d)", cleanups);
	check_cl_m_free("the mutex is free, unlocked once");
	cond_unlock(&cl);
	return fails ? 3 : 0;
}

/* ---- condlock-unsound: a callback that finished a critical section
 * before its wait is never abandoned (its changes would be half done):
 * reported, and it waits on; the test frees the lock once the report is
 * out (ROBUST_LOG: the log_path) ---- */
static pthread_mutex_t other = PTHREAD_MUTEX_INITIALIZER;
static volatile int counter;
static unsigned long unsound_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	if (!disarm())
		return n;
	pthread_mutex_lock(&other);
	counter++;                       /* a change made under a lock */
	pthread_mutex_unlock(&other);
	cond_lock(&cl);
	cond_unlock(&cl);
	scan_done = 1;
	return n;
}

/* ---- condlock-woke: a callback that woke another thread before its wait
 * (it may have handed it a request on its stack) is never abandoned ---- */
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static unsigned long woke_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	if (!disarm())
		return n;
	pthread_mutex_lock(&cl.m);
	pthread_cond_signal(&work_cv);   /* "a worker, take this" */
	while (cl.owned)
		pthread_cond_wait(&cl.cv, &cl.m);
	pthread_mutex_unlock(&cl.m);
	scan_done = 1;
	return n;
}

/* ---- condlock-holds: one that holds another lock it took (what it
 * changed under it would be left half done) is never abandoned ---- */
static unsigned long holds_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	if (!disarm())
		return n;
	pthread_mutex_lock(&other);
	counter++;                       /* a change under a lock it still holds */
	cond_lock(&cl);
	cond_unlock(&cl);
	pthread_mutex_unlock(&other);
	scan_done = 1;
	return n;
}

static volatile int reported_first;
/* the other side: frees the lock once the report is out (or after 20 s) */
static void *condlock_releaser(void *a)
{
	char path[4200], buf[8192];
	snprintf(path, sizeof path, "%s.%d", (const char *)a, (int)getpid());
	for (int i = 0; i < 2000 && !reported_first; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			buf[n] = 0;
			fclose(f);
			if (strstr(buf, "cannot be abandoned"))
				reported_first = 1;
		}
		if (!reported_first)
			usleep(10000);
	}
	cond_unlock(&cl);
	return NULL;
}

static int condlock_unsound(void)
{
	const char *log = getenv("ROBUST_LOG");
	if (!log)
		return 2;
	pthread_t th;
	if (sh.scan_objects == woke_scan)
		counter = 1;             /* woke_scan changes nothing under a lock */
	cond_lock(&cl);
	pthread_create(&th, NULL, condlock_releaser, (void *)log);
	fsr_register_shrinker(&sh);
	alloc_armed();
	fsr_unregister_shrinker(&sh);
	pthread_join(th, NULL);
	CHECK(scan_done && counter == 1, "the callback got the lock and returned");
	CHECK(reported_first, "it was reported while it waited (cannot be abandoned), not a silent hang");
	return fails ? 3 : 0;
}

/* ---- sem-inline: a semaphore used as a lock ---- */
static sem_t semlock;
static unsigned long sem_scan(struct fsr_shrinker *s, unsigned long n, unsigned int g)
{
	(void)s; (void)g;
	__atomic_add_fetch(&scans, 1, __ATOMIC_SEQ_CST);
	if (!disarm())
		return n;
	while (sem_wait(&semlock) != 0 && errno == EINTR)
		;
	sem_post(&semlock);
	scan_done = 1;
	return n;
}

static int sem_inline(void)
{
	sem_init(&semlock, 0, 1);
	sem_wait(&semlock);
	fsr_register_shrinker(&sh);
	alloc_armed();
	CHECK(!armed && !scan_done, "the callback was abandoned at its sem_wait");
	sem_post(&semlock);
	alloc_armed();
	fsr_unregister_shrinker(&sh);
	CHECK(scan_done, "with the semaphore up the callback ran to its end");
	int v = -1;
	sem_getvalue(&semlock, &v);
	CHECK(v == 1, "the semaphore is as it was (%d)", v);
	return fails ? 3 : 0;
}

/* ---- flock-other-inline: the flock is held by an open file that another
 * thread locked (a file lock belongs to its open file, not to a thread:
 * no count on the allocator), and the callback locks another open file of
 * the same file ---- */
static int other_fd = -1;
static void *flock_taker(void *a)
{
	(void)a;
	other_fd = open(lockpath, O_RDWR);
	if (other_fd >= 0)
		flock(other_fd, LOCK_EX);
	return NULL;
}

static int flock_other_inline(void)
{
	int fd = mkstemp(lockpath);
	if (fd < 0)
		return 3;
	close(fd);
	pthread_t th;
	pthread_create(&th, NULL, flock_taker, NULL);
	pthread_join(th, NULL);
	fsr_register_shrinker(&sh);
	alloc_armed();
	CHECK(!armed && !scan_done, "the callback was abandoned at its flock, the allocation went on");
	flock(other_fd, LOCK_UN);
	close(other_fd);
	alloc_armed();
	fsr_unregister_shrinker(&sh);
	CHECK(scan_done, "with the file unlocked the callback ran to its end");
	unlink(lockpath);
	return fails ? 3 : 0;
}

typedef unsigned long scan_fn(struct fsr_shrinker *, unsigned long, unsigned int);

/* the scenarios: the name robust.sh runs, the shrinker's scan (NULL:
 * count_scan, which only counts), the test, and what it forces */
static const struct scenario {
	const char *name;
	scan_fn *scan;
	int (*run)(void);
	const char *what;
} scenarios[] = {
	{ "txn-dead-allocator", txn_scan, txn_dead_allocator,
	  "a handoff callback released after timeout_ms begins a transaction after its allocator's "
	  "thread exited and that thread's stack (its TLS) was unmapped" },
	{ "cancel-inline", cancel_scan, cancel_inline,
	  "inline: a shrinker reaches a cancellation point while its thread has a cancel pending" },
	{ "unregister-in-count", unreg_scan, unregister_in_count,
	  "a shrinker unregisters itself in count_objects" },
	{ "limit-preinit", NULL, limit_preinit,
	  "limit=: a block allocated before the shim's constructor (preinit_array) is freed" },
	{ "fork-exitcode", NULL, fork_exitcode, "a report in the parent, then a child that exit(0)s" },
	{ "ioflusher-noio", NULL, ioflusher_noio, "memalloc_noio_save() under PR_SET_IO_FLUSHER" },
	{ "inline-handoff", park_scan, inline_handoff,
	  "inline: a pass under a tracked lock is handed off and its allocator released at "
	  "timeout_ms while the callback still runs" },
	{ "flock-inline", flock_scan, flock_inline,
	  "inline: the allocator holds a flock that its callback needs (the tracker cannot see it)" },
	{ "condlock-inline", condlock_scan, condlock_inline,
	  "inline: the same with a lock made of a mutex and a condition variable: the callback is "
	  "abandoned" },
	{ "condlock-cleanup", cleanup_scan, condlock_cleanup, "the same, its cleanup (-fexceptions) runs" },
	{ "condlock-timed", timed_scan, condlock_timed, "the same with a timed wait (60 s)" },
	{ "condlock-unsound", unsound_scan, condlock_unsound,
	  "the same after a critical section: not abandoned (ROBUST_LOG: the log_path)" },
	{ "condlock-woke", woke_scan, condlock_unsound, "the same after it signalled another condition" },
	{ "condlock-holds", holds_scan, condlock_unsound, "the same holding another lock it took" },
	{ "sem-inline", sem_scan, sem_inline, "the same with a semaphore" },
	{ "flock-other-inline", flock_scan, flock_other_inline,
	  "a flock held by an open file another thread locked" },
};

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "";
	sem_init(&go, 0, 0);
	sem_init(&done, 0, 0);
	for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
		const struct scenario *sc = &scenarios[i];
		if (strcmp(name, sc->name) == 0) {
			if (sc->scan)
				sh.scan_objects = sc->scan;
			return sc->run();
		}
	}
	fprintf(stderr, "robust: unknown scenario '%s'; the scenarios:\n", name);
	for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
		fprintf(stderr, "  %s: %s\n", scenarios[i].name, scenarios[i].what);
	return 2;
}
