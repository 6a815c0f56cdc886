/* fsreclaim/linux.h - Linux's own names for the allocation, scope and
 * shrinker calls, mapped onto fsreclaim.h, for filesystem code shared with
 * the kernel (userspace ports such as libxfs, btrfs-progs' kernel-shared/).
 *
 * Everything here is a thin inline over fsreclaim.h: without the shim the
 * allocation calls are malloc/free and the rest are no-ops.  Each group can
 * be left out, so that this header sits beside a project's own compat
 * headers; define before including it:
 *   FSR_LINUX_NO_GFP_T      gfp_t
 *   FSR_LINUX_NO_GFP_FLAGS  GFP_KERNEL, GFP_NOFS, ... and the __GFP_ bits
 *                           (each name is also skipped if already defined)
 *   FSR_LINUX_NO_ALLOC      kmalloc, kzalloc, kcalloc, kmalloc_array, krealloc,
 *                           kfree, kvmalloc, kvzalloc, kvcalloc, kvfree,
 *                           vmalloc, vzalloc, __vmalloc, vfree
 *   FSR_LINUX_NO_CONTEXT    current_gfp_context, might_alloc,
 *                           fs_reclaim_acquire, fs_reclaim_release
 *   FSR_LINUX_NO_SHRINKER   struct shrinker, struct shrink_control, SHRINK_STOP,
 *                           SHRINK_EMPTY, register_shrinker/unregister_shrinker
 *                           (Linux 6.0-6.6), shrinker_alloc/shrinker_register/
 *                           shrinker_free (6.7+)
 *   FSRECLAIM_NO_MEMALLOC_NAMES  memalloc_{nofs,noio,noreclaim}_{save,restore}
 *                           (these come from fsreclaim.h itself)
 */
#ifndef FSRECLAIM_LINUX_H
#define FSRECLAIM_LINUX_H

#include "../fsreclaim.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FSR_LINUX_INLINE_ static inline __attribute__((always_inline, unused))

#ifndef FSR_LINUX_NO_GFP_T
typedef unsigned int gfp_t;
#endif

#ifndef FSR_LINUX_NO_GFP_FLAGS
#ifndef __GFP_HIGH
#define __GFP_HIGH FSR___GFP_HIGH
#endif
#ifndef __GFP_IO
#define __GFP_IO FSR___GFP_IO
#endif
#ifndef __GFP_FS
#define __GFP_FS FSR___GFP_FS
#endif
#ifndef __GFP_ZERO
#define __GFP_ZERO FSR___GFP_ZERO
#endif
#ifndef __GFP_DIRECT_RECLAIM
#define __GFP_DIRECT_RECLAIM FSR___GFP_DIRECT_RECLAIM
#endif
#ifndef __GFP_KSWAPD_RECLAIM
#define __GFP_KSWAPD_RECLAIM FSR___GFP_KSWAPD_RECLAIM
#endif
#ifndef __GFP_RECLAIM
#define __GFP_RECLAIM FSR___GFP_RECLAIM
#endif
#ifndef __GFP_NOFAIL
#define __GFP_NOFAIL FSR___GFP_NOFAIL
#endif
#ifndef __GFP_NORETRY
#define __GFP_NORETRY FSR___GFP_NORETRY
#endif
#ifndef GFP_KERNEL
#define GFP_KERNEL FSR_GFP_KERNEL
#endif
#ifndef GFP_NOFS
#define GFP_NOFS FSR_GFP_NOFS
#endif
#ifndef GFP_NOIO
#define GFP_NOIO FSR_GFP_NOIO
#endif
#ifndef GFP_ATOMIC
#define GFP_ATOMIC FSR_GFP_ATOMIC
#endif
#ifndef GFP_NOWAIT
#define GFP_NOWAIT FSR_GFP_NOWAIT
#endif
#endif /* FSR_LINUX_NO_GFP_FLAGS */

#ifndef FSR_LINUX_NO_ALLOC
FSR_LINUX_INLINE_ void *kmalloc(size_t size, unsigned int gfp) { return fsr_kmalloc(size, gfp); }
FSR_LINUX_INLINE_ void *kzalloc(size_t size, unsigned int gfp) { return fsr_kzalloc(size, gfp); }
FSR_LINUX_INLINE_ void *kcalloc(size_t n, size_t size, unsigned int gfp) { return fsr_kcalloc(n, size, gfp); }
FSR_LINUX_INLINE_ void *kmalloc_array(size_t n, size_t size, unsigned int gfp)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		return NULL;
	return fsr_kmalloc(total, gfp);
}
FSR_LINUX_INLINE_ void *krealloc(const void *p, size_t size, unsigned int gfp)
{ return fsr_krealloc((void *)p, size, gfp); }
FSR_LINUX_INLINE_ void kfree(const void *p) { fsr_kfree(p); }
FSR_LINUX_INLINE_ void *kvmalloc(size_t size, unsigned int gfp) { return fsr_kvmalloc(size, gfp); }
FSR_LINUX_INLINE_ void *kvzalloc(size_t size, unsigned int gfp) { return fsr_kvmalloc(size, gfp | FSR___GFP_ZERO); }
FSR_LINUX_INLINE_ void *kvcalloc(size_t n, size_t size, unsigned int gfp)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		return NULL;
	return fsr_kvmalloc(total, gfp | FSR___GFP_ZERO);
}
FSR_LINUX_INLINE_ void kvfree(const void *p) { fsr_kvfree(p); }
FSR_LINUX_INLINE_ void *vmalloc(size_t size) { return fsr_vmalloc(size); }
FSR_LINUX_INLINE_ void *vzalloc(size_t size) { return fsr___vmalloc(size, FSR_GFP_KERNEL | FSR___GFP_ZERO); }
FSR_LINUX_INLINE_ void *__vmalloc(size_t size, unsigned int gfp) { return fsr___vmalloc(size, gfp); }
FSR_LINUX_INLINE_ void vfree(const void *p) { fsr_vfree(p); }
#endif /* FSR_LINUX_NO_ALLOC */

