/* gfp.c - the GFP allocation calls: kmalloc(size, gfp) and its family, with
 * Linux's meaning of the mask.
 *
 * The effective mask of a call is Linux's current_gfp_context(gfp): the
 * call's mask with the thread's scopes applied (include/linux/sched/mm.h).
 * The allocation itself is the interposed malloc/calloc/realloc, so the
 * pass decision, the lock graph and the counting are malloc.c's and
 * policy.c's; this file only narrows what that allocation may reclaim, for
 * the length of the call: a mask without __GFP_DIRECT_RECLAIM (NOWAIT,
 * ATOMIC) is NORECLAIM (no pass, no fs_reclaim edge, as lockdep's
 * __need_reclaim), a mask without __GFP_FS or __GFP_IO sets FSR_PF_GFPMASK
 * and call_gfp, which fsr_gfp_of() applies.  GFP_KERNEL outside any scope
 * narrows nothing: the call is a tail call into malloc.
 *
 * vmalloc (vmalloc_model): since Linux 5.17 (451769ebb7e7) __vmalloc and
 * kvmalloc honour GFP_NOFS/GFP_NOIO by entering the scope themselves, as
 * the mask above does; before, vmalloc allocated with GFP_KERNEL inside
 * whatever the mask said.  legacy models that: the call reclaims as
 * GFP_KERNEL and vmalloc-gfp-mask is reported.
 *
 * needless-nofs (detect_needless_nofs=1): a NOFS/NOIO mask that only
 * repeats the thread's scope is reported at once; one that narrows reclaim
 * beyond the scope is noted with the locks held (graph.c) and judged at
 * exit, as NOFS scopes are. */
#include "fsr.h"
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define RECLAIM_BITS (FSR___GFP_DIRECT_RECLAIM | FSR___GFP_IO | FSR___GFP_FS)
/* Linux defines bits 0..26 (___GFP_LAST_SHIFT, config dependent) */
#define KNOWN_BITS ((1u << 27) - 1)

unsigned int fsr_gfp_context(unsigned int gfp, unsigned int pf)
{
	if (pf & (FSR_PF_NOIO | FSR_PF_IOFLUSHER))
		gfp &= ~(FSR___GFP_IO | FSR___GFP_FS);
	else if (pf & FSR_PF_NOFS)
		gfp &= ~FSR___GFP_FS;
	return gfp;   /* NORECLAIM leaves the mask as it is (Linux) */
}

FSR_EXPORT unsigned int fsr_current_gfp_context(unsigned int gfp)
{
	return fsr_gfp_context(gfp, fsr_self.flags & ~FSR_PF_GFPMASK);
}

static int unknown_said;

static void check_bits(unsigned int gfp, const char *fn)
{
	/* Linux ignores bits it does not define; so do we, and say so once */
	if (unlikely(gfp & ~KNOWN_BITS) && !__atomic_exchange_n(&unknown_said, 1, __ATOMIC_RELAXED))
		fsr_say("fsreclaim: %s: gfp mask 0x%x has bits (0x%x) that are not Linux GFP "
			"bits; they are ignored (said once)", fn, gfp, gfp & ~KNOWN_BITS);
}

static const char *mask_name(unsigned int gfp)
{
	switch (gfp & (FSR___GFP_IO | FSR___GFP_FS)) {
	case FSR___GFP_IO: return "GFP_NOFS";
	case 0: return "GFP_NOIO";
	default: return "a mask without __GFP_IO";
	}
}

static const char *scope_for(unsigned int gfp)
{
	return gfp & FSR___GFP_IO ? "memalloc_nofs_save()" : "memalloc_noio_save()";
}

/* the reclaim bits a mask takes away beyond what the scopes take */
static unsigned int narrows(unsigned int gfp, unsigned int pf)
{
	unsigned int scope = fsr_gfp_context(FSR___GFP_IO | FSR___GFP_FS, pf);
	return scope & ~gfp & (FSR___GFP_IO | FSR___GFP_FS);
}

