/* fsr.h - interfaces between the parts of the shim.
 *
 * One allocation flows through the parts in one direction:
 *   malloc.c (the family, hot path) -> policy.c (does a pass run?)
 *   -> pass.c (inline or handoff) -> shrinker.c + fuse_reclaim.c (callbacks)
 * while lock.c/graph.c learn lock order, scope.c keeps the scopes, and
 * report.c/stack.c print what was found.
 *
 * Rules for all shim code: no malloc (use fsr_alloc, which goes to glibc's
 * __libc_malloc directly), no stdio, no backtrace() outside stack.c; every
 * entry from user code that may reach shim logic sets t->busy so that
 * allocations made by the shim itself never recurse into a pass.
 */
#ifndef FSR_H
#define FSR_H

#define FSRECLAIM_SHIM 1
#include "fsreclaim.h"
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/types.h>

#define FSR_HIDDEN __attribute__((visibility("hidden")))
#define FSR_EXPORT __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- per-thread state (initial-exec TLS, touched on every malloc) ---- */
#define FSR_PF_NOFS      0x1u   /* memalloc_nofs_save */
#define FSR_PF_NOIO      0x2u   /* memalloc_noio_save: implies NOFS */
#define FSR_PF_NORECLAIM 0x4u   /* memalloc_noreclaim_save (PF_MEMALLOC) */
#define FSR_PF_IOFLUSHER 0x8u   /* prctl(PR_SET_IO_FLUSHER, 1): NOIO, never a scope */
#define FSR_PF_GFPMASK   0x10u  /* gfp.c: inside a GFP call whose mask (call_gfp) narrows reclaim */
#define FSR_PF_OP        0x20u  /* in a FUSE op: its allocations count their sites (replay.c) */

#define FSR_MAX_SCOPES 32
#define FSR_MAX_HELD   48

struct fsr_scope_rec {
	unsigned int newly;      /* bits this save newly set (what restore takes) */
	unsigned int kind;       /* FSR_PF_* the save asked for */
	void *site;              /* return address of the save */
};

struct fsr_held {
	const void *lock;        /* the lock's address (instance) */
	unsigned int cls;        /* lock class id (graph.c), 0 = untracked */
	unsigned short kind;     /* FSR_LOCK_* */
	unsigned short read;     /* shared acquisition */
	void *site;              /* acquisition pc */
};

struct fsr_pass;

#define FSR_KEY_LEN 40
#define FSR_OP_SITES 32          /* distinct allocation sites counted per op */

