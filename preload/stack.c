/* stack.c - stack capture without malloc.
 *
 * glibc's backtrace() loads libgcc_s (with malloc) the first time it runs;
 * a constructor primes it once, with the thread marked busy so that the
 * shim's malloc passes those allocations straight through.  After that
 * backtrace() is malloc-free.  Another thread's stack is the one it took
 * itself before blocking (fsr_stack_note_wait), never a signal.
 *
 * Frames inside the shim itself are dropped: when the shim is a shared
 * object (libfsreclaim.so), every pc inside it (modules.h); when the
 * core is linked into a program (the unit tests), only the capture
 * function's own frame.  Symbolization is in symbols.c, at report time. */
#include "symbols.h"
#include "modules.h"
#include <dirent.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

/* the shim's own frames: the object modules.c flags as the shim, when it
 * is a shared object of its own; when the core is linked into a program
 * (the unit tests) that object is the program, whose frames are kept */
static int in_self(uintptr_t pc)
{
	unsigned int f = fsr_module_flags(pc);
	return (f & FSR_MOD_SHIM) && !(f & FSR_MOD_MAIN);
}

/* keep frames [skip..n) that are not the shim's own; returns the new count */
static int filter(void **pc, int n, int skip)
{
	int o = 0;
	for (int i = skip; i < n; i++) {
		if (in_self((uintptr_t)pc[i]))
			continue;
		pc[o++] = pc[i];
	}
	return o;
}

/* index of pc in raw[], or dflt when it is not among the first frames */
static int first_from(void **raw, int n, const void *pc, int dflt)
{
	for (int i = 0; i < n && i < 8; i++)
		if (raw[i] == pc)
			return i;
	return dflt < n ? dflt : n;
}

__attribute__((noinline)) void fsr_stack_capture(struct fsr_stack *s, const char *title)
{
	void *raw[FSR_MAX_FRAMES + 8];
	s->title = title;
	int n = backtrace(raw, FSR_MAX_FRAMES + 8);
	/* start at our caller: raw[0] is this function, or an interceptor of
	 * backtrace() (ASan's) and then this function */
	n = filter(raw, n, first_from(raw, n, __builtin_return_address(0), 1));
	if (n > FSR_MAX_FRAMES)
		n = FSR_MAX_FRAMES;
	memcpy(s->pc, raw, (size_t)n * sizeof(void *));
	s->n = n;
}

void fsr_stack_from_pc(struct fsr_stack *s, const char *title, void *pc)
{
	s->title = title;
	s->n = pc ? 1 : 0;
	s->pc[0] = pc;
}

/* ---- another thread's stack: the one it recorded before blocking ----
 *
 * No signal: the shim owns none of the program's signals, and a signal
 * would make the waiter's poll or nanosleep fail with EINTR.  A thread
 * about to block on a tracked lock records its own stack (the contended
 * path only, which blocks anyway); a report about that thread copies it.
 * A thread waiting anywhere else is reported without its stack. */

void fsr_stack_note_wait(struct fsr_thread *t)
{
	void *raw[sizeof t->wait_pc / sizeof t->wait_pc[0] + 8];
	int n = backtrace(raw, (int)(sizeof raw / sizeof raw[0]));
	n = filter(raw, n, first_from(raw, n, __builtin_return_address(0), 1));
	if (n > (int)(sizeof t->wait_pc / sizeof t->wait_pc[0]))
		n = (int)(sizeof t->wait_pc / sizeof t->wait_pc[0]);
	/* a seqlock: odd while written */
	__atomic_add_fetch(&t->wait_seq, 1, __ATOMIC_ACQ_REL);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (int i = 0; i < n; i++)
		__atomic_store_n(&t->wait_pc[i], raw[i], __ATOMIC_RELAXED);
	__atomic_store_n(&t->wait_n, n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&t->wait_seq, 1, __ATOMIC_RELEASE);
}

struct wait_find { pid_t tid; struct fsr_stack *s; int found; };

