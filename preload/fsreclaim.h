/* fsreclaim.h - Linux reclaim scopes, shrinkers, transactions and lockdep
 * annotations for userspace filesystems checked by the fsreclaim shim.
 *
 * A program compiled against this header needs no library at link time.
 * Each call goes through one table, `fsr_api`, that libfsreclaim.so exports
 * and this header references weakly: preloaded, the shim provides it;
 * without the shim the reference is NULL and every call is a cheap no-op
 * (saves return 0, fsr_register_shrinker returns 0, fsr_transaction_begin
 * returns a non-NULL dummy cookie).
 *
 * Semantics are Linux's (include/linux/sched/mm.h): a save sets its flag on
 * the calling thread and returns the bits it newly set; the matching restore
 * clears exactly those, so pairs nest.  NOIO implies NOFS; NORECLAIM means
 * no reclaim at all.
 */
#ifndef FSRECLAIM_H
#define FSRECLAIM_H

#ifdef __cplusplus
extern "C" {
#endif

/* gfp bits handed to shrinkers: what the allocation's effective mask allowed */
#define FSR_GFP_IO 0x40u
#define FSR_GFP_FS 0x80u

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

/* The shim's entry points, one table so that a program looks up one symbol. */
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
};

#ifndef FSRECLAIM_SHIM

extern const struct fsr_api fsr_api __attribute__((weak));

#define FSR_INLINE_ static inline __attribute__((always_inline, unused))
/* The site recorded for a scope is the caller of the header's function. */
#define FSR_SITE_ __builtin_return_address(0)
#define FSR_API_ (&fsr_api)

/* noinline: __builtin_return_address(0) is then a pc in the function that
 * called memalloc_nofs_save(), the line a report should point at. */
__attribute__((noinline, unused)) static unsigned int memalloc_nofs_save(void)
{ return FSR_API_ ? fsr_api.nofs_save(FSR_SITE_) : 0; }
__attribute__((noinline, unused)) static void memalloc_nofs_restore(unsigned int f)
{ if (FSR_API_) fsr_api.nofs_restore(f, FSR_SITE_); }
__attribute__((noinline, unused)) static unsigned int memalloc_noio_save(void)
{ return FSR_API_ ? fsr_api.noio_save(FSR_SITE_) : 0; }
__attribute__((noinline, unused)) static void memalloc_noio_restore(unsigned int f)
{ if (FSR_API_) fsr_api.noio_restore(f, FSR_SITE_); }
__attribute__((noinline, unused)) static unsigned int memalloc_noreclaim_save(void)
{ return FSR_API_ ? fsr_api.noreclaim_save(FSR_SITE_) : 0; }
__attribute__((noinline, unused)) static void memalloc_noreclaim_restore(unsigned int f)
{ if (FSR_API_) fsr_api.noreclaim_restore(f, FSR_SITE_); }

FSR_INLINE_ int fsr_register_shrinker(struct fsr_shrinker *s)
{ return FSR_API_ ? fsr_api.register_shrinker(s) : 0; }
FSR_INLINE_ void fsr_unregister_shrinker(struct fsr_shrinker *s)
{ if (FSR_API_) fsr_api.unregister_shrinker(s); }

__attribute__((noinline, unused)) static void *fsr_transaction_begin(const char *name)
{
	static char dummy;
	return FSR_API_ ? fsr_api.transaction_begin(name, FSR_SITE_) : (void *)&dummy;
}
__attribute__((noinline, unused)) static void fsr_transaction_end(void *cookie)
{ if (FSR_API_) fsr_api.transaction_end(cookie, FSR_SITE_); }

__attribute__((noinline, unused)) static void fsr_reclaim_acquire(unsigned int gfp)
{ if (FSR_API_) fsr_api.reclaim_acquire(gfp, FSR_SITE_); }
__attribute__((noinline, unused)) static void fsr_reclaim_release(unsigned int gfp)
{ if (FSR_API_) fsr_api.reclaim_release(gfp, FSR_SITE_); }
FSR_INLINE_ void fsr_lock_exclude(const void *lock)
{ if (FSR_API_) fsr_api.lock_exclude(lock); }

#undef FSR_INLINE_
#undef FSR_SITE_
#undef FSR_API_
#endif /* FSRECLAIM_SHIM */

#ifdef __cplusplus
}
#endif
#endif /* FSRECLAIM_H */
