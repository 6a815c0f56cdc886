/* lockdep.h - lock classes and the fs_reclaim graph (lock.c, graph.c),
 * used by the interposers in lockwrap.c.
 *
 * Instances (lock addresses) map to classes in a bounded, set-associative
 * table; a class is keyed by its init site (pthread_mutex_init caller), by
 * the lock's own address when it lives in a loaded object's data (a static
 * initializer), else by its first acquisition site.  Classes 1 and 2 are the
 * pseudo-locks fs_reclaim and io_reclaim.  The dependency graph is a
 * bit-matrix of nibbles (one per class pair) read without locks; only a new
 * edge (or a new read/write flavour of one) takes the graph lock.  Each
 * thread keeps its held stack's key (chain) and a memo of the acquisitions
 * whose class and edges it knows: a known acquisition writes no shared
 * line and looks at neither table. */
#ifndef FSR_LOCKDEP_H
#define FSR_LOCKDEP_H
#include "fsr.h"
#include <string.h>

#if defined(__x86_64__) && defined(__SEG_FS) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
/* The fast paths address this thread's TLS %fs-relative (the sanitizers
 * see plain accesses instead): a TLS variable's offset from the thread
 * pointer is one GOT load (initial-exec), and GCC keeps %fs: addressing for
 * __seg_fs lvalues, where for a pointer into the TLS (t->held[n], an entry
 * of an array in fsr_ltls) it materialises %fs:0 and adds (measured: 8
 * instructions fewer per acquisition). */
#define FSR_TLS_BASE(var) ((uintptr_t)&(var) - (uintptr_t)__builtin_thread_pointer())
#define FSR_TLS_AT(type, base, off) (*(type __seg_fs *)((base) + (off)))
/* a store other threads read after what came before it (nheld after its
 * held[] entry: the wait-for check reads held[] up to nheld): x86 keeps
 * the stores' order */
#define FSR_TLS_PUBLISH(type, base, off, v) \
	do { __atomic_signal_fence(__ATOMIC_RELEASE); FSR_TLS_AT(type, base, off) = (v); } while (0)
/* the same, the word changed by d in place (one add to memory: only the
 * thread itself writes it) */
#define FSR_TLS_PUBLISH_ADD(type, base, off, d) \
	do { __atomic_signal_fence(__ATOMIC_RELEASE); FSR_TLS_AT(type, base, off) += (d); } while (0)
/* a relaxed load of an aligned word, which x86 does with any mov: a plain
 * read here, which GCC folds into the instruction using it (an __atomic or
 * volatile load it does not); the sanitizers' builds see the __atomic one.
 * Only where one load per call is all that is asked (a wrapper's key). */
#define FSR_RELAXED_LOAD(x) (x)
/* the same offset, loaded where it is used: after the real trylock, a
 * load again is cheaper than a callee-saved register kept across the call
 * (its push and pop, and the frame alignment they cost) */
