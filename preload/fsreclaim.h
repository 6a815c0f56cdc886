/* fsreclaim.h - Linux reclaim scopes, shrinkers, transactions and lockdep
 * annotations for userspace filesystems checked by the fsreclaim shim.
 *
 * A program compiled against this header needs no library at link time
 * (dlsym is in glibc's libc since 2.34; older glibc needs -ldl).  Each call
 * goes through one table, `fsr_api`, that libfsreclaim.so exports and this
 * header looks up once: preloaded, the shim provides it; without the shim
 * every call is a cheap no-op (saves return 0, fsr_register_shrinker returns
 * 0, fsr_transaction_begin returns a non-NULL dummy cookie) and the GFP calls
 * are malloc/free.  It works the same in PIE and non-PIE programs, shared
 * libraries and C++.  The shim also exports each call under its own name
 * (memalloc_nofs_save, fsr_kmalloc, ...) for dlsym and other languages.
 *
 * Semantics are Linux's (include/linux/sched/mm.h): a save sets its flag on
 * the calling thread and returns the bits it newly set; the matching restore
 * clears exactly those, so pairs nest.  NOIO implies NOFS; NORECLAIM means
 * no reclaim at all.
 */
#ifndef FSRECLAIM_H
#define FSRECLAIM_H

#ifndef FSRECLAIM_SHIM
#include <stdlib.h>
#include <dlfcn.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* GFP mask bits and masks, Linux's values (include/linux/gfp_types.h).
 * Only FSR_-prefixed names here: <fsreclaim/linux.h> maps Linux's own. */
#define FSR___GFP_HIGH           0x20u
#define FSR___GFP_IO             0x40u
#define FSR___GFP_FS             0x80u
#define FSR___GFP_ZERO           0x100u
#define FSR___GFP_DIRECT_RECLAIM 0x400u
#define FSR___GFP_KSWAPD_RECLAIM 0x800u
#define FSR___GFP_NOFAIL         0x8000u
#define FSR___GFP_NORETRY        0x10000u
#define FSR___GFP_RECLAIM        (FSR___GFP_DIRECT_RECLAIM | FSR___GFP_KSWAPD_RECLAIM)
#define FSR_GFP_KERNEL           (FSR___GFP_RECLAIM | FSR___GFP_IO | FSR___GFP_FS)   /* 0xcc0 */
#define FSR_GFP_NOFS             (FSR___GFP_RECLAIM | FSR___GFP_IO)                  /* 0xc40 */
#define FSR_GFP_NOIO             (FSR___GFP_RECLAIM)                                 /* 0xc00 */
#define FSR_GFP_ATOMIC           (FSR___GFP_HIGH | FSR___GFP_KSWAPD_RECLAIM)         /* 0x820 */
#define FSR_GFP_NOWAIT           (FSR___GFP_KSWAPD_RECLAIM)                          /* 0x800 */
/* the bits handed to shrinkers (what the allocation's effective mask
 * allowed): the same bits under their older names */
#define FSR_GFP_IO FSR___GFP_IO
#define FSR_GFP_FS FSR___GFP_FS

/* shrinker categories */
#define FSR_SHRINKER_FS 0x1u
#define FSR_SHRINKER_IO 0x2u

struct fsr_shrinker {
	const char *name;
	unsigned long (*count_objects)(struct fsr_shrinker *, unsigned int gfp);
	unsigned long (*scan_objects)(struct fsr_shrinker *, unsigned long nr_to_scan, unsigned int gfp);
	unsigned int flags;          /* FSR_SHRINKER_FS or FSR_SHRINKER_IO */
	void *private_data;
};

/* The shim's entry points, one table so that a program looks up one symbol.
 * Members are only ever appended; `size` says how many the shim has. */
struct fsr_api {
	unsigned int size;           /* sizeof(struct fsr_api) of the shim */
	unsigned int (*nofs_save)(void *site);
	void (*nofs_restore)(unsigned int, void *site);
	unsigned int (*noio_save)(void *site);
	void (*noio_restore)(unsigned int, void *site);
	unsigned int (*noreclaim_save)(void *site);
	void (*noreclaim_restore)(unsigned int, void *site);
	int (*register_shrinker)(struct fsr_shrinker *);
	void (*unregister_shrinker)(struct fsr_shrinker *);
	void *(*transaction_begin)(const char *name, void *site);
	void (*transaction_end)(void *cookie, void *site);
	void (*reclaim_acquire)(unsigned int gfp, void *site);
	void (*reclaim_release)(unsigned int gfp, void *site);
	void (*lock_exclude)(const void *lock);
	/* the GFP calls: the shim takes the call's site from its return address */
	void *(*kmalloc)(__SIZE_TYPE__ size, unsigned int gfp);
	void *(*kcalloc)(__SIZE_TYPE__ n, __SIZE_TYPE__ size, unsigned int gfp);
	void *(*krealloc)(void *p, __SIZE_TYPE__ size, unsigned int gfp);
	void *(*kvmalloc)(__SIZE_TYPE__ size, unsigned int gfp);
	void *(*vmalloc_gfp)(__SIZE_TYPE__ size, unsigned int gfp);   /* __vmalloc */
	unsigned int (*current_gfp_context)(unsigned int gfp);
	void (*might_alloc)(unsigned int gfp);
};

