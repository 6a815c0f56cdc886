/* check_core.c - the core shim, tested under the shim itself.
 *
 * The binary re-executes itself with libfsreclaim.so preloaded (and
 * FSRECLAIM_OPTIONS=interval=1:mode=inline unless set) when it finds the
 * shim's API table missing.  Tests that need other options run this same
 * binary as a child: `check_core --child SCENARIO`, which prints key=value
 * lines that the test reads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <dlfcn.h>
#include <fsreclaim.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include "common.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#define PR_GET_IO_FLUSHER 58
#endif

static char self_exe[4096];
/* allocate and free, in a way the compiler cannot elide */
static void churn(size_t n)
{
	void *volatile p = malloc(n);
	free(p);
}

/* ------------------------------------------------------------------ */
/* shrinkers that count                                                */

struct ctr {
	atomic_long counts, scans, violations, reentry;
	atomic_uint gfp_or, gfp_and;
	atomic_int dead;           /* set after unregister returned */
	atomic_int inside;
	atomic_uint noreclaim_save_nonzero;
	atomic_long last_tid, last_pid;
	int set_errno;             /* scan sets errno to this */
	int unregister_self;       /* scan unregisters its own shrinker */
};

/* volatile: glibc declares malloc and free `leaf` (they never call back
 * into this file), which is untrue under the shim: without it the compiler
 * may keep these in registers across an allocation that ran a shrinker. */
static __thread volatile long tl_fs_scans, tl_io_scans;
static __thread volatile unsigned tl_last_gfp;

static unsigned long ctr_count(struct fsr_shrinker *s, unsigned int gfp)
{
	struct ctr *c = s->private_data;
	c->counts++;
	if (c->dead)
		c->violations++;
	return 1;
}

static unsigned long ctr_scan(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	struct ctr *c = s->private_data;
	if (c->inside++)
		c->reentry++;
	c->scans++;
	if (c->dead)
		c->violations++;
	c->gfp_or |= gfp;
	c->gfp_and &= gfp;
	tl_last_gfp = gfp;
	if (s->flags & FSR_SHRINKER_IO)
		tl_io_scans++;
	else
		tl_fs_scans++;
	/* callbacks run under NORECLAIM: a save newly sets nothing */
	unsigned r = memalloc_noreclaim_save();
	if (r)
		c->noreclaim_save_nonzero++;
	memalloc_noreclaim_restore(r);
	/* an allocation inside reclaim never recurses into reclaim */
	churn(100);
	c->last_tid = syscall(SYS_gettid);
	c->last_pid = getpid();
	if (c->set_errno)
		errno = c->set_errno;
	if (c->unregister_self)
		fsr_unregister_shrinker(s);
	c->inside--;
	return 1;
}

static void ctr_init(struct ctr *c, struct fsr_shrinker *s, unsigned flags, const char *name)
{
	memset(c, 0, sizeof *c);
	c->gfp_and = ~0u;
	memset(s, 0, sizeof *s);
	s->name = name;
	s->count_objects = ctr_count;
	s->scan_objects = ctr_scan;
	s->flags = flags;
	s->private_data = c;
}

static void drive(int n)
{
	for (int i = 0; i < n; i++) {
		churn(32);
	}
}

/* ------------------------------------------------------------------ */
/* child scenarios: run with options chosen by the test                */

static volatile long cur_alloc;          /* the allocation number the loop is at */
static volatile long sched[4096];
static volatile int nsched;
static volatile long first_call = -1;

static unsigned long rec_count(struct fsr_shrinker *s, unsigned int gfp) { return 1; }
static unsigned long rec_scan(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	if (nsched < 4096)
		sched[nsched++] = cur_alloc;
	if (first_call < 0)
		first_call = cur_alloc;
	return 1;
}
static struct fsr_shrinker rec = { "recorder", rec_count, rec_scan, FSR_SHRINKER_FS, NULL };

static int child_schedule(void)
{
	fsr_register_shrinker(&rec);
	for (cur_alloc = 0; cur_alloc < 400; cur_alloc++) {
		churn(64);
	}
	fsr_unregister_shrinker(&rec);
	printf("sched=");
	for (int i = 0; i < nsched; i++)
		printf("%s%ld", i ? "," : "", sched[i]);
	printf("\nn=%d\n", nsched);
	return 0;
}

static int child_space(void)
{
	fsr_register_shrinker(&rec);
	for (cur_alloc = 0; cur_alloc < 300; cur_alloc++) {
		churn(1000);
	}
	fsr_unregister_shrinker(&rec);
	printf("first=%ld\nn=%d\n", first_call, nsched);
	return 0;
}

static int child_times(void)
{
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS, "times");
	fsr_register_shrinker(&s);
	drive(200);
	fsr_unregister_shrinker(&s);
	printf("scans=%ld\n", (long)c.scans);
	return 0;
}

/* allocations that could call nothing (no shrinker yet, or a scope that
 * rules out the only one) do not use up times= */
static int child_times_late(void)
{
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS, "late");
	drive(20);
	fsr_register_shrinker(&s);
	unsigned a = memalloc_nofs_save();
	drive(20);
	memalloc_nofs_restore(a);
	drive(100);
	fsr_unregister_shrinker(&s);
	printf("scans=%ld\n", (long)c.scans);
	return 0;
}

static int child_limit(void)
{
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS, "limit");
	fsr_register_shrinker(&s);
	drive(50);
	long a = c.scans;
	void *big = malloc(4 << 20);        /* over limit=1000000 while it lives */
	memset(big, 1, 4 << 20);
	long b0 = c.scans;
	drive(50);
	long b = c.scans - b0;
	free(big);
	long c0 = c.scans;
	drive(50);
	long d = c.scans - c0;
	fsr_unregister_shrinker(&s);
	printf("under=%ld\nover=%ld\nafter=%ld\n", a, b, d);
	return 0;
}

/* a forked child gets its own reclaimer (handoff) or runs inline */
static int child_fork(void)
{
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS, "fork");
	fsr_register_shrinker(&s);
	drive(20);
	long parent_scans = c.scans;
	long parent_tid = c.last_tid;
	int fds[2];
	if (pipe(fds))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		c.scans = 0;
		c.last_tid = c.last_pid = 0;
		drive(20);
		char buf[256];
		int n = snprintf(buf, sizeof buf, "child_scans=%ld\nchild_cb_pid_ok=%d\nchild_cb_on_main=%d\n",
				 (long)c.scans, c.last_pid == getpid(), c.last_tid == getpid());
		(void)!write(fds[1], buf, (size_t)n);
		_exit(0);
	}
	close(fds[1]);
	char buf[256];
	ssize_t n = read(fds[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	int st;
	waitpid(pid, &st, 0);
	drive(20);
	printf("parent_scans=%ld\nparent_cb_on_main=%d\n%schild_status=%d\nparent_after=%ld\n",
	       parent_scans, parent_tid == getpid(), buf, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
	       (long)c.scans - parent_scans);
	fsr_unregister_shrinker(&s);
	return 0;
}

/* fork while other threads allocate and shrinkers run */
static atomic_int stop_flag;
static void *alloc_loop(void *a)
{
	while (!stop_flag) {
		void *p = malloc(24 + (rand() & 255));
		free(p);
	}
	return NULL;
}

static int child_fork_threads(void)
{
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS, "forkmt");
	fsr_register_shrinker(&s);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, alloc_loop, NULL);
	int bad = 0;
	for (int k = 0; k < 30; k++) {
		pid_t pid = fork();
		if (pid == 0) {
			long before = c.scans;
			drive(50);
			_exit(c.scans > before ? 0 : 3);
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	}
	stop_flag = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	fsr_unregister_shrinker(&s);
	printf("bad_children=%d\n", bad);
	return 0;
}

/* unregister while other threads allocate: never called after it returns */
static int child_unreg(int nthreads, int rounds)
{
	pthread_t *th = calloc((size_t)nthreads, sizeof *th);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, alloc_loop, NULL);
	long violations = 0, scans = 0;
	for (int r = 0; r < rounds; r++) {
		struct ctr *c = calloc(1, sizeof *c);
		struct fsr_shrinker *s = calloc(1, sizeof *s);
		ctr_init(c, s, r & 1 ? FSR_SHRINKER_IO : FSR_SHRINKER_FS, "churn");
		fsr_register_shrinker(s);
		for (int k = 0; k < 50; k++)   /* let some passes find it */
			sched_yield();
		fsr_unregister_shrinker(s);
		c->dead = 1;
		for (int k = 0; k < 20; k++)
			sched_yield();
		violations += c->violations;
		scans += c->scans;
		/* keep c and s alive: a buggy shim would write into freed memory */
	}
	stop_flag = 1;
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	printf("violations=%ld\nscans=%ld\n", violations, scans);
	return 0;
}

