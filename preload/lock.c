/* lock.c - lock instances, classes, held locks, wait-for chains.
 *
 * Instances: a set-associative table of 2^18 buckets of 7 one-word entries
 * ((address << 16) | class), 16 MiB of address space touched only where
 * used, read without locks.  A full bucket forgets one entry (round robin):
 * an instance forgotten is learned again at its next acquisition, and the
 * instance initialised last is always in the table.
 *
 * Held locks live in t->held[] (fsr.h).  Who owns a lock is not stored:
 * the wait-for check, which runs only when a reclaim callback finds a lock
 * taken, reads every thread's held[] and blocked_on. */
#include "lockdep.h"
#include <errno.h>
#include <link.h>
#include <string.h>

struct fsr_lock_class fsr_classes[FSR_MAX_CLASSES];
unsigned int fsr_nclasses = FSR_CLS_FIRST;

/* ---- instances ---- */
struct fsr_inst_bucket fsr_inst[1u << FSR_INST_BITS];
__thread uint64_t fsr_held_sig __attribute__((tls_model("initial-exec")));
__thread struct fsr_cls_cache fsr_ccache[FSR_CCACHE] __attribute__((tls_model("initial-exec")));
uint32_t fsr_inst_gen = 1;
static void inst_gen_bump(void) { __atomic_add_fetch(&fsr_inst_gen, 1, __ATOMIC_RELEASE); }
__thread uint64_t fsr_sig_below[FSR_MAX_HELD] __attribute__((tls_model("initial-exec")));

void fsr_held_resig(struct fsr_thread *t)
{
	uint64_t s = 0;
	for (int i = 0; i < t->nheld && i < FSR_MAX_HELD; i++) {
		fsr_sig_below[i] = s;
		s += fsr_held_mix(t->held[i].cls, t->held[i].read);
	}
	fsr_held_sig = s;
}
#define INST_WAYS FSR_INST_WAYS
#define inst_bucket fsr_inst_bucket
#define bucket_of fsr_inst_bucket_of
#define inst_lookup fsr_inst_lookup

/* Writers never lock a bucket (a fork could leave it locked forever): an
 * entry changes by compare-and-swap.  Two threads learning two addresses
 * race for a way and one retries; a duplicate entry for one address is
 * harmless (both carry a class of it) and ages out. */