/* splitmix64's finalizer: the shim's one hash step for seeds and keys */
static inline uint64_t fsr_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The lock wrappers' per-thread state (lockdep.h, lockwrap.c), in the
 * thread's struct fsr_thread (fsr_self.lt: one TLS offset for both):
 *  - chain[n]: the key of the held stack's first n entries (held[0..n)),
 *    a hash chained over their classes and modes; chain[0] is the base, 0
 *    outside reclaim, else the reclaim pseudo-lock the thread "holds"
 *    (fsr_held_resig sets it when reclaim begins or ends).  top is
 *    chain[nheld], kept apart so that an acquisition's lookup does not
 *    wait for nheld's load first (an unlock of the top restores it from
 *    chain[n - 1], which is still the key below).
 *  - the acquisition memo, two-way (a key's slot and its neighbour) by a
 *    key of (top, the lock's address, its kind and mode, fsr_inst_gen),
 *    three arrays indexed alike (one scaled index for all): an entry
 *    (key) says that this lock
 *    has class cls (word: its held entry's class word) and that every edge
 *    the held set and reclaim state keyed by top add to it is in the graph
 *    already (edges are never removed); next is the chain after it.  So
 *    the common acquisition, first or nested, is one compare and a few
 *    thread-local stores; only a miss (a new lock, held set or edge, a gen
 *    bump: init, destroy, exclude, a free of lock memory) looks up the
 *    class and the edges (took_slow in lockwrap.c).
 *  - ma_memo: held sets (by chain) known to have all their edges to the
 *    reclaim pseudo-locks at an allocation with this gfp (graph.c) */
#define FSR_MA_MEMO 8
struct fsr_ma_memo { uint64_t sig; unsigned int gfp; };
#define FSR_ACQ_BITS 7
#define FSR_ACQ_N (1u << FSR_ACQ_BITS)
struct fsr_lock_tls {
	uint64_t top;
	uint64_t chain[FSR_MAX_HELD + 1];
	uint64_t acq_key[FSR_ACQ_N];     /* 0: empty */
	uint64_t acq_word[FSR_ACQ_N];    /* the held entry's cls, kind and read (fsr_held_word) */
	uint64_t acq_next[FSR_ACQ_N];    /* chain[n + 1] after this acquisition */
	struct fsr_ma_memo ma_memo[FSR_MA_MEMO];
};
struct fsr_thread {
	/* hot fields first: malloc reads these in one cache line */
	unsigned int flags;      /* FSR_PF_* from scopes, incl. io_flusher's NOIO */
	int busy;                /* >0: inside the shim; no pass, no tracking */
	int nheld;               /* locks held (lock.c) */
	int txn_depth;           /* open transactions */
	/* malloc's one word (malloc.c tests it alone): the low 31 bits
	 * (FSR_GATE_CD) are the allocations that may still go the fast way
	 * before the next interval hit, the rest of the countdown is in
	 * countdown_hi (fsr_countdown); bits 31-63 (FSR_LOOK) are set by
	 * whatever makes an allocation need a look (flags, busy, nheld,
	 * txn_depth, fsr_slow_all: fsr_look()) and cleared by the look once
	 * none of them is left.  malloc subtracts one and leaves the fast path
	 * when the result is negative: a look, or the fast part used up.
	 * Zero (a thread not initialised yet) is a countdown of 0.  A fast
	 * part of exactly FSR_GATE_IDLE (no look, the countdown infinite and
	 * not counted: fsr_countdown_set) is tested first and not
	 * decremented: the idle shim stores nothing per allocation. */
	int64_t gate;
	uint64_t countdown_hi;
	uint64_t countdown_base; /* the countdown at the last look (policy.c) */
	uint64_t allocs;         /* allocations that did not consume the countdown
				  * (fsr_thread_allocs() adds those that did) */
	uint64_t op_locks;       /* inside a FUSE op: its connection's bit (fsr_oplock_cls);
				  * read with nheld at every lock taken */

	uint64_t may_reclaim;    /* n: may-reclaim allocations so far (policy) */
	uint64_t space;          /* bytes allocated, for space= */
	unsigned int index;      /* registration order (0 = first registered) */
	char key[FSR_KEY_LEN];   /* stable thread key: creation path ("0.2"), "R" the reclaimer */
	uint64_t key_hash;       /* hash of key: seeds the phase and the draws (policy.c) */
	unsigned int nchildren;  /* threads this one created through pthread_create */
	uint64_t phase;          /* the interval countdown's offset, from seed and key */
	pid_t tid;
	int in_reclaim;          /* running reclaim callbacks (pass, or fsr_reclaim_acquire) */
	unsigned int reclaim_gfp;/* gfp of the reclaim it runs */
	unsigned int call_gfp;   /* gfp.c: FS/IO bits the GFP call's mask allows (FSR_PF_GFPMASK) */
	struct fsr_pass *pass;   /* the pass this thread serves (reclaimer or inline) */
	struct fsr_pass *waiting;/* handoff: the pass this allocator waits for */
	const void *blocked_on;  /* lock.c: lock this thread blocks on */
	int nfilelocks;          /* filelock.c: file locks taken and not released */

	int nscopes;
	struct fsr_scope_rec scopes[FSR_MAX_SCOPES];

	/* held[-1] (held_floor.lock is always NULL): the unlocks' top test
	 * reads held[nheld - 1] without testing nheld first; nothing held, it
	 * matches only a NULL lock, whose real unlock faults anyway */
	struct fsr_held held_floor;
	struct fsr_held held[FSR_MAX_HELD];

	const char *txn_name;    /* outermost open transaction */
	void *txn_site;

	/* FUSE op context (fuse_ops.c) */
	const char *op;          /* name of the op in progress, or NULL */
	int op_depth;
	void *fuse_ctx;          /* fuse_ops.c private: session/req of the op */
	int op_nscopes;          /* nscopes when the op began (scope-leak) */
	struct fsr_op_lease *lease_given; /* threads.c: the lease this op gave the threads it started */
	struct fsr_op_lease *op_lease;    /* threads.c: started inside an op: that op's lease */

	int registered;          /* in the thread registry */
	struct fsr_thread *next_thread;

	/* libc internals (libcwrap.c): >0 inside an interposed dlopen, dlclose,
	 * dladdr, dl_iterate_phdr, getaddrinfo or iconv_open; no pass then */
	int in_libc;
	/* stack.c: this thread's own stack, taken before it blocks on a tracked
	 * lock (wait_seq odd while it is written); reports of other threads
	 * read it instead of signalling the waiter */
	unsigned int wait_seq;
	int wait_n;
	void *wait_pc[16];
	/* replay.c: the op's count and the site of the allocation at a look */
	uint64_t op_n0;          /* n when the current op began */
	uint64_t sched_site;     /* site hash computed at this look (replay mode, or the pass's) */
	int sched_site_valid;
	int op_site_fired;       /* replay=site: fired in the current op */
	void *alloc_ra;          /* malloc.c's slow entries: the allocation's return address */
	/* occurrences of each top frame (return address) among the op's
	 * may-reclaim allocations: an entry is live when gen == op_gen */
	unsigned int op_gen;
	struct fsr_op_site { const void *ra; unsigned int gen, n; } op_sites[FSR_OP_SITES];
	/* abandon.c: the inline callback this thread runs that may be
	 * abandoned (NULL: none; the wait wrappers test only this) */
	struct fsr_cb_guard *cb_guard;
	/* lock pushes on held[] (lockdep.h's fsr_held_push): an inline
	 * callback that released a lock is never abandoned */
	uint64_t held_pushes;
	/* wait sites of this thread's inline callbacks abandoned before: a
	 * callback that reaches one again is abandoned at once */
	int ngone;
	void *gone_site[4];
	struct fsr_lock_tls lt;  /* lockdep.h's fsr_ltls */
};

_Static_assert(offsetof(struct fsr_thread, held) - offsetof(struct fsr_thread, held_floor) ==
	       sizeof(struct fsr_held), "held_floor is held[-1]");

#define FSR_GATE_CD ((int64_t)0x7fffffff)
#define FSR_LOOK     (~FSR_GATE_CD)
/* the fast part's value of an infinite countdown that nobody counts
 * (interval=0 without stats=): malloc compares the gate with it and goes
 * to glibc without a store; a counting countdown's fast part stays below */
#define FSR_GATE_IDLE FSR_GATE_CD
/* the thread entered a state in which its allocations need a look (the
 * look clears it again when nothing is left); one store, no test */
static inline void fsr_look(struct fsr_thread *t) { t->gate |= FSR_LOOK; }
/* every raise of busy goes through here (a decrease needs nothing) */
static inline void fsr_busy_enter(struct fsr_thread *t) { t->busy++; fsr_look(t); }
/* may-reclaim allocations until the next interval hit (the hit included;
 * 0: the next allocation wraps it, as a plain counter would) */
static inline uint64_t fsr_countdown(const struct fsr_thread *t)
{
	return t->countdown_hi + (uint64_t)(t->gate & FSR_GATE_CD);
}
struct fsr_options;
extern struct fsr_options fsr_opt FSR_HIDDEN;
static inline int fsr_opt_stats(void);
/* v: UINT64_MAX is never (interval=0, or every allocation looked at):
 * without stats= nobody reads the fast path's count then, and the fast
 * part is FSR_GATE_IDLE (not decremented: fsr_countdown() stays
 * UINT64_MAX, and fsr_thread_allocs() counts only the allocations that
 * were looked at) */
static inline void fsr_countdown_set(struct fsr_thread *t, uint64_t v)
{
	uint64_t fast = v ? v - 1 : 0;       /* the hit itself goes the slow way */
	uint64_t cap = v == UINT64_MAX && !fsr_opt_stats() ? (uint64_t)FSR_GATE_IDLE
							   : (uint64_t)FSR_GATE_IDLE - 1;
	if (fast > cap)
		fast = cap;
	t->countdown_hi = v - fast;
	t->gate = (t->gate & FSR_LOOK) | (int64_t)fast;
}
/* every allocation of t: those that consumed the countdown (n and the part
 * since the last look) and the others (with interval=0 and no stats=, the
 * idle fast path's allocations are not among them) */
static inline uint64_t fsr_thread_allocs(const struct fsr_thread *t)
{
	return t->allocs + t->may_reclaim + (t->countdown_base - fsr_countdown(t));
}

/* an op begins on t (fuse_*.c): the op key and the site counts start here */
static inline void fsr_sched_op_begin(struct fsr_thread *t)
{
	t->op_n0 = t->may_reclaim + (t->countdown_base - fsr_countdown(t));
	t->op_site_fired = 0;
	t->op_gen++;
	t->flags |= FSR_PF_OP;   /* its allocations leave malloc's fast path to be counted */
	fsr_look(t);
}

/* the count of ra's occurrences in t's op, with this one when add is set
 * (0: not in an op, or the table is full) */
static inline unsigned int fsr_op_site_hit(struct fsr_thread *t, const void *ra, int add)
{
	unsigned int i = (unsigned int)(((uintptr_t)ra >> 4) ^ ((uintptr_t)ra >> 11));
	for (unsigned int k = 0; k < FSR_OP_SITES; k++) {
		struct fsr_op_site *e = &t->op_sites[(i + k) % FSR_OP_SITES];
		if (e->gen != t->op_gen) {
			if (!add)
				return 0;
			e->gen = t->op_gen;
			e->ra = ra;
			return e->n = 1;
		}
		if (e->ra == ra)
			return add ? ++e->n : e->n;
	}
	return 0;
}

/* malloc.c's slow entries, before anything else: the return address of
 * the allocation, and its count when it is a may-reclaim one in an op */
static inline void fsr_alloc_note(struct fsr_thread *t, void *ra)
{
	if (t->busy)
		return;          /* the shim's own: never looked at, and its pass's ra stays */
	t->alloc_ra = ra;
	if ((t->flags & (FSR_PF_OP | FSR_PF_NORECLAIM)) == FSR_PF_OP && !t->in_reclaim)
		(void)fsr_op_site_hit(t, ra, 1);
}

extern __thread struct fsr_thread fsr_self __attribute__((tls_model("initial-exec"))) FSR_HIDDEN;

static inline struct fsr_thread *fsr_thread_self(void) { return &fsr_self; }

/* effective mask of an allocation (Linux current_gfp_context) */
static inline unsigned int fsr_gfp_of(const struct fsr_thread *t)
{
	unsigned int f = t->flags;
	if (f & FSR_PF_NORECLAIM)
		return 0;
	if (f & (FSR_PF_NOIO | FSR_PF_IOFLUSHER))
		return 0;
	unsigned int g = f & FSR_PF_NOFS ? FSR_GFP_IO : FSR_GFP_IO | FSR_GFP_FS;
	if (f & FSR_PF_GFPMASK)
		g &= t->call_gfp;
	return g;
}

/* ---- options (options.c) ---- */
enum fsr_mode { FSR_MODE_HANDOFF, FSR_MODE_INLINE };
/* auto: libfuse wrapping where it serves a session, the /dev/fuse wire for the rest */
enum { FSR_TRANSPORT_AUTO, FSR_TRANSPORT_LIB, FSR_TRANSPORT_WIRE };
#define FSR_CB_SHRINKERS 0x1u
#define FSR_CB_FORGET    0x2u
#define FSR_CB_FSYNC     0x4u
#define FSR_CB_FLUSH     0x8u

struct fsr_options {
	uint64_t interval;       /* 0: never */
	unsigned int probability;/* percent */
	int64_t times;           /* -1: unbounded */
	uint64_t space;
	uint64_t limit;          /* 0: off */
	uint64_t seed;
	enum fsr_mode mode;
	uint64_t timeout_ms;
	unsigned int callbacks;  /* FSR_CB_* */
	int fuse_transport;      /* FSR_TRANSPORT_*: how FUSE ops are reached */
	int detect_needless_nofs;
	int halt_on_error;
	int exitcode;
	char log_path[4096];     /* absolute, empty: stderr */
	char json_path[4096];
	char suppressions[4096];
	unsigned int stack_depth;
	int stats;
	int vmalloc_legacy;      /* vmalloc_model=legacy: __vmalloc/kvmalloc ignore NOFS/NOIO masks */
	int debuginfod;          /* let libdw fetch debug info through debuginfod */
	char replay[4096];       /* replay=KEY, as given (replay.c) */
	char record[4096];       /* record=PATH, absolute */
	char sarif_path[4096];   /* sarif_path=PATH, absolute (sarif.c) */
	char source_root[4096];  /* source_root=DIR, absolute; empty: cwd at start */
	char graph_path[4096];   /* graph_path=PATH, absolute (dot.c) */
};
extern struct fsr_options fsr_opt FSR_HIDDEN;
static inline int fsr_opt_stats(void) { return fsr_opt.stats; }

/* Parse an FSRECLAIM_OPTIONS string into *o (starting from defaults when
 * reset).  On error returns -1 and writes a one-line message naming the key
 * into err.  Never allocates. */
void fsr_options_defaults(struct fsr_options *o) FSR_HIDDEN;
int fsr_options_parse(struct fsr_options *o, const char *s, char *err, size_t errlen) FSR_HIDDEN;

/* ---- policy (policy.c) ---- */
/* read by every tracked lock and every allocation that looks, written at
 * init and exit only: a line of their own (beside the pass counters, every
 * pass's writes took the line away from every reader) */
struct fsr_ready_flags {
	union {
		struct {
			int ready;       /* init done: passes may run */
			int slow_all;    /* every allocation takes the slow path (space, limit) */
		};
		uint64_t both;   /* FSR_READY_FAST: ready, not slow_all (one compare) */
	};
} __attribute__((aligned(64)));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FSR_READY_FAST ((uint64_t)1)
#else
#define FSR_READY_FAST ((uint64_t)1 << 32)
#endif
extern struct fsr_ready_flags fsr_ready_flags FSR_HIDDEN;
#define fsr_ready (fsr_ready_flags.ready)
#define fsr_slow_all (fsr_ready_flags.slow_all)
void fsr_policy_init(void) FSR_HIDDEN;
void fsr_policy_thread_init(struct fsr_thread *t) FSR_HIDDEN;
/* the gate is idle: on x86-64 one cmp with the memory operand (the
 * compiler would load the word into a register for the decrement after it,
 * an instruction more on the idle path) */
static inline __attribute__((always_inline)) int fsr_gate_idle(const struct fsr_thread *t)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	int idle;
	__asm__("cmpq %1, %2" : "=@ccz"(idle) : "i"(FSR_GATE_IDLE), "m"(t->gate));
	return idle;
#else
	return t->gate == FSR_GATE_IDLE;
#endif
}
/* malloc's hot test: idle (FSR_GATE_IDLE, a cmp and a je, nothing
 * stored), else one decrement of t->gate (a sub and a js); 0 when the
 * allocation goes straight to glibc */
static inline __attribute__((always_inline)) int fsr_alloc_hot(struct fsr_thread *t)
{
	if (likely(fsr_gate_idle(t)))
		return 0;
	return unlikely(--t->gate < 0);
}
/* the hot test fired: undoes its decrement and says why.  0: an ordinary
 * allocation after all (the countdown went on: its fast part was refilled,
 * or the thread had left its last look state); 1: the thread needs a look; 2: the
 * countdown hit zero (consumed: call fsr_alloc_slow with counted set) */
int fsr_alloc_gate(struct fsr_thread *t) FSR_HIDDEN;
/* Called by malloc.c when fsr_alloc_gate says 1 or 2: decides and runs a pass. */
void fsr_alloc_slow(struct fsr_thread *t, size_t size, int counted) FSR_HIDDEN;
/* live heap accounting for limit= (only when limit is set) */
void fsr_heap_add(size_t usable) FSR_HIDDEN;
void fsr_heap_sub(size_t usable) FSR_HIDDEN;
/* the phase of a thread's interval countdown, in [0, interval) */
uint64_t fsr_policy_phase(uint64_t seed, uint64_t key_hash, uint64_t interval) FSR_HIDDEN;
/* Pure decision, testable: would allocation number n (the thread's count
 * plus its phase) of the thread whose key hashes to ti,
 * after `space_seen` bytes, with `passes_so_far` global passes, get a pass? */
int fsr_policy_decide(const struct fsr_options *o, unsigned int ti, uint64_t n,
		      uint64_t space_seen, int64_t passes_so_far, int over_limit) FSR_HIDDEN;

/* ---- the schedule of a pass, its replay key, record= (replay.c) ---- */
#define FSR_SCHED_TARGETS 4
struct fsr_schedule {
	int valid;               /* a pass produced this */
	uint64_t seed, pass, n;  /* n: the thread's n-th may-reclaim allocation */
	uint64_t op_hit;         /* its k-th may-reclaim allocation in op */
	uint64_t site;           /* top frame (high 32 bits) and stack (low 32) as build-id + offset */
	uint64_t site_hit;       /* its top frame's k-th occurrence in the op (0: unknown) */
	const char *op;
	const char *callback;    /* what the pass could call */
	pid_t tid;
	int site_done;           /* site computed */
	int recorded;            /* atomic: its record line and digest are written */
	uint64_t key_hash;
	char thread_key[FSR_KEY_LEN];
	char ran[48];            /* the callbacks it ran, in order, '+'-joined */
	char target[200];        /* their targets ("/path" an entry, "#N:/path" the N-th handle opened), ','-joined */
	int ntargets;
	/* replay: the targets to choose again, by type ('e' entry, 'h' handle) and hash */
	int nwant, wanted;
	char want_type[FSR_SCHED_TARGETS];
	uint32_t want[FSR_SCHED_TARGETS];
	int want_used[FSR_SCHED_TARGETS];
	char want_name[FSR_SCHED_TARGETS][64];   /* from a record: the target as it was written */
};
extern int fsr_replay_on FSR_HIDDEN;     /* replay= given: passes only where it matches */
/* at start-up: replay=, record=; -1 with a one-line error */
int fsr_replay_init(char *err, size_t errlen) FSR_HIDDEN;
/* options.c: NULL when v is a well-formed replay= value, else why not */
const char *fsr_replay_check(const char *v, size_t n, int apply) FSR_HIDDEN;
int fsr_replay_match(struct fsr_thread *t, int64_t passes) FSR_HIDDEN;
void fsr_replay_exit(void) FSR_HIDDEN;
void fsr_replay_atfork_child(void) FSR_HIDDEN;
struct fsr_stack;
/* a site: ra (malloc's return address) and the stack below malloc */
uint64_t fsr_site_hash(const struct fsr_stack *s, const void *ra) FSR_HIDDEN;
uint64_t fsr_site_of(const void *ra, void *const *pc, int n) FSR_HIDDEN;
#define FSR_SITE_FRAMES 8        /* frames below malloc that make a site */
struct fsr_pass;
/* pass.c, once the pass has the slot: fill p->sched, record it, digest it */
void fsr_schedule_begin(struct fsr_pass *p, struct fsr_thread *t, uint64_t number) FSR_HIDDEN;
/* pass.c, when it runs the callbacks (alloc: the handoff's allocation
 * stack, or NULL on the allocating thread itself) */
void fsr_schedule_site(struct fsr_pass *p, const struct fsr_stack *alloc) FSR_HIDDEN;
void fsr_schedule_snap(struct fsr_schedule *dst, struct fsr_pass *p) FSR_HIDDEN;
/* the replay= value that gives this pass again */
void fsr_schedule_key(const struct fsr_schedule *s, char *buf, size_t len) FSR_HIDDEN;
/* report.c: the schedule and replay lines (text, just before SUMMARY) and
 * the "schedule" and "replay" JSON members (with a leading comma) */
size_t fsr_schedule_text(const struct fsr_schedule *s, char *buf, size_t len) FSR_HIDDEN;
size_t fsr_schedule_json(const struct fsr_schedule *s, char *buf, size_t len) FSR_HIDDEN;
int fsr_record_open(char *err, size_t errlen) FSR_HIDDEN;
void fsr_record_pass(const struct fsr_schedule *s, const char *status) FSR_HIDDEN;
void fsr_record_skip(struct fsr_thread *t) FSR_HIDDEN;
void fsr_digest_add(const struct fsr_schedule *s) FSR_HIDDEN;
/* the pass's callbacks ran (done), or it was given up: its record line and
 * digest; when done, the targets it wanted and never chose are said */
void fsr_schedule_end(struct fsr_pass *p, int done) FSR_HIDDEN;
/* a callback of kind begins on type/target ('e' an entry, 'h' a handle,
 * 0 none; target NULL: the same as the last) */
void fsr_schedule_callback(struct fsr_pass *p, const char *kind, char type, const char *target) FSR_HIDDEN;
/* replay: the target (by hash) that the pass's next choice of type should
 * take, 0 when none is wanted; fsr_schedule_instead says (once per choice)
 * that it is gone and what was taken instead */
uint32_t fsr_schedule_want(const struct fsr_pass *p, char type) FSR_HIDDEN;
void fsr_schedule_instead(struct fsr_pass *p, char type, const char *kind, const char *took) FSR_HIDDEN;
uint32_t fsr_target_hash(const char *target) FSR_HIDDEN;
/* a target's text (a name, a path) percent-encoded for a record line, '/' kept */
size_t fsr_target_put(char *b, size_t len, const char *str) FSR_HIDDEN;
/* an entry's target, "/a/b", from its names leaf first (names[0] the entry's) */
size_t fsr_target_path(char *b, size_t len, const char *const *names, int n) FSR_HIDDEN;
uint64_t fsr_schedule_digest(void) FSR_HIDDEN;

/* ---- the pass (pass.c) ---- */
/* a futex-based mutex the shim uses itself (not tracked, never allocates;
 * fsr_mutex_lock/unlock in util.c) */
struct fsr_mutex { int v; };

struct fsr_pass {
	struct fsr_thread *allocator;  /* the thread whose allocation triggered it */
	unsigned int gfp;              /* effective mask of the allocation */
	int shrink, fuse;              /* what it may call: decided once, at its start */
	int state;                     /* FSR_PASS_*, atomic; a futex word */
	const char *op;                /* allocator's op */
	int txn_depth;                 /* allocator's open transactions at the pass */
	const char *txn_name;
	void *txn_site;
	struct fsr_stack *alloc_stack; /* filled lazily by whoever reports */
	/* the allocator's tid and held locks, copied when the pass begins: a
	 * callback released after timeout_ms may outlive its allocator's
	 * thread, so reports made by it never read that thread's TLS */
	pid_t allocator_tid;
	int inline_run;                /* run by its allocator itself (watched by the reclaimer) */
	int inline_self;               /* its callback is in a wait bounded by itself, or reported
					* its own timeout: the watchdog stays quiet (abandon.c) */
	uint64_t serial;               /* passes begun in the process, this one's number */
	int nheld;
	struct fsr_held held[FSR_MAX_HELD];
	struct fsr_schedule sched;     /* replay.c */
	/* sched's callbacks and targets are appended by whoever runs the
	 * callbacks while a released allocator (timeout_ms) may snapshot it */
	struct fsr_mutex sched_lock;
};
enum { FSR_PASS_IDLE, FSR_PASS_QUEUED, FSR_PASS_RUNNING, FSR_PASS_DONE, FSR_PASS_ABANDONED };

void fsr_pass_run(struct fsr_thread *t, unsigned int gfp) FSR_HIDDEN;
/* would a pass for an allocation with this mask call anything now (a
 * shrinker, a FUSE session's op)?  fsr_pass_run's own first test: asked
 * before the unwind that decides on libc (a single-threaded daemon's op
 * in progress: no callback can run) */
int fsr_pass_callable(struct fsr_thread *t, unsigned int gfp) FSR_HIDDEN;

/* ---- inline callbacks that may be abandoned (abandon.c) ---- */
/* run fn(arg), a callback of the pass t runs (shrinker, FUSE op): inside an
 * inline pass the untracked waits it makes are bounded by timeout_ms
 * (fsr_wait_bounded); one that would block past that abandons the
 * callback, which is unwound back to here.  Returns 1 when abandoned. */
int fsr_cb_run(struct fsr_thread *t, void (*fn)(void *), void *arg) FSR_HIDDEN;
/* a wait wrapper (condition variable, semaphore, file lock) about to block
 * in an untracked wait on obj (a condition's: with mutex) at site: 1 when t
 * runs an abandonable inline callback, *deadline (CLOCK_MONOTONIC ns) then
 * bounds the wait */
int fsr_wait_bounded(struct fsr_thread *t, const void *obj, const void *mutex, void *site,
		     uint64_t *deadline) FSR_HIDDEN;
/* t signals a condition or posts a semaphore (untracked.c) */
void fsr_wait_woke(struct fsr_thread *t) FSR_HIDDEN;
/* the bounded wait returned in time */
void fsr_wait_done(struct fsr_thread *t) FSR_HIDDEN;
/* it reached *deadline and would go on blocking: reports, then unwinds the
 * callback (does not return), or, when that would not be sound (why is
 * reported), returns and the caller waits unbounded as the daemon asked.
 * what names the call, obj its object, mutex the condition's mutex */
void fsr_wait_expired(struct fsr_thread *t, const char *what, const void *obj, const void *mutex) FSR_HIDDEN;
extern uint64_t fsr_stat_abandoned FSR_HIDDEN;   /* inline callbacks abandoned */
/* lock.c: a callback of pass p would block forever; release its allocator.
 * The callback goes on; until it returns no new pass starts. */
void fsr_pass_abandon(struct fsr_pass *p) FSR_HIDDEN;
void fsr_pass_atfork_child(void) FSR_HIDDEN;
extern uint64_t fsr_stat_passes FSR_HIDDEN;      /* atomic */
extern uint64_t fsr_stat_callbacks FSR_HIDDEN;   /* atomic */
extern uint64_t fsr_stat_skipped FSR_HIDDEN;     /* passes not started: one in flight */

/* ---- shrinkers (shrinker.c) ---- */
int fsr_shrinker_register(struct fsr_shrinker *s) FSR_HIDDEN;
void fsr_shrinker_unregister(struct fsr_shrinker *s) FSR_HIDDEN;
/* run eligible shrinkers for gfp; returns the number of scan calls */
unsigned long fsr_shrinkers_run(unsigned int gfp) FSR_HIDDEN;
int fsr_shrinkers_any(unsigned int gfp) FSR_HIDDEN;
void fsr_shrinker_atfork_child(void) FSR_HIDDEN;

/* ---- FUSE ops (fuse_*.c) ---- */
/* run forget/fsync/flush callbacks allowed by fsr_opt.callbacks; returns count */
unsigned long fsr_fuse_reclaim(struct fsr_pass *p) FSR_HIDDEN;
/* nonzero when FUSE callbacks could run now (a session between init and
 * destroy, with something to call back) */
int fsr_fuse_reclaim_possible(struct fsr_thread *t) FSR_HIDDEN;
extern uint64_t fsr_stat_fs_ops FSR_HIDDEN;      /* atomic */
/* After a fork a session belongs to the process that next reads its
 * /dev/fuse fd: forks are counted in each process (fsr_fuse_atfork, both
 * sides), and a session is called back only once it got a request since
 * the last one (its fork_gen is the count then; fuse_state.c) */
extern unsigned int fsr_fork_gen FSR_HIDDEN;
void fsr_fuse_atfork(void) FSR_HIDDEN;
/* the wire transport's counters, " key=N ..." for the stats line (fuse/wire_proto.c) */
int fsr_wire_stats(char *buf, size_t len) FSR_HIDDEN;
/* site is in a dynamic libfuse the wire serves (its lock classes are excluded) */
int fsr_wire_site_in_libfuse(const void *site) FSR_HIDDEN;

/* ---- scopes and transactions (scope.c) ---- */
unsigned int fsr_scope_save(struct fsr_thread *t, unsigned int kind, void *site) FSR_HIDDEN;
void fsr_scope_restore(struct fsr_thread *t, unsigned int newly, unsigned int kind, void *site) FSR_HIDDEN;
/* scope-leak check: when an op returns (what = op name) or a thread exits */
void fsr_scope_check_leak(struct fsr_thread *t, int nscopes_before, const char *what) FSR_HIDDEN;
extern const struct fsr_api fsr_api FSR_EXPORT;

/* ---- the public calls under their own names (scope.c) ---- */
unsigned int memalloc_nofs_save(void) FSR_EXPORT;
void memalloc_nofs_restore(unsigned int flags) FSR_EXPORT;
unsigned int memalloc_noio_save(void) FSR_EXPORT;
void memalloc_noio_restore(unsigned int flags) FSR_EXPORT;
unsigned int memalloc_noreclaim_save(void) FSR_EXPORT;
void memalloc_noreclaim_restore(unsigned int flags) FSR_EXPORT;
int fsr_register_shrinker(struct fsr_shrinker *s) FSR_EXPORT;
void fsr_unregister_shrinker(struct fsr_shrinker *s) FSR_EXPORT;
void *fsr_transaction_begin(const char *name) FSR_EXPORT;
void fsr_transaction_end(void *cookie) FSR_EXPORT;
void fsr_reclaim_acquire(unsigned int gfp) FSR_EXPORT;
void fsr_reclaim_release(unsigned int gfp) FSR_EXPORT;
void fsr_lock_exclude(const void *lock) FSR_EXPORT;

/* ---- the GFP calls (gfp.c), exported under their own names too ---- */
/* Linux's current_gfp_context() for scope flags pf (FSR_PF_*) */
unsigned int fsr_gfp_context(unsigned int gfp, unsigned int pf) FSR_HIDDEN;
void *fsr_kmalloc(size_t size, unsigned int gfp) FSR_EXPORT;
void *fsr_kzalloc(size_t size, unsigned int gfp) FSR_EXPORT;
void *fsr_kcalloc(size_t n, size_t size, unsigned int gfp) FSR_EXPORT;
void *fsr_krealloc(void *p, size_t size, unsigned int gfp) FSR_EXPORT;
void fsr_kfree(const void *p) FSR_EXPORT;
void *fsr_kvmalloc(size_t size, unsigned int gfp) FSR_EXPORT;
void fsr_kvfree(const void *p) FSR_EXPORT;
void *fsr_vmalloc(size_t size) FSR_EXPORT;
void *fsr___vmalloc(size_t size, unsigned int gfp) FSR_EXPORT;
void fsr_vfree(const void *p) FSR_EXPORT;
unsigned int fsr_current_gfp_context(unsigned int gfp) FSR_EXPORT;
void fsr_might_alloc(unsigned int gfp) FSR_EXPORT;
/* graph.c: an explicit NOFS/NOIO mask at site, for needless-nofs at exit */
void fsr_graph_mask_note(struct fsr_thread *t, unsigned int gfp, void *site, const char *fn) FSR_HIDDEN;

/* ---- locks and the fs_reclaim graph (lock.c, graph.c) ---- */
#define FSR_LOCK_MUTEX  1
#define FSR_LOCK_RWLOCK 2
#define FSR_LOCK_SPIN   3
#define FSR_LOCK_MTX    4
#define FSR_LOCK_TXN    5    /* transaction pseudo-lock */
/* slow path of an allocation that may reclaim while t holds locks:
 * records held -> fs_reclaim / io_reclaim (the prediction) */
void fsr_graph_might_alloc(struct fsr_thread *t, unsigned int gfp) FSR_HIDDEN;
/* a thread enters/leaves reclaim (pass, or fsr_reclaim_acquire) */
void fsr_graph_reclaim_enter(struct fsr_thread *t, unsigned int gfp) FSR_HIDDEN;
void fsr_graph_reclaim_exit(struct fsr_thread *t) FSR_HIDDEN;
void fsr_lock_exclude_addr(const void *lock) FSR_HIDDEN;
unsigned int fsr_lock_exclude_code(uintptr_t lo, uintptr_t hi) FSR_HIDDEN;
/* judged at exit: needless-nofs (detect_needless_nofs=1) */
void fsr_graph_exit_checks(void) FSR_HIDDEN;
/* scope.c tells graph.c about NOFS scopes (needless-nofs bookkeeping) */
void fsr_graph_scope_save(struct fsr_thread *t, unsigned int kind, unsigned int newly, void *site) FSR_HIDDEN;
void fsr_graph_scope_restore(struct fsr_thread *t, unsigned int newly, unsigned int kind) FSR_HIDDEN;
/* a thread exits: drop what it holds */
void fsr_lock_thread_exit(struct fsr_thread *t) FSR_HIDDEN;

/* ---- stacks and reports (stack.c, report.c) ---- */
#define FSR_MAX_FRAMES 64
struct fsr_stack {
	const char *title;       /* "allocation", "reclaim callback", ... */
	int n;
	void *pc[FSR_MAX_FRAMES];
};
/* capture the calling thread's stack, dropping the shim's own frames */
void fsr_stack_capture(struct fsr_stack *s, const char *title) FSR_HIDDEN;
/* another thread's stack, as it recorded it before blocking on a tracked
 * lock (no signal); -1 when it is not in such a wait */
int fsr_stack_capture_thread(pid_t tid, struct fsr_stack *s, const char *title) FSR_HIDDEN;
/* lock.c, contended path: record the calling thread's stack for the above */
void fsr_stack_note_wait(struct fsr_thread *t) FSR_HIDDEN;
/* policy.c: is the allocation being decided made from inside libc
 * (its caller in libc/ld.so/libresolv/libnss/gconv, or an interposed
 * libc entry point on the stack)?  Its backtrace also gives the pass its
 * site (t->sched_site), so a pass costs no second unwind. */
int fsr_stack_alloc_in_libc(struct fsr_thread *t) FSR_HIDDEN;
/* the stack fsr_stack_alloc_in_libc just unwound on this thread, when it
 * was whole, for the pass it let through (its allocation stack without a
 * second unwind); 0 when there is none (taken once) */
int fsr_stack_alloc_take(struct fsr_stack *s, const char *title) FSR_HIDDEN;
/* a stack made of one pc (a scope's or a lock's site) */
void fsr_stack_from_pc(struct fsr_stack *s, const char *title, void *pc) FSR_HIDDEN;

#define FSR_ERROR   1
#define FSR_WARNING 2
#define FSR_MAX_REPORT_LOCKS  16
#define FSR_MAX_REPORT_STACKS 8

struct fsr_report_lock {
	char name[64];           /* lock's symbol or "lock@0xADDR" */
	unsigned int cls;
	void *site;              /* where it was taken */
	int holder;              /* tid of the thread holding it when that is not the
				  * allocating thread (a deadlock chain's middle
				  * threads); 0: the allocating thread's own */
};

struct fsr_hazard {
	const char *kind;        /* contract kind, e.g. "reclaim-deadlock" */
	int level;               /* FSR_ERROR / FSR_WARNING */
	char message[512];       /* what happened, one sentence */
	const char *op;          /* FUSE op of the thread, or NULL */
	pid_t tid;
	int nlocks;
	struct fsr_report_lock locks[FSR_MAX_REPORT_LOCKS];
	struct fsr_schedule sched;   /* the pass that produced it (replay.c) */
	int nstacks;
	struct fsr_stack stacks[FSR_MAX_REPORT_STACKS];
	char body[4096];         /* optional preformatted text (lockdep chain, scenario) */
};
/* init a hazard for the calling thread: kind, level, op, tid, held locks */
void fsr_hazard_init(struct fsr_hazard *h, const char *kind, int level) FSR_HIDDEN;
void fsr_hazard_add_held_locks(struct fsr_hazard *h, const struct fsr_thread *t) FSR_HIDDEN;
void fsr_hazard_add_locks(struct fsr_hazard *h, const struct fsr_held *held, int n) FSR_HIDDEN;
/* dedup, suppress, print text + JSON, count, exitcode, halt_on_error.
 * Returns 1 when printed. Safe to call from any thread; never allocates
 * through the hooked malloc. */
int fsr_report(struct fsr_hazard *h) FSR_HIDDEN;
/* the same, for a caller that holds a lock of the shim's: no debuginfod
 * fetch (debuginfod=1), only what was fetched before; such a caller calls
 * fsr_report_prefetch (or fsr_sym_prefetch) before taking its lock */
int fsr_report_locked(struct fsr_hazard *h) FSR_HIDDEN;
void fsr_report_prefetch(const struct fsr_hazard *h) FSR_HIDDEN;
extern uint64_t fsr_stat_hazards FSR_HIDDEN;
extern int fsr_exit_status_hit FSR_HIDDEN;   /* a report that sets exitcode was printed */
int fsr_suppressions_load(const char *path, char *err, size_t errlen) FSR_HIDDEN;
int fsr_suppressions_parse(const char *text, size_t len, char *err, size_t errlen) FSR_HIDDEN;
/* name of a lock address for reports: its symbol if static, else lock@0x... */
void fsr_lock_name(const void *lock, char *buf, size_t len) FSR_HIDDEN;

/* s as a JSON string (escaped, invalid UTF-8 as U+FFFD) or null; returns its length */
size_t fsr_json_str(char *dst, size_t cap, const char *s) FSR_HIDDEN;
/* sarif_path=: the empty document at start-up (an unwritable path fails here) */
int fsr_sarif_init(char *err, size_t errlen) FSR_HIDDEN;
void fsr_sarif_atfork_child(void) FSR_HIDDEN;
/* graph_path= (dot.c): the file at start-up, the graph at exit */
int fsr_dot_init(char *err, size_t errlen) FSR_HIDDEN;
void fsr_dot_write(void) FSR_HIDDEN;
void fsr_dot_atfork_child(void) FSR_HIDDEN;

/* ---- output (out.c) ---- */
int fsr_out_init(char *err, size_t errlen) FSR_HIDDEN;  /* dup fd 2, open log/json */
void fsr_out_write(const char *buf, size_t len) FSR_HIDDEN;   /* reports and stats */
void fsr_out_json(const char *buf, size_t len) FSR_HIDDEN;    /* one JSON line */
void fsr_out_atfork_child(void) FSR_HIDDEN;

/* ---- small helpers (util.c): no malloc, no stdio ---- */
void *fsr_alloc(size_t n) FSR_HIDDEN;        /* __libc_calloc; never hooked */
void fsr_free(void *p) FSR_HIDDEN;
int fsr_vfmt(char *buf, size_t len, const char *fmt, va_list ap) FSR_HIDDEN;
int fsr_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4))) FSR_HIDDEN;
/* a bounded text buffer: always NUL-terminated, full once something was cut */
struct fsr_buf { char *b; size_t cap, len; int full; };
void fsr_bput(struct fsr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3))) FSR_HIDDEN;
void fsr_bmem(struct fsr_buf *b, const char *s, size_t n) FSR_HIDDEN;
int fsr_write_all(int fd, const char *p, size_t n) FSR_HIDDEN;
void fsr_quote(char *out, size_t len, const char *s, size_t n, size_t shown) FSR_HIDDEN;
void fsr_path_normalize(char *path) FSR_HIDDEN;
void *fsr_dlsym_next(void **cache, const char *name) FSR_HIDDEN;
/* write a one-line message straight to the shim's stderr duplicate */
void fsr_say(const char *fmt, ...) __attribute__((format(printf, 1, 2))) FSR_HIDDEN;
pid_t fsr_gettid(void) FSR_HIDDEN;
uint64_t fsr_now_ns(void) FSR_HIDDEN;

