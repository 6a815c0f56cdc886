/* gfp_passes.c - which shrinkers a reclaim pass runs for each GFP mask and
 * scope, under the shim (interval=1 mode=inline: every allocation that may
 * reclaim gets a pass).  An FS shrinker runs only where the effective mask
 * has __GFP_FS, an IO shrinker only with __GFP_IO, and nothing runs without
 * __GFP_DIRECT_RECLAIM (NOWAIT, ATOMIC) or in a NORECLAIM scope.
 *   gfp_passes current|legacy: under vmalloc_model=legacy __vmalloc
 *   reclaims as GFP_KERNEL whatever its mask says (outside a scope). */
#include <fsreclaim.h>
#include <stdio.h>
#include <string.h>

static unsigned long fs_scans, io_scans;
/* the block is kept here: an allocation whose result is never used may be
 * elided by the compiler (fsr_kmalloc(GFP_KERNEL) is malloc itself) */
static void *volatile sink;
static unsigned long cnt(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return 4; }
static unsigned long fs_scan(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{ (void)s; (void)gfp; fs_scans++; return nr; }
static unsigned long io_scan(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{ (void)s; (void)gfp; io_scans++; return nr; }
static struct fsr_shrinker fs_sh = { "passes-fs", cnt, fs_scan, FSR_SHRINKER_FS, NULL };
static struct fsr_shrinker io_sh = { "passes-io", cnt, io_scan, FSR_SHRINKER_IO, NULL };

enum { NONE, NOFS_SCOPE, NOIO_SCOPE, NORECLAIM_SCOPE, NSCOPE };
static const char *const scope_names[] = { "none", "nofs", "noio", "noreclaim" };
#define FS_ONLY (FSR___GFP_DIRECT_RECLAIM | FSR___GFP_FS)
/* expected "FS IO" ran, per mask and scope (written out, not computed) */
static const struct { const char *name; unsigned int gfp; const char *want[NSCOPE]; } table[] = {
	{ "GFP_KERNEL", FSR_GFP_KERNEL, { "FS IO", "IO", "-", "-" } },
	{ "GFP_NOFS", FSR_GFP_NOFS, { "IO", "IO", "-", "-" } },
	{ "GFP_NOIO", FSR_GFP_NOIO, { "-", "-", "-", "-" } },
	{ "GFP_ATOMIC", FSR_GFP_ATOMIC, { "-", "-", "-", "-" } },
	{ "GFP_NOWAIT", FSR_GFP_NOWAIT, { "-", "-", "-", "-" } },
	{ "GFP_KERNEL|__GFP_ZERO", FSR_GFP_KERNEL | FSR___GFP_ZERO, { "FS IO", "IO", "-", "-" } },
	{ "DIRECT_RECLAIM|__GFP_FS", FS_ONLY, { "FS", "-", "-", "-" } },
};
/* __vmalloc under vmalloc_model=legacy: the mask is ignored (GFP_KERNEL inside) */
static const char *const legacy_vmalloc[][NSCOPE] = {
	{ "FS IO", "IO", "-", "-" }, { "FS IO", "IO", "-", "-" }, { "FS IO", "IO", "-", "-" },
	{ "-", "-", "-", "-" }, { "-", "-", "-", "-" }, { "FS IO", "IO", "-", "-" }, { "FS IO", "IO", "-", "-" },
};

static unsigned int open_scope(int s)
{
	switch (s) {
	case NOFS_SCOPE: return memalloc_nofs_save();
	case NOIO_SCOPE: return memalloc_noio_save();
	case NORECLAIM_SCOPE: return memalloc_noreclaim_save();
	default: return 0;
	}
}

static void close_scope(int s, unsigned int f)
{
	switch (s) {
	case NOFS_SCOPE: memalloc_nofs_restore(f); break;
	case NOIO_SCOPE: memalloc_noio_restore(f); break;
	case NORECLAIM_SCOPE: memalloc_noreclaim_restore(f); break;
	}
}

static void ran(char *buf)
{
	snprintf(buf, 16, "%s%s%s", fs_scans ? "FS" : "", fs_scans && io_scans ? " " : "", io_scans ? "IO" : "");
	if (!buf[0])
		strcpy(buf, "-");
}

int main(int argc, char **argv)
{
	int legacy = argc > 1 && !strcmp(argv[1], "legacy");
	int bad = 0;
	fsr_register_shrinker(&fs_sh);
	fsr_register_shrinker(&io_sh);
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		for (int s = 0; s < NSCOPE; s++)
			for (int call = 0; call < 3; call++) {   /* kmalloc, kvmalloc, __vmalloc */
				char got[16];
				unsigned int f = open_scope(s);
				fs_scans = io_scans = 0;
				sink = call == 0 ? fsr_kmalloc(64, table[i].gfp) : call == 1 ?
					fsr_kvmalloc(64, table[i].gfp) : fsr___vmalloc(64, table[i].gfp);
				ran(got);
				close_scope(s, f);
				fsr_kfree(sink);
				const char *want = legacy && call ? legacy_vmalloc[i][s] : table[i].want[s];
				const char *cn = call == 0 ? "kmalloc" : call == 1 ? "kvmalloc" : "__vmalloc";
				if (strcmp(got, want)) {
					printf("FAIL %s(%s) in scope %s: ran %s, want %s\n", cn, table[i].name,
					       scope_names[s], got, want);
					bad = 1;
				} else
					printf("ok %s(%s) in scope %s: %s\n", cn, table[i].name, scope_names[s], got);
			}
	/* fsr_might_alloc teaches the graph and never reclaims */
	fs_scans = io_scans = 0;
	fsr_might_alloc(FSR_GFP_KERNEL);
	if (fs_scans || io_scans) {
		printf("FAIL fsr_might_alloc ran reclaim\n");
		bad = 1;
	}
	fsr_unregister_shrinker(&io_sh);
	fsr_unregister_shrinker(&fs_sh);
	return bad;
}