#define FSR_TLS_BASE_AGAIN(var) __extension__ ({ uintptr_t b_; \
	__asm__ volatile("movq " #var "@gottpoff(%%rip), %0" : "=r"(b_)); b_; })
#else
#define FSR_TLS_BASE(var) ((uintptr_t)&(var))
#define FSR_TLS_BASE_AGAIN(var) FSR_TLS_BASE(var)
#define FSR_RELAXED_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define FSR_TLS_AT(type, base, off) (*(type *)((base) + (off)))
#define FSR_TLS_PUBLISH(type, base, off, v) __atomic_store_n(&FSR_TLS_AT(type, base, off), (v), __ATOMIC_RELEASE)
#define FSR_TLS_PUBLISH_ADD(type, base, off, d) \
	__atomic_store_n(&FSR_TLS_AT(type, base, off), FSR_TLS_AT(type, base, off) + (d), __ATOMIC_RELEASE)
#endif

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
/* the lock wrappers' per-thread state (fsr.h's struct fsr_lock_tls) is
 * part of fsr_self: the fast paths reach both with one TLS offset */
#define fsr_ltls (fsr_self.lt)
/* the key of what the calling thread holds (chain[nheld]): graph.c's ma_memo */
static inline uint64_t fsr_held_chain(const struct fsr_thread *t)
{
	(void)t;
	return fsr_ltls.top;
}
/* the chain after an entry of class cls (0: untracked) in mode read is
 * pushed on a stack keyed by prev: odd, so never 0 (an empty base) */
static inline uint64_t fsr_chain_next(uint64_t prev, unsigned int cls, int read)
{
	return fsr_mix64(prev ^ ((uint64_t)cls << 1 | (read ? 1u : 0u))) | 1;
}
/* cls, kind and read of a held entry as the one word they fill */
static inline uint64_t fsr_held_word(unsigned int cls, int kind, int read)
{
	struct fsr_held h;
	uint64_t w;
	h.cls = cls;
	h.kind = (unsigned short)kind;
	h.read = (unsigned short)read;
	memcpy(&w, &h.cls, sizeof w);
	return w;
}
_Static_assert(offsetof(struct fsr_held, read) + sizeof(unsigned short) - offsetof(struct fsr_held, cls) == 8,
	       "cls, kind and read fill one word");
/* bumped by init, destroy, exclude and a free of lock memory; read by every
 * acquisition (the memo's key): a line of its own, so that no other
 * variable's writes move it away from the readers */
struct fsr_inst_gen_word {
	uint64_t v;             /* 64 bits: the key's add takes it from memory */
} __attribute__((aligned(64)));
extern struct fsr_inst_gen_word fsr_inst_genw FSR_HIDDEN;
#define fsr_inst_gen (fsr_inst_genw.v)
/* the memo's key (kind and read are constants in every wrapper: each
 * pair has its own odd multiplier, a bijection, so two locks under one
 * chain differ in key; the product does not wait for the chain's load,
 * and gen is added after it).  The top bits index the memo. */
static inline __attribute__((always_inline)) uint64_t fsr_acq_key(uint64_t chain, const void *lock, int kind,
								  int read)
{
	static const uint64_t mul[2] = { 0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full };
	uint64_t m = mul[read ? 1 : 0] + ((uint64_t)kind << 33);   /* still odd */
	return (chain ^ ((uintptr_t)lock * m)) + FSR_RELAXED_LOAD(fsr_inst_gen);
}
static inline unsigned int fsr_acq_slot(uint64_t key) { return (unsigned int)(key >> (64 - FSR_ACQ_BITS)); }

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
	/* what free() jumps through: __libc_free until the first page holds a
	 * tracked lock or limit= counts the heap, then malloc.c's tracked free
	 * for good (fsr_heap_locks_on), so that free's fast path is the one
	 * indirect jump a forwarding free makes */
	void (*free_fn)(void *);
} __attribute__((aligned(64)));     /* a line of its own: free() reads it, only a
				     * page gaining its first lock or losing its
				     * last writes it */
extern struct fsr_heap_lock_count fsr_heap_locks FSR_HIDDEN;
#define fsr_heap_lock_pages (fsr_heap_locks.pages)
/* free() goes through the tracked free from now on (called where
 * fsr_heap_lock_pages is raised, before the page or limit is in use) */
void fsr_heap_locks_on(void) FSR_HIDDEN;
/* malloc.c's tracked free (absent from the core's unit tests: weak) */
void fsr_free_tracked(void *p) FSR_HIDDEN __attribute__((weak));
void fsr_lock_free_range(const void *p, size_t n) FSR_HIDDEN;
/* pthread_mutex_destroy: forget the instance */
void fsr_lock_forget_instance(const void *lock) FSR_HIDDEN;
/* a test's look: would free() of [p, p + n) probe for instances? */
int fsr_lock_free_would_probe(const void *p, size_t n) FSR_HIDDEN;
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
/* A signal handler that locks and unlocks between a push's stores and its
 * count (nheld still n) pushes at held[n] too: its unlock leaves its own
 * entry there and top at chain[n], and the interrupted push's lock would
 * stay untracked, the handler's lock held for good (false reports).  The
 * push stores top first and tests it after the count: not what it stored,
 * a handler ran in between, and the entry and chain are written again
 * (lock.c); a handler before top's store is overwritten by the stores
 * after it, one after the count pushes above it. */