static void wait_copy(struct fsr_thread *t, void *arg)
{
	struct wait_find *w = arg;
	if (t->tid != w->tid || w->found)
		return;
	/* the registry lock keeps t alive; blocked_on says it waits now */
	if (!__atomic_load_n(&t->blocked_on, __ATOMIC_ACQUIRE))
		return;
	unsigned int s1 = __atomic_load_n(&t->wait_seq, __ATOMIC_ACQUIRE);
	if (s1 & 1)
		return;
	int n = __atomic_load_n(&t->wait_n, __ATOMIC_RELAXED);
	if (n < 0 || n > (int)(sizeof t->wait_pc / sizeof t->wait_pc[0]))
		return;
	for (int i = 0; i < n; i++)
		w->s->pc[i] = __atomic_load_n(&t->wait_pc[i], __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&t->wait_seq, __ATOMIC_RELAXED) != s1)
		return;
	w->s->n = n;
	w->found = n > 0;
}

int fsr_stack_capture_thread(pid_t tid, struct fsr_stack *s, const char *title)
{
	s->title = title;
	s->n = 0;
	if (tid <= 0)
		return -1;
	if (tid == fsr_gettid()) {
		fsr_stack_capture(s, title);
		return 0;
	}
	struct wait_find w = { tid, s, 0 };
	fsr_threads_foreach(wait_copy, &w);
	return w.found ? 0 : -1;
}

/* ---- is an allocation made from inside libc? ----
 * Its caller (the first frame outside the shim) in one of glibc's objects:
 * stdio under a FILE lock, the loader under its lock, the resolver, iconv.
 * The kernel never reclaims inside the allocator's own locks; neither do
 * we.  Only asked when a pass was decided (backtrace is not for the hot
 * path).  With the core linked into a program (unit tests) the first
 * frame is the program's and this says no. */

/* libc functions that only allocate for their caller, holding no lock of
 * libc's: an allocation from one of them is the caller's own (strdup) */
#define NWRAP 10
static struct { uintptr_t lo, hi; } wrap[NWRAP];
static int nwrap;

static void wrappers_init(void)
{
	void *const fn[NWRAP] = {
		(void *)strdup, (void *)strndup, (void *)wcsdup, (void *)realpath,
		(void *)asprintf, (void *)vasprintf, (void *)getcwd,
		(void *)get_current_dir_name, (void *)reallocarray, (void *)scandir,
	};
	for (int i = 0; i < NWRAP; i++) {
		Dl_info di;
		const ElfW(Sym) *sym = NULL;
		if (dladdr1(fn[i], &di, (void **)&sym, RTLD_DL_SYMENT) && sym && sym->st_size) {
			wrap[nwrap].lo = (uintptr_t)di.dli_saddr;
			wrap[nwrap].hi = (uintptr_t)di.dli_saddr + sym->st_size;
			nwrap++;
		}
	}
}

static int in_wrapper(uintptr_t pc)
{
	for (int i = 0; i < nwrap; i++)
		if (pc >= wrap[i].lo && pc < wrap[i].hi)
			return 1;
	return 0;
}

/* A caller in no object of the table: one the loader mapped without a
 * dlopen of ours, i.e. libc loaded it itself (an NSS module for getpwnam,
 * a gconv module for a locale's charset), most likely while it holds its
 * own lock (getpwnam's, the loader's).  Such an allocation gets no pass,
 * and the table is built again at the next safe point: a decided pass
 * whose caller is in a known object outside libc, with the thread in no
 * interposed loader call (dl_iterate_phdr takes only the loader's write
 * lock, which no code holds while it waits for the program).  Code in no
 * object at all (JIT) therefore never gets a pass either. */
static int modules_stale;

/* the pass's site from the frames of raw[1..n) outside the shim, as
 * fsr_stack_capture would give them; a stack cut short before it has
 * FSR_SITE_FRAMES of them is captured whole */
static void site_from(struct fsr_thread *t, void **raw, int n, int cap)
{
	if (t->sched_site_valid)
		return;          /* replay mode unwound it already */
	int k = filter(raw, n, 1);
	if (k < FSR_SITE_FRAMES && n == cap) {
		struct fsr_stack s;
		fsr_stack_capture(&s, "allocation");
		t->sched_site = fsr_site_hash(&s, t->alloc_ra);
	} else
		t->sched_site = fsr_site_of(t->alloc_ra, raw, k);
	t->sched_site_valid = 1;
}

