/* threads.c - the registry of the process's threads: each gets a stable
 * key (for the reproducible pass schedule), and the stats line sums their
 * per-thread allocation counters (the hot path never touches a shared one).
 * Threads are registered when they start (init.c's pthread_create wrapper,
 * the reclaimer) and unregistered when they exit. */
#include "fsr.h"
#include <string.h>

static struct fsr_mutex reg_lock;
static struct fsr_thread *threads;
static unsigned int next_index;
static uint64_t exited_allocs;   /* allocations of threads gone */

/* Thread keys are creation paths given by the parent at pthread_create
 * (REPLAY.md 3.3): "0" is the main thread, "0.2" its second child, "0.2.1"
 * that one's first.  Unlike the registration index they do not depend on
 * which thread starts running first, and the reclaimer ("R") shifts none.
 * A path too long for the buffer is written as its hash, "#HEX". */
void fsr_thread_key_set(struct fsr_thread *t, const char *key, uint64_t hash)
{
	size_t n = strnlen(key, FSR_KEY_LEN - 1);
	memcpy(t->key, key, n);
	t->key[n] = 0;
	t->key_hash = hash;
}

void fsr_thread_key_child(struct fsr_thread *parent, char key[FSR_KEY_LEN], uint64_t *hash)
{
	if (parent->busy) {
		memcpy(key, "R", 2);
		*hash = fsr_mix64(0x52);
		return;
	}
	unsigned int child = ++parent->nchildren;
	*hash = fsr_mix64(parent->key_hash ^ fsr_mix64(child));
	int n = fsr_fmt(key, FSR_KEY_LEN, "%s.%u", parent->key[0] ? parent->key : "?", child);
	if (n < 0 || n >= FSR_KEY_LEN)
		fsr_fmt(key, FSR_KEY_LEN, "#%016llx", (unsigned long long)*hash);
}

void fsr_thread_register(struct fsr_thread *t)
{
	if (t->registered)
		return;
	fsr_mutex_lock(&reg_lock);
	t->index = next_index++;
	if (!t->key[0]) {
		/* the main thread, or one not started through our pthread_create:
		 * keyed by its registration order (best effort) */
		char k[FSR_KEY_LEN];
		if (t->index == 0)
			fsr_thread_key_set(t, "0", fsr_mix64(0));
		else {
			fsr_fmt(k, sizeof k, "?%u", t->index);
			fsr_thread_key_set(t, k, fsr_mix64(0x3f00000000ull | t->index));
		}
	}
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
	exited_allocs += fsr_thread_allocs(t);
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
		n += fsr_thread_allocs(t);
	fsr_mutex_unlock(&reg_lock);
	return n;
}

/* fork: hold the registry across it, so the child's copy is consistent */
void fsr_threads_atfork_prepare(void) { fsr_mutex_lock(&reg_lock); }
void fsr_threads_atfork_parent(void) { fsr_mutex_unlock(&reg_lock); }

/* ---- threads started inside a FUSE op ----
 * An op that starts a helper thread (and joins it) is still that op: a
 * helper that reaches the daemon's own mount deadlocks it as surely.  The
 * op issues one lease when it first starts a thread; every thread started
 * by it, or by those threads, holds a reference; the op's end marks the
 * lease over.  Leases live in a static pool, so a helper never reads the
 * TLS of a thread that may be gone. */
#define NLEASES 256
static struct fsr_op_lease leases[NLEASES];

struct fsr_op_lease *fsr_op_lease_get(struct fsr_thread *t)
{
	struct fsr_op_lease *l;
	if (t->op && t->op_depth > 0) {
		l = t->lease_given;
		if (!l) {
			for (int i = 0; i < NLEASES && !l; i++) {
				int z = 0;
				if (__atomic_compare_exchange_n(&leases[i].refs, &z, 1, 0,
								__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
					l = &leases[i];
			}
			if (!l)
				return NULL;   /* 256 ops starting threads at once: not followed */
			l->op = t->op;
			__atomic_store_n(&l->live, 1, __ATOMIC_RELEASE);
			t->lease_given = l;
		}
	} else {
		l = t->op_lease;
		if (!l || !__atomic_load_n(&l->live, __ATOMIC_ACQUIRE))
			return NULL;
	}
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_ACQ_REL);
	return l;
}

void fsr_op_lease_put(struct fsr_op_lease *l)
{
	if (l)
		__atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL);
}

void fsr_op_lease_end(struct fsr_thread *t)
{
	struct fsr_op_lease *l = t->lease_given;
	t->lease_given = NULL;
	if (l) {
		__atomic_store_n(&l->live, 0, __ATOMIC_RELEASE);
		fsr_op_lease_put(l);
	}
}

void fsr_threads_atfork_child(struct fsr_thread *self)
{
	/* the leases of threads that did not survive the fork are free */
	for (int i = 0; i < NLEASES; i++)
		leases[i].refs = (self->lease_given == &leases[i]) + (self->op_lease == &leases[i]);
	reg_lock.v = 0;
	/* only the forking thread lives on in the child */
	for (struct fsr_thread *o = threads; o; o = o->next_thread)
		if (o != self)
			exited_allocs += o->allocs;
	threads = self;
	self->next_thread = NULL;
}