void fsr_held_redo(int n, const void *lock, uint64_t word, void *site, uint64_t next) FSR_HIDDEN;
/* put a lock at held[n] of the calling thread (the caller has checked
 * n < FSR_MAX_HELD) and make it the top: n + 1 held, the chain extended
 * by it (next: chain[n + 1]); word is fsr_held_word(cls, kind, read).
 * Thread-local stores only (the TLS variables as lvalues, no pointer into
 * them: %fs-relative): an allocation under the lock needs a look (the mark
 * stays set while locks are held, so the nested ones set it again for
 * nothing) */
static inline __attribute__((always_inline)) void fsr_held_put(int n, const void *lock, uint64_t word,
							       void *site, uint64_t next)
{
	fsr_ltls.top = next;        /* first: fsr_held_redo's test */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	fsr_self.held[n].lock = lock;
	memcpy(&fsr_self.held[n].cls, &word, sizeof word);
	fsr_self.held[n].site = site;
	fsr_ltls.chain[n + 1] = next;
	__atomic_store_n(&fsr_self.nheld, n + 1, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);   /* top loaded again, not the value stored */
	if (unlikely(fsr_ltls.top != next))
		fsr_held_redo(n, lock, word, site, next);   /* a signal handler's lock */
	fsr_self.held_pushes++;   /* abandon.c: did an inline callback release a lock? (no memo hit in reclaim) */
	fsr_oplock_note(&fsr_self, fsr_self.held[n].cls);
	fsr_look(&fsr_self);
}
/* push on the calling thread's held[] at n (its nheld) */
static inline void fsr_held_push(int n, const void *lock, unsigned int c, int kind, int read, void *site)
{
	fsr_held_put(n, lock, fsr_held_word(c, kind, read), site, fsr_chain_next(fsr_ltls.chain[n], c, read));
}
/* The class an acquisition of lock by t (the calling thread) is held
 * with: 0 when untracked (the class table full) or excluded; *tracked says
 * whether it has a class at all.  With edges, the edges held -> it and (in
 * reclaim) fs_reclaim -> it are recorded (a trylock, or an acquisition
 * whose edges were recorded before it blocked, has none). */
static inline unsigned int fsr_lock_take_class(struct fsr_thread *t, const void *lock, int kind, int read,
					       void *site, int edges, int *tracked)
{
	unsigned int c = fsr_lock_class(lock, kind, site);
	*tracked = c != 0;
	if (unlikely(c && fsr_class_excluded(c)))
		c = 0;
	if (c && edges && unlikely(t->nheld | t->in_reclaim))
		fsr_graph_acquire(t, c, read, 0);
	return c;
}
/* the lock was taken by t, the calling thread: its class and edges
 * (fsr_lock_take_class), then pushed on t->held[] */
static inline void fsr_lock_acquired(struct fsr_thread *t, const void *lock, int kind, int read,
				     void *site, int edges)
{
	int tracked;
	unsigned int c = fsr_lock_take_class(t, lock, kind, read, site, edges, &tracked);
	int n = t->nheld;
	if (likely(n < FSR_MAX_HELD))
		fsr_held_push(n, lock, c, kind, read, site);
}
void fsr_lock_released_slow(struct fsr_thread *t, const void *lock) FSR_HIDDEN;
/* recompute the chain (fsr_ltls.chain) after held[] was changed in place,
 * or reclaim began or ended (the chain's base); t is the calling thread */
void fsr_held_resig(struct fsr_thread *t) FSR_HIDDEN;
/* the common unlock by the calling thread: lock is the top of held[],
 * popped (1); else 0, nothing changed.  chain[n - 1] is the key of what is
 * left.  %fs-relative, as the wrappers' fast paths are (lockwrap.c's
 * unlocks inline it). */
