/* lockdep.h - lock classes and the fs_reclaim graph (lock.c, graph.c),
 * used by the interposers in lockwrap.c.
 *
 * Instances (lock addresses) map to classes in a bounded, set-associative
 * table; a class is keyed by its init site (pthread_mutex_init caller), by
 * the lock's own address when it lives in a loaded object's data (a static
 * initializer), else by its first acquisition site.  Classes 1 and 2 are the
 * pseudo-locks fs_reclaim and io_reclaim.  The dependency graph is a
 * bit-matrix of nibbles (one per class pair) read without locks; only a new
 * edge (or a new read/write flavour of one) takes the graph lock. */
#ifndef FSR_LOCKDEP_H
#define FSR_LOCKDEP_H
#include "fsr.h"

#define FSR_MAX_CLASSES    4096
#define FSR_CLS_FS_RECLAIM 1
#define FSR_CLS_IO_RECLAIM 2
#define FSR_CLS_FIRST      3

struct fsr_lock_class {
	uintptr_t key;           /* init site, static address or first site */
	const void *rep;         /* first instance seen (for its name) */
	void *site;              /* init or first acquisition site */
	unsigned short kind;     /* FSR_LOCK_* */
	unsigned char is_static; /* rep lives in a loaded object's data */
	unsigned char excluded;  /* fsr_lock_exclude: kept out of the graph */
};
extern struct fsr_lock_class fsr_classes[FSR_MAX_CLASSES] FSR_HIDDEN;
extern unsigned int fsr_nclasses FSR_HIDDEN;   /* ids in use: [1, fsr_nclasses) */
static inline int fsr_class_excluded(unsigned int c)
{
	return __atomic_load_n(&fsr_classes[c].excluded, __ATOMIC_RELAXED);
}

/* ---- lock.c ---- */
/* instances: 2^18 buckets of 7 words (address << 16) | class, read without locks */
#define FSR_INST_BITS 18
#define FSR_INST_WAYS 7
struct fsr_inst_bucket {
	uint32_t unused;
	uint32_t clock;          /* next way to evict */
	uint64_t e[FSR_INST_WAYS];
} __attribute__((aligned(64)));
extern struct fsr_inst_bucket fsr_inst[1u << FSR_INST_BITS] FSR_HIDDEN;
static inline uint64_t fsr_held_mix(unsigned int cls, int read)
{
	return cls ? ((uint64_t)(cls * 2u + (read ? 1u : 0u)) * 0x9e3779b97f4a7c15ull) ^ 0x5851f42d4c957f2dull : 0;
}

/* The lock wrappers' per-thread state, one initial-exec TLS block (one
 * address computation for all of it):
 *  - held_sig: the signature of t->held[] (sum of fsr_held_mix of each
 *    entry): graph.c remembers which held sets had all their edges already
 *    (ma_memo: to the reclaim pseudo-locks, for an allocation under them);
 *    sig_below[i]: the signature before held[i] was pushed (a pop restores it)
 *  - ccache: lock -> effective class (0: excluded) and its two mixes (read,
 *    write), valid while fsr_inst_gen is unchanged (bumped by init,
 *    destroy, exclude and a free of lock memory)
 *  - acq_memo: keys of (held set, lock taken) whose edges held -> lock are
 *    all in the graph already: a nested acquisition seen before is one
 *    compare (edges are never removed, so an entry stays true) */
struct fsr_cls_cache { const void *lock; uint32_t cls; uint32_t gen; uint64_t mix[2]; };
/* ma_memo: held sets (by signature) known to have all their edges to the
 * reclaim pseudo-locks at an allocation with this gfp (graph.c) */
#define FSR_MA_MEMO 8
struct fsr_ma_memo { uint64_t sig; unsigned int gfp; };
#define FSR_CCACHE 16
#define FSR_ACQ_MEMO 64
struct fsr_lock_tls {
	uint64_t held_sig;
	struct fsr_cls_cache ccache[FSR_CCACHE];    /* at offset 8: (l >> 4) & 15 scaled in one and */
	uint64_t acq_memo[FSR_ACQ_MEMO];
	uint64_t sig_below[FSR_MAX_HELD];
	struct fsr_ma_memo ma_memo[FSR_MA_MEMO];
};
extern __thread struct fsr_lock_tls fsr_ltls __attribute__((tls_model("initial-exec"))) FSR_HIDDEN;
#define fsr_held_sig (fsr_ltls.held_sig)
#define fsr_sig_below (fsr_ltls.sig_below)
#define fsr_ccache (fsr_ltls.ccache)
static inline uint64_t fsr_acq_key(uint64_t sig, uint64_t mix)
{
	return (sig * 0xbf58476d1ce4e5b9ull + mix) | 1;   /* {A held, B taken} != {B held, A taken} */
}
static inline uint64_t *fsr_acq_slot(uint64_t key) { return &fsr_ltls.acq_memo[key >> 58]; }

