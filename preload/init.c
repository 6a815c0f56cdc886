/* init.c - the shim's life cycle: options at load, threads (started
 * through our pthread_create wrapper, so they are registered and checked at
 * exit), fork, and what happens at exit (needless-nofs verdicts, the stats line,
 * exitcode). */
#include "fsr.h"
#include "modules.h"
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- threads: register at start, check scopes and locks at exit ---- */

struct start { void *(*fn)(void *); void *arg; unsigned int inherit; struct fsr_op_lease *lease;
	       char key[FSR_KEY_LEN]; uint64_t key_hash; };

static void thread_exit(void *unused)
{
	struct fsr_thread *t = fsr_thread_self();
	(void)unused;
	t->busy = 0;
	fsr_scope_check_leak(t, 0, "a thread exits");
	fsr_busy_enter(t);
	fsr_lock_thread_exit(t);
	fsr_op_lease_end(t);           /* exits inside its op */
	fsr_op_lease_put(t->op_lease);
	t->op_lease = NULL;
	fsr_thread_unregister(t);
}

/* Start blocks come from a static pool, not from glibc: a free() of a
 * main-arena chunk as the new thread's first malloc-family call changes how
 * glibc sets up and trims that thread's arena (measured: 16% more madvise
 * calls and 1.2x the time of plain glibc on 16 B-64 KiB malloc/free in a
 * thread).  The pool is only a fallback-free fast path: when it is empty
 * (more than START_POOL threads starting at once) the block is allocated. */
#define START_POOL 128
static struct start start_pool[START_POOL];
static int start_used[START_POOL];   /* atomic */