/* a futex-based mutex the shim uses itself (struct fsr_mutex, above) */
void fsr_mutex_lock(struct fsr_mutex *m) FSR_HIDDEN;
void fsr_mutex_unlock(struct fsr_mutex *m) FSR_HIDDEN;
int fsr_futex_wait(int *addr, int val, uint64_t timeout_ns) FSR_HIDDEN; /* 0, or -ETIMEDOUT */
void fsr_futex_wake(int *addr, int n) FSR_HIDDEN;

/* ---- prctl(PR_SET_IO_FLUSHER) (prctl.c) ---- */
/* at load: take the IO_FLUSHER state the kernel kept across execve */
void fsr_ioflusher_init(struct fsr_thread *t) FSR_HIDDEN;

/* ---- the thread registry (threads.c) and life cycle (init.c) ---- */
void fsr_thread_register(struct fsr_thread *t) FSR_HIDDEN;
void fsr_thread_unregister(struct fsr_thread *t) FSR_HIDDEN;
/* run fn on every live registered thread, under the registry lock */
void fsr_threads_foreach(void (*fn)(struct fsr_thread *, void *), void *arg) FSR_HIDDEN;
uint64_t fsr_threads_allocs(void) FSR_HIDDEN;    /* live and exited threads' allocations */
/* the key of the next thread parent creates ("P.N", N its N-th child); a
 * thread the shim creates for itself (parent busy) is "R" and takes no N */