static int child_unreg_self(void)
{
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS, "self");
	c.unregister_self = 1;
	fsr_register_shrinker(&s);
	drive(100);
	printf("scans=%ld\n", (long)c.scans);
	return 0;
}

/* malloc from a signal handler while the main thread allocates.  The
 * handler uses one size class that the main thread never touches, so
 * glibc's tcache serves it without a lock (glibc itself is not
 * async-signal-safe); everything else it reaches is the shim's. */
static atomic_long handler_allocs;
static void on_alarm(int sig)
{
	int e = errno;
	void *p = malloc(8);
	if (p) {
		memset(p, 0, 8);
		free(p);
		handler_allocs++;
	}
	errno = e;
}

static int child_signal(void)
{
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS, "sig");
	fsr_register_shrinker(&s);
	free(malloc(8));          /* prime the tcache bin the handler uses */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	setitimer(ITIMER_REAL, &it, NULL);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long n = 0;
	do {
		for (int i = 0; i < 1000; i++, n++) {
			void *p = malloc(100 + (size_t)(i & 1023));
			free(p);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1500);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	fsr_unregister_shrinker(&s);
	printf("main_allocs=%ld\nhandler_allocs=%ld\nscans=%ld\nreentry=%ld\n", n, (long)handler_allocs,
	       (long)c.scans, (long)c.reentry);
	return 0;
}

static void *open_scope_and_exit(void *a)
{
	(void)memalloc_nofs_save();       /* never restored */
	return NULL;
}

static void *ioflusher_and_exit(void *a)
{
	long r = prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0);
	*(long *)a = r;
	return NULL;
}

static int child_thread_leak(int ioflusher)
{
	pthread_t th;
	long r = -2;
	pthread_create(&th, NULL, ioflusher ? ioflusher_and_exit : open_scope_and_exit, &r);
	pthread_join(th, NULL);
	printf("prctl=%ld\n", r);
	return 0;
}

static int child_imbalance(int status)
{
	unsigned a = memalloc_nofs_save();
	memalloc_nofs_restore(a);
	memalloc_nofs_restore(12345);
	return status;
}

/* a daemon that points fd 2 at /dev/null and reuses the shim's fd number
 * for a file of its own: reports still reach the real stderr (or log_path)
 * and never land in the daemon's file */
static int child_steal_fd(const char *dir)
{
	int devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, 2);
	close(devnull);
	char path[4200];
	snprintf(path, sizeof path, "%s/daemon.txt", dir);
	int own = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int stolen = 0;
	for (int fd = 3; fd < 1024; fd++) {
		if (fd == own || fd == 1 || fcntl(fd, F_GETFD) < 0)
			continue;
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
			continue;            /* the pipe to the test: stdout's twin */
		dup2(own, fd);
		stolen++;
	}
	unsigned a = memalloc_nofs_save();
	memalloc_nofs_restore(a);
	memalloc_nofs_restore(12345);
	printf("stolen=%d\n", stolen);
	return 0;
}

static int child_daemonize(void)
{
	int devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, 2);
	close(devnull);
	memalloc_nofs_restore(12345);
	return 0;
}

static int child_clean(void)
{
	unsigned a = memalloc_nofs_save();
	unsigned b = memalloc_noio_save();
	unsigned c = memalloc_nofs_save();
	drive(10);
	memalloc_nofs_restore(c);
	memalloc_noio_restore(b);
	memalloc_nofs_restore(a);
	drive(10);
	return 0;
}

static int child_allocs(void)
{
	printf("main ran\n");
	fflush(stdout);
	for (int i = 0; i < 1000; i++) {
		churn(10);
	}
	return 0;
}

static void *get_in_thread(void *a) { *(long *)a = prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0); return NULL; }

/* prctl(PR_SET_IO_FLUSHER) makes the calling thread NOIO */
static int child_ioflusher(void)
{
	struct ctr cf, ci; struct fsr_shrinker sf, si;
	ctr_init(&cf, &sf, FSR_SHRINKER_FS, "fs");
	ctr_init(&ci, &si, FSR_SHRINKER_IO, "io");
	fsr_register_shrinker(&sf);
	fsr_register_shrinker(&si);
	errno = 0;
	long get0 = prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0);
	long set = prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0);
	int set_errno = set ? errno : 0;
	long get1 = prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0);
	long fs0 = cf.scans, io0 = ci.scans;
	drive(20);
	long fs1 = cf.scans - fs0, io1 = ci.scans - io0;
	/* a thread started now inherits it (Linux copies the task flags) */
	pthread_t th;
	long child_get = -3;
	pthread_create(&th, NULL, get_in_thread, &child_get);
	pthread_join(th, NULL);
	long clr = prctl(PR_SET_IO_FLUSHER, 0, 0, 0, 0);
	long get2 = prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0);
	fs0 = cf.scans; io0 = ci.scans;
	drive(20);
	long fs2 = cf.scans - fs0, io2 = ci.scans - io0;
	long bad = prctl(PR_SET_IO_FLUSHER, 2, 0, 0, 0);
	int bad_errno = errno;
	fsr_unregister_shrinker(&sf);
	fsr_unregister_shrinker(&si);
	printf("get0=%ld\nset=%ld\nset_errno=%d\nget1=%ld\nfs1=%ld\nio1=%ld\nthread_get=%ld\n"
	       "clr=%ld\nget2=%ld\nfs2=%ld\nio2=%ld\nbad=%ld\nbad_errno=%d\n",
	       get0, set, set_errno, get1, fs1, io1, child_get, clr, get2, fs2, io2, bad, bad_errno);
	return 0;
}

static int child_main(const char *name)
{
	if (!strcmp(name, "schedule")) return child_schedule();
	if (!strcmp(name, "space")) return child_space();
	if (!strcmp(name, "times")) return child_times();
	if (!strcmp(name, "times-late")) return child_times_late();
	if (!strcmp(name, "limit")) return child_limit();
	if (!strcmp(name, "fork")) return child_fork();
	if (!strcmp(name, "fork-threads")) return child_fork_threads();
	if (!strcmp(name, "unreg")) return child_unreg(4, 2000);
	if (!strcmp(name, "unreg64")) return child_unreg(64, 300);
	if (!strcmp(name, "unreg-self")) return child_unreg_self();
	if (!strcmp(name, "signal")) return child_signal();
	if (!strcmp(name, "thread-scope-leak")) return child_thread_leak(0);
	if (!strcmp(name, "thread-ioflusher")) return child_thread_leak(1);
	if (!strcmp(name, "imbalance")) return child_imbalance(0);
	if (!strcmp(name, "imbalance-exit5")) return child_imbalance(5);
	if (!strcmp(name, "clean")) return child_clean();
	if (!strcmp(name, "daemonize")) return child_daemonize();
	if (!strncmp(name, "steal-fd:", 9)) return child_steal_fd(name + 9);
	if (!strcmp(name, "allocs")) return child_allocs();
	if (!strcmp(name, "ioflusher")) return child_ioflusher();
	fprintf(stderr, "unknown scenario %s\n", name);
	return 99;
}

static struct run R;   /* big: not on the stack */

static void child(const char *opts, const char *scenario, const char *const *env)
{
	char *argv[] = { self_exe, "--child", (char *)scenario, NULL };
	ck_assert_int_eq(run_prog(&R, argv, 1, opts, env, NULL, NULL), 0);
}

#define ASSERT_RAN(r) ck_assert_msg((r).status == 0, "status %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)

/* ------------------------------------------------------------------ */
/* scopes (in this process: interval=1 mode=inline)                    */