static inline struct fsr_inst_bucket *fsr_inst_bucket_of(const void *lock)
{
	uint64_t h = ((uintptr_t)lock >> 3) * 0x9e3779b97f4a7c15ull;
	return &fsr_inst[h >> (64 - FSR_INST_BITS)];
}
static inline unsigned int fsr_inst_lookup(const struct fsr_inst_bucket *b, uintptr_t a)
{
	for (int i = 0; i < FSR_INST_WAYS; i++) {
		uint64_t w = __atomic_load_n(&b->e[i], __ATOMIC_ACQUIRE);
		if ((w >> 16) == a)
			return (unsigned int)(w & 0xffff);
	}
	return 0;
}
extern uint32_t fsr_inst_gen FSR_HIDDEN;
static inline struct fsr_cls_cache *fsr_ccache_of(const void *lock)
{
	return &fsr_ccache[((uintptr_t)lock >> 4) & (FSR_CCACHE - 1)];
}
/* learn an instance seen for the first time (or forgotten) */
unsigned int fsr_lock_learn(const void *lock, int kind, void *site, int init) FSR_HIDDEN;
/* class of a lock instance, learned on first sight; 0: untracked */
static inline unsigned int fsr_lock_class(const void *lock, int kind, void *site)
{
	unsigned int c = fsr_inst_lookup(fsr_inst_bucket_of(lock), (uintptr_t)lock);
	if (unlikely(!c))
		c = fsr_lock_learn(lock, kind, site, 0);
	return c;
}
/* at load: find the unwinder's FDE lookup (class keys skip lock wrappers) */
void fsr_lock_setup(void) FSR_HIDDEN;
/* pthread_mutex_init and friends: the instance's class is its init site */
void fsr_lock_init_instance(const void *lock, int kind, void *site) FSR_HIDDEN;
/* free(): forget the instances in [p, p + n) (a lock freed without destroy
 * and its memory reused must not keep its class); free and realloc call it
 * only while fsr_heap_lock_pages (pages holding tracked non-static locks)
 * is not 0, so that a program without heap locks pays one load */
struct fsr_heap_lock_count {
	unsigned long pages;
} __attribute__((aligned(64)));     /* a line of its own: free() reads it, only a
				     * page gaining its first lock or losing its
				     * last writes it */
extern struct fsr_heap_lock_count fsr_heap_locks FSR_HIDDEN;
#define fsr_heap_lock_pages (fsr_heap_locks.pages)
void fsr_lock_free_range(const void *p, size_t n) FSR_HIDDEN;
/* pthread_mutex_destroy: forget the instance */
void fsr_lock_forget_instance(const void *lock) FSR_HIDDEN;
void fsr_graph_acquire(struct fsr_thread *t, unsigned int cls, int read, int quiet) FSR_HIDDEN;
/* Lock classes taken inside FUSE ops: bit k of fsr_oplock_cls[c] is set
 * once class c was taken by a thread inside an op of the connection whose
 * owner bit is k (t->op_locks; fuse/oplocks.c hands out the bits, one per
 * wire connection and per libfuse session).  notify-in-op's second half
 * reads it: a notification written while holding such a class can wait in
 * the kernel for an op that waits for the lock.  The acquisition paths pay
 * a test of t->op_locks (in the line nheld is in); the table is written
 * only the first time a class is seen in an op of an owner.  Class 0
 * (untracked) has every bit set: never marked. */
extern uint64_t fsr_oplock_cls[FSR_MAX_CLASSES] FSR_HIDDEN;
extern const char *fsr_oplock_op[FSR_MAX_CLASSES] FSR_HIDDEN;   /* the op it was first seen in */
void fsr_oplock_first(struct fsr_thread *t, unsigned int cls) FSR_HIDDEN;
/* lockwrap.c's fast paths, inside an op: fsr_oplock_note out of line (0) */
int fsr_oplock_took(struct fsr_thread *t, unsigned int cls) FSR_HIDDEN;
static inline __attribute__((always_inline)) void fsr_oplock_note(struct fsr_thread *t, unsigned int cls)
{
	uint64_t m = t->op_locks;
	if (unlikely(m) && (__atomic_load_n(&fsr_oplock_cls[cls], __ATOMIC_RELAXED) & m) != m)
		fsr_oplock_first(t, cls);
}
/* the lock was taken: push it on t->held[]; with edges, record held -> it
 * and (in reclaim) fs_reclaim -> it */
/* put a lock at held[n] (the caller has checked n < FSR_MAX_HELD) and make
 * it the top: n + 1 held, the signature extended by it */