#ifndef FSRECLAIM_SHIM

/* Finding the shim: one dlsym(RTLD_DEFAULT, "fsr_api") per translation
 * unit, made by a constructor at load time (so never under the program's
 * locks) or by the first call that comes before it, and cached.  A weak
 * reference would do in PIE programs and shared libraries, but a non-PIE
 * link resolves an undefined weak symbol to 0 for good. */
#define FSR_INLINE_ static inline __attribute__((always_inline, unused))
/* The site recorded for a scope is the caller of the header's function. */
#define FSR_SITE_ __builtin_return_address(0)

/* the table itself, for programs that name it: a weak reference, NULL
 * without the shim, and also in non-PIE programs (the calls below do not
 * use it) */
extern const struct fsr_api fsr_api __attribute__((weak));

static const struct fsr_api *fsr_api_found_;
static int fsr_api_looked_;

__attribute__((noinline, unused)) static const struct fsr_api *fsr_api_lookup_(void)
{
	/* RTLD_DEFAULT is (void *)0 in glibc and musl; it needs _GNU_SOURCE */
	const struct fsr_api *a = (const struct fsr_api *)dlsym((void *)0, "fsr_api");
	if (!a)
		(void)dlerror();   /* not the program's error: leave none pending */
	__atomic_store_n(&fsr_api_found_, a, __ATOMIC_RELEASE);
	__atomic_store_n(&fsr_api_looked_, 1, __ATOMIC_RELEASE);
	return a;
}

__attribute__((constructor, unused)) static void fsr_api_init_(void)
{
	if (!__atomic_load_n(&fsr_api_looked_, __ATOMIC_ACQUIRE))
		fsr_api_lookup_();
}

FSR_INLINE_ const struct fsr_api *fsr_api_get_(void)
{
	const struct fsr_api *a = __atomic_load_n(&fsr_api_found_, __ATOMIC_ACQUIRE);
	if (__builtin_expect(a != 0, 1) || __atomic_load_n(&fsr_api_looked_, __ATOMIC_ACQUIRE))
		return a;
	return fsr_api_lookup_();
}

/* the shim has the GFP calls (a shim older than them has not) */
FSR_INLINE_ const struct fsr_api *fsr_api_gfp_(void)
{
	const struct fsr_api *a = fsr_api_get_();
	return a && a->size >= sizeof(struct fsr_api) ? a : 0;
}

#ifndef FSRECLAIM_NO_MEMALLOC_NAMES
/* noinline: __builtin_return_address(0) is then a pc in the function that
 * called memalloc_nofs_save(), the line a report should point at. */
__attribute__((noinline, unused)) static unsigned int memalloc_nofs_save(void)
{ const struct fsr_api *a = fsr_api_get_(); return a ? a->nofs_save(FSR_SITE_) : 0; }
__attribute__((noinline, unused)) static void memalloc_nofs_restore(unsigned int f)
{ const struct fsr_api *a = fsr_api_get_(); if (a) a->nofs_restore(f, FSR_SITE_); }
__attribute__((noinline, unused)) static unsigned int memalloc_noio_save(void)
{ const struct fsr_api *a = fsr_api_get_(); return a ? a->noio_save(FSR_SITE_) : 0; }
__attribute__((noinline, unused)) static void memalloc_noio_restore(unsigned int f)
{ const struct fsr_api *a = fsr_api_get_(); if (a) a->noio_restore(f, FSR_SITE_); }
__attribute__((noinline, unused)) static unsigned int memalloc_noreclaim_save(void)
{ const struct fsr_api *a = fsr_api_get_(); return a ? a->noreclaim_save(FSR_SITE_) : 0; }
__attribute__((noinline, unused)) static void memalloc_noreclaim_restore(unsigned int f)
{ const struct fsr_api *a = fsr_api_get_(); if (a) a->noreclaim_restore(f, FSR_SITE_); }
#endif

FSR_INLINE_ int fsr_register_shrinker(struct fsr_shrinker *s)
{ const struct fsr_api *a = fsr_api_get_(); return a ? a->register_shrinker(s) : 0; }
FSR_INLINE_ void fsr_unregister_shrinker(struct fsr_shrinker *s)
{ const struct fsr_api *a = fsr_api_get_(); if (a) a->unregister_shrinker(s); }

__attribute__((noinline, unused)) static void *fsr_transaction_begin(const char *name)
{
	static char dummy;
	const struct fsr_api *a = fsr_api_get_();
	return a ? a->transaction_begin(name, FSR_SITE_) : (void *)&dummy;
}
__attribute__((noinline, unused)) static void fsr_transaction_end(void *cookie)
{ const struct fsr_api *a = fsr_api_get_(); if (a) a->transaction_end(cookie, FSR_SITE_); }

