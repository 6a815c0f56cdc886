/* libc.c - the shim must never reclaim inside libc's own critical sections
 * nor wait for libc from a report (issue 11, items 1, 3, 4, 9, 12).
 *   hang       an inversion report on one thread while another is inside
 *              dlopen (loader lock held) and records a new edge
 *   firstlock  a heap mutex taken for the first time, holding another,
 *              while a constructor inside dlopen waits for that other
 *   stdio      a shrinker that logs to the FILE whose buffer glibc
 *              allocates under that FILE's lock
 *   dlopen     a pass triggered by a constructor's allocation inside
 *              dlopen, whose callback closes an inversion (report built on
 *              the reclaimer)
 *   sigrt      the program's own SIGRTMAX-1 handler and a nanosleep in a
 *              callback that outlasts timeout_ms
 * Exit status 1 and a FAIL line on a failed check. */
#include <fsreclaim.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <nss.h>
#include <pwd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *libdir = ".";
void (*libc_hook)(void);     /* called first by ctorlib.so's constructor */
static void *volatile keep;

static void die(const char *m) { printf("FAIL %s\n", m); fflush(stdout); _exit(1); }

static void *load_ctorlib(void)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/.libs/ctorlib.so", libdir);
	void *h = dlopen(p, RTLD_NOW);
	if (!h) {
		snprintf(p, sizeof p, "%s/ctorlib.so", libdir);
		h = dlopen(p, RTLD_NOW);
	}
	return h;
}

/* ---- hang: item 1 ---- */
static pthread_mutex_t the_lock = PTHREAD_MUTEX_INITIALIZER;
static int in_ctor, a_done;
static pid_t a_tid;

/* 1 when thread tid sleeps in futex(2) (it waits for a lock) */
static int in_futex(pid_t tid)
{
	char p[64], buf[64];
	snprintf(p, sizeof p, "/proc/self/task/%d/syscall", (int)tid);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return atoi(buf) == SYS_futex;
}

static void hang_hook(void)
{
	/* inside dlopen: the loader's lock is ours.  Let A close its cycle,
	 * and wait until it is done or blocked (on the loader's lock). */
	__atomic_store_n(&in_ctor, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 5000; i++) {
		if (__atomic_load_n(&a_done, __ATOMIC_ACQUIRE))
			return;
		if (__atomic_load_n(&a_tid, __ATOMIC_ACQUIRE) && in_futex(a_tid) && i > 20)
			return;
		usleep(1000);
	}
}

static void *thread_a(void *arg)
{
	(void)arg;
	__atomic_store_n(&a_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&in_ctor, __ATOMIC_ACQUIRE))
		usleep(1000);
	pthread_mutex_lock(&the_lock);
	keep = malloc(32);          /* the_lock -> fs_reclaim closes the cycle */
	free(keep);
	pthread_mutex_unlock(&the_lock);
	__atomic_store_n(&a_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *thread_b(void *arg)
{
	(void)arg;
	if (!load_ctorlib())
		die(dlerror());
	return NULL;
}

static int hang(void)
{
	/* fs_reclaim -> the_lock, as a reclaim callback would take it */
	fsr_reclaim_acquire(FSR_GFP_IO | FSR_GFP_FS);
	pthread_mutex_lock(&the_lock);
	pthread_mutex_unlock(&the_lock);
	fsr_reclaim_release(FSR_GFP_IO | FSR_GFP_FS);
	pthread_t a, b;
	pthread_create(&a, NULL, thread_a, NULL);
	pthread_create(&b, NULL, thread_b, NULL);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	if (pthread_timedjoin_np(b, NULL, &ts) || pthread_timedjoin_np(a, NULL, &ts))
		die("hang: the threads did not finish in 20 s");
	printf("hang: done\n");
	return 0;
}

/* ---- firstlock: a heap mutex taken for the first time while another
 * thread is inside dlopen (the shim must not ask the loader whether the
 * lock is static data) ---- */
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t *fresh_lock;     /* calloc'd, never initialised */

static void firstlock_hook(void)
{
	hang_hook();                         /* A runs until done or blocked */
	pthread_mutex_lock(&held_lock);      /* A holds it until its first fresh_lock */
	pthread_mutex_unlock(&held_lock);
}

static void *firstlock_a(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&held_lock);
	__atomic_store_n(&a_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&in_ctor, __ATOMIC_ACQUIRE))
		usleep(1000);
	pthread_mutex_lock(fresh_lock);      /* its first acquisition */
	pthread_mutex_unlock(fresh_lock);
	__atomic_store_n(&a_done, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&held_lock);
	return NULL;
}

