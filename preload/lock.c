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
#include "modules.h"
#include "symbols.h"
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <string.h>

struct fsr_lock_class fsr_classes[FSR_MAX_CLASSES];
uint64_t fsr_oplock_cls[FSR_MAX_CLASSES] = { [0] = ~0ull };
const char *fsr_oplock_op[FSR_MAX_CLASSES];

void fsr_oplock_first(struct fsr_thread *t, unsigned int cls)
{
	if (cls >= FSR_MAX_CLASSES)
		return;
	const char *op = t->op;
	const char *none = NULL;
	if (op)
		__atomic_compare_exchange_n(&fsr_oplock_op[cls], &none, op, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	__atomic_or_fetch(&fsr_oplock_cls[cls], t->op_locks, __ATOMIC_RELAXED);
}

int fsr_oplock_took(struct fsr_thread *t, unsigned int cls)
{
	fsr_oplock_note(t, cls);
	return 0;
}
unsigned int fsr_nclasses = FSR_CLS_FIRST;

/* ---- instances ---- */
struct fsr_inst_bucket fsr_inst[1u << FSR_INST_BITS];
struct fsr_inst_gen_word fsr_inst_genw = { 1 };
static void inst_gen_bump(void) { __atomic_add_fetch(&fsr_inst_gen, 1, __ATOMIC_RELEASE); }

__attribute__((noinline, cold)) void fsr_held_redo(int n, const void *lock, uint64_t word, void *site,
						    uint64_t next)
{
	fsr_self.held[n].lock = lock;
	memcpy(&fsr_self.held[n].cls, &word, sizeof word);
	fsr_self.held[n].site = site;
	fsr_ltls.chain[n + 1] = next;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);   /* chain before top: a handler's pop restores top from it */
	fsr_ltls.top = next;
}