static struct start *start_get(void)
{
	for (int i = 0; i < START_POOL; i++) {
		int z = 0;
		if (!__atomic_load_n(&start_used[i], __ATOMIC_RELAXED) &&
		    __atomic_compare_exchange_n(&start_used[i], &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return &start_pool[i];
	}
	return fsr_alloc(sizeof(struct start));
}

static void start_put(struct start *s)
{
	if (s >= start_pool && s < start_pool + START_POOL)
		__atomic_store_n(&start_used[s - start_pool], 0, __ATOMIC_RELEASE);
	else
		fsr_free(s);
}

static void *thread_start(void *p)
{
	struct start s = *(struct start *)p;
	start_put(p);
	struct fsr_thread *t = fsr_thread_self();
	t->flags |= s.inherit;     /* Linux copies the task flags: IO_FLUSHER */
	fsr_look(t);
	t->op_lease = s.lease;     /* started inside an op: part of it while it runs */
	fsr_thread_key_set(t, s.key, s.key_hash);
	fsr_thread_register(t);
	void *r;
	pthread_cleanup_push(thread_exit, NULL);
	r = s.fn(s.arg);
	pthread_cleanup_pop(1);
	return r;
}

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static pthread_create_fn real_pthread_create;

FSR_EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	if (!real_pthread_create)
		real_pthread_create = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
	struct start *s = start_get();
	if (!s)
		return real_pthread_create(th, a, fn, arg);
	s->fn = fn;
	s->arg = arg;
	s->inherit = fsr_self.flags & FSR_PF_IOFLUSHER;
	s->lease = unlikely(fsr_self.op || fsr_self.op_lease) ? fsr_op_lease_get(&fsr_self) : NULL;
	fsr_thread_key_child(&fsr_self, s->key, &s->key_hash);
	int r = real_pthread_create(th, a, thread_start, s);
	if (r) {
		fsr_op_lease_put(s->lease);
		start_put(s);
	}
	return r;
}

/* ---- fork ---- */

static void atfork_child(void)
{
	struct fsr_thread *t = fsr_thread_self();
	fsr_threads_atfork_child(t);
	/* threads the parent was starting do not exist here */
	for (int i = 0; i < START_POOL; i++)
		start_used[i] = 0;
	t->tid = 0;
	fsr_gettid();
	fsr_pid = getpid();
	/* the parent's reports are the parent's: a child that reports nothing
	 * exits with its own status, not exitcode */
	fsr_exit_status_hit = 0;
	__atomic_store_n(&fsr_stat_hazards, 0, __ATOMIC_RELAXED);
	fsr_out_atfork_child();
	fsr_pass_atfork_child();
	fsr_shrinker_atfork_child();
	fsr_fuse_atfork();
	fsr_replay_atfork_child();
	fsr_sarif_atfork_child();
	fsr_dot_atfork_child();
}

static void atfork_parent(void)
{
	fsr_threads_atfork_parent();
	fsr_fuse_atfork();   /* the child may be the one that serves the mount now */
}

/* ---- exit ---- */

static void print_stats(void)
{
	char buf[512];
	int n = fsr_fmt(buf, sizeof buf,
			"fsreclaim: stats: allocs=%llu reclaim_passes=%llu callbacks=%llu fs_ops=%llu hazards=%llu digest=%016llx"
			" abandoned=%llu",
			(unsigned long long)fsr_threads_allocs(),
			(unsigned long long)__atomic_load_n(&fsr_stat_passes, __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&fsr_stat_callbacks, __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&fsr_stat_fs_ops, __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&fsr_stat_hazards, __ATOMIC_RELAXED),
			(unsigned long long)fsr_schedule_digest(),
			(unsigned long long)__atomic_load_n(&fsr_stat_abandoned, __ATOMIC_RELAXED));
	n += fsr_wire_stats(buf + n, sizeof buf - (size_t)n - 1);
	buf[n++] = '\n';
	fsr_out_write(buf, (size_t)n);
}

static void at_exit(int status, void *arg)
{
	struct fsr_thread *t = fsr_thread_self();
	(void)arg;
	if (!fsr_ready)
		return;
	fsr_busy_enter(t);
	fsr_graph_exit_checks();
	fsr_replay_exit();
	fsr_dot_write();
	if (fsr_opt.stats)
		print_stats();
	fsr_ready = 0;      /* no passes while the process tears down */
	t->busy--;
	if (status == 0 && fsr_exit_status_hit && fsr_opt.exitcode) {
		fflush(NULL);
		_exit(fsr_opt.exitcode);
	}
}

/* halt_on_error and friends: stats, then _exit(exitcode) */

void fsr_exit_now(void)
{
	fsr_dot_write();
	if (fsr_opt.stats)
		print_stats();
	_exit(fsr_opt.exitcode);
}

static void die(const char *msg)
{
	size_t n = strlen(msg);
	(void)!write(2, msg, n);
	(void)!write(2, "\n", 1);
	_exit(2);
}

__attribute__((constructor(101))) static void fsr_init(void)
{
	struct fsr_thread *t = fsr_thread_self();
	char err[1024];
	fsr_busy_enter(t);
	fsr_pid = getpid();
	fsr_options_defaults(&fsr_opt);
	/* secure_getenv: a setuid program that inherits LD_PRELOAD is not
	 * steered by its caller's options.  FSRECLAIM_TEST_SECURE simulates
	 * AT_SECURE for the test of exactly that. */
	const char *s = getenv("FSRECLAIM_TEST_SECURE") ? NULL : secure_getenv("FSRECLAIM_OPTIONS");
	if (fsr_options_parse(&fsr_opt, s, err, sizeof err))
		die(err);
	if (fsr_out_init(err, sizeof err))
		die(err);
	if (fsr_opt.suppressions[0] && fsr_suppressions_load(fsr_opt.suppressions, err, sizeof err))
		die(err);
	fsr_modules_refresh();
	if (fsr_replay_init(err, sizeof err) || fsr_sarif_init(err, sizeof err) || fsr_dot_init(err, sizeof err))
		die(err);
	fsr_policy_init();
	/* limit=: libraries' constructors ran before ours, and their blocks are
	 * live heap too (glibc's count of it; mallinfo2 never allocates) */
	if (fsr_opt.limit) {
		struct mallinfo2 mi = mallinfo2();
		fsr_heap_add(mi.uordblks + mi.hblkhd);
	}
	fsr_ioflusher_init(t);
	fsr_thread_register(t);
	pthread_atfork(fsr_threads_atfork_prepare, atfork_parent, atfork_child);
	on_exit(at_exit, NULL);
	fsr_ready = 1;
	t->busy--;
}