static void inst_store(const void *lock, unsigned int cls)
{
	struct inst_bucket *b = bucket_of(lock);
	uintptr_t a = (uintptr_t)lock;
	uint64_t w = ((uint64_t)a << 16) | cls;
	for (int tries = 0; tries < 16; tries++) {
		int i, freeway = -1;
		uint64_t o = 0;
		for (i = 0; i < INST_WAYS; i++) {
			o = __atomic_load_n(&b->e[i], __ATOMIC_RELAXED);
			if ((o >> 16) == a)
				break;
			if (!o && freeway < 0)
				freeway = i;
		}
		if (i == INST_WAYS) {
			i = freeway >= 0 ? freeway
					 : (int)(__atomic_fetch_add(&b->clock, 1, __ATOMIC_RELAXED) % INST_WAYS);
			o = __atomic_load_n(&b->e[i], __ATOMIC_RELAXED);
			if (freeway >= 0 && o)
				continue;
		}
		if (__atomic_compare_exchange_n(&b->e[i], &o, w, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
			return;
	}
}

void fsr_lock_forget_instance(const void *lock)
{
	struct inst_bucket *b = bucket_of(lock);
	uintptr_t a = (uintptr_t)lock;
	inst_gen_bump();
	for (int i = 0; i < INST_WAYS; i++) {
		uint64_t o = __atomic_load_n(&b->e[i], __ATOMIC_RELAXED);
		if ((o >> 16) == a)
			__atomic_compare_exchange_n(&b->e[i], &o, 0, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	}
}

/* ---- is an address in a loaded object's writable data? ---- */
#define MAX_SEGS 512
static struct { uintptr_t lo, hi; } segs[MAX_SEGS];
static int nsegs;
static unsigned long long segs_adds = ~0ull;
static struct fsr_mutex segs_lock;

static int adds_cb(struct dl_phdr_info *i, size_t sz, void *arg)
{
	(void)sz;
	*(unsigned long long *)arg = i->dlpi_adds;
	return 1;
}

static int segs_cb(struct dl_phdr_info *i, size_t sz, void *arg)
{
	(void)sz; (void)arg;
	for (int k = 0; k < i->dlpi_phnum; k++) {
		const ElfW(Phdr) *ph = &i->dlpi_phdr[k];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || nsegs >= MAX_SEGS)
			continue;
		__atomic_store_n(&segs[nsegs].lo, i->dlpi_addr + ph->p_vaddr, __ATOMIC_RELAXED);
		__atomic_store_n(&segs[nsegs].hi, i->dlpi_addr + ph->p_vaddr + ph->p_memsz, __ATOMIC_RELAXED);
		__atomic_store_n(&nsegs, nsegs + 1, __ATOMIC_RELEASE);
	}
	return 0;
}

static int in_segs(uintptr_t a)
{
	int n = __atomic_load_n(&nsegs, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (a >= __atomic_load_n(&segs[i].lo, __ATOMIC_RELAXED) && a < __atomic_load_n(&segs[i].hi, __ATOMIC_RELAXED))
			return 1;
	return 0;
}

static int addr_is_static(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (in_segs(a))
		return 1;
	unsigned long long adds = 0;
	dl_iterate_phdr(adds_cb, &adds);
	if (adds == __atomic_load_n(&segs_adds, __ATOMIC_ACQUIRE))
		return 0;
	fsr_mutex_lock(&segs_lock);
	if (adds != segs_adds) {
		__atomic_store_n(&nsegs, 0, __ATOMIC_RELEASE);
		dl_iterate_phdr(segs_cb, NULL);
		__atomic_store_n(&segs_adds, adds, __ATOMIC_RELEASE);
	}
	fsr_mutex_unlock(&segs_lock);
	return in_segs(a);
}

/* ---- classes ---- */
#define CLS_HASH 8192
static uint16_t cls_hash[CLS_HASH];
static struct fsr_mutex cls_lock;
static int cls_full_said;

static struct fsr_mutex snap_lock;      /* the wait-for check, one at a time */

#define MAX_EXCLUDED 256
static const void *excluded[MAX_EXCLUDED];
static int nexcluded;

static int addr_excluded(const void *lock)
{
	int n = __atomic_load_n(&nexcluded, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (excluded[i] == lock)
			return 1;
	return 0;
}

/* find or make the class of key; under cls_lock */
static unsigned int class_get(uintptr_t key, const void *rep, void *site, int kind, int is_static)
{
	unsigned int h = (unsigned int)((key * 0x9e3779b97f4a7c15ull) >> 51) & (CLS_HASH - 1);
	for (;;) {
		unsigned int c = cls_hash[h];
		if (!c)
			break;
		if (fsr_classes[c].key == key)
			return c;
		h = (h + 1) & (CLS_HASH - 1);
	}
	if (fsr_nclasses >= FSR_MAX_CLASSES) {
		if (!cls_full_said++)
			fsr_say("fsreclaim: more than %d lock classes: further classes are not tracked",
				FSR_MAX_CLASSES - FSR_CLS_FIRST);
		return 0;
	}
	unsigned int c = fsr_nclasses;
	struct fsr_lock_class *k = &fsr_classes[c];
	k->key = key;
	k->rep = rep;
	k->site = site;
	k->kind = (unsigned short)kind;
	k->is_static = (unsigned char)is_static;
	if (fsr_wire_site_in_libfuse(site))
		k->excluded = 1;     /* libfuse's own locks on the wire: not the daemon's bug */
	cls_hash[h] = (uint16_t)c;
	__atomic_store_n(&fsr_nclasses, c + 1, __ATOMIC_RELEASE);
	return c;
}

unsigned int fsr_lock_learn(const void *lock, int kind, void *site, int init)
{
	struct fsr_thread *t = fsr_thread_self();
	t->busy++;
	int st = init ? 0 : addr_is_static(lock);
	uintptr_t key = init || !st ? (uintptr_t)site : (uintptr_t)lock;
	int ex = addr_excluded(lock);
	fsr_mutex_lock(&cls_lock);
	unsigned int c = class_get(key, lock, site, kind, st);
	if (c && ex && !fsr_class_excluded(c)) {
		__atomic_store_n(&fsr_classes[c].excluded, 1, __ATOMIC_RELAXED);
		inst_gen_bump();
	}
	fsr_mutex_unlock(&cls_lock);
	if (c)
		inst_store(lock, c);
	t->busy--;
	return c;
}

void fsr_lock_init_instance(const void *lock, int kind, void *site)
{
	inst_gen_bump();
	fsr_lock_learn(lock, kind, site, 1);
}

void fsr_lock_exclude_addr(const void *lock)
{
	struct fsr_thread *t = fsr_thread_self();
	t->busy++;
	fsr_mutex_lock(&cls_lock);
	if (!addr_excluded(lock) && nexcluded < MAX_EXCLUDED) {
		excluded[nexcluded] = lock;
		__atomic_store_n(&nexcluded, nexcluded + 1, __ATOMIC_RELEASE);
	}
	fsr_mutex_unlock(&cls_lock);
	unsigned int c = inst_lookup(bucket_of(lock), (uintptr_t)lock);
	if (c)
		__atomic_store_n(&fsr_classes[c].excluded, 1, __ATOMIC_RELAXED);
	inst_gen_bump();
	for (int i = 0; i < t->nheld; i++)
		if (t->held[i].lock == lock)
			t->held[i].cls = 0;
	fsr_held_resig(t);
	t->busy--;
}

/* ---- held locks ---- */

void fsr_lock_released_slow(struct fsr_thread *t, const void *lock)
{
	int n = t->nheld;
	for (int i = n - 1; i >= 0; i--)
		if (t->held[i].lock == lock) {
			memmove(&t->held[i], &t->held[i + 1], (size_t)(n - i - 1) * sizeof t->held[0]);
			__atomic_store_n(&t->nheld, n - 1, __ATOMIC_RELEASE);
			fsr_held_resig(t);
			return;
		}
}

void fsr_lock_thread_exit(struct fsr_thread *t)
{
	t->nheld = 0;
	t->blocked_on = NULL;
	fsr_held_sig = 0;
}

unsigned int fsr_lock_contended(struct fsr_thread *t, const void *lock, int kind, int read,
				void *site, int *chain)
{
	unsigned int c;
	t->busy++;
	*chain = 0;
	c = fsr_lock_class(lock, kind, site);
	if (c && fsr_class_excluded(c))
		c = 0;
	if (fsr_lock_serving_handoff(t))
		*chain = fsr_lock_deadlock_check(t, lock, 0);
	if (c && (t->nheld || t->in_reclaim))
		fsr_graph_acquire(t, c, read, *chain);
	t->busy--;
	return c;
}

/* ---- fork: no lock of ours may stay held in the child ---- */
void fsr_lock_atfork_prepare(void)
{
	fsr_mutex_lock(&snap_lock);
	fsr_mutex_lock(&cls_lock);
	fsr_mutex_lock(&segs_lock);
}

void fsr_lock_atfork_parent(void)
{
	fsr_mutex_unlock(&segs_lock);
	fsr_mutex_unlock(&cls_lock);
	fsr_mutex_unlock(&snap_lock);
}

void fsr_lock_atfork_child(void)
{
	segs_lock.v = cls_lock.v = snap_lock.v = 0;
}

/* ---- the wait-for chain ---- */

#define SNAP_THREADS 512
struct snap {
	struct fsr_thread *t;
	pid_t tid;
	int nheld;
	const void *blocked_on;
	struct fsr_pass *waiting;
	struct fsr_held held[FSR_MAX_HELD];
};
static struct snap snaps[SNAP_THREADS];
static int nsnaps;

static void snap_one(struct fsr_thread *t, void *arg)
{
	(void)arg;
	if (nsnaps >= SNAP_THREADS)
		return;
	struct snap *s = &snaps[nsnaps++];
	s->t = t;
	s->tid = t->tid;
	s->waiting = __atomic_load_n(&t->waiting, __ATOMIC_ACQUIRE);
	s->blocked_on = __atomic_load_n(&t->blocked_on, __ATOMIC_ACQUIRE);
	int n = __atomic_load_n(&t->nheld, __ATOMIC_ACQUIRE);
	if (n > FSR_MAX_HELD)
		n = FSR_MAX_HELD;
	s->nheld = n;
	/* field by field, atomically: the owner may be changing them (a stale
	 * view is caught by the second look before any report) */
	for (int i = 0; i < n; i++) {
		s->held[i].lock = __atomic_load_n(&t->held[i].lock, __ATOMIC_RELAXED);
		s->held[i].cls = __atomic_load_n(&t->held[i].cls, __ATOMIC_RELAXED);
		s->held[i].site = __atomic_load_n(&t->held[i].site, __ATOMIC_RELAXED);
		s->held[i].kind = __atomic_load_n(&t->held[i].kind, __ATOMIC_RELAXED);
		s->held[i].read = __atomic_load_n(&t->held[i].read, __ATOMIC_RELAXED);
	}
}

#define MAX_CHAIN 8
struct chain_step {
	const void *lock;        /* lock waited for */
	struct snap *holder;     /* its holder */
	int hi;                  /* index in holder->held */
};

/* DFS: does waiting for lock lead to p's allocator?  fills steps */
static int chain_find(struct fsr_thread *self, struct fsr_pass *p, const void *lock,
		      struct chain_step *steps, int depth, uint64_t *visited)
{
	if (depth >= MAX_CHAIN)
		return 0;
	for (int i = 0; i < nsnaps; i++) {
		struct snap *s = &snaps[i];
		if (s->t == self || (i < 64 && (*visited >> i) & 1))
			continue;
		int hi;
		for (hi = 0; hi < s->nheld; hi++)
			if (s->held[hi].lock == lock)
				break;
		if (hi == s->nheld)
			continue;
		steps[depth].lock = lock;
		steps[depth].holder = s;
		steps[depth].hi = hi;
		if (s->t == p->allocator && s->waiting == p)
			return depth + 1;
		if (s->blocked_on && i < 64) {
			*visited |= 1ull << i;
			int d = chain_find(self, p, s->blocked_on, steps, depth + 1, visited);
			if (d)
				return d;
		}
	}
	return 0;
}

static void report_deadlock(struct fsr_thread *t, struct fsr_pass *p, struct chain_step *st, int n)
{
	static struct fsr_hazard h;   /* under snap_lock: one at a time */
	char wname[64], aname[64];
	struct snap *alloc = st[n - 1].holder;
	fsr_hazard_init(&h, "reclaim-deadlock", FSR_ERROR);
	h.op = p->op;
	fsr_lock_name(st[0].lock, wname, sizeof wname);
	fsr_lock_name(st[n - 1].lock, aname, sizeof aname);
	if (n == 1)
		fsr_fmt(h.message, sizeof h.message,
			"a reclaim callback (reclaimer thread, tid %d) waits for lock %s, which the "
			"allocating thread (tid %d) holds while it waits for this reclaim pass: a deadlock; "
			"the allocating thread is released and the callback waits for the lock",
			(int)fsr_gettid(), wname, (int)alloc->tid);
	else
		fsr_fmt(h.message, sizeof h.message,
			"a reclaim callback (reclaimer thread, tid %d) waits for lock %s, and through %d "
			"blocked thread%s for lock %s, which the allocating thread (tid %d) holds while it "
			"waits for this reclaim pass: a deadlock; the allocating thread is released and "
			"the callback waits for the lock",
			(int)fsr_gettid(), wname, n - 1, n - 1 > 1 ? "s" : "", aname, (int)alloc->tid);
	/* locks: the chain, then whatever else the allocator holds */
	for (int i = 0; i < n && h.nlocks < FSR_MAX_REPORT_LOCKS; i++) {
		struct fsr_report_lock *l = &h.locks[h.nlocks++];
		struct fsr_held *hd = &st[i].holder->held[st[i].hi];
		fsr_lock_name(st[i].lock, l->name, sizeof l->name);
		l->cls = hd->cls;
		l->site = hd->site;
	}
	for (int i = 0; i < alloc->nheld && h.nlocks < FSR_MAX_REPORT_LOCKS; i++) {
		if (i == st[n - 1].hi)
			continue;
		struct fsr_report_lock *l = &h.locks[h.nlocks++];
		fsr_lock_name(alloc->held[i].lock, l->name, sizeof l->name);
		l->cls = alloc->held[i].cls;
		l->site = alloc->held[i].site;
	}
	/* stacks: the callback, the allocation, where the allocator took the
	 * lock, the threads in between */
	static char titles[FSR_MAX_REPORT_STACKS][128];
	int k = 0;
	fsr_fmt(titles[k], sizeof titles[k], "reclaim callback waits for %s here", wname);
	fsr_stack_capture(&h.stacks[h.nstacks++], titles[k++]);
	if (p->alloc_stack) {
		h.stacks[h.nstacks] = *p->alloc_stack;
		fsr_fmt(titles[k], sizeof titles[k], "allocation (tid %d) waiting for reclaim while holding %s",
			(int)alloc->tid, aname);
		h.stacks[h.nstacks++].title = titles[k++];
	}
	fsr_fmt(titles[k], sizeof titles[k], "%s taken here by the allocating thread", aname);
	fsr_stack_from_pc(&h.stacks[h.nstacks++], titles[k++], alloc->held[st[n - 1].hi].site);
	for (int i = 0; i + 1 < n && h.nstacks < FSR_MAX_REPORT_STACKS; i++) {
		char bn[64], hn[64];
		struct snap *s = st[i].holder;
		fsr_lock_name(st[i].lock, hn, sizeof hn);
		fsr_lock_name(st[i + 1].lock, bn, sizeof bn);
		fsr_fmt(titles[k], sizeof titles[k], "thread %d holds %s and blocks on %s",
			(int)s->tid, hn, bn);
		if (fsr_stack_capture_thread(s->tid, &h.stacks[h.nstacks], titles[k]) == 0) {
			h.stacks[h.nstacks].title = titles[k];
			h.nstacks++;
		} else {
			fsr_stack_from_pc(&h.stacks[h.nstacks++], titles[k], s->held[st[i].hi].site);
		}
		k++;
	}
	/* the wait-for chain */
	size_t o = 0;
	o += (size_t)fsr_fmt(h.body + o, sizeof h.body - o, "wait-for chain:\n  reclaimer (tid %d, in reclaim) --waits for--> %s\n",
			     (int)fsr_gettid(), wname);
	for (int i = 0; i < n && o < sizeof h.body; i++) {
		char ln[64];
		struct snap *s = st[i].holder;
		fsr_lock_name(st[i].lock, ln, sizeof ln);
		if (i + 1 < n) {
			char bn[64];
			fsr_lock_name(st[i + 1].lock, bn, sizeof bn);
			o += (size_t)fsr_fmt(h.body + o, sizeof h.body - o,
					     "  %s is held by thread %d, which is blocked on %s\n", ln, (int)s->tid, bn);
		} else {
			o += (size_t)fsr_fmt(h.body + o, sizeof h.body - o,
					     "  %s is held by the allocating thread %d, which waits for the reclaim pass\n"
					     "  run by the reclaimer (tid %d): a cycle\n",
					     ln, (int)s->tid, (int)fsr_gettid());
		}
	}
	fsr_report(&h);
}

int fsr_lock_deadlock_check(struct fsr_thread *t, const void *lock, int report)
{
	struct fsr_pass *p = t->pass;
	struct chain_step steps[MAX_CHAIN];
	uint64_t visited = 0;
	int n;
	if (!fsr_lock_serving_handoff(t))
		return 0;
	t->busy++;
	fsr_mutex_lock(&snap_lock);
	nsnaps = 0;
	fsr_threads_foreach(snap_one, NULL);
	n = chain_find(t, p, lock, steps, 0, &visited);
	if (n && report && fsr_lock_serving_handoff(t)) {
		report_deadlock(t, p, steps, n);
		fsr_pass_abandon(p);
	}
	fsr_mutex_unlock(&snap_lock);
	t->busy--;
	return n > 0;
}