void fsr_held_resig(struct fsr_thread *t)
{
	if (t != fsr_thread_self())
		return;         /* only ever the caller's own (its TLS) */
	/* the base: the reclaim pseudo-lock held, so that an acquisition in
	 * reclaim (which adds reclaim -> it) never matches one outside */
	unsigned int rc = fsr_graph_reclaim_class(t);
	uint64_t s = rc ? fsr_chain_next(0, rc, 0) : 0;
	fsr_ltls.chain[0] = s;
	for (int i = 0; i < t->nheld && i < FSR_MAX_HELD; i++) {
		s = fsr_chain_next(s, t->held[i].cls, t->held[i].read);
		fsr_ltls.chain[i + 1] = s;
	}
	fsr_ltls.top = s;
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
		/* sequentially consistent: hl_note_again reads the page after it */
		if (__atomic_compare_exchange_n(&b->e[i], &o, w, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			return;
	}
}

/* forget every instance whose address is in [lo, hi) (4-aligned: a
 * spinlock is an int); returns how many */
/* step: 4, or 8 where no lock can start at an address that is 4 mod 8 */
static int inst_forget_range(uintptr_t lo, uintptr_t hi, uintptr_t step)
{
	int n = 0;
	for (uintptr_t a = (lo + step - 1) & ~(step - 1); a < hi; a += step) {
		struct inst_bucket *b = bucket_of((const void *)a);
		for (int i = 0; i < INST_WAYS; i++) {
			uint64_t o = __atomic_load_n(&b->e[i], __ATOMIC_RELAXED);
			if ((o >> 16) == a &&
			    __atomic_compare_exchange_n(&b->e[i], &o, 0, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
				n++;
		}
	}
	return n;
}

static void hl_unnote(const void *lock, int n);

void fsr_lock_forget_instance(const void *lock)
{
	inst_gen_bump();
	int n = inst_forget_range((uintptr_t)lock, (uintptr_t)lock + 1, 4);   /* locks are 4-aligned */
	if (n)
		hl_unnote(lock, n);
}

/* the instances in [lo, hi) that start in the marked lines of page pg (a
 * tracked non-static lock starts only in a line hl_note marked; at an
 * address 4 mod 8, a spinlock, only in a line marked odd too) */
static int inst_forget_lines(uint64_t pg, uint64_t lines, uint64_t odd, uintptr_t lo, uintptr_t hi)
{
	uintptr_t pl = (uintptr_t)pg << 12;
	int n = 0;
	for (; lines; lines &= lines - 1) {
		unsigned int k = (unsigned int)__builtin_ctzll(lines);
		uintptr_t a = pl + ((uintptr_t)k << 6);
		n += inst_forget_range(a > lo ? a : lo, a + 64 < hi ? a + 64 : hi, (odd >> k) & 1 ? 4 : 8);
	}
	return n;
}

/* ---- heap lock pages: free() forgets the locks in a block ----
 *
 * A lock in memory that is not a loaded object's data may be freed without
 * pthread_mutex_destroy (a zero-initialised mutex never needs one), and the
 * memory reused for an unrelated lock, which must not inherit the old class.
 * Every page that holds a tracked non-static lock has an entry here: the
 * page number and a bit per 64-byte line in which such a lock starts.
 * free() reads fsr_heap_lock_pages only (no entry: a plain jump into
 * glibc); with entries it looks up the block's pages, and only a block with
 * a marked line in its range probes the instance table.
 *
 * A line's count is how many instances were learnt in it and not yet
 * forgotten (at least: a duplicate or an instance the table evicted keeps
 * it higher, which only keeps the line marked).  A destroy that takes it to
 * 0 unmarks the line, so that the free() after pthread_mutex_destroy
 * (libfuse's request: init, lock, destroy, free) takes no lock.  Without
 * hl_lock: a learner counts, marks, and looks at its marks again; the
 * unmarker unmarks and looks at the count again (sequentially consistent
 * writes and reads, on x86 locked instructions and plain loads, no fence:
 * one of the two sees the other, and a count seen marks the line again). */
#define HL_BUCKETS 16384
#define HL_WAYS 4
struct hl_bucket {
	uint64_t page[HL_WAYS];  /* address >> 12, 0: empty */
	uint64_t lines[HL_WAYS]; /* bit k: a lock starts in line k of the page */
	uint64_t odd[HL_WAYS];   /* bit k: one starts there at an address 4 mod 8
				  * (a spinlock; the others are 8-aligned): free()
				  * probes the other lines at half the addresses */
	uint8_t count[HL_WAYS][64];     /* instances per line; HL_COUNT_MAX: sticks */
} __attribute__((aligned(64)));
#define HL_COUNT_MAX 255
static struct hl_bucket hl_dir[HL_BUCKETS];
static struct fsr_mutex hl_lock;        /* writers; free() reads without it */
struct fsr_heap_lock_count fsr_heap_locks = { 0, __libc_free };

void fsr_heap_locks_on(void)
{
	if (fsr_free_tracked)
		__atomic_store_n(&fsr_heap_locks.free_fn, fsr_free_tracked, __ATOMIC_RELEASE);
}

static struct hl_bucket *hl_bucket_of(uint64_t page)
{
	return &hl_dir[(page * 0x9e3779b97f4a7c15ull) >> (64 - 14)];
}

/* the lines of page pg that [lo, hi) covers at least partly */
static uint64_t hl_lines_in(uint64_t pg, uintptr_t lo, uintptr_t hi)
{
	uintptr_t pl = (uintptr_t)pg << 12, ph = pl + 4096;
	uintptr_t a = lo > pl ? lo : pl, z = hi < ph ? hi : ph;
	if (a >= z)
		return 0;
	unsigned int f = (unsigned int)((a - pl) >> 6), l = (unsigned int)((z - 1 - pl) >> 6);
	return (l == 63 ? ~0ull : (1ull << (l + 1)) - 1) & ~((1ull << f) - 1);
}

static void hl_count_up(uint8_t *c)
{
	uint8_t o = __atomic_load_n(c, __ATOMIC_RELAXED);
	while (o != HL_COUNT_MAX &&
	       !__atomic_compare_exchange_n(c, &o, (uint8_t)(o + 1), 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
}

/* the line of lock marked in page entry i (and odd where it must be);
 * sequentially consistent loads after the caller's sequentially consistent
 * write (the count, the instance): plain loads on x86, no fence */
static int hl_marked(struct hl_bucket *b, int i, uint64_t pg, uint64_t bit, uint64_t odd)
{
	return __atomic_load_n(&b->page[i], __ATOMIC_SEQ_CST) == pg &&
	       (__atomic_load_n(&b->lines[i], __ATOMIC_SEQ_CST) & bit) &&
	       (__atomic_load_n(&b->odd[i], __ATOMIC_SEQ_CST) & odd) == odd;
}

/* a non-static instance about to be stored: count it and mark its line */
static void hl_note(const void *lock)
{
	uintptr_t a = (uintptr_t)lock;
	unsigned int k = (unsigned int)((a >> 6) & 63);
	uint64_t pg = a >> 12, bit = 1ull << k, odd = a & 4 ? bit : 0;
	struct hl_bucket *b = hl_bucket_of(pg);
	int i, freeway = -1;
	for (i = 0; i < HL_WAYS; i++)
		if (__atomic_load_n(&b->page[i], __ATOMIC_RELAXED) == pg) {
			/* the common case, without hl_lock: the page has its
			 * entry (it stays when a destroy unmarks its last line) */
			hl_count_up(&b->count[i][k]);
			if (odd)
				__atomic_or_fetch(&b->odd[i], odd, __ATOMIC_RELAXED);   /* before the line bit */
			if (!(__atomic_load_n(&b->lines[i], __ATOMIC_RELAXED) & bit))
				__atomic_or_fetch(&b->lines[i], bit, __ATOMIC_SEQ_CST);
			/* free() and an eviction, under hl_lock, change the page
			 * first and then read the lines, and an unmarker reads the
			 * count after unmarking: one of us sees the other */
			if (hl_marked(b, i, pg, bit, odd))
				return;
			break;
		}
	fsr_mutex_lock(&hl_lock);
	for (i = 0; i < HL_WAYS; i++) {
		uint64_t p = b->page[i];
		if (p == pg)
			break;
		if (!p && freeway < 0)
			freeway = i;
	}
	if (i == HL_WAYS) {
		if (freeway < 0) {
			/* full: the page evicted forgets its instances (learned
			 * again at their next acquisition, by then rightly).  The
			 * entry is the new page's before its lines are read: a
			 * learner of the old page that marked without hl_lock
			 * looks at its marks again, or is seen here */
			i = (int)(pg & (HL_WAYS - 1));
			uint64_t opg = b->page[i];
			__atomic_store_n(&b->page[i], pg, __ATOMIC_RELEASE);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			uint64_t ol = __atomic_exchange_n(&b->lines[i], 0, __ATOMIC_RELAXED);
			uint64_t oo = __atomic_exchange_n(&b->odd[i], 0, __ATOMIC_RELAXED);
			for (unsigned int l = 0; l < 64; l++)
				__atomic_store_n(&b->count[i][l], 0, __ATOMIC_RELAXED);
			inst_forget_lines(opg, ol, oo, 0, UINTPTR_MAX);
			inst_gen_bump();
		} else {
			/* a way free()'s drop left may keep a learner's count
			 * and marks: too high only, never cleared here */
			i = freeway;
			__atomic_add_fetch(&fsr_heap_lock_pages, 1, __ATOMIC_RELEASE);
			fsr_heap_locks_on();
			__atomic_store_n(&b->page[i], pg, __ATOMIC_RELEASE);
		}
	}
	hl_count_up(&b->count[i][k]);
	if (odd)
		__atomic_or_fetch(&b->odd[i], odd, __ATOMIC_RELAXED);   /* before the line bit */
	__atomic_or_fetch(&b->lines[i], bit, __ATOMIC_RELEASE);
	fsr_mutex_unlock(&hl_lock);
}

/* after the instance is stored (inst_store's compare-and-swap is
 * sequentially consistent): its mark still there (an eviction between
 * hl_note and the store read the instances before it was there, and changed
 * the page before that) */
static void hl_note_again(const void *lock)
{
	uintptr_t a = (uintptr_t)lock;
	uint64_t pg = a >> 12, bit = 1ull << ((a >> 6) & 63), odd = a & 4 ? bit : 0;
	struct hl_bucket *b = hl_bucket_of(pg);
	for (int i = 0; i < HL_WAYS; i++)
		if (hl_marked(b, i, pg, bit, odd))
			return;
	hl_note(lock);          /* counted twice: the line only stays marked longer */
}

/* n instances forgotten in line k of page entry i: counted down; at 0 the
 * line is unmarked, and marked again if a learner counted meanwhile */
static void hl_line_forgot(struct hl_bucket *b, int i, unsigned int k, int n)
{
	uint8_t *c = &b->count[i][k], o = __atomic_load_n(c, __ATOMIC_RELAXED), v;
	do {
		if (o == HL_COUNT_MAX || o < n)
			return;         /* saturated, or learnt before counting: stays marked */
		v = (uint8_t)(o - n);
	} while (!__atomic_compare_exchange_n(c, &o, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	if (v)
		return;
	uint64_t bit = 1ull << k;
	__atomic_and_fetch(&b->lines[i], ~bit, __ATOMIC_SEQ_CST);
	uint64_t oo = __atomic_fetch_and(&b->odd[i], ~bit, __ATOMIC_SEQ_CST) & bit;
	if (__atomic_load_n(c, __ATOMIC_SEQ_CST)) {     /* after the unmarking (no fence) */
		if (oo)
			__atomic_or_fetch(&b->odd[i], oo, __ATOMIC_RELAXED);
		__atomic_or_fetch(&b->lines[i], bit, __ATOMIC_RELEASE);
	}
}

/* pthread_mutex_destroy and friends: n instances of lock forgotten */
static void hl_unnote(const void *lock, int n)
{
	uintptr_t a = (uintptr_t)lock;
	uint64_t pg = a >> 12;
	struct hl_bucket *b = hl_bucket_of(pg);
	for (int i = 0; i < HL_WAYS; i++)
		if (__atomic_load_n(&b->page[i], __ATOMIC_ACQUIRE) == pg) {
			hl_line_forgot(b, i, (unsigned int)((a >> 6) & 63), n);
			return;
		}
}

void fsr_lock_free_range(const void *p, size_t n)
{
	uintptr_t lo = (uintptr_t)p, hi = lo + n;
	if (!p || !n || hi < lo)
		return;
	int locked = 0, forgot = 0;
	for (uint64_t pg = lo >> 12; pg <= (hi - 1) >> 12; pg++) {
		struct hl_bucket *b = hl_bucket_of(pg);
		for (int i = 0; i < HL_WAYS; i++) {
			if (__atomic_load_n(&b->page[i], __ATOMIC_ACQUIRE) != pg)
				continue;
			uint64_t in = hl_lines_in(pg, lo, hi);
			if (!(__atomic_load_n(&b->lines[i], __ATOMIC_RELAXED) & in))
				break;
			if (!locked++) {
				fsr_busy_enter(&fsr_self);
				fsr_mutex_lock(&hl_lock);
			}
			if (b->page[i] != pg)
				break;
			/* lines wholly inside the block hold no other object's lock */
			uint64_t whole = hl_lines_in(pg, (lo + 63) & ~(uintptr_t)63, hi & ~(uintptr_t)63);
			uint64_t odd = __atomic_load_n(&b->odd[i], __ATOMIC_RELAXED);
			for (uint64_t m = __atomic_load_n(&b->lines[i], __ATOMIC_RELAXED) & in; m; m &= m - 1) {
				unsigned int k = (unsigned int)__builtin_ctzll(m);
				int n = inst_forget_lines(pg, 1ull << k, odd, lo, hi);
				forgot += n;
				if (whole >> k & 1)
					__atomic_store_n(&b->count[i][k], 0, __ATOMIC_RELAXED);
				else if (n)
					hl_line_forgot(b, i, k, n);     /* another block's part */
			}
			uint64_t left = __atomic_and_fetch(&b->lines[i], ~whole, __ATOMIC_RELAXED);
			__atomic_and_fetch(&b->odd[i], ~whole, __ATOMIC_RELAXED);
			if (!left) {
				/* the page first, then the lines: a learner counting
				 * there without hl_lock looks at the page after its
				 * marks (hl_note), one of us sees the other */
				__atomic_store_n(&b->page[i], 0, __ATOMIC_RELEASE);
				__atomic_thread_fence(__ATOMIC_SEQ_CST);
				if (__atomic_load_n(&b->lines[i], __ATOMIC_RELAXED))
					__atomic_store_n(&b->page[i], pg, __ATOMIC_RELEASE);
				else
					__atomic_sub_fetch(&fsr_heap_lock_pages, 1, __ATOMIC_RELEASE);
			}
			break;
		}
	}
	if (forgot)
		inst_gen_bump();        /* the per-thread class caches */
	if (locked) {
		fsr_mutex_unlock(&hl_lock);
		fsr_self.busy--;
	}
}

/* would free() of [p, p + n) take hl_lock and probe (a marked line in it)?
 * lockdep_test's view of the table */
int fsr_lock_free_would_probe(const void *p, size_t n)
{
	uintptr_t lo = (uintptr_t)p, hi = lo + n;
	for (uint64_t pg = lo >> 12; n && pg <= (hi - 1) >> 12; pg++) {
		struct hl_bucket *b = hl_bucket_of(pg);
		for (int i = 0; i < HL_WAYS; i++)
			if (__atomic_load_n(&b->page[i], __ATOMIC_ACQUIRE) == pg &&
			    (__atomic_load_n(&b->lines[i], __ATOMIC_RELAXED) & hl_lines_in(pg, lo, hi)))
				return 1;
	}
	return 0;
}

/* ---- is an address in a loaded object (static data)? ----
 * modules.h's table, never the loader: a lock is taken for the first time
 * anywhere, also while another thread is inside dlopen holding the
 * loader's lock and waiting for this very lock. */
static int addr_is_static(const void *p)
{
	fsr_modules_ready();
	return fsr_module_of((uintptr_t)p) != NULL;
}

/* ---- the site that keys a class: the first caller outside lock wrappers ----
 *
 * A class is keyed by its init site (or first acquisition site).  When that
 * site is inside a wrapper (a program's mutex_init(m) calling
 * pthread_mutex_init, or at -O0 __gthread_mutex_lock under std::mutex::lock
 * under std::lock_guard), every lock would get the wrapper's one class:
 * Linux's mutex_init is a macro for this reason.  So the key walks out of
 * wrappers: a frame whose function is at most WRAP_MAX bytes long (its FDE's
 * range, read without symbols or locks of ours) passes the key on to its
 * caller, up to WRAP_DEPTH frames.  Learning an instance is the rare path
 * (once per instance), so the stack walk is affordable there. */
#define WRAP_MAX 128
#define WRAP_DEPTH 6
struct dwarf_eh_bases { void *tbase, *dbase, *func; };
static const void *(*find_fde)(void *pc, struct dwarf_eh_bases *bases);

void fsr_lock_setup(void)
{
	/* glibc's backtrace() has libgcc_s loaded (stack.c primes it) */
	void *h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD);
	if (!h)
		h = dlopen("libgcc_s.so.1", RTLD_NOW);
	if (h)
		__atomic_store_n((void **)&find_fde, dlsym(h, "_Unwind_Find_FDE"), __ATOMIC_RELEASE);
}

static const unsigned char *uleb(const unsigned char *p, uint64_t *v)
{
	uint64_t r = 0;
	int sh = 0;
	do {
		r |= (uint64_t)(*p & 0x7f) << sh;
		sh += 7;
	} while (*p++ & 0x80 && sh < 64);
	*v = r;
	return p;
}

/* size in bytes of a DW_EH_PE value of this format, 0: variable or unknown */
static int enc_size(unsigned int enc)
{
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: return 8;
	case 0x02: case 0x0a: return 2;
	case 0x03: case 0x0b: return 4;
	default: return 0;
	}
}

/* length of the function containing pc, from its FDE; 0: unknown */
static uintptr_t func_len(void *pc)
{
	struct dwarf_eh_bases bases;
	const void *(*ff)(void *, struct dwarf_eh_bases *) = __atomic_load_n(&find_fde, __ATOMIC_ACQUIRE);
	if (!ff)
		return 0;
	const unsigned char *fde = ff((char *)pc - 1, &bases);
	if (!fde || *(const uint32_t *)fde == 0xffffffffu)
		return 0;
	const unsigned char *cie = fde + 4 - *(const int32_t *)(fde + 4);
	if (*(const uint32_t *)cie == 0xffffffffu)
		return 0;
	unsigned int version = cie[8], fenc = 0;   /* absptr unless 'R' says */
	const char *aug = (const char *)cie + 9;
	const unsigned char *q = (const unsigned char *)aug + strlen(aug) + 1;
	uint64_t v;
	q = uleb(q, &v);                 /* code alignment */
	q = uleb(q, &v);                 /* data alignment (sleb: same length) */
	if (version == 1)
		q++;
	else
		q = uleb(q, &v);         /* return address register */
	if (aug[0] == 'z') {
		q = uleb(q, &v);
		for (const char *a = aug + 1; *a; a++) {
			if (*a == 'R')
				fenc = *q++;
			else if (*a == 'P') {
				int n = enc_size(*q++);
				if (!n)
					return 0;
				q += n;
			} else if (*a == 'L')
				q++;
			else if (*a != 'S' && *a != 'B' && *a != 'G')
				return 0;
		}
	}
	int n = enc_size(fenc);
	if (!n || fenc == 0xff)
		return 0;
	const unsigned char *r = fde + 8 + n;      /* pc_begin, then pc_range */
	switch (n) {
	case 2: return *(const uint16_t *)r;
	case 4: return *(const uint32_t *)r;
	default: return (uintptr_t)*(const uint64_t *)r;
	}
}

/* sites whose function is no wrapper (they key their classes
 * themselves), direct-mapped, read without locks: a daemon that
 * initialises a mutex per request (libfuse's request allocation does)
 * pays one load for its site instead of a backtrace and an FDE lookup */
#define PLAIN_SITES 256
static void *plain_sites[PLAIN_SITES];

static void **plain_slot(void *site) { return &plain_sites[((uintptr_t)site * 0x9e3779b97f4a7c15ull) >> 56]; }

/* the frame that keys a class learned at site */
static void *key_site(void *site)
{
	void **slot = plain_slot(site);
	if (__atomic_load_n(slot, __ATOMIC_RELAXED) == site)
		return site;
	/* the walk below stops at site's own frame when it is no wrapper */
	uintptr_t len0 = func_len(site);
	if (!len0 || len0 > WRAP_MAX) {
		__atomic_store_n(slot, site, __ATOMIC_RELAXED);
		return site;
	}
	void *raw[WRAP_DEPTH + 16];
	int n = backtrace(raw, WRAP_DEPTH + 16), i;
	for (i = 0; i < n && raw[i] != site; i++)
		;
	for (int d = 0; i < n && d < WRAP_DEPTH; i++, d++) {
		uintptr_t len = func_len(raw[i]);
		if (!len || len > WRAP_MAX || i + 1 >= n)
			break;
		/* called from glibc: a callback (a constructor such as mergerfs'
		 * libfuse's fuse_ll_constructor, a thread's start routine), not a
		 * wrapper; keying at glibc's call would merge all such classes */
		if (fsr_module_flags((uintptr_t)raw[i + 1]) & FSR_MOD_LIBC)
			break;
		site = raw[i + 1];
	}
	return site;
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

/* the last init site this thread learnt a class for, when that site keys
 * the class itself (no wrapper: key_site gave it back), and the class: a
 * lock initialised, destroyed and freed per request (libfuse's) is
 * initialised at that site again, and its class is the same whatever the
 * address (an init's class is keyed by site only).  Only a site that is no
 * wrapper (in plain_sites) is memoised: a wrapper's key is its caller's. */
static __thread struct {
	void *site;
	unsigned int cls;
} init_memo __attribute__((tls_model("initial-exec")));

unsigned int fsr_lock_learn(const void *lock, int kind, void *site, int init)
{
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	int st = addr_is_static(lock);
	int ex = addr_excluded(lock);
	unsigned int c;
	if (init && !ex && site && init_memo.site == site) {
		c = init_memo.cls;
	} else {
		void *raw = site;
		if (init || !st)
			site = key_site(site);
		uintptr_t key = init || !st ? (uintptr_t)site : (uintptr_t)lock;
		fsr_mutex_lock(&cls_lock);
		c = class_get(key, lock, site, kind, st && !init);
		if (c && ex && !fsr_class_excluded(c)) {
			__atomic_store_n(&fsr_classes[c].excluded, 1, __ATOMIC_RELAXED);
			inst_gen_bump();
		}
		fsr_mutex_unlock(&cls_lock);
		/* a wrapper's site is keyed by its caller: never memoised */
		if (init && c && !ex && __atomic_load_n(plain_slot(raw), __ATOMIC_RELAXED) == raw) {
			init_memo.site = raw;
			init_memo.cls = c;
		}
	}
	if (c) {
		if (!st)
			hl_note(lock);  /* marked before the instance is there */
		inst_store(lock, c);
		if (!st)
			hl_note_again(lock);
	}
	t->busy--;
	return c;
}

void fsr_lock_init_instance(const void *lock, int kind, void *site)
{
	/* a site in init_memo passed this test when it was learnt */
	if (site != init_memo.site && (fsr_module_flags((uintptr_t)site) & FSR_MOD_LIBC)) {
		/* tail-called from a function glibc called (a constructor such
		 * as mergerfs' libfuse's fuse_ll_constructor, a thread's start
		 * routine): the site names glibc's caller, not the lock's code.
		 * The lock is learnt at its first acquisition instead. */
		fsr_lock_forget_instance(lock);
		return;
	}
	inst_gen_bump();
	fsr_lock_learn(lock, kind, site, 1);
}

/* every class whose site is in [lo, hi) leaves the graph, and so will
 * every class made there from now on (fsr_wire_site_in_libfuse says so):
 * a bundled libfuse's code (fuse/wire_bundled.c); returns how many */
unsigned int fsr_lock_exclude_code(uintptr_t lo, uintptr_t hi)
{
	unsigned int k = 0;
	fsr_mutex_lock(&cls_lock);
	unsigned int n = __atomic_load_n(&fsr_nclasses, __ATOMIC_ACQUIRE);
	for (unsigned int c = FSR_CLS_FIRST; c < n; c++)
		if ((uintptr_t)fsr_classes[c].site >= lo && (uintptr_t)fsr_classes[c].site < hi &&
		    !fsr_class_excluded(c)) {
			__atomic_store_n(&fsr_classes[c].excluded, 1, __ATOMIC_RELAXED);
			k++;
		}
	fsr_mutex_unlock(&cls_lock);
	if (k)
		inst_gen_bump();
	return k;
}

void fsr_lock_exclude_addr(const void *lock)
{
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
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
	if (t == fsr_thread_self())
		fsr_ltls.top = fsr_ltls.chain[0];
}

unsigned int fsr_lock_contended(struct fsr_thread *t, const void *lock, int kind, int read,
				void *site, int *chain)
{
	unsigned int c;
	fsr_busy_enter(t);
	*chain = 0;
	fsr_stack_note_wait(t);     /* for reports about this waiter (no signals) */
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
	fsr_mutex_lock(&hl_lock);
}

void fsr_lock_atfork_parent(void)
{
	fsr_mutex_unlock(&hl_lock);
	fsr_mutex_unlock(&cls_lock);
	fsr_mutex_unlock(&snap_lock);
}

void fsr_lock_atfork_child(void)
{
	hl_lock.v = cls_lock.v = snap_lock.v = 0;
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
		if (i + 1 < n)
			l->holder = (int)st[i].holder->tid;
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
	fsr_report_locked(&h);
}

/* debuginfod=1: the pcs of what report_deadlock would print of the chain
 * (the other threads' waiting stacks, the sites of the chain's locks and of
 * the allocator's other locks), gathered under snap_lock by a look that
 * found a chain without reporting it, fetched after snap_lock: the next
 * look reports it (reclaim_wait), under snap_lock, with no fetch of its own
 * beyond this thread's and the allocation's stacks */
#define WAIT_PCS  ((int)(sizeof ((struct fsr_thread *)0)->wait_pc / sizeof (void *)))
#define CHAIN_PCS (FSR_MAX_REPORT_LOCKS + (MAX_CHAIN - 1) * WAIT_PCS)
static int chain_pcs(const struct chain_step *st, int n, void **pc)
{
	int k = 0;
	const struct snap *alloc = st[n - 1].holder;
	for (int i = 0; i < n && k < FSR_MAX_REPORT_LOCKS; i++)
		pc[k++] = st[i].holder->held[st[i].hi].site;
	for (int i = 0; i < alloc->nheld && k < FSR_MAX_REPORT_LOCKS; i++)
		if (i != st[n - 1].hi)
			pc[k++] = alloc->held[i].site;
	for (int i = 0; i + 1 < n; i++) {
		struct fsr_stack s;
		if (fsr_stack_capture_thread(st[i].holder->tid, &s, "prefetch"))
			continue;
		for (int j = 0; j < s.n && k < CHAIN_PCS; j++)
			pc[k++] = s.pc[j];
	}
	return k;
}

int fsr_lock_deadlock_check(struct fsr_thread *t, const void *lock, int report)
{
	struct fsr_pass *p = t->pass;
	struct chain_step steps[MAX_CHAIN];
	void *pcs[CHAIN_PCS];
	uint64_t visited = 0;
	int n, npcs = 0;
	if (!fsr_lock_serving_handoff(t))
		return 0;
	fsr_busy_enter(t);
	if (report && fsr_opt.debuginfod && p) {
		/* debuginfod=1: the report's own stacks (this thread's, the
		 * allocation's) fetched before snap_lock */
		struct fsr_stack s;
		fsr_stack_capture(&s, "prefetch");
		fsr_sym_prefetch(s.pc, s.n);
		if (p->alloc_stack)
			fsr_sym_prefetch(p->alloc_stack->pc, p->alloc_stack->n);
	}
	fsr_mutex_lock(&snap_lock);
	nsnaps = 0;
	fsr_threads_foreach(snap_one, NULL);
	n = chain_find(t, p, lock, steps, 0, &visited);
	if (n && report && fsr_lock_serving_handoff(t)) {
		report_deadlock(t, p, steps, n);
		fsr_pass_abandon(p);
	} else if (n && fsr_opt.debuginfod) {
		npcs = chain_pcs(steps, n, pcs);
	}
	fsr_mutex_unlock(&snap_lock);
	fsr_sym_prefetch(pcs, npcs);
	t->busy--;
	return n > 0;
}