START_TEST(scope_save_values)
{
	ck_assert_ptr_nonnull(&fsr_api);
	unsigned a = memalloc_nofs_save();
	ck_assert_uint_ne(a, 0);               /* newly set */
	unsigned b = memalloc_nofs_save();
	ck_assert_uint_eq(b, 0);               /* already set: nothing new */
	unsigned c = memalloc_noio_save();
	ck_assert_uint_ne(c, 0);
	ck_assert_uint_ne(c, a);
	unsigned d = memalloc_noreclaim_save();
	ck_assert_uint_ne(d, 0);
	unsigned e = memalloc_noreclaim_save();
	ck_assert_uint_eq(e, 0);
	memalloc_noreclaim_restore(e);
	memalloc_noreclaim_restore(d);
	memalloc_noio_restore(c);
	memalloc_nofs_restore(b);
	/* still NOFS: the outer save is open */
	unsigned f = memalloc_nofs_save();
	ck_assert_uint_eq(f, 0);
	memalloc_nofs_restore(f);
	memalloc_nofs_restore(a);
	unsigned g = memalloc_nofs_save();
	ck_assert_uint_eq(g, a);               /* closed: newly set again */
	memalloc_nofs_restore(g);
	/* noio first, then nofs: nofs newly sets its own bit (flags, as Linux) */
	unsigned h = memalloc_noio_save();
	unsigned i = memalloc_nofs_save();
	ck_assert_uint_ne(h, 0);
	memalloc_nofs_restore(i);
	memalloc_noio_restore(h);
}
END_TEST

struct two { struct ctr cf, ci; struct fsr_shrinker sf, si; };
static struct two T;

static void two_setup(void)
{
	ctr_init(&T.cf, &T.sf, FSR_SHRINKER_FS, "fs");
	ctr_init(&T.ci, &T.si, FSR_SHRINKER_IO, "io");
	ck_assert_int_eq(fsr_register_shrinker(&T.sf), 0);
	ck_assert_int_eq(fsr_register_shrinker(&T.si), 0);
}

static void two_teardown(void)
{
	fsr_unregister_shrinker(&T.sf);
	fsr_unregister_shrinker(&T.si);
}

/* scans of each shrinker for n allocations */
static void measure(int n, long *fs, long *io)
{
	long f0 = T.cf.scans, i0 = T.ci.scans;
	drive(n);
	*fs = T.cf.scans - f0;
	*io = T.ci.scans - i0;
}

START_TEST(scope_precedence)
{
	long fs, io;
	two_setup();
	measure(10, &fs, &io);
	ck_assert_int_eq(fs, 10);
	ck_assert_int_eq(io, 10);
	ck_assert_uint_eq(T.cf.gfp_and, FSR_GFP_FS | FSR_GFP_IO);   /* no scope: both bits */

	unsigned a = memalloc_nofs_save();
	T.ci.gfp_or = 0; T.ci.gfp_and = ~0u;
	measure(10, &fs, &io);
	ck_assert_int_eq(fs, 0);                /* FS shrinker not under NOFS */
	ck_assert_int_eq(io, 10);               /* IO shrinker still is */
	ck_assert_uint_eq(T.ci.gfp_or, FSR_GFP_IO);   /* and is told: IO only */

	unsigned b = memalloc_noio_save();
	measure(10, &fs, &io);
	ck_assert_int_eq(fs, 0);
	ck_assert_int_eq(io, 0);                /* NOIO: neither */
	memalloc_noio_restore(b);
	measure(10, &fs, &io);
	ck_assert_int_eq(fs, 0);
	ck_assert_int_eq(io, 10);               /* back to NOFS */
	memalloc_nofs_restore(a);

	/* NOIO alone implies NOFS */
	b = memalloc_noio_save();
	measure(10, &fs, &io);
	ck_assert_int_eq(fs, 0);
	ck_assert_int_eq(io, 0);
	/* a nested NOFS save inside NOIO and its restore leave NOIO in force */
	a = memalloc_nofs_save();
	memalloc_nofs_restore(a);
	measure(10, &fs, &io);
	ck_assert_int_eq(fs + io, 0);
	memalloc_noio_restore(b);

	/* NORECLAIM blocks all */
	unsigned c = memalloc_noreclaim_save();
	measure(10, &fs, &io);
	ck_assert_int_eq(fs + io, 0);
	memalloc_noreclaim_restore(c);

	measure(10, &fs, &io);
	ck_assert_int_eq(fs, 10);
	ck_assert_int_eq(io, 10);
	/* callbacks ran under NORECLAIM and never recursed */
	ck_assert_int_eq(T.cf.noreclaim_save_nonzero, 0);
	ck_assert_int_eq(T.cf.reentry + T.ci.reentry, 0);
	ck_assert_int_eq(T.cf.last_tid, syscall(SYS_gettid));   /* inline */
	two_teardown();
}
END_TEST

START_TEST(scope_every_family_member)
{
	/* every allocation entry point runs the hook */
	long fs, io;
	two_setup();
	long f0 = T.cf.scans;
	void *p;
	p = malloc(10); free(p);
	p = calloc(2, 10); free(p);
	p = realloc(NULL, 10); p = realloc(p, 1000); free(p);
	p = reallocarray(NULL, 2, 10); free(p);
	p = memalign(64, 10); free(p);
	p = aligned_alloc(64, 64); free(p);
	ck_assert_int_eq(posix_memalign(&p, 64, 10), 0); free(p);
	p = valloc(10); free(p);
	p = pvalloc(10); free(p);
	ck_assert_int_ge(T.cf.scans - f0, 10);
	(void)fs; (void)io;
	two_teardown();
}
END_TEST

START_TEST(shrinker_errno_preserved)
{
	/* a pass never changes the caller's errno (glibc's malloc does not) */
	two_setup();
	T.cf.set_errno = EIO;
	errno = 4242;
	void *p = malloc(50);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_gt(T.cf.scans, 0);
	ck_assert_int_eq(errno, 4242);
	free(p);
	two_teardown();
}
END_TEST

START_TEST(shrinker_register_errors)
{
	struct fsr_shrinker bad = { "bad", NULL, NULL, FSR_SHRINKER_FS, NULL };
	ck_assert_int_ne(fsr_register_shrinker(&bad), 0);
	ck_assert_int_ne(fsr_register_shrinker(NULL), 0);
	fsr_unregister_shrinker(&bad);      /* never registered: harmless */
	/* unregister twice */
	two_setup();
	two_teardown();
	two_teardown();
	long fs, io;
	measure(5, &fs, &io);
	ck_assert_int_eq(fs + io, 0);
}
END_TEST

/* 8 threads with independent scopes */
struct thr { int kind; long fs, io, iters; unsigned save_ret; int ok; unsigned gfp; };

static void *scoped_thread(void *arg)
{
	struct thr *t = arg;
	unsigned s = 0;
	switch (t->kind) {
	case 1: s = memalloc_nofs_save(); break;
	case 2: s = memalloc_noio_save(); break;
	case 3: s = memalloc_noreclaim_save(); break;
	}
	t->save_ret = s;
	tl_fs_scans = tl_io_scans = 0;
	long i;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* others' passes may hold the one pass slot (for long, on a loaded
	 * machine, when their thread is preempted in a pass): go on until ours
	 * ran, for at most 60 s */
	for (i = 0; ; i++) {
		if ((i & 1023) == 1023) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (t1.tv_sec - t0.tv_sec > 60)
				break;
			sched_yield();
		}
		churn(16 + (size_t)(i & 511));
		if (i >= 5000 && t->kind == 0 && tl_fs_scans > 2 && tl_io_scans > 2)
			break;
		if (i >= 5000 && t->kind == 1 && tl_io_scans > 2)
			break;
		if (i >= 20000 && t->kind >= 2)
			break;
	}
	t->iters = i;
	t->fs = tl_fs_scans;
	t->io = tl_io_scans;
	t->gfp = tl_last_gfp;
	switch (t->kind) {
	case 1: memalloc_nofs_restore(s); break;
	case 2: memalloc_noio_restore(s); break;
	case 3: memalloc_noreclaim_restore(s); break;
	}
	return NULL;
}