void fsr_thread_key_child(struct fsr_thread *parent, char key[FSR_KEY_LEN], uint64_t *hash) FSR_HIDDEN;
void fsr_thread_key_set(struct fsr_thread *t, const char *key, uint64_t hash) FSR_HIDDEN;
void fsr_threads_atfork_prepare(void) FSR_HIDDEN;
void fsr_threads_atfork_parent(void) FSR_HIDDEN;
void fsr_threads_atfork_child(struct fsr_thread *self) FSR_HIDDEN;
extern pid_t fsr_pid FSR_HIDDEN;

/* A thread started inside a FUSE op is part of that op for fs-reentry while
 * the op runs (threads.c).  The lease is shared memory, never a thread's TLS. */
struct fsr_op_lease {
	const char *op;          /* the op's name */
	int live;                /* atomic: the op still runs */
	int refs;                /* atomic: the op and the threads holding it; 0 = free */
};
/* for a thread being started by t: a reference to t's op lease, or NULL */
struct fsr_op_lease *fsr_op_lease_get(struct fsr_thread *t) FSR_HIDDEN;
void fsr_op_lease_put(struct fsr_op_lease *l) FSR_HIDDEN;
void fsr_op_lease_end(struct fsr_thread *t) FSR_HIDDEN;
/* t's op is over (op_depth back at 0): its started threads leave it */
static inline void fsr_op_left(struct fsr_thread *t)
{
	if (t->op_depth == 0)
		t->flags &= ~FSR_PF_OP;
	if (unlikely(t->lease_given != NULL) && t->op_depth == 0)
		fsr_op_lease_end(t);
}
/* the op t is part of: its own, or the live op that started it (or NULL) */
static inline const char *fsr_op_of(const struct fsr_thread *t)
{
	if (t->op)
		return t->op;
	if (t->op_lease && __atomic_load_n(&t->op_lease->live, __ATOMIC_ACQUIRE))
		return t->op_lease->op;
	return NULL;
}
/* halt_on_error: stats line, then _exit(exitcode) */
void fsr_exit_now(void) __attribute__((noreturn)) FSR_HIDDEN;
/* glibc's allocator, never interposed */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

#endif /* FSR_H */