static void report_redundant(struct fsr_thread *t, unsigned int gfp, const char *fn)
{
	struct fsr_hazard h;
	fsr_hazard_init(&h, "needless-nofs", FSR_WARNING);
	fsr_fmt(h.message, sizeof h.message,
		"%s(%s) inside a %s scope: the mask only repeats the scope (the scope API makes "
		"such masks redundant; pass GFP_KERNEL)", fn, mask_name(gfp),
		t->flags & (FSR_PF_NOIO | FSR_PF_IOFLUSHER) ? "memalloc_noio_save()" : "memalloc_nofs_save()");
	fsr_hazard_add_held_locks(&h, t);
	fsr_stack_capture(&h.stacks[h.nstacks++], "allocation");
	fsr_report(&h);
}

static void report_vmalloc(struct fsr_thread *t, unsigned int gfp, const char *fn)
{
	struct fsr_hazard h;
	fsr_hazard_init(&h, "vmalloc-gfp-mask", FSR_WARNING);
	fsr_fmt(h.message, sizeof h.message,
		"%s(%s) outside a %s scope: kernels before 5.17 ignore the mask here "
		"(vmalloc_model=legacy) and reclaim with GFP_KERNEL inside, the recursion the mask "
		"was meant to prevent", fn, mask_name(gfp), scope_for(gfp));
	fsr_fmt(h.body, sizeof h.body,
		"Documentation/core-api/gfp_mask-from-fs-io.rst: \"vmalloc doesn't support GFP_NOFS "
		"semantic because there are hardcoded GFP_KERNEL allocations deep inside the allocator "
		"which are quite non-trivial to fix up. That means that calling vmalloc with "
		"GFP_NOFS/GFP_NOIO is almost always a bug. The good news is that the NOFS/NOIO "
		"semantic can be achieved by the scope API.\"\n"
		"Fix: wrap the call in %s ... %s and pass GFP_KERNEL.\n",
		scope_for(gfp), gfp & FSR___GFP_IO ? "memalloc_nofs_restore()" : "memalloc_noio_restore()");
	fsr_hazard_add_held_locks(&h, t);
	fsr_stack_capture(&h.stacks[h.nstacks++], "allocation");
	fsr_report(&h);
}

enum call { K_MALLOC, K_CALLOC, K_REALLOC, K_VMALLOC };

/* The mask narrows reclaim or is unusual: judge it, then allocate with the
 * thread's state narrowed for the length of the call. */
static __attribute__((noinline)) void *gfp_alloc(enum call c, void *old, size_t n, size_t m,
						 unsigned int gfp, void *site, const char *fn)
{
	struct fsr_thread *t = &fsr_self;
	check_bits(gfp, fn);
	unsigned int pf = t->flags & ~FSR_PF_GFPMASK;
	int user = fsr_ready && !t->busy && !t->in_reclaim && !(pf & FSR_PF_NORECLAIM);
	unsigned int lost = (FSR___GFP_IO | FSR___GFP_FS) & ~gfp;   /* what the mask takes away */
	if (user && (gfp & FSR___GFP_DIRECT_RECLAIM) && lost) {
		unsigned int beyond = narrows(gfp, pf);
		if (c == K_VMALLOC && fsr_opt.vmalloc_legacy) {
			/* pre-5.17: the mask is not honoured inside vmalloc */
			if (beyond) {
				fsr_busy_enter(t);
				report_vmalloc(t, gfp, fn);
				t->busy--;
			}
			gfp |= FSR___GFP_IO | FSR___GFP_FS;
		} else if (fsr_opt.detect_needless_nofs) {
			fsr_busy_enter(t);
			if (!beyond)
				report_redundant(t, gfp, fn);
			else
				fsr_graph_mask_note(t, gfp, site, fn);
			t->busy--;
		}
	}
	/* narrow this call's reclaim to what the effective mask allows */
	unsigned int eff = fsr_gfp_context(gfp, pf);
	unsigned int saved = t->flags & (FSR_PF_NORECLAIM | FSR_PF_GFPMASK), saved_call = t->call_gfp;
	if (!(eff & FSR___GFP_DIRECT_RECLAIM))
		t->flags |= FSR_PF_NORECLAIM;
	else if ((eff & (FSR___GFP_IO | FSR___GFP_FS)) != (FSR___GFP_IO | FSR___GFP_FS)) {
		t->flags |= FSR_PF_GFPMASK;
		t->call_gfp = eff & (FSR___GFP_IO | FSR___GFP_FS);
	}
	if (t->flags)
		fsr_look(t);
	void *p;
	switch (c) {
	case K_CALLOC: p = calloc(n, m); break;
	case K_REALLOC: p = realloc(old, n); break;
	default: p = gfp & FSR___GFP_ZERO ? calloc(1, n) : malloc(n); break;
	}
	t->flags = (t->flags & ~(FSR_PF_NORECLAIM | FSR_PF_GFPMASK)) | saved;
	t->call_gfp = saved_call;
	if (t->flags)
		fsr_look(t);
	return p;
}