START_TEST(threads_independent_scopes)
{
	two_setup();
	pthread_t th[8];
	struct thr t[8];
	for (int i = 0; i < 8; i++) {
		memset(&t[i], 0, sizeof t[i]);
		t[i].kind = i % 4;
		pthread_create(&th[i], NULL, scoped_thread, &t[i]);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	char all[2048];
	int o = 0;
	for (int i = 0; i < 8; i++)
		o += snprintf(all + o, sizeof all - (size_t)o, " [%d: kind %d fs=%ld io=%ld iters=%ld]", i, t[i].kind,
			      t[i].fs, t[i].io, t[i].iters);
	for (int i = 0; i < 8; i++) {
		if (t[i].kind)   /* every thread's first save newly sets its bit */
			ck_assert_msg(t[i].save_ret != 0, "thread %d (kind %d) save returned 0", i, t[i].kind);
		switch (t[i].kind) {
		case 0:
			ck_assert_msg(t[i].fs > 0 && t[i].io > 0, "thread %d: no scope, fs=%ld io=%ld:%s total fs=%ld/%ld io=%ld/%ld", i, t[i].fs, t[i].io, all, (long)T.cf.scans, (long)T.cf.counts, (long)T.ci.scans, (long)T.ci.counts);
			break;
		case 1:
			ck_assert_msg(t[i].fs == 0 && t[i].io > 0, "thread %d: nofs, fs=%ld io=%ld:%s", i, t[i].fs, t[i].io, all);
			ck_assert_uint_eq(t[i].gfp, FSR_GFP_IO);
			break;
		default:
			ck_assert_msg(t[i].fs == 0 && t[i].io == 0, "thread %d: kind %d, fs=%ld io=%ld", i, t[i].kind, t[i].fs, t[i].io);
		}
	}
	/* this thread's scope is untouched by theirs */
	unsigned a = memalloc_nofs_save();
	ck_assert_uint_ne(a, 0);
	memalloc_nofs_restore(a);
	two_teardown();
}
END_TEST

/* ------------------------------------------------------------------ */
/* the malloc family against glibc's own                               */

static void *libc;
#define LIBC(name) ((__typeof__(&name))dlsym(libc, #name))
#define SHIM(name) ((__typeof__(&name))dlsym(RTLD_DEFAULT, #name))

static void family_setup(void)
{
	libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	ck_assert_ptr_nonnull(libc);
	/* we really compare two implementations */
	ck_assert_ptr_ne((void *)LIBC(malloc), (void *)SHIM(malloc));
	ck_assert_ptr_ne((void *)LIBC(posix_memalign), (void *)SHIM(posix_memalign));
}

#define AL(p, a) (((uintptr_t)(p) & ((a) - 1)) == 0)

START_TEST(family_malloc_calloc)
{
	family_setup();
	__typeof__(&malloc) sm = SHIM(malloc), lm = LIBC(malloc);
	__typeof__(&calloc) sc = SHIM(calloc), lc = LIBC(calloc);
	size_t sizes[] = { 0, 1, 16, 100, 4096, 200000, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1, SIZE_MAX - 4096, SIZE_MAX };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		errno = 1234;
		void *a = sm(sizes[i]);
		int ea = errno;
		errno = 1234;
		void *b = lm(sizes[i]);
		int eb = errno;
		ck_assert_msg(!a == !b, "malloc(%zu): shim %p glibc %p", sizes[i], a, b);
		ck_assert_msg(ea == eb, "malloc(%zu): errno shim %d glibc %d", sizes[i], ea, eb);
		if (a) ck_assert(AL(a, 16));
		free(a); free(b);
	}
	size_t cn[][2] = { { SIZE_MAX, 2 }, { 2, SIZE_MAX / 2 + 1 }, { 0, SIZE_MAX }, { SIZE_MAX, 0 }, { 1, SIZE_MAX },
			   { 1 << 16, 1 << 16 }, { 10, 10 }, { 0, 0 }, { 3, 200000 } };
	for (size_t i = 0; i < sizeof cn / sizeof cn[0]; i++) {
		errno = 1234;
		unsigned char *a = sc(cn[i][0], cn[i][1]);
		int ea = errno;
		errno = 1234;
		unsigned char *b = lc(cn[i][0], cn[i][1]);
		int eb = errno;
		ck_assert_msg(!a == !b, "calloc(%zu,%zu): shim %p glibc %p", cn[i][0], cn[i][1], (void *)a, (void *)b);
		ck_assert_msg(ea == eb, "calloc(%zu,%zu): errno shim %d glibc %d", cn[i][0], cn[i][1], ea, eb);
		if (!a) ck_assert_int_eq(ea, ENOMEM);
		free(a); free(b);
	}
	/* calloc zeroes, also memory malloc handed out dirty before */
	for (int k = 0; k < 50; k++) {
		unsigned char *d = sm(1000);
		memset(d, 0xa5, 1000);
		free(d);
		unsigned char *z = sc(10, 100);
		for (int i = 0; i < 1000; i++)
			ck_assert_int_eq(z[i], 0);
		free(z);
	}
	/* free(NULL) and free keeps errno */
	errno = 777;
	free(NULL);
	ck_assert_int_eq(errno, 777);
	void *p = sm(100);
	errno = 778;
	free(p);
	ck_assert_int_eq(errno, 778);
}
END_TEST

START_TEST(family_realloc)
{
	family_setup();
	__typeof__(&realloc) sr = SHIM(realloc), lr = LIBC(realloc);
	__typeof__(&reallocarray) sra = SHIM(reallocarray), lra = LIBC(reallocarray);
	/* realloc(NULL, n) is malloc */
	errno = 1234;
	char *a = sr(NULL, 100);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(errno, 1234);
	memset(a, 'x', 100);
	/* grow and shrink keep the contents */
	a = sr(a, 300000);
	ck_assert_ptr_nonnull(a);
	for (int i = 0; i < 100; i++) ck_assert_int_eq(a[i], 'x');
	a = sr(a, 50);
	for (int i = 0; i < 50; i++) ck_assert_int_eq(a[i], 'x');
	/* a failing realloc leaves the block alone */
	errno = 1234;
	char *f = sr(a, SIZE_MAX);
	int ea = errno;
	char *lb = lr(NULL, 50);
	errno = 1234;
	char *g = lr(lb, SIZE_MAX);
	int eb = errno;
	ck_assert_ptr_null(f);
	ck_assert_ptr_null(g);
	ck_assert_int_eq(ea, eb);
	for (int i = 0; i < 50; i++) ck_assert_int_eq(a[i], 'x');
	/* realloc(p, 0): glibc frees and returns NULL */
	errno = 1234;
	void *z1 = sr(a, 0);
	ea = errno;
	errno = 1234;
	void *z2 = lr(lb, 0);
	eb = errno;
	ck_assert_msg(!z1 == !z2, "realloc(p,0): shim %p glibc %p", z1, z2);
	ck_assert_int_eq(ea, eb);
	free(z1); free(z2);
	/* realloc(NULL, 0) */
	z1 = sr(NULL, 0); z2 = lr(NULL, 0);
	ck_assert_msg(!z1 == !z2, "realloc(NULL,0): shim %p glibc %p", z1, z2);
	free(z1); free(z2);
	/* reallocarray overflow: ENOMEM, block intact */
	char *c = sra(NULL, 10, 10);
	ck_assert_ptr_nonnull(c);
	memset(c, 'y', 100);
	size_t ov[][2] = { { SIZE_MAX, 2 }, { 2, SIZE_MAX / 2 + 1 }, { 1 << 20, 1ull << 44 } };
	for (int i = 0; i < 3; i++) {
		errno = 1234;
		void *x = sra(c, ov[i][0], ov[i][1]);
		ea = errno;
		char *d = lr(NULL, 10);
		errno = 1234;
		void *y = lra(d, ov[i][0], ov[i][1]);
		eb = errno;
		ck_assert_ptr_null(x);
		ck_assert_ptr_null(y);
		ck_assert_int_eq(ea, ENOMEM);
		ck_assert_int_eq(ea, eb);
		free(d);
		for (int k = 0; k < 100; k++) ck_assert_int_eq(c[k], 'y');
	}
	c = sra(c, 1000, 2);
	for (int k = 0; k < 100; k++) ck_assert_int_eq(c[k], 'y');
	errno = 1234;
	z1 = sra(c, 0, 5);
	ea = errno;
	char *d = lr(NULL, 10);
	errno = 1234;
	z2 = lra(d, 0, 5);
	eb = errno;
	ck_assert_msg(!z1 == !z2, "reallocarray(p,0,5): shim %p glibc %p", z1, z2);
	ck_assert_int_eq(ea, eb);
	free(z1); free(z2);
}
END_TEST

static size_t nextpow2(size_t a)
{
	size_t p = 1;
	while (p < a && p)
		p <<= 1;
	return p;
}