static int firstlock(void)
{
	pthread_t a, b;
	fresh_lock = calloc(1, sizeof *fresh_lock);
	pthread_create(&a, NULL, firstlock_a, NULL);
	pthread_create(&b, NULL, thread_b, NULL);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	if (pthread_timedjoin_np(b, NULL, &ts) || pthread_timedjoin_np(a, NULL, &ts))
		die("firstlock: the threads did not finish in 20 s");
	printf("firstlock: done\n");
	return 0;
}

/* ---- stdio: item 3 ---- */
static FILE *log_file;
static int log_lines;

static unsigned long log_count(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return 1; }
static unsigned long log_scan(struct fsr_shrinker *s, unsigned long n, unsigned int gfp)
{
	(void)s; (void)n; (void)gfp;
	fprintf(log_file, "shrinker %d\n", __atomic_add_fetch(&log_lines, 1, __ATOMIC_RELAXED));
	return 0;
}
static struct fsr_shrinker log_shrinker = {
	.name = "log", .count_objects = log_count, .scan_objects = log_scan, .flags = FSR_SHRINKER_FS,
};

static int stdio_test(const char *path)
{
	log_file = fopen(path, "w");
	if (!log_file)
		die("fopen");
	fsr_register_shrinker(&log_shrinker);
	/* the first write allocates log_file's buffer under log_file's lock */
	fprintf(log_file, "main line\n");
	for (int i = 0; i < 3; i++) {
		keep = malloc(100);
		free(keep);
	}
	fsr_unregister_shrinker(&log_shrinker);
	fclose(log_file);
	printf("stdio: shrinker wrote %d lines\n", log_lines);
	return 0;
}

/* ---- dlopen: item 4 ---- */
static int arm;
static unsigned long lk_scan(struct fsr_shrinker *s, unsigned long n, unsigned int gfp)
{
	(void)s; (void)n; (void)gfp;
	if (__atomic_load_n(&arm, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&the_lock);   /* fs_reclaim -> the_lock */
		pthread_mutex_unlock(&the_lock);
	}
	return 0;
}
static struct fsr_shrinker lk_shrinker = {
	.name = "lock", .count_objects = log_count, .scan_objects = lk_scan, .flags = FSR_SHRINKER_FS,
};

static void arm_hook(void) { __atomic_store_n(&arm, 1, __ATOMIC_RELEASE); }

static int dlopen_test(void)
{
	fsr_register_shrinker(&lk_shrinker);
	pthread_mutex_lock(&the_lock);
	keep = malloc(32);          /* the_lock -> fs_reclaim (the shrinker is not armed) */
	free(keep);
	pthread_mutex_unlock(&the_lock);
	if (!load_ctorlib())
		die(dlerror());
	keep = malloc(32);          /* after dlopen: the pass that finds the inversion */
	free(keep);
	fsr_unregister_shrinker(&lk_shrinker);
	printf("dlopen: done\n");
	return 0;
}

/* ---- sigrt: item 12 ---- */
static volatile sig_atomic_t own_hits;
static void own_handler(int sig) { (void)sig; own_hits++; }
static int sleep_err = -1;
static int sleepers;