static inline __attribute__((always_inline)) void
fsr_held_push(struct fsr_thread *t, int n, const void *lock, unsigned int c, int kind, int read,
	      void *site)
{
	struct fsr_held *h = &t->held[n];
	h->lock = lock;
	h->cls = c;
	h->kind = (unsigned short)kind;
	h->read = (unsigned short)read;
	h->site = site;
	fsr_sig_below[n] = fsr_held_sig;
	fsr_held_sig += fsr_held_mix(c, read);
	__atomic_store_n(&t->nheld, n + 1, __ATOMIC_RELEASE);
	t->held_pushes++;       /* abandon.c: did an inline callback release a lock? */
	fsr_oplock_note(t, c);
	if (n == 0)
		fsr_look(t);
}
static inline void fsr_lock_acquired(struct fsr_thread *t, const void *lock, int kind, int read,
				     void *site, int edges)
{
	unsigned int c = fsr_lock_class(lock, kind, site);
	if (unlikely(c && fsr_class_excluded(c)))
		c = 0;
	if (c && edges && unlikely(t->nheld | t->in_reclaim))
		fsr_graph_acquire(t, c, read, 0);
	int n = t->nheld;
	if (likely(n < FSR_MAX_HELD))
		fsr_held_push(t, n, lock, c, kind, read, site);
}
void fsr_lock_released_slow(struct fsr_thread *t, const void *lock) FSR_HIDDEN;
/* recompute fsr_held_sig after held[] was changed in place */
void fsr_held_resig(struct fsr_thread *t) FSR_HIDDEN;
/* the common unlock: lock is the top of held[] (popped: 1), or nothing is
 * held (1); 0 when fsr_lock_released must look further */
static inline __attribute__((always_inline)) int fsr_lock_released_top(struct fsr_thread *t, const void *lock)
{
	int n = t->nheld;
	if (likely(n && t->held[n - 1].lock == lock)) {
		fsr_held_sig = fsr_sig_below[n - 1];
		__atomic_store_n(&t->nheld, n - 1, __ATOMIC_RELEASE);
		return 1;
	}
	return !n;
}
static inline void fsr_lock_released(struct fsr_thread *t, const void *lock)
{
	int n = t->nheld;
	if (likely(n && t->held[n - 1].lock == lock)) {
		fsr_held_sig = fsr_sig_below[n - 1];
		__atomic_store_n(&t->nheld, n - 1, __ATOMIC_RELEASE);
	} else if (n)
		fsr_lock_released_slow(t, lock);
}
/* a blocking acquisition found the lock taken.  Records the dependency
 * edges now (before blocking, so a prediction is never lost to a hang) and
 * returns the class.  For a reclaim callback of a handoff pass it first
 * looks for a wait-for chain to the waiting allocator (*chain set). */
unsigned int fsr_lock_contended(struct fsr_thread *t, const void *lock, int kind, int read,
				void *site, int *chain) FSR_HIDDEN;
/* does the calling reclaimer (serving pass p) wait, directly or through
 * blocked threads, for a lock its allocator holds?  With report set, print
 * reclaim-deadlock and release the allocator.  Returns 1 when a chain exists. */
int fsr_lock_deadlock_check(struct fsr_thread *t, const void *lock, int report) FSR_HIDDEN;
/* is t a reclaimer running a handoff pass whose allocator still waits?
 * (a pass run by a thread other than its allocator is a handoff) */
static inline int fsr_lock_serving_handoff(const struct fsr_thread *t)
{
	const struct fsr_pass *p = t->pass;
	return t->in_reclaim && p && p->allocator != t &&
	       __atomic_load_n(&p->state, __ATOMIC_ACQUIRE) == FSR_PASS_RUNNING;
}

/* ---- graph.c ---- */
/* record held -> cls for every held lock and reclaim -> cls in reclaim.
 * quiet: a cycle found is remembered as reported but not printed (the
 * caller reports the real deadlock instead). */
void fsr_graph_acquire(struct fsr_thread *t, unsigned int cls, int read, int quiet) FSR_HIDDEN;
/* nibble of the edge a -> b: bit 1 seen, 2 source held for write, 4 target
 * taken for write */
#define FSR_EDGE_SEEN 1u
#define FSR_EDGE_SRCW 2u
#define FSR_EDGE_DSTW 4u
extern uint8_t fsr_graph_matrix[FSR_MAX_CLASSES][FSR_MAX_CLASSES / 2] FSR_HIDDEN;
static inline unsigned int fsr_graph_edge(unsigned int a, unsigned int b)
{
	uint8_t v = __atomic_load_n(&fsr_graph_matrix[a][b >> 1], __ATOMIC_RELAXED);
	return (b & 1) ? v >> 4 : v & 15u;
}
void fsr_graph_edge_slow(struct fsr_thread *t, unsigned int a, unsigned int b,
			 unsigned int flags, int quiet) FSR_HIDDEN;
