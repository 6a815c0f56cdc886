/* stubs.c - the shim-only symbols that libfsrcore.la expects from
 * libfsreclaim.so (init.c's thread registry and exit, the FUSE parts), so
 * that the core links into a plain test program that is not preloaded. */
#include "fsr.h"
#include <stdlib.h>
#include <unistd.h>

static struct fsr_mutex reg_lock;
static struct fsr_thread *threads;
static unsigned int next_index;
int stub_exit_now_called;

void fsr_thread_register(struct fsr_thread *t)
{
	if (t->registered)
		return;
	fsr_mutex_lock(&reg_lock);
	t->index = next_index++;
	t->next_thread = threads;
	threads = t;
	t->registered = 1;
	fsr_mutex_unlock(&reg_lock);
	fsr_gettid();
	fsr_policy_thread_init(t);
}

void fsr_thread_unregister(struct fsr_thread *t)
{
	fsr_mutex_lock(&reg_lock);
	for (struct fsr_thread **pp = &threads; *pp; pp = &(*pp)->next_thread)
		if (*pp == t) {
			*pp = t->next_thread;
			break;
		}
	t->registered = 0;
	fsr_mutex_unlock(&reg_lock);
}

void fsr_threads_foreach(void (*fn)(struct fsr_thread *, void *), void *arg)
{
	fsr_mutex_lock(&reg_lock);
	for (struct fsr_thread *t = threads; t; t = t->next_thread)
		fn(t, arg);
	fsr_mutex_unlock(&reg_lock);
}

void fsr_exit_now(void)
{
	_exit(fsr_opt.exitcode);
}

uint64_t fsr_stat_fs_ops;
unsigned long fsr_fuse_reclaim(struct fsr_pass *p) { (void)p; return 0; }
int fsr_fuse_reclaim_possible(struct fsr_thread *t) { (void)t; return 0; }