static inline __attribute__((always_inline)) int fsr_lock_pop_top(const void *lock)
{
	uintptr_t ts = FSR_TLS_BASE(fsr_self);
	uintptr_t n = FSR_TLS_AT(unsigned int, ts, offsetof(struct fsr_thread, nheld));
	/* n == 0 reads held_floor (fsr.h): no count test */
	if (likely(FSR_TLS_AT(const void *, ts + n * sizeof(struct fsr_held),
			      offsetof(struct fsr_thread, held_floor) + offsetof(struct fsr_held, lock)) == lock)) {
		uint64_t k = FSR_TLS_AT(uint64_t, ts + 8 * n, offsetof(struct fsr_thread, lt.chain) - 8);
		FSR_TLS_AT(uint64_t, ts, offsetof(struct fsr_thread, lt.top)) = k;
		FSR_TLS_PUBLISH_ADD(int, ts, offsetof(struct fsr_thread, nheld), -1);
		/* again: a signal handler's lock+unlock between the two stores
		 * above leaves top at chain[n], the key of a set that still
		 * holds this lock (a memo entry filled under it would skip an
		 * edge later) */
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		FSR_TLS_AT(uint64_t, ts, offsetof(struct fsr_thread, lt.top)) = k;
		return 1;
	}
	return 0;
}
/* the top popped, or nothing held (1); 0 when fsr_lock_released must
 * look further */
static inline __attribute__((always_inline)) int fsr_lock_released_top(const void *lock)
{
	return fsr_lock_pop_top(lock) || !fsr_self.nheld;
}
static inline void fsr_lock_released(struct fsr_thread *t, const void *lock)
{
	if (!fsr_lock_released_top(lock))
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
static inline __attribute__((always_inline)) int fsr_graph_alloc_known(unsigned int gfp)
{
	uintptr_t ts = FSR_TLS_BASE(fsr_self);
	uint64_t sig = FSR_TLS_AT(uint64_t, ts, offsetof(struct fsr_thread, lt.top));
	uintptr_t m = ts + (uintptr_t)(sig >> 61) * sizeof(struct fsr_ma_memo);
	return FSR_TLS_AT(uint64_t, m, offsetof(struct fsr_thread, lt.ma_memo) + offsetof(struct fsr_ma_memo, sig)) == sig &&
	       FSR_TLS_AT(unsigned int, m, offsetof(struct fsr_thread, lt.ma_memo) + offsetof(struct fsr_ma_memo, gfp)) == gfp;
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
 * fsr_graph_might_alloc, off this path: no stack frame here); 0: look.
 * The calling thread's. */
static inline __attribute__((always_inline)) int fsr_alloc_under_lock(void)
{
	/* the calling thread's state, %fs-relative (no size: t->space is read
	 * only under space=, which is slow_all) */
	typedef uint64_t __attribute__((may_alias)) u64_alias;
	uintptr_t ts = FSR_TLS_BASE(fsr_self);
	_Static_assert(offsetof(struct fsr_thread, busy) == offsetof(struct fsr_thread, flags) + 4,
		       "flags and busy are one word");
	/* flags and busy, one word; txn_depth and in_reclaim; fsr_ready and
	 * fsr_slow_all, one word and one compare */
	if (likely(FSR_TLS_AT(int, ts, offsetof(struct fsr_thread, nheld)) &&
		   ((FSR_TLS_AT(int64_t, ts, offsetof(struct fsr_thread, gate)) + 1) & FSR_GATE_CD) &&
		   !(FSR_TLS_AT(u64_alias, ts, offsetof(struct fsr_thread, flags)) |
		     FSR_TLS_AT(unsigned int, ts, offsetof(struct fsr_thread, txn_depth)) |
		     FSR_TLS_AT(unsigned int, ts, offsetof(struct fsr_thread, in_reclaim))) &&
		   fsr_ready_flags.both == FSR_READY_FAST))
		return fsr_graph_alloc_known(FSR_GFP_IO | FSR_GFP_FS) ? 1 : 2;
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