static inline void fsr_graph_edge_check(struct fsr_thread *t, unsigned int a, unsigned int b,
					unsigned int flags, int quiet)
{
	if ((fsr_graph_edge(a, b) & flags) != flags)
		fsr_graph_edge_slow(t, a, b, flags, quiet);
}
/* the pseudo-lock a thread in reclaim holds (0: none) */
static inline unsigned int fsr_graph_reclaim_class(const struct fsr_thread *t)
{
	if (!t->in_reclaim)
		return 0;
	unsigned int g = t->reclaim_gfp;
	if (!(g & (FSR_GFP_FS | FSR_GFP_IO)))
		g = FSR_GFP_FS;
	return (g & FSR_GFP_FS) ? FSR_CLS_FS_RECLAIM : FSR_CLS_IO_RECLAIM;
}
/* fork handlers (registered by lockwrap.c after the core's) */
void fsr_lock_atfork_prepare(void) FSR_HIDDEN;
void fsr_lock_atfork_parent(void) FSR_HIDDEN;
void fsr_lock_atfork_child(void) FSR_HIDDEN;
void fsr_graph_atfork_prepare(void) FSR_HIDDEN;
void fsr_graph_atfork_parent(void) FSR_HIDDEN;
void fsr_graph_atfork_child(void) FSR_HIDDEN;
/* an allocation with gfp under the held locks adds nothing to the graph
 * (policy.c's fast path tests this before calling fsr_graph_might_alloc) */
static inline int fsr_graph_alloc_known(unsigned int gfp)
{
	uint64_t sig = fsr_held_sig;
	const struct fsr_ma_memo *m = &fsr_ltls.ma_memo[sig >> 61];
	return m->sig == sig && m->gfp == gfp;
}
/* The lock benchmark's path, inlined into malloc's slow call: only locks
 * held (or an op's allocation, or both) and no interval hit.  Counts the
 * allocation and checks that the held set's edges to fs_reclaim/io_reclaim
 * are known (else records them, the prediction).  Returns 0 when policy.c
 * must look (anything else). */
static inline int fsr_alloc_locked_fast(struct fsr_thread *t, size_t size, int counted)
{
	/* FSR_PF_OP (an op's allocation, its site counted already) changes nothing here */
	if (!((t->flags & ~FSR_PF_OP) | (unsigned int)t->busy | (unsigned int)t->txn_depth |
	      (unsigned int)t->in_reclaim | (unsigned int)fsr_slow_all) &&
	    !counted && (t->gate & FSR_GATE_CD) && fsr_ready) {
		t->gate--;      /* the countdown's fast part, not the look mark */
		t->space += size;
		if (t->nheld && !fsr_graph_alloc_known(FSR_GFP_IO | FSR_GFP_FS))   /* needless-nofs is NOFS only */
			fsr_graph_might_alloc(t, FSR_GFP_IO | FSR_GFP_FS);
		return 1;
	}
	return 0;
}
/* The same, first thing in malloc's slow call, before fsr_alloc_gate: the
 * hot test's decrement is the countdown's (kept) when the thread holds a
 * lock and nothing else, and the fast part was not used up (a lock held
 * implies the look mark).  1: done; 2: done, but the held set's edges to
 * the reclaim pseudo-locks are not known yet (the caller calls
 * fsr_graph_might_alloc, off this path: no stack frame here); 0: look. */
static inline __attribute__((always_inline)) int fsr_alloc_under_lock(struct fsr_thread *t, size_t size)
{
	if (likely(t->nheld && ((t->gate + 1) & FSR_GATE_CD) &&
		   !(t->flags | (unsigned int)t->busy | (unsigned int)t->txn_depth |
		     (unsigned int)t->in_reclaim | (unsigned int)fsr_slow_all) && fsr_ready)) {
		(void)size;     /* t->space is read only under space=, which is slow_all */
		return fsr_graph_alloc_known(FSR_GFP_IO | FSR_GFP_FS) ? 1 : 2;
	}
	return 0;
}

/* graph_path (dot.c): the recorded edges, copied out under the graph lock */
struct fsr_graph_edge_info {
	unsigned int from, to, bits;   /* classes, FSR_EDGE_* */
	void *site;                    /* top frame of the edge's first sighting */
	int reported, on_cycle;
};
int fsr_graph_edges(struct fsr_graph_edge_info *out, int max) FSR_HIDDEN;

/* name of a class for reports */
void fsr_class_name(unsigned int cls, char *buf, size_t len) FSR_HIDDEN;

#endif
