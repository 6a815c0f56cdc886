/* malloc.c - the malloc family, interposed.
 *
 * Every function forwards to glibc's own __libc_* entry points (never
 * dlsym, which would itself call calloc) and behaves exactly as glibc does
 * to its caller.  The hot path touches one word of this thread's
 * initial-exec TLS (malloc) or one global that only a page gaining or
 * losing its first tracked heap lock writes (free).  Anything else (a
 * scope, a held lock, a transaction, an interval hit) goes to policy.c. */
#include "fsr.h"
#include "lockdep.h"
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t libc_usable(void *p);

/* The hot test: the thread's gate word (fsr.h) compared with its idle
 * value (interval=0: nothing stored), else decremented; it holds both the
 * interval countdown and the mark that the thread is in a state that
 * needs a look (a scope, busy, a held lock, a transaction, fsr_slow_all:
 * space= or limit= counting, replay).  0: the fast path, a plain tail call
 * into glibc (no heap accounting: limit= is a look state); else
 * fsr_alloc_gate says why (1: a look, 2: the countdown hit zero, 0: an
 * ordinary allocation after all). */
static inline __attribute__((always_inline)) int hot(void)
{
	return fsr_alloc_hot(&fsr_self);
}

/* The same in an entry point that ends in a tail call: fsr_alloc_hot's two
 * steps each with its own jump to glibc (call), so that the counting path
 * (interval > 0) takes one taken branch, not a second one back to a shared
 * jump; else the slow call.  KEEP_TAILS stops GCC merging the two jumps. */
#define FAST_PATH(call) do {                                   \
		if (likely(fsr_gate_idle(&fsr_self)))          \
			return call;                           \
		if (likely(--fsr_self.gate >= 0))              \
			return call;                           \
	} while (0)
#define FAST_OR_SLOW(call, slow) do {                          \
		FAST_PATH(call);                               \
		return slow;                                   \
	} while (0)

/* the entry points start on a cache line, their fast paths in one 32-byte
 * block: a compare-and-branch across a 32-byte boundary (Intel's JCC
 * erratum microcode keeps such code out of the decoded-uop cache) cost
 * 0.3-0.6% on 16-512 B malloc/free when malloc happened to start 16 bytes
 * before one */
#if defined(__GNUC__) && !defined(__clang__)
#define KEEP_TAILS __attribute__((optimize("no-crossjumping", "no-tree-tail-merge")))
#else
#define KEEP_TAILS
#endif
#define HOT_ENTRY FSR_EXPORT __attribute__((aligned(64))) KEEP_TAILS

/* calloc's and reallocarray's n * m overflow, off their fast paths (the
 * errno call would give them a stack frame) */
static __attribute__((noinline, cold)) void *enomem(void)
{
	errno = ENOMEM;
	return NULL;
}

/* Everything off the fast path lives in noinline functions, so that the
 * fast path of each entry point needs no stack frame and ends in a jump to
 * glibc (measured: the extra call level cost ~10% on 16-512 B malloc/free). */
static __attribute__((noinline)) void slow(size_t size, int how, void *ra)
{
	fsr_alloc_note(&fsr_self, ra);   /* the pass's top frame, an op's site count */
	fsr_alloc_slow(&fsr_self, size, how == 2);   /* it tries the locked fast path first */
}

/* limit= needs the live heap: only then do we look at sizes */
static inline void track_add(void *p)
{
	if (unlikely(fsr_opt.limit) && p)
		fsr_heap_add(libc_usable(p));
}

static inline void track_sub(void *p)
{
	if (unlikely(fsr_opt.limit) && p)
		fsr_heap_sub(libc_usable(p));
}

/* an allocation under a held set not seen allocating before: the
 * prediction (held locks -> fs_reclaim) */
static __attribute__((noinline)) void *malloc_new_edges(size_t n)
{
	fsr_graph_might_alloc(&fsr_self, FSR_GFP_IO | FSR_GFP_FS);
	return __libc_malloc(n);
}

/* ra: malloc's return address (the pass's top frame, an op's site count;
 * an op's allocations always come here: FSR_PF_OP is a look state) */