/* GFP_KERNEL-like masks (direct reclaim, FS and IO allowed, nothing else to
 * do): the call is malloc's, nothing more */
#define PLAIN(gfp) (((gfp) & (RECLAIM_BITS | FSR___GFP_ZERO | ~KNOWN_BITS)) == RECLAIM_BITS)

FSR_EXPORT __attribute__((noinline)) void *fsr_kmalloc(size_t size, unsigned int gfp)
{
	if (likely(PLAIN(gfp)))
		return malloc(size);
	return gfp_alloc(K_MALLOC, NULL, size, 0, gfp, __builtin_return_address(0), "kmalloc");
}

FSR_EXPORT __attribute__((noinline)) void *fsr_kzalloc(size_t size, unsigned int gfp)
{
	return gfp_alloc(K_MALLOC, NULL, size, 0, gfp | FSR___GFP_ZERO, __builtin_return_address(0), "kzalloc");
}

FSR_EXPORT __attribute__((noinline)) void *fsr_kcalloc(size_t n, size_t size, unsigned int gfp)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return gfp_alloc(K_CALLOC, NULL, n, size, gfp, __builtin_return_address(0), "kcalloc");
}

FSR_EXPORT __attribute__((noinline)) void *fsr_krealloc(void *old, size_t size, unsigned int gfp)
{
	if (!old)   /* a new block: kmalloc's, __GFP_ZERO included */
		return gfp_alloc(K_MALLOC, NULL, size, 0, gfp, __builtin_return_address(0), "krealloc");
	size_t had = gfp & FSR___GFP_ZERO ? malloc_usable_size(old) : 0;
	char *p = gfp_alloc(K_REALLOC, old, size, 0, gfp, __builtin_return_address(0), "krealloc");
	if (p && (gfp & FSR___GFP_ZERO) && size > had)
		memset(p + had, 0, size - had);   /* __GFP_ZERO: the grown part */
	return p;
}

FSR_EXPORT __attribute__((noinline)) void *fsr_kvmalloc(size_t size, unsigned int gfp)
{
	return gfp_alloc(K_VMALLOC, NULL, size, 0, gfp, __builtin_return_address(0), "kvmalloc");
}

FSR_EXPORT __attribute__((noinline)) void *fsr___vmalloc(size_t size, unsigned int gfp)
{
	return gfp_alloc(K_VMALLOC, NULL, size, 0, gfp, __builtin_return_address(0), "__vmalloc");
}

FSR_EXPORT __attribute__((noinline)) void *fsr_vmalloc(size_t size)
{
	return gfp_alloc(K_VMALLOC, NULL, size, 0, FSR_GFP_KERNEL, __builtin_return_address(0), "vmalloc");
}

FSR_EXPORT void fsr_kfree(const void *p) { free((void *)p); }
FSR_EXPORT void fsr_kvfree(const void *p) { free((void *)p); }
FSR_EXPORT void fsr_vfree(const void *p) { free((void *)p); }

/* lockdep's might_alloc(): the edges an allocation with gfp would add here,
 * without allocating and without a pass */
FSR_EXPORT void fsr_might_alloc(unsigned int gfp)
{
	struct fsr_thread *t = &fsr_self;
	check_bits(gfp, "might_alloc");
	if (t->busy || t->in_reclaim || (t->flags & FSR_PF_NORECLAIM) || !fsr_ready)
		return;
	unsigned int eff = fsr_gfp_context(gfp, t->flags & ~FSR_PF_GFPMASK);
	unsigned int g = eff & (FSR___GFP_IO | FSR___GFP_FS);
	if (!(eff & FSR___GFP_DIRECT_RECLAIM) || !g || !t->nheld)
		return;
	fsr_busy_enter(t);
	fsr_graph_might_alloc(t, g);
	t->busy--;
}