START_TEST(family_aligned)
{
	family_setup();
	__typeof__(&aligned_alloc) saa = SHIM(aligned_alloc), laa = LIBC(aligned_alloc);
	__typeof__(&memalign) sma = SHIM(memalign), lma = LIBC(memalign);
	__typeof__(&posix_memalign) spm = SHIM(posix_memalign), lpm = LIBC(posix_memalign);
	size_t als[] = { 0, 1, 2, 3, 4, 5, 7, 8, 12, 16, 24, 32, 48, 64, 100, 4096, 6000, 1 << 20,
			 SIZE_MAX / 2, SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 2, SIZE_MAX };
	size_t szs[] = { 0, 1, 10, 100, 4096, 300000, SIZE_MAX - 100000, SIZE_MAX };
	for (size_t i = 0; i < sizeof als / sizeof als[0]; i++)
		for (size_t j = 0; j < sizeof szs / sizeof szs[0]; j++) {
			size_t al = als[i], sz = szs[j];
			if (al >= (1 << 20) && al < SIZE_MAX / 2 && sz > 100)
				continue;
			/* aligned_alloc */
			errno = 1234;
			void *a = saa(al, sz);
			int ea = errno;
			errno = 1234;
			void *b = laa(al, sz);
			int eb = errno;
			ck_assert_msg(!a == !b, "aligned_alloc(%zu,%zu): shim %p glibc %p", al, sz, a, b);
			ck_assert_msg(ea == eb, "aligned_alloc(%zu,%zu): errno shim %d glibc %d", al, sz, ea, eb);
			if (a && al && al <= 4096) {
				ck_assert_msg(AL(a, nextpow2(al)), "aligned_alloc(%zu,%zu) = %p", al, sz, a);
				ck_assert_msg(AL(b, nextpow2(al)), "glibc aligned_alloc(%zu,%zu) = %p", al, sz, b);
			}
			free(a); free(b);
			/* memalign */
			errno = 1234;
			a = sma(al, sz);
			ea = errno;
			errno = 1234;
			b = lma(al, sz);
			eb = errno;
			ck_assert_msg(!a == !b, "memalign(%zu,%zu): shim %p glibc %p", al, sz, a, b);
			ck_assert_msg(ea == eb, "memalign(%zu,%zu): errno shim %d glibc %d", al, sz, ea, eb);
			if (a && al && al <= 4096)
				ck_assert(AL(a, nextpow2(al)));
			free(a); free(b);
			/* posix_memalign: bad alignment is EINVAL, errno and *out untouched */
			void *pa = (void *)0x1234, *pb = (void *)0x1234;
			errno = 1234;
			int ra = spm(&pa, al, sz);
			ea = errno;
			errno = 1234;
			int rb = lpm(&pb, al, sz);
			eb = errno;
			ck_assert_msg(ra == rb, "posix_memalign(%zu,%zu): shim %d glibc %d", al, sz, ra, rb);
			ck_assert_msg(ea == eb, "posix_memalign(%zu,%zu): errno shim %d glibc %d", al, sz, ea, eb);
			if (ra) {
				ck_assert_ptr_eq(pa, (void *)0x1234);
				ck_assert_ptr_eq(pb, (void *)0x1234);
			} else {
				ck_assert(AL(pa, al));
				free(pa); free(pb);
			}
			int badal = al == 0 || al % sizeof(void *) || (al & (al - 1));
			if (badal) {
				ck_assert_int_eq(ra, EINVAL);
				ck_assert_int_eq(ea, 1234);
			}
		}
}
END_TEST

START_TEST(family_page)
{
	family_setup();
	long pg = sysconf(_SC_PAGESIZE);
	__typeof__(&valloc) sv = SHIM(valloc), lv = LIBC(valloc);
	__typeof__(&pvalloc) spv = SHIM(pvalloc), lpv = LIBC(pvalloc);
	__typeof__(&malloc_usable_size) su = SHIM(malloc_usable_size), lu = LIBC(malloc_usable_size);
	size_t szs[] = { 0, 1, 100, 4095, 4096, 4097, 300000, SIZE_MAX - 2000, SIZE_MAX };
	for (size_t i = 0; i < sizeof szs / sizeof szs[0]; i++) {
		errno = 1234;
		void *a = sv(szs[i]);
		int ea = errno;
		errno = 1234;
		void *b = lv(szs[i]);
		int eb = errno;
		ck_assert_msg(!a == !b, "valloc(%zu): shim %p glibc %p", szs[i], a, b);
		ck_assert_int_eq(ea, eb);
		if (a) {
			ck_assert(AL(a, (size_t)pg));
			ck_assert_uint_ge(su(a), szs[i]);
			ck_assert_uint_eq(su(a), lu(a));
		}
		free(a); free(b);
		errno = 1234;
		a = spv(szs[i]);
		ea = errno;
		errno = 1234;
		b = lpv(szs[i]);
		eb = errno;
		ck_assert_msg(!a == !b, "pvalloc(%zu): shim %p glibc %p", szs[i], a, b);
		ck_assert_int_eq(ea, eb);
		if (a) {
			ck_assert(AL(a, (size_t)pg));
			size_t want = (szs[i] + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
			ck_assert_uint_ge(su(a), want);
			ck_assert_uint_eq(su(a), lu(a));
		}
		free(a); free(b);
	}
}
END_TEST

START_TEST(family_usable_size)
{
	family_setup();
	__typeof__(&malloc_usable_size) su = SHIM(malloc_usable_size), lu = LIBC(malloc_usable_size);
	ck_assert_uint_eq(su(NULL), 0);
	ck_assert_uint_eq(su(NULL), lu(NULL));
	size_t szs[] = { 0, 1, 8, 24, 25, 100, 1000, 4096, 65536, 131072, 140000, 1 << 20, 5 << 20 };
	for (size_t i = 0; i < sizeof szs / sizeof szs[0]; i++) {
		void *ps[7];
		ps[0] = malloc(szs[i]);
		ps[1] = calloc(1, szs[i]);
		ps[2] = memalign(256, szs[i]);
		ps[3] = memalign(8192, szs[i]);
		ps[4] = realloc(NULL, szs[i]);
		ps[5] = realloc(malloc(10), szs[i] + 1);
		ps[6] = aligned_alloc(64, szs[i]);
		for (int k = 0; k < 7; k++) {
			ck_assert_ptr_nonnull(ps[k]);
			ck_assert_msg(su(ps[k]) >= szs[i], "usable(%zu) kind %d = %zu", szs[i], k, su(ps[k]));
			ck_assert_msg(su(ps[k]) == lu(ps[k]), "usable(%zu) kind %d: shim %zu glibc %zu", szs[i], k,
				      su(ps[k]), lu(ps[k]));
			memset(ps[k], 1, su(ps[k]));   /* all of it really is usable */
			free(ps[k]);
		}
	}
	/* mmapped calloc above the threshold */
	void *p = calloc(1, 64 << 20);
	ck_assert_uint_eq(su(p), lu(p));
	free(p);
}
END_TEST

START_TEST(family_cxx)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/tests/core/cxxnew", builddir());
	char *argv[] = { path, NULL };
	ck_assert_int_eq(run_prog(&R, argv, 1, "interval=1:mode=inline", NULL, NULL, NULL), 0);
	ck_assert_msg(R.status == 0, "cxxnew status %d: %s%s", R.status, R.out, R.err);
	ck_assert_int_gt(kv(R.out, "scans"), 0);
	ck_assert_int_eq(kv(R.out, "shim"), 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* prctl(PR_SET_IO_FLUSHER)                                            */

START_TEST(ioflusher)
{
	/* does the kernel let us?  (needs CAP_SYS_RESOURCE) */
	long k = syscall(SYS_prctl, PR_GET_IO_FLUSHER, 0, 0, 0, 0);
	int real_ok = k >= 0;
	const char *env_sim[] = { "FSRECLAIM_TEST_IO_FLUSHER=1", NULL };
	/* as the kernel has it */
	child("interval=1:mode=inline", "ioflusher", NULL);
	ASSERT_RAN(R);
	if (real_ok) {
		ck_assert_int_eq(kv(R.out, "set"), 0);
	} else {
		/* the kernel refused: so does the shim, and the thread stays as it was */
		ck_assert_int_eq(kv(R.out, "set"), -1);
		ck_assert_int_eq(kv(R.out, "set_errno"), EPERM);
		ck_assert_int_gt(kv(R.out, "fs1"), 0);
		ck_assert_int_gt(kv(R.out, "io1"), 0);
	}
	/* with the grant simulated (or real): the thread is NOIO until cleared */
	child("interval=1:mode=inline", "ioflusher", real_ok ? NULL : env_sim);
	ASSERT_RAN(R);
	ck_assert_msg(kv(R.out, "set") == 0, "%s", R.out);
	ck_assert_int_eq(kv(R.out, "get0"), 0);
	ck_assert_int_eq(kv(R.out, "get1"), 1);
	ck_assert_int_eq(kv(R.out, "fs1"), 0);
	ck_assert_int_eq(kv(R.out, "io1"), 0);
	ck_assert_int_eq(kv(R.out, "thread_get"), 1);
	ck_assert_int_eq(kv(R.out, "clr"), 0);
	ck_assert_int_eq(kv(R.out, "get2"), 0);
	ck_assert_int_gt(kv(R.out, "fs2"), 0);
	ck_assert_int_gt(kv(R.out, "io2"), 0);
	ck_assert_int_eq(kv(R.out, "bad"), -1);
	ck_assert_int_eq(kv(R.out, "bad_errno"), EINVAL);
	/* io_flusher state at thread exit is never a leak */
	child("interval=1:mode=inline", "thread-ioflusher", real_ok ? NULL : env_sim);
	ck_assert_msg(R.status == 0 && !strstr(R.err, "scope-leak"), "status %d: %s", R.status, R.err);
}
END_TEST

/* ------------------------------------------------------------------ */
/* the reclaim schedule                                                */

START_TEST(sched_seed)
{
	char a[65536], b[65536];
	child("interval=1:probability=50:seed=1:mode=inline", "schedule", NULL);
	ASSERT_RAN(R);
	long na = kv(R.out, "n");
	snprintf(a, sizeof a, "%s", kvs(R.out, "sched"));
	child("interval=1:probability=50:seed=1:mode=inline", "schedule", NULL);
	ASSERT_RAN(R);
	snprintf(b, sizeof b, "%s", kvs(R.out, "sched"));
	ck_assert_msg(!strcmp(a, b), "same seed, different schedules:\n%s\n%s", a, b);
	ck_assert_msg(na > 120 && na < 280, "probability=50 gave %ld of 400", na);
	child("interval=1:probability=50:seed=2:mode=inline", "schedule", NULL);
	ASSERT_RAN(R);
	ck_assert_msg(strcmp(a, kvs(R.out, "sched")), "seed 1 and 2 gave the same schedule");
	/* interval=3, probability=100: allocations 3,6,9,... of the thread */
	child("interval=3:mode=inline", "schedule", NULL);
	ASSERT_RAN(R);
	ck_assert_int_ge(kv(R.out, "n"), 132);
	ck_assert_int_le(kv(R.out, "n"), 134);
	/* interval=0: never */
	child("interval=0:mode=inline", "schedule", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "n"), 0);
	/* probability=0: never */
	child("interval=1:probability=0:mode=inline", "schedule", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "n"), 0);
	/* handoff mode gives the same schedule as inline */
	child("interval=1:probability=50:seed=1:mode=handoff", "schedule", NULL);
	ASSERT_RAN(R);
	ck_assert_msg(!strcmp(a, kvs(R.out, "sched")), "handoff schedule differs");
}
END_TEST

