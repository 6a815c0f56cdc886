/* stack.c - stack capture without malloc.
 *
 * glibc's backtrace() loads libgcc_s (with malloc) the first time it runs;
 * a constructor primes it once, with the thread marked busy so that the
 * shim's malloc passes those allocations straight through.  After that
 * backtrace() is malloc-free and may run in a signal handler, which is how
 * another thread's stack is taken (fsr_stack_capture_thread).
 *
 * Frames inside the shim itself are dropped: when the shim is a shared
 * object (libfsreclaim.so), every pc inside its PT_LOAD segments; when the
 * core is linked into a program (the unit tests), only the capture
 * function's own frame.  Symbolization is in symbols.c, at report time. */
#include "symbols.h"
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define SELF_MAX_SEGS 8
static struct { uintptr_t lo, hi; } self_seg[SELF_MAX_SEGS];
static int self_nseg;           /* 0: not a separate object (or unknown) */
static int self_done;           /* atomic: 0 not yet, 1 computing, 2 done */

struct self_find { uintptr_t pc; };

static int self_phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct self_find *f = arg;
	int found = 0;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && f->pc >= lo && f->pc < lo + ph->p_memsz)
			found = 1;
	}
	if (!found)
		return 0;
	/* the main program has an empty name: then the core is linked in, and
	 * dropping all of its pcs would drop the program's own frames */
	if (!info->dlpi_name || !info->dlpi_name[0])
		return 1;
	int n = 0;
	for (int i = 0; i < info->dlpi_phnum && n < SELF_MAX_SEGS; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		self_seg[n].lo = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
		self_seg[n].hi = self_seg[n].lo + ph->p_memsz;
		n++;
	}
	self_nseg = n;
	return 1;
}

static void self_range_init(void)
{
	int st = 0;
	if (!__atomic_compare_exchange_n(&self_done, &st, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&self_done, __ATOMIC_ACQUIRE) != 2)
			;
		return;
	}
	struct self_find f = { (uintptr_t)&self_range_init };
	dl_iterate_phdr(self_phdr_cb, &f);
	__atomic_store_n(&self_done, 2, __ATOMIC_RELEASE);
}

static int in_self(uintptr_t pc)
{
	for (int i = 0; i < self_nseg; i++)
		if (pc >= self_seg[i].lo && pc < self_seg[i].hi)
			return 1;
	return 0;
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
	if (__atomic_load_n(&self_done, __ATOMIC_ACQUIRE) != 2)
		self_range_init();
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

/* ---- another thread's stack: a signal and a shared buffer ---- */

#define CAP_SIG (SIGRTMAX - 1)
enum { CAP_IDLE, CAP_REQUESTED, CAP_WRITING, CAP_DONE, CAP_CANCELLED };

static struct fsr_mutex cap_lock;      /* one capture at a time */
static int cap_state;                  /* futex word */
static pid_t cap_tid;
static int cap_n;
static void *cap_pc[FSR_MAX_FRAMES + 8];
static int cap_installed;              /* atomic: 0, 1 installing, 2 done, 3 failed */

static void cap_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig; (void)si; (void)uc;
	int e = errno;
	pid_t me = (pid_t)syscall(SYS_gettid);
	int st = CAP_REQUESTED;
	if (me == __atomic_load_n(&cap_tid, __ATOMIC_ACQUIRE) &&
	    __atomic_compare_exchange_n(&cap_state, &st, CAP_WRITING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		int n = backtrace(cap_pc, FSR_MAX_FRAMES + 8);
		/* [0] this handler, [1] the signal trampoline, [2] the interrupted
		 * pc (more in front when backtrace() is intercepted) */
		const void *ip = NULL;
#if defined(__x86_64__)
		ip = (const void *)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
		ip = (const void *)((ucontext_t *)uc)->uc_mcontext.pc;
#endif
		cap_n = filter(cap_pc, n, first_from(cap_pc, n, ip, 2));
		__atomic_store_n(&cap_state, CAP_DONE, __ATOMIC_RELEASE);
		fsr_futex_wake(&cap_state, 1);
	}
	errno = e;
}

static int cap_install(void)
{
	int st = 0;
	if (__atomic_compare_exchange_n(&cap_installed, &st, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = cap_handler;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		int r = sigaction(CAP_SIG, &sa, NULL);
		__atomic_store_n(&cap_installed, r ? 3 : 2, __ATOMIC_RELEASE);
		return r ? -1 : 0;
	}
	while ((st = __atomic_load_n(&cap_installed, __ATOMIC_ACQUIRE)) == 1)
		;
	return st == 2 ? 0 : -1;
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
	if (__atomic_load_n(&self_done, __ATOMIC_ACQUIRE) != 2)
		self_range_init();
	if (cap_install())
		return -1;
	int e = errno;
	int ret = -1;
	fsr_mutex_lock(&cap_lock);
	cap_n = 0;
	__atomic_store_n(&cap_tid, tid, __ATOMIC_RELEASE);
	__atomic_store_n(&cap_state, CAP_REQUESTED, __ATOMIC_RELEASE);
	if (syscall(SYS_tgkill, (pid_t)getpid(), tid, CAP_SIG) == 0) {
		uint64_t deadline = fsr_now_ns() + 1000000000ull;
		int st;
		for (;;) {
			st = __atomic_load_n(&cap_state, __ATOMIC_ACQUIRE);
			if (st == CAP_DONE)
				break;
			uint64_t now = fsr_now_ns();
			if (st == CAP_REQUESTED && now >= deadline) {
				/* give up; a late handler finds the request cancelled */
				if (__atomic_compare_exchange_n(&cap_state, &st, CAP_CANCELLED, 0,
								__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
					break;
				continue;
			}
			/* WRITING: the handler runs now; it finishes quickly */
			fsr_futex_wait(&cap_state, st, st == CAP_WRITING ? 10000000ull
				       : (deadline > now ? deadline - now : 1));
		}
		if (st == CAP_DONE) {
			int n = cap_n > FSR_MAX_FRAMES ? FSR_MAX_FRAMES : cap_n;
			memcpy(s->pc, cap_pc, (size_t)n * sizeof(void *));
			s->n = n;
			ret = 0;
		}
	}
	__atomic_store_n(&cap_tid, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&cap_state, CAP_IDLE, __ATOMIC_RELEASE);
	fsr_mutex_unlock(&cap_lock);
	errno = e;
	return ret;
}

/* Prime backtrace() (libgcc_s is loaded with malloc on first use) while the
 * thread is marked busy, and learn the shim's own range. */
__attribute__((constructor(102))) static void stack_prime(void)
{
	void *pc[4];
	fsr_self.busy++;
	self_range_init();
	backtrace(pc, 4);
	fsr_self.busy--;
}

void fsr_stack_atfork_child(void)
{
	cap_lock.v = 0;
	cap_tid = 0;
	cap_state = CAP_IDLE;
}