static unsigned long sleep_scan(struct fsr_shrinker *s, unsigned long n, unsigned int gfp)
{
	(void)s; (void)n; (void)gfp;
	if (__atomic_add_fetch(&sleepers, 1, __ATOMIC_RELAXED) == 1) {
		struct timespec ts = { 0, 400000000 };
		sleep_err = nanosleep(&ts, NULL) ? errno : 0;
	}
	return 0;
}
static struct fsr_shrinker sleep_shrinker = {
	.name = "sleep", .count_objects = log_count, .scan_objects = sleep_scan, .flags = FSR_SHRINKER_FS,
};

static int sigrt_test(void)
{
	struct sigaction sa, now;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = own_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMAX - 1, &sa, NULL);
	fsr_register_shrinker(&sleep_shrinker);
	keep = malloc(64);          /* the pass outlasts timeout_ms: a report on the reclaimer's wait */
	free(keep);
	usleep(600000);             /* the callback ends */
	fsr_unregister_shrinker(&sleep_shrinker);
	sigaction(SIGRTMAX - 1, NULL, &now);
	if (now.sa_handler != own_handler)
		die("sigrt: the program's SIGRTMAX-1 handler was replaced");
	if (sleep_err != 0)
		die(sleep_err > 0 ? "sigrt: nanosleep in the callback failed (EINTR)" : "sigrt: the callback never ran");
	printf("sigrt: handler kept, nanosleep not interrupted, own handler hits %d\n", (int)own_hits);
	return 0;
}

/* ---- reclaimer: an inversion found on the reclaimer (report quality) ----
 * the allocator holds lock_l, taken in alloc_under_l (not where lock_l was
 * first seen); the callback takes lock_m, closing
 * fs_reclaim -> lock_m -> lock_l -> fs_reclaim on the reclaimer thread */
static pthread_mutex_t lock_l = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_m = PTHREAD_MUTEX_INITIALIZER;
static int m_armed;

static unsigned long m_scan(struct fsr_shrinker *s, unsigned long n, unsigned int gfp)
{
	(void)s; (void)n; (void)gfp;
	if (__atomic_load_n(&m_armed, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&lock_m);
		pthread_mutex_unlock(&lock_m);
	}
	return 0;
}
static struct fsr_shrinker m_shrinker = {
	.name = "m", .count_objects = log_count, .scan_objects = m_scan, .flags = FSR_SHRINKER_FS,
};

__attribute__((noinline)) static void first_take(void)
{
	pthread_mutex_lock(&lock_l);         /* MARK: first seen */
	pthread_mutex_unlock(&lock_l);
}

__attribute__((noinline)) static void m_then_l(void)
{
	pthread_mutex_lock(&lock_m);
	pthread_mutex_lock(&lock_l);
	pthread_mutex_unlock(&lock_l);
	pthread_mutex_unlock(&lock_m);
}

__attribute__((noinline)) static void alloc_under_l(void)
{
	__atomic_store_n(&m_armed, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&lock_l);         /* MARK: allocator takes L */
	keep = malloc(48);
	free(keep);
	pthread_mutex_unlock(&lock_l);
	__atomic_store_n(&m_armed, 0, __ATOMIC_RELEASE);
}

/* instance: two heap mutexes of one class (initialised at one site);
 * the allocator holds the second, which the headline must name */
static pthread_mutex_t *inst[2];