static __attribute__((noinline)) void *malloc_look(size_t n, void *ra)
{
	int how = fsr_alloc_gate(&fsr_self);
	if (!how)
		return __libc_malloc(n);
	fsr_alloc_note(&fsr_self, ra);
	/* only locks held, their edges known: a tail call into glibc (the
	 * locked fast path implies no space/limit accounting) */
	if (fsr_alloc_locked_fast(&fsr_self, n, how == 2))
		return __libc_malloc(n);
	fsr_alloc_slow(&fsr_self, n, how == 2);
	void *p = __libc_malloc(n);
	track_add(p);
	return p;
}

/* the hot test failed: first the lock benchmark's case, inline (tail
 * jumps only, no stack frame: the fast path stays a test and a jump) */
HOT_ENTRY void *malloc(size_t n)
{
	FAST_PATH(__libc_malloc(n));
	switch (fsr_alloc_under_lock()) {
	case 1: return __libc_malloc(n);
	case 2: return malloc_new_edges(n);
	default: return malloc_look(n, __builtin_return_address(0));
	}
}

/* tracked heap locks exist (fsr_heap_lock_pages counts one more while
 * limit= counts the heap: free's one test covers both) */
static inline int heap_locks(void)
{
	return __atomic_load_n(&fsr_heap_lock_pages, __ATOMIC_RELAXED) > (fsr_opt.limit != 0);
}

void fsr_free_tracked(void *p)
{
	track_sub(p);
	if (p && heap_locks())
		fsr_lock_free_range(p, libc_usable(p));   /* before glibc may reuse it */
	__libc_free(p);
}

HOT_ENTRY void free(void *p)
{
	/* one indirect jump: __libc_free (which preserves errno), or
	 * fsr_free_tracked once a page holds a tracked lock or limit= counts
	 * the heap (a plain read: the pointer is switched before a page's
	 * first lock is published, and never back) */
	fsr_heap_locks.free_fn(p);
}

static __attribute__((noinline)) void *calloc_look(size_t n, size_t m, size_t total, void *ra)
{
	int how = fsr_alloc_gate(&fsr_self);
	if (!how)
		return __libc_calloc(n, m);
	fsr_alloc_note(&fsr_self, ra);
	if (fsr_alloc_locked_fast(&fsr_self, total, how == 2))
		return __libc_calloc(n, m);
	fsr_alloc_slow(&fsr_self, total, how == 2);
	void *p = __libc_calloc(n, m);
	track_add(p);
	return p;
}

static __attribute__((noinline)) void *calloc_new_edges(size_t n, size_t m)
{
	fsr_graph_might_alloc(&fsr_self, FSR_GFP_IO | FSR_GFP_FS);
	return __libc_calloc(n, m);
}

HOT_ENTRY void *calloc(size_t n, size_t m)
{
	size_t total;
	if (unlikely(__builtin_mul_overflow(n, m, &total)))
		return enomem();
	FAST_PATH(__libc_calloc(n, m));
	switch (fsr_alloc_under_lock()) {   /* as malloc's */
	case 1: return __libc_calloc(n, m);
	case 2: return calloc_new_edges(n, m);
	default: return calloc_look(n, m, total, __builtin_return_address(0));
	}
}

static __attribute__((noinline)) void *realloc_slow(void *old, size_t n, void *ra)
{
	int how = fsr_alloc_gate(&fsr_self);
	if (!how)
		return __libc_realloc(old, n);
	slow(n, how, ra);
	if (unlikely(fsr_opt.limit) && old) {
		size_t was = libc_usable(old);
		void *p = __libc_realloc(old, n);
		if (p) {
			fsr_heap_sub(was);
			fsr_heap_add(libc_usable(p));
		}
		return p;
	}
	void *p = __libc_realloc(old, n);
	if (!old)
		track_add(p);
	return p;
}

static __attribute__((noinline)) void *realloc_free(void *old)
{
	track_sub(old);
	if (heap_locks())
		fsr_lock_free_range(old, libc_usable(old));
	return __libc_realloc(old, 0);
}

static inline __attribute__((always_inline)) void *realloc_body(void *old, size_t n)
{
	FAST_OR_SLOW(__libc_realloc(old, n), realloc_slow(old, n, __builtin_return_address(0)));
}

