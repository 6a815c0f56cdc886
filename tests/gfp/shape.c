/* shape.c - fsreclaim.h reaches the shim in every shape of program:
 * built by shapes.sh as a PIE and a non-PIE executable, as a shared library
 * called by a program that does not include the header, and as C++.
 *   shape shim|noshim: the header's calls must reach the shim (scopes,
 *   shrinkers, the GFP calls), or be the documented no-ops without it. */
#include <fsreclaim.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long scans;
static void *volatile sink;   /* an unused block's malloc/free may be elided */
static unsigned long shape_count(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return 10; }
static unsigned long shape_scan(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	(void)s; (void)gfp;
	scans++;
	return nr;
}

#ifdef __cplusplus
extern "C"
#endif
int shape_run(int shim)
{
	struct fsr_shrinker sh = { "shape", shape_count, shape_scan, FSR_SHRINKER_FS, NULL };
	int bad = 0;
	int reg = fsr_register_shrinker(&sh);
	unsigned int f = memalloc_nofs_save();
	unsigned int ctx = fsr_current_gfp_context(FSR_GFP_KERNEL);
	memalloc_nofs_restore(f);
	void *cookie = fsr_transaction_begin("shape");
	fsr_transaction_end(cookie);
	/* interval=1 inline: this allocation's pass runs the FS shrinker */
	for (int i = 0; i < 4; i++)
		sink = fsr_kmalloc(100, FSR_GFP_KERNEL), fsr_kfree(sink);
	volatile size_t too_big = SIZE_MAX;   /* volatile: no compile-time size warning */
	errno = 0;
	void *huge = fsr_kmalloc(too_big, FSR_GFP_KERNEL);
	int huge_errno = errno;
	fsr_kfree(NULL);
	fsr_unregister_shrinker(&sh);
	printf("register=%d save=%u ctx=0x%x scans=%lu cookie=%s huge=%s/%d\n", reg, f, ctx, scans,
	       cookie ? "set" : "NULL", huge ? "non-NULL" : "NULL", huge_errno);
	if (reg != 0 || !cookie || huge || huge_errno != ENOMEM)
		bad = 1;
	if (shim && (f != 1 || ctx != FSR_GFP_NOFS || scans == 0))
		bad = 1;
	if (!shim && (f != 0 || ctx != FSR_GFP_KERNEL || scans != 0))
		bad = 1;
	return bad;
}

#ifndef SHAPE_LIB
int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	return shape_run(!strcmp(argv[1], "shim"));
}
#endif