START_TEST(sched_times_space)
{
	child("interval=1:times=3:mode=inline", "times", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "scans"), 3);
	child("interval=1:times=3:mode=inline", "times-late", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "scans"), 3);
	child("interval=1:times=0:mode=inline", "times", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "scans"), 0);
	child("interval=1:times=-1:mode=inline", "times", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "scans"), 200);
	/* space=100000: nothing until ~100 allocations of 1000 bytes */
	child("interval=1:space=100000:mode=inline", "space", NULL);
	ASSERT_RAN(R);
	long first = kv(R.out, "first");
	ck_assert_msg(first >= 90 && first <= 100, "first pass at allocation %ld", first);
	ck_assert_int_ge(kv(R.out, "n"), 190);
	/* space counted per thread with interval: */
	child("interval=2:space=100000:mode=inline", "space", NULL);
	ASSERT_RAN(R);
	ck_assert_int_ge(kv(R.out, "n"), 95);
	ck_assert_int_le(kv(R.out, "n"), 106);
}
END_TEST

START_TEST(sched_limit)
{
	child("interval=0:limit=1000000:mode=inline", "limit", NULL);
	ASSERT_RAN(R);
	ck_assert_msg(kv(R.out, "under") == 0, "%s", R.out);
	ck_assert_msg(kv(R.out, "over") >= 50, "%s", R.out);
	ck_assert_msg(kv(R.out, "after") == 0, "%s", R.out);
	/* limit bypasses interval, not times */
	child("interval=0:limit=1000000:times=5:mode=inline", "limit", NULL);
	ASSERT_RAN(R);
	ck_assert_msg(kv(R.out, "over") == 5, "%s", R.out);
}
END_TEST

/* ------------------------------------------------------------------ */
/* threads, fork, signals                                              */

START_TEST(unregister_while_allocating)
{
	child("interval=1:mode=inline", "unreg", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "violations"), 0);
	ck_assert_int_gt(kv(R.out, "scans"), 0);
	child("interval=1:mode=handoff", "unreg", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "violations"), 0);
	ck_assert_int_gt(kv(R.out, "scans"), 0);
	child("interval=1:mode=inline", "unreg-self", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "scans"), 1);
	child("interval=1:mode=handoff", "unreg-self", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "scans"), 1);
}
END_TEST

START_TEST(threads64_register_churn)
{
	child("interval=1:mode=inline", "unreg64", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "violations"), 0);
	child("interval=7:mode=handoff", "unreg64", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "violations"), 0);
}
END_TEST

START_TEST(fork_child)
{
	child("interval=1:mode=handoff", "fork", NULL);
	ASSERT_RAN(R);
	ck_assert_int_gt(kv(R.out, "parent_scans"), 0);
	ck_assert_int_eq(kv(R.out, "parent_cb_on_main"), 0);   /* on the reclaimer */
	ck_assert_int_eq(kv(R.out, "child_status"), 0);
	ck_assert_msg(kv(R.out, "child_scans") > 0, "%s", R.out);  /* the child's own reclaimer */
	ck_assert_int_eq(kv(R.out, "child_cb_pid_ok"), 1);
	ck_assert_int_eq(kv(R.out, "child_cb_on_main"), 0);
	ck_assert_int_gt(kv(R.out, "parent_after"), 0);
	child("interval=1:mode=inline", "fork", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "parent_cb_on_main"), 1);
	ck_assert_int_gt(kv(R.out, "child_scans"), 0);
	ck_assert_int_eq(kv(R.out, "child_cb_on_main"), 1);
	child("interval=1:mode=handoff", "fork-threads", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "bad_children"), 0);
	child("interval=1:mode=inline", "fork-threads", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "bad_children"), 0);
}
END_TEST