__attribute__((noinline)) static void inst_alloc(pthread_mutex_t *l)
{
	__atomic_store_n(&m_armed, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(l);
	keep = malloc(48);
	free(keep);
	pthread_mutex_unlock(l);
	__atomic_store_n(&m_armed, 0, __ATOMIC_RELEASE);
}

__attribute__((noinline)) static pthread_mutex_t *new_mutex(void)
{
	pthread_mutex_t *l = malloc(sizeof *l);
	pthread_mutex_init(l, NULL);         /* one init site: one class */
	return l;
}

static int instance_test(void)
{
	/* one call site (the loop is kept: a small function like new_mutex
	 * counts as a lock wrapper, and its classes are keyed by its caller) */
	for (volatile int i = 0; i < 2; i++)
		inst[i] = new_mutex();
	pthread_mutex_lock(inst[0]);          /* the class's first instance */
	pthread_mutex_unlock(inst[0]);
	pthread_mutex_lock(&lock_m);
	pthread_mutex_lock(inst[0]);
	pthread_mutex_unlock(inst[0]);
	pthread_mutex_unlock(&lock_m);
	fsr_register_shrinker(&m_shrinker);
	printf("instance: held %p first %p\n", (void *)inst[1], (void *)inst[0]);
	inst_alloc(inst[1]);
	fsr_unregister_shrinker(&m_shrinker);
	return 0;
}

static int reclaimer_test(void)
{
	first_take();
	m_then_l();
	fsr_register_shrinker(&m_shrinker);
	alloc_under_l();
	fsr_unregister_shrinker(&m_shrinker);
	printf("reclaimer: done\n");
	return 0;
}

/* ---- nss: item 1's objects that libc loads by itself ---- */
static volatile int nss_inside;
static int nss_passes_inside, nss_passes;
void libc_nss_mark(int inside);
void libc_nss_mark(int inside) { nss_inside = inside; }
static unsigned long nss_scan(struct fsr_shrinker *s, unsigned long n, unsigned int gfp)
{
	(void)s; (void)n; (void)gfp;
	if (nss_inside)
		__atomic_add_fetch(&nss_passes_inside, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&nss_passes, 1, __ATOMIC_RELAXED);
	return 0;
}
static struct fsr_shrinker nss_shrinker = {
	.name = "nss", .count_objects = log_count, .scan_objects = nss_scan, .flags = FSR_SHRINKER_FS,
};

static int nss_test(void)
{
	if (__nss_configure_lookup("passwd", "fsrtest"))
		die("__nss_configure_lookup");
	fsr_register_shrinker(&nss_shrinker);
	/* first lookup: libc dlopens libnss_fsrtest.so.2 itself */
	struct passwd *pw = getpwnam("fsrtest");
	int uid1 = pw ? (int)pw->pw_uid : -1;
	for (int i = 0; i < 3; i++) {    /* the program's own: passes, and a safe point */
		keep = malloc(48);
		free(keep);
	}
	int outside = nss_passes;
	pw = getpwnam("fsrtest");        /* the module is in the table by now */
	int uid2 = pw ? (int)pw->pw_uid : -1;
	fsr_unregister_shrinker(&nss_shrinker);
	printf("nss: uid %d %d, passes inside the module %d, by the program %d\n", uid1, uid2,
	       nss_passes_inside, outside);
	return uid1 == 4242 && uid2 == 4242 ? 0 : 1;
}

/* ---- rpath: a library's dlopen by bare name through its own RUNPATH ---- */
static int rpath_test(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/librpathhost.so", dir);
	void *h = dlopen(p, RTLD_NOW);
	if (!h)
		die(dlerror());
	int (*load)(void) = (int (*)(void))dlsym(h, "host_load");
	int v = load ? load() : -1;
	printf("rpath: plugin value %d\n", v);
	return v == 42 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (getenv("LIBC_TEST_DIR"))
		libdir = getenv("LIBC_TEST_DIR");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "hang")) { libc_hook = hang_hook; return hang(); }
	if (!strcmp(argv[1], "firstlock")) { libc_hook = firstlock_hook; return firstlock(); }
	if (!strcmp(argv[1], "stdio") && argc > 2) return stdio_test(argv[2]);
	if (!strcmp(argv[1], "dlopen")) { libc_hook = arm_hook; return dlopen_test(); }
	if (!strcmp(argv[1], "sigrt")) return sigrt_test();
	if (!strcmp(argv[1], "reclaimer")) return reclaimer_test();
	if (!strcmp(argv[1], "instance")) return instance_test();
	if (!strcmp(argv[1], "rpath") && argc > 2) return rpath_test(argv[2]);
	if (!strcmp(argv[1], "nss")) return nss_test();
	return 2;
}