__attribute__((noinline, unused)) static void fsr_reclaim_acquire(unsigned int gfp)
{ const struct fsr_api *a = fsr_api_get_(); if (a) a->reclaim_acquire(gfp, FSR_SITE_); }
__attribute__((noinline, unused)) static void fsr_reclaim_release(unsigned int gfp)
{ const struct fsr_api *a = fsr_api_get_(); if (a) a->reclaim_release(gfp, FSR_SITE_); }
FSR_INLINE_ void fsr_lock_exclude(const void *lock)
{ const struct fsr_api *a = fsr_api_get_(); if (a) a->lock_exclude(lock); }

/* The GFP calls.  Inlined, so that the shim's return address is in the
 * caller; without the shim they are malloc/calloc/realloc/free and the mask
 * is ignored (except __GFP_ZERO).  A mask that allows all reclaim and asks
 * nothing else (GFP_KERNEL, also with __GFP_NOFAIL etc.) is what the shim's
 * interposed malloc does by itself, scopes included: it goes there
 * directly, at malloc's own cost.  The compiler barriers keep it a call
 * that may run reclaim (shrinkers, FUSE callbacks that change the program's
 * memory), as the shim's entry is: a builtin malloc is assumed to touch no
 * global and, unused, to be removable. */
#define FSR_GFP_PLAIN_(gfp) (((gfp) & (FSR___GFP_DIRECT_RECLAIM | FSR___GFP_IO | FSR___GFP_FS | \
				       FSR___GFP_ZERO | ~((1u << 27) - 1))) == \
			     (FSR___GFP_DIRECT_RECLAIM | FSR___GFP_IO | FSR___GFP_FS))
FSR_INLINE_ void *fsr_kmalloc(__SIZE_TYPE__ size, unsigned int gfp)
{
	if (__builtin_expect(FSR_GFP_PLAIN_(gfp), 1)) {
		void *p;
		__asm__ __volatile__("" ::: "memory");
		p = malloc(size);
		__asm__ __volatile__("" : : "r"(p) : "memory");
		return p;
	}
	const struct fsr_api *a = fsr_api_gfp_();
	if (a)
		return a->kmalloc(size, gfp);
	return gfp & FSR___GFP_ZERO ? calloc(1, size) : malloc(size);
}
FSR_INLINE_ void *fsr_kzalloc(__SIZE_TYPE__ size, unsigned int gfp)
{ return fsr_kmalloc(size, gfp | FSR___GFP_ZERO); }
FSR_INLINE_ void *fsr_kcalloc(__SIZE_TYPE__ n, __SIZE_TYPE__ size, unsigned int gfp)
{ const struct fsr_api *a = fsr_api_gfp_(); return a ? a->kcalloc(n, size, gfp) : calloc(n, size); }
FSR_INLINE_ void *fsr_krealloc(void *p, __SIZE_TYPE__ size, unsigned int gfp)
{ const struct fsr_api *a = fsr_api_gfp_(); return a ? a->krealloc(p, size, gfp) : realloc(p, size); }
FSR_INLINE_ void fsr_kfree(const void *p) { free((void *)p); }
FSR_INLINE_ void *fsr_kvmalloc(__SIZE_TYPE__ size, unsigned int gfp)
{
	const struct fsr_api *a = fsr_api_gfp_();
	if (a)
		return a->kvmalloc(size, gfp);
	return gfp & FSR___GFP_ZERO ? calloc(1, size) : malloc(size);
}
FSR_INLINE_ void fsr_kvfree(const void *p) { free((void *)p); }
FSR_INLINE_ void *fsr___vmalloc(__SIZE_TYPE__ size, unsigned int gfp)
{
	const struct fsr_api *a = fsr_api_gfp_();
	if (a)
		return a->vmalloc_gfp(size, gfp);
	return gfp & FSR___GFP_ZERO ? calloc(1, size) : malloc(size);
}
FSR_INLINE_ void *fsr_vmalloc(__SIZE_TYPE__ size) { return fsr___vmalloc(size, FSR_GFP_KERNEL); }
FSR_INLINE_ void fsr_vfree(const void *p) { free((void *)p); }

/* Linux's current_gfp_context(): the mask with the thread's scopes applied */
FSR_INLINE_ unsigned int fsr_current_gfp_context(unsigned int gfp)
{ const struct fsr_api *a = fsr_api_gfp_(); return a ? a->current_gfp_context(gfp) : gfp; }
/* lockdep's might_alloc(): teach the lock graph an allocation with gfp here,
 * without allocating */
FSR_INLINE_ void fsr_might_alloc(unsigned int gfp)
{ const struct fsr_api *a = fsr_api_gfp_(); if (a) a->might_alloc(gfp); }

#undef FSR_INLINE_
#undef FSR_SITE_
#undef FSR_GFP_PLAIN_
#endif /* FSRECLAIM_SHIM */

#ifdef __cplusplus
}
#endif
#endif /* FSRECLAIM_H */