#ifndef FSR_LINUX_NO_CONTEXT
FSR_LINUX_INLINE_ unsigned int current_gfp_context(unsigned int gfp) { return fsr_current_gfp_context(gfp); }
FSR_LINUX_INLINE_ void might_alloc(unsigned int gfp) { fsr_might_alloc(gfp); }
FSR_LINUX_INLINE_ void fs_reclaim_acquire(unsigned int gfp) { fsr_reclaim_acquire(gfp); }
FSR_LINUX_INLINE_ void fs_reclaim_release(unsigned int gfp) { fsr_reclaim_release(gfp); }
#endif /* FSR_LINUX_NO_CONTEXT */

#ifndef FSR_LINUX_NO_SHRINKER
#define SHRINK_STOP (~0UL)
#define SHRINK_EMPTY (~0UL - 1)
#define DEFAULT_SEEKS 2
/* not Linux: in shrinker->flags (or shrinker_alloc's flags), run this
 * shrinker as IO reclaim (only where the mask allows __GFP_IO); without it
 * a shrinker is FS reclaim (only with __GFP_FS), like a superblock's */
#define SHRINKER_FSRECLAIM_IO (1u << 30)

struct shrink_control {
	unsigned int gfp_mask;       /* the allocation's effective mask */
	int nid;
	unsigned long nr_to_scan;
	unsigned long nr_scanned;
};

struct shrinker {
	unsigned long (*count_objects)(struct shrinker *, struct shrink_control *sc);
	unsigned long (*scan_objects)(struct shrinker *, struct shrink_control *sc);
	long batch;
	int seeks;
	unsigned int flags;
	void *private_data;
	/* fsreclaim's own (not Linux): the registration it maps onto */
	struct fsr_shrinker fsr_;
	char fsr_name_[64];
	int fsr_registered_;
};

static unsigned long fsr_linux_count_(struct fsr_shrinker *f, unsigned int gfp)
{
	struct shrinker *s = (struct shrinker *)f->private_data;
	struct shrink_control sc = { FSR___GFP_RECLAIM | gfp, 0, 0, 0 };
	unsigned long n = s->count_objects(s, &sc);
	return n == SHRINK_EMPTY ? 0 : n;
}

static unsigned long fsr_linux_scan_(struct fsr_shrinker *f, unsigned long nr, unsigned int gfp)
{
	struct shrinker *s = (struct shrinker *)f->private_data;
	struct shrink_control sc = { FSR___GFP_RECLAIM | gfp, 0, nr, nr };
	unsigned long n = s->scan_objects(s, &sc);
	return n == SHRINK_STOP ? 0 : n;
}

__attribute__((unused)) static int fsr_linux_register_(struct shrinker *s)
{
	s->fsr_.name = s->fsr_name_;
	s->fsr_.count_objects = fsr_linux_count_;
	s->fsr_.scan_objects = fsr_linux_scan_;
	s->fsr_.flags = s->flags & SHRINKER_FSRECLAIM_IO ? FSR_SHRINKER_IO : FSR_SHRINKER_FS;
	s->fsr_.private_data = s;
	int r = fsr_register_shrinker(&s->fsr_);
	s->fsr_registered_ = r == 0;
	return r;
}

/* Linux 6.0-6.6: a shrinker the caller owns */
__attribute__((unused, format(printf, 2, 3)))
static int register_shrinker(struct shrinker *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->fsr_name_, sizeof s->fsr_name_, fmt, ap);
	va_end(ap);
	if (!s->count_objects || !s->scan_objects)
		return -22;   /* -EINVAL */
	return fsr_linux_register_(s);
}

__attribute__((unused)) static void unregister_shrinker(struct shrinker *s)
{
	if (s->fsr_registered_)
		fsr_unregister_shrinker(&s->fsr_);
	s->fsr_registered_ = 0;
}

/* Linux 6.7+: allocated by the shrinker core, filled in, then registered */
__attribute__((unused, format(printf, 2, 3)))
static struct shrinker *shrinker_alloc(unsigned int flags, const char *fmt, ...)
{
	struct shrinker *s = (struct shrinker *)calloc(1, sizeof *s);
	va_list ap;
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s->fsr_name_, sizeof s->fsr_name_, fmt, ap);
	va_end(ap);
	s->flags = flags;
	s->seeks = DEFAULT_SEEKS;
	return s;
}

__attribute__((unused)) static void shrinker_register(struct shrinker *s)
{
	if (s && s->count_objects && s->scan_objects)
		fsr_linux_register_(s);
}

__attribute__((unused)) static void shrinker_free(struct shrinker *s)
{
	if (!s)
		return;
	unregister_shrinker(s);   /* after it returns the shrinker is never called */
	free(s);
}
#endif /* FSR_LINUX_NO_SHRINKER */

#undef FSR_LINUX_INLINE_

#ifdef __cplusplus
}
#endif
#endif /* FSRECLAIM_LINUX_H */