/* tracked heap locks exist: the part of the old block given back to glibc
 * (all of it when the block moved) forgets its locks */
static __attribute__((noinline)) void *realloc_locks(void *old, size_t n)
{
	size_t was = libc_usable(old);
	void *p = realloc_body(old, n);
	if (p && p != old)
		fsr_lock_free_range(old, was);
	else if (p) {
		size_t now = libc_usable(p);
		if (now < was)
			fsr_lock_free_range((char *)p + now, was - now);
	}
	return p;
}

static inline __attribute__((always_inline)) void *realloc_entry(void *old, size_t n)
{
	if (old) {
		/* realloc(p, 0) frees and returns NULL in glibc: no allocation */
		if (unlikely(n == 0))
			return realloc_free(old);
		if (unlikely(__atomic_load_n(&fsr_heap_lock_pages, __ATOMIC_RELAXED)) && heap_locks())
			return realloc_locks(old, n);
	}
	return realloc_body(old, n);
}

HOT_ENTRY void *realloc(void *old, size_t n)
{
	return realloc_entry(old, n);
}

HOT_ENTRY void *reallocarray(void *old, size_t n, size_t m)
{
	size_t total;
	if (unlikely(__builtin_mul_overflow(n, m, &total)))
		return enomem();
	return realloc_entry(old, total);   /* not through the GOT to our own realloc */
}

/* memalign, valloc and pvalloc past the hot test: glibc's call through fn
 * (memalign's align, or 0 for the others) and the heap accounting */
static __attribute__((noinline)) void *aligned_slow(void *(*fn)(size_t, size_t), size_t align,
						    size_t n, void *ra)
{
	int how = fsr_alloc_gate(&fsr_self);
	if (how)
		slow(n, how, ra);
	void *p = fn(align, n);
	track_add(p);
	return p;
}

static void *libc_valloc(size_t align, size_t n) { (void)align; return __libc_valloc(n); }
static void *libc_pvalloc(size_t align, size_t n) { (void)align; return __libc_pvalloc(n); }

HOT_ENTRY void *memalign(size_t align, size_t n)
{
	FAST_OR_SLOW(__libc_memalign(align, n), aligned_slow(__libc_memalign, align, n, __builtin_return_address(0)));
}

HOT_ENTRY void *aligned_alloc(size_t align, size_t n)
{
	/* glibc 2.36 exports aligned_alloc as an alias of memalign */
	return memalign(align, n);
}

HOT_ENTRY int posix_memalign(void **out, size_t align, size_t n)
{
	if (align % sizeof(void *) || (align & (align - 1)) || align == 0)
		return EINVAL;             /* errno untouched, *out untouched */
	void *p = likely(!hot()) ? __libc_memalign(align, n)
				 : aligned_slow(__libc_memalign, align, n, __builtin_return_address(0));
	if (!p)
		return ENOMEM;         /* errno ENOMEM, as glibc's posix_memalign leaves it */
	*out = p;
	return 0;
}

HOT_ENTRY void *valloc(size_t n)
{
	FAST_OR_SLOW(__libc_valloc(n), aligned_slow(libc_valloc, 0, n, __builtin_return_address(0)));
}

HOT_ENTRY void *pvalloc(size_t n)
{
	FAST_OR_SLOW(__libc_pvalloc(n), aligned_slow(libc_pvalloc, 0, n, __builtin_return_address(0)));
}

/* glibc exports no __libc_ entry for this one and dlsym would allocate:
 * read the chunk header the way glibc's musable() does (2.26+ layout:
 * the size word before the pointer, low bits are flags; mmapped chunks
 * carry two words of overhead, others one). */
static size_t libc_usable(void *p)
{
	if (!p)
		return 0;
	size_t sz = ((size_t *)p)[-1];
	size_t chunk = sz & ~(size_t)7;
	if (sz & 2)                 /* IS_MMAPPED */
		return chunk - 2 * sizeof(size_t);
	return chunk - sizeof(size_t);
}

FSR_EXPORT size_t malloc_usable_size(void *p)
{
	return libc_usable(p);
}
