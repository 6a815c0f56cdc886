/* threads.c - the registry of the process's threads: each gets an index
 * (for the reproducible pass schedule), and the stats line sums their
 * per-thread allocation counters (the hot path never touches a shared one).
 * Threads are registered when they start (init.c's pthread_create wrapper,
 * the reclaimer) and unregistered when they exit. */
#include "fsr.h"

static struct fsr_mutex reg_lock;
static struct fsr_thread *threads;
static unsigned int next_index;
static uint64_t exited_allocs;   /* allocations of threads gone */

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
	exited_allocs += t->allocs;
	fsr_mutex_unlock(&reg_lock);
}

void fsr_threads_foreach(void (*fn)(struct fsr_thread *, void *), void *arg)
{
	fsr_mutex_lock(&reg_lock);
	for (struct fsr_thread *t = threads; t; t = t->next_thread)
		fn(t, arg);
	fsr_mutex_unlock(&reg_lock);
}

uint64_t fsr_threads_allocs(void)
{
	uint64_t n;
	fsr_mutex_lock(&reg_lock);
	n = exited_allocs;
	for (struct fsr_thread *t = threads; t; t = t->next_thread)
		n += t->allocs;
	fsr_mutex_unlock(&reg_lock);
	return n;
}

/* fork: hold the registry across it, so the child's copy is consistent */
void fsr_threads_atfork_prepare(void) { fsr_mutex_lock(&reg_lock); }
void fsr_threads_atfork_parent(void) { fsr_mutex_unlock(&reg_lock); }

void fsr_threads_atfork_child(struct fsr_thread *self)
{
	reg_lock.v = 0;
	/* only the forking thread lives on in the child */
	for (struct fsr_thread *o = threads; o; o = o->next_thread)
		if (o != self)
			exited_allocs += o->allocs;
	threads = self;
	self->next_thread = NULL;
}