/* the frames fsr_stack_alloc_in_libc unwound, kept when they are the whole
 * stack (fewer than it asked for): a pass handed off captures its
 * allocation stack, which is these frames less the shim's, at once after
 * (policy.c); unwinding is the pass's largest cost (fuse-overlayfs: two
 * unwinds a pass, 25k instructions each, against 2k for the rest of it) */
#define LIBC_FRAMES (FSR_SITE_FRAMES + 16)
static __thread struct {
	int n;                   /* 0: none */
	void *pc[LIBC_FRAMES];
} whole __attribute__((tls_model("initial-exec")));

int fsr_stack_alloc_take(struct fsr_stack *s, const char *title)
{
	int n = whole.n;
	if (!n)
		return 0;
	whole.n = 0;
	s->title = title;
	s->n = filter(whole.pc, n, 1);   /* whole.pc[0] is fsr_stack_alloc_in_libc */
	memcpy(s->pc, whole.pc, (size_t)s->n * sizeof(void *));
	return 1;
}

int fsr_stack_alloc_in_libc(struct fsr_thread *t)
{
	/* deep enough for the site's FSR_SITE_FRAMES below the shim's own
	 * frames (backtrace's, the pass's, malloc's: about 8): with 12, most
	 * passes found fewer than 8 frames of the program's and unwound the
	 * whole stack again for the site (fuse-overlayfs: 74 of 115 passes, 3M
	 * of the daemon's 47M instructions); unwinding costs per frame */
	void *raw[LIBC_FRAMES];
	int nmod;
	whole.n = 0;
	if (t->in_libc > 0)
		return 1;
	if (!fsr_modules_all(&nmod))
		return 0;   /* the core linked into a program without a table (unit tests) */
	/* malloc's caller (malloc.c noted its return address) in libc and in
	 * none of the wrappers: the loop below would stop at that frame (the
	 * ones before it are the shim's), so no unwind (fuse-overlayfs: half
	 * the decided passes, its asprintfs, which glibc makes in an internal
	 * function the wrappers do not cover) */
	if (t->alloc_ra) {
		uintptr_t ra = (uintptr_t)t->alloc_ra - 1;
		const struct fsr_module *m = fsr_module_of(ra);
		if (m && (m->flags & FSR_MOD_LIBC) && !in_self(ra) && !in_wrapper(ra))
			return 1;
	}
	int n = backtrace(raw, (int)(sizeof raw / sizeof raw[0]));
	for (int i = 1; i < n; i++) {
		/* a return address: its call instruction is just before it */
		uintptr_t pc = (uintptr_t)raw[i] - 1;
		if (in_self(pc) || in_wrapper(pc))
			continue;
		const struct fsr_module *m = fsr_module_of(pc);
		if (!m) {
			__atomic_store_n(&modules_stale, 1, __ATOMIC_RELAXED);
			return 1;
		}
		if (m->flags & FSR_MOD_LIBC)
			return 1;
		if (__atomic_load_n(&modules_stale, __ATOMIC_RELAXED) &&
		    __atomic_exchange_n(&modules_stale, 0, __ATOMIC_RELAXED))
			fsr_modules_refresh();
		break;
	}
	if (n > 0 && n < (int)(sizeof raw / sizeof raw[0])) {
		memcpy(whole.pc, raw, (size_t)n * sizeof(void *));   /* before site_from filters raw */
		whole.n = n;
	}
	site_from(t, raw, n, (int)(sizeof raw / sizeof raw[0]));
	return 0;
}

/* Prime backtrace() (libgcc_s is loaded with malloc on first use) while the
 * thread is marked busy, and learn the shim's own range. */
__attribute__((constructor(102))) static void stack_prime(void)
{
	void *pc[4];
	fsr_busy_enter(&fsr_self);
	backtrace(pc, 4);
	wrappers_init();
	fsr_self.busy--;
}