START_TEST(signal_handler_malloc)
{
	child("interval=1:mode=inline", "signal", NULL);
	ASSERT_RAN(R);
	ck_assert_int_gt(kv(R.out, "handler_allocs"), 10);
	ck_assert_int_gt(kv(R.out, "scans"), 0);
	ck_assert_int_eq(kv(R.out, "reentry"), 0);
	child("interval=3:mode=handoff", "signal", NULL);
	ASSERT_RAN(R);
	ck_assert_int_gt(kv(R.out, "handler_allocs"), 10);
	ck_assert_int_eq(kv(R.out, "reentry"), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* options                                                             */

static int one_line(const char *s)
{
	const char *nl = strchr(s, '\n');
	return nl && nl[1] == 0;
}

static void expect_bad(const char *opts, const char *key)
{
	child(opts, "allocs", NULL);
	ck_assert_msg(R.status == 2, "'%.80s': status %d, stderr '%.300s'", opts, R.status, R.err);
	ck_assert_msg(strstr(R.err, key) != NULL, "'%.80s': message does not name '%s': '%.300s'", opts, key, R.err);
	ck_assert_msg(strstr(R.err, "fsreclaim") != NULL, "'%.80s': '%.300s'", opts, R.err);
	ck_assert_msg(one_line(R.err), "'%.80s': not one line: '%.600s'", opts, R.err);
	ck_assert_msg(strlen(R.err) < 1024, "'%.80s': message of %zu bytes", opts, strlen(R.err));
	ck_assert_msg(!strstr(R.out, "main ran"), "'%.80s': the program ran", opts);
}

START_TEST(options_bad)
{
	static const char *bad[][2] = {
		{ "bogus=1", "bogus" }, { "interval=abc", "interval" }, { "interval=-1", "interval" },
		{ "interval=", "interval" }, { "interval=1x", "interval" }, { "interval= 1", "interval" },
		{ "interval=99999999999999999999999999", "interval" }, { "interval=18446744073709551616", "interval" },
		{ "probability=101", "probability" }, { "probability=250", "probability" }, { "probability=-5", "probability" },
		{ "times=-2", "times" }, { "times=9223372036854775808", "times" }, { "space=-1", "space" },
		{ "limit=1e9", "limit" }, { "seed=0x10", "seed" }, { "mode=fast", "mode" }, { "mode=", "mode" },
		{ "timeout_ms=-1", "timeout_ms" }, { "callbacks=shrinkers,bogus", "callbacks" }, { "callbacks=", "callbacks" },
		{ "callbacks=,", "callbacks" }, { "detect_needless_nofs=2", "detect_needless_nofs" },
		{ "halt_on_error=yes", "halt_on_error" }, { "exitcode=256", "exitcode" }, { "exitcode=-1", "exitcode" },
		{ "stack_depth=0", "stack_depth" }, { "stack_depth=100000", "stack_depth" }, { "stats=2", "stats" },
		{ "log_path=", "log_path" }, { "json_path=", "json_path" }, { "suppressions=", "suppressions" },
		{ "log_path=/nonexistent/dir/log", "log_path" },
		{ "json_path=/nonexistent/dir/j", "json_path" },
		{ "interval", "interval" }, { "stats=1:interval", "interval" }, { "=5", "=5" },
		{ "interval=1:Interval=2", "Interval" }, { "interval=1:interval=x", "interval" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_bad(bad[i][0], bad[i][1]);
	/* hostile: 100 KB long values and keys, non-UTF-8 bytes */
	static char big[110000];
	memset(big, 0, sizeof big);
	strcpy(big, "interval=");
	memset(big + 9, '7', 100000);
	expect_bad(big, "interval");
	memset(big, 0, sizeof big);
	memset(big, 'k', 100000);
	strcat(big, "=1");
	expect_bad(big, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
	memset(big, 0, sizeof big);
	strcpy(big, "log_path=/tmp/");
	memset(big + 14, 'a', 100000);
	expect_bad(big, "log_path");
	memset(big, 0, sizeof big);
	strcpy(big, "mode=");
	memset(big + 5, 'x', 100000);
	expect_bad(big, "mode");
	expect_bad("\xff\xfe\x80=1", "\\xff");
	expect_bad("mode=\xc3\x28", "mode");
	expect_bad("interval=\xef\xbc\x91", "interval");   /* a full-width digit one */
	expect_bad("interval=1:\x1b[31mred=1", "red");
	/* the message must not carry raw control bytes or invalid UTF-8 to the terminal */
	child("\x1b[2J\xff=1", "allocs", NULL);
	ck_assert_int_eq(R.status, 2);
	for (const char *p = R.err; *p; p++)
		ck_assert_msg(((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f) || *p == '\n',
			      "raw byte 0x%02x in '%s'", (unsigned char)*p, R.err);
}
END_TEST

/* an unreadable suppressions file: report.c's loader */
START_TEST(options_bad_suppressions)
{
	expect_bad("suppressions=/nonexistent/supp", "suppressions");
	expect_bad("suppressions=/", "suppressions");
}
END_TEST

START_TEST(options_good)
{
	static const char *good[] = {
		"", ":", "interval=5::stats=0:", "interval=0", "interval=18446744073709551615", "probability=0",
		"probability=100", "times=-1", "times=0", "times=9223372036854775807", "space=0",
		"limit=18446744073709551615", "seed=18446744073709551615", "mode=inline", "mode=handoff",
		"timeout_ms=0", "timeout_ms=1", "callbacks=shrinkers", "callbacks=forget,fsync,flush,shrinkers",
		"detect_needless_nofs=1", "halt_on_error=1", "exitcode=0", "exitcode=255", "stack_depth=1",
		"stack_depth=64", "stats=0",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		child(good[i], "allocs", NULL);
		ck_assert_msg(R.status == 0, "'%s': status %d: %s", good[i], R.status, R.err);
		ck_assert_msg(strstr(R.out, "main ran"), "'%s'", good[i]);
		ck_assert_msg(R.err[0] == 0, "'%s': stderr '%s'", good[i], R.err);
	}
}
END_TEST

START_TEST(options_repeat_later_wins)
{
	child("stats=1:interval=0:interval=1:mode=inline", "times", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "scans"), 200);
	const char *s = strstr(R.err, "reclaim_passes=");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_ge(atol(s + 15), 200);
	child("stats=1:interval=1:mode=inline:interval=0", "times", NULL);
	ASSERT_RAN(R);
	ck_assert_int_eq(kv(R.out, "scans"), 0);
	s = strstr(R.err, "reclaim_passes=");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(atol(s + 15), 0);
	child("stats=1:stats=0", "allocs", NULL);
	ASSERT_RAN(R);
	ck_assert_ptr_null(strstr(R.err, "stats:"));
	child("exitcode=0:exitcode=2", "imbalance", NULL);
	ck_assert_int_eq(R.status, 2);
	ck_assert_ptr_nonnull(strstr(R.err, "scope-imbalance"));
}
END_TEST

START_TEST(options_secure)
{
	const char *env[] = { "FSRECLAIM_TEST_SECURE=1", NULL };
	child("bogus=1:stats=1", "allocs", env);
	ck_assert_msg(R.status == 0, "secure: status %d: %s", R.status, R.err);
	ck_assert_ptr_nonnull(strstr(R.out, "main ran"));
	ck_assert_ptr_null(strstr(R.err, "stats"));
	child("stats=1", "allocs", env);
	ck_assert_int_eq(R.status, 0);
	ck_assert_ptr_null(strstr(R.err, "stats"));
}
END_TEST

static char tmpdir[4096];
static void mk_tmpdir(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/fsr-core-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* in the child, before exec: PATH.PID is a symlink to a file we own */
static void plant_symlink(void *arg)
{
	char link[4200], target[4200];
	snprintf(link, sizeof link, "%s/log.%d", (char *)arg, (int)getpid());
	snprintf(target, sizeof target, "%s/victim", (char *)arg);
	(void)!symlink(target, link);
	umask(0);
}

static void set_umask0(void *arg) { umask(0); }

START_TEST(options_log_path)
{
	mk_tmpdir();
	char opts[4300], victim[4200], path[4300];
	/* a symlink at PATH.PID is not followed */
	snprintf(victim, sizeof victim, "%s/victim", tmpdir);
	int fd = open(victim, O_CREAT | O_WRONLY, 0600);
	close(fd);
	snprintf(opts, sizeof opts, "stats=1:log_path=%s/log", tmpdir);
	char *argv[] = { self_exe, "--child", "allocs", NULL };
	ck_assert_int_eq(run_prog(&R, argv, 1, opts, NULL, plant_symlink, tmpdir), 0);
	ck_assert_msg(R.status == 2, "status %d: %s", R.status, R.err);
	ck_assert_ptr_nonnull(strstr(R.err, "log_path"));
	struct stat st;
	ck_assert_int_eq(stat(victim, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	/* created 0644 whatever the umask, named PATH.PID, holds the stats */
	snprintf(opts, sizeof opts, "stats=1:log_path=%s/good", tmpdir);
	ck_assert_int_eq(run_prog(&R, argv, 1, opts, NULL, set_umask0, NULL), 0);
	ck_assert_msg(R.status == 0, "status %d: %s", R.status, R.err);
	ck_assert_ptr_null(strstr(R.err, "stats"));
	snprintf(path, sizeof path, "rm -f %s/log.* %s/victim; ls %s | grep -c '^good\\.[0-9][0-9]*$' >/dev/null", tmpdir, tmpdir, tmpdir);
	ck_assert_int_eq(system(path), 0);
	snprintf(path, sizeof path, "stat -c %%a %s/good.* | grep -qx 644 && grep -q '^fsreclaim: stats: ' %s/good.*", tmpdir, tmpdir);
	ck_assert_msg(system(path) == 0, "log file not 0644 or without stats");
	/* a relative log_path is made absolute at start-up */
	snprintf(path, sizeof path, "cd %s && FSRECLAIM_OPTIONS=stats=1:log_path=rel LD_PRELOAD=%s %s --child allocs >/dev/null && ls rel.* >/dev/null",
		 tmpdir, shim_path(), self_exe);
	ck_assert_int_eq(system(path), 0);
	snprintf(path, sizeof path, "rm -rf %s", tmpdir);
	(void)!system(path);
}
END_TEST

START_TEST(output_fd)
{
	/* fd 2 pointed at /dev/null: the report still reaches the original stderr */
	child(NULL, "daemonize", NULL);
	ck_assert_int_eq(R.status, 66);
	ck_assert_ptr_nonnull(strstr(R.err, "scope-imbalance"));
	/* the shim's fd number reused for a file of the daemon: never written to */
	mk_tmpdir();
	char scen[4300], path[4300];
	snprintf(scen, sizeof scen, "steal-fd:%s", tmpdir);
	child(NULL, scen, NULL);
	ck_assert_int_eq(R.status, 66);
	ck_assert_int_ge(kv(R.out, "stolen"), 1);
	snprintf(path, sizeof path, "grep -q fsreclaim %s/daemon.txt", tmpdir);
	ck_assert_msg(system(path) != 0, "a report landed in the daemon's own file");
	/* with log_path: reopened, the report is in PATH.PID */
	char opts[4300];
	snprintf(opts, sizeof opts, "log_path=%s/log", tmpdir);
	child(opts, scen, NULL);
	ck_assert_int_eq(R.status, 66);
	snprintf(path, sizeof path, "grep -q fsreclaim %s/daemon.txt", tmpdir);
	ck_assert_msg(system(path) != 0, "a report landed in the daemon's own file (log_path)");
	snprintf(path, sizeof path, "cat %s/log.* | grep -q 'SUMMARY: fsreclaim: scope-imbalance'", tmpdir);
	ck_assert_msg(system(path) == 0, "the report is not in log_path");
	snprintf(path, sizeof path, "rm -rf %s", tmpdir);
	(void)!system(path);
}
END_TEST

/* ------------------------------------------------------------------ */
/* exit status, stats line, the header without the shim               */

START_TEST(exit_status)
{
	child(NULL, "imbalance", NULL);
	ck_assert_msg(R.status == 66, "status %d: %s", R.status, R.err);
	ck_assert_ptr_nonnull(strstr(R.err, "fsreclaim: WARNING: scope-imbalance"));
	ck_assert_ptr_nonnull(strstr(R.err, "SUMMARY: fsreclaim: scope-imbalance"));
	child("exitcode=3", "imbalance", NULL);
	ck_assert_int_eq(R.status, 3);
	child("exitcode=0", "imbalance", NULL);
	ck_assert_int_eq(R.status, 0);
	child(NULL, "imbalance-exit5", NULL);
	ck_assert_int_eq(R.status, 5);
	child("interval=1:mode=inline", "clean", NULL);
	ck_assert_msg(R.status == 0, "clean: status %d: %s", R.status, R.err);
	ck_assert_msg(R.err[0] == 0, "clean: stderr '%s'", R.err);
	/* a scope left open when a thread exits: scope-leak */
	child(NULL, "thread-scope-leak", NULL);
	ck_assert_msg(R.status == 66 && strstr(R.err, "scope-leak"), "status %d: %s", R.status, R.err);
}
END_TEST

START_TEST(stats_line)
{
	child("stats=1:interval=10:mode=inline", "times", NULL);
	ASSERT_RAN(R);
	unsigned long long a, p, c, f, h;
	const char *s = strstr(R.err, "fsreclaim: stats: ");
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(s == R.err || s[-1] == '\n', "not at the start of a line: %s", R.err);
	ck_assert_int_eq(sscanf(s, "fsreclaim: stats: allocs=%llu reclaim_passes=%llu callbacks=%llu fs_ops=%llu hazards=%llu",
				&a, &p, &c, &f, &h), 5);
	ck_assert_uint_ge(a, 200);
	ck_assert_uint_ge(p, 20);
	ck_assert_uint_eq(c, (unsigned long long)kv(R.out, "scans"));
	ck_assert_uint_eq(h, 0);
	const char *e = strchr(s, '\n');
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e[1], 0);
	/* hazards counts printed reports */
	child("stats=1", "imbalance", NULL);
	s = strstr(R.err, "fsreclaim: stats: ");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(sscanf(s, "fsreclaim: stats: allocs=%llu reclaim_passes=%llu callbacks=%llu fs_ops=%llu hazards=%llu",
				&a, &p, &c, &f, &h), 5);
	ck_assert_uint_eq(h, 1);
	/* callbacks: shrinker scans */
	child("stats=1:interval=1:times=3:mode=inline", "times", NULL);
	s = strstr(R.err, "fsreclaim: stats: ");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(sscanf(s, "fsreclaim: stats: allocs=%llu reclaim_passes=%llu callbacks=%llu fs_ops=%llu hazards=%llu",
				&a, &p, &c, &f, &h), 5);
	ck_assert_uint_eq(c, 3);
}
END_TEST

START_TEST(header_without_shim)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/tests/core/noshim", builddir());
	char *argv[] = { path, NULL };
	ck_assert_int_eq(run_prog(&R, argv, 0, NULL, NULL, NULL, NULL), 0);
	ck_assert_msg(R.status == 0, "noshim without the shim: %d %s %s", R.status, R.out, R.err);
	ck_assert_int_eq(kv(R.out, "api"), 0);
	/* the same binary with the shim: the calls reach it */
	ck_assert_int_eq(run_prog(&R, argv, 1, "interval=1:mode=inline", NULL, NULL, NULL), 0);
	ck_assert_msg(R.status == 0, "noshim with the shim: %d %s %s", R.status, R.out, R.err);
	ck_assert_int_eq(kv(R.out, "api"), 1);
	/* no link-time dependency on the shim */
	snprintf(path, sizeof path, "readelf -d %s/tests/core/noshim | grep -q libfsreclaim", builddir());
	ck_assert_int_ne(system(path), 0);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("scopes");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, scope_save_values);
	tcase_add_test(tc, scope_precedence);
	tcase_add_test(tc, scope_every_family_member);
	tcase_add_test(tc, shrinker_errno_preserved);
	tcase_add_test(tc, shrinker_register_errors);
	tcase_add_test(tc, threads_independent_scopes);
	tcase_add_test(tc, ioflusher);
	suite_add_tcase(s, tc);
	tc = tcase_create("family");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, family_malloc_calloc);
	tcase_add_test(tc, family_realloc);
	tcase_add_test(tc, family_aligned);
	tcase_add_test(tc, family_page);
	tcase_add_test(tc, family_usable_size);
	tcase_add_test(tc, family_cxx);
	suite_add_tcase(s, tc);
	tc = tcase_create("schedule");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, sched_seed);
	tcase_add_test(tc, sched_times_space);
	tcase_add_test(tc, sched_limit);
	suite_add_tcase(s, tc);
	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, unregister_while_allocating);
	tcase_add_test(tc, threads64_register_churn);
	tcase_add_test(tc, fork_child);
	tcase_add_test(tc, signal_handler_malloc);
	suite_add_tcase(s, tc);
	tc = tcase_create("options");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, options_bad);
	tcase_add_test(tc, options_bad_suppressions);
	tcase_add_test(tc, options_good);
	tcase_add_test(tc, options_repeat_later_wins);
	tcase_add_test(tc, options_secure);
	tcase_add_test(tc, options_log_path);
	tcase_add_test(tc, exit_status);
	tcase_add_test(tc, output_fd);
	tcase_add_test(tc, stats_line);
	tcase_add_test(tc, header_without_shim);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0)
		return 99;
	self_exe[n] = 0;
	if (argc >= 3 && !strcmp(argv[1], "--child"))
		return child_main(argv[2]);
	if (&fsr_api == NULL) {
		/* not preloaded yet: run ourselves under the shim */
		if (getenv("FSR_CORE_REEXEC")) {
			fprintf(stderr, "check_core: re-executed but the shim (%s) is not loaded\n", shim_path());
			return 99;
		}
		if (access(shim_path(), R_OK)) {
			fprintf(stderr, "check_core: no shim at %s\n", shim_path());
			return 99;
		}
		setenv("FSR_CORE_REEXEC", "1", 1);
		setenv("LD_PRELOAD", shim_path(), 1);
		if (!getenv("FSRECLAIM_OPTIONS"))
			setenv("FSRECLAIM_OPTIONS", "interval=1:mode=inline", 1);
		execv(self_exe, argv);
		perror("check_core: exec");
		return 99;
	}
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
