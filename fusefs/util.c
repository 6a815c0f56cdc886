/* util.c - what every part of txfs shares: the hazard mode, allocation
 * that never returns NULL, the clock.  Kept apart from main (txfs.c) so
 * that the journal-replay fuzz target links the filesystem without it. */
#include "txfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum hazard txfs_hazard = HAZARD_NONE;
const char *txfs_mountpoint;

static const char *hazard_names[] = {
	[HAZARD_NONE] = "none",
	[HAZARD_NOFS_MISSING] = "nofs-missing",
	[HAZARD_NOIO_MISSING] = "noio-missing",
	[HAZARD_TXN_NESTING] = "txn-nesting",
	[HAZARD_SCOPE_LEAK] = "scope-leak",
	[HAZARD_NEEDLESS_NOFS] = "needless-nofs",
	[HAZARD_OWN_MOUNT] = "own-mount",
	[HAZARD_GFP_KERNEL_UNDER_LOCK] = "gfp-kernel-under-lock",
	[HAZARD_VMALLOC_NOFS] = "vmalloc-nofs",
	[HAZARD_NEEDLESS_GFP_NOFS] = "needless-gfp-nofs",
};

int hazard_parse(const char *s, enum hazard *out)
{
	for (size_t i = 0; i < sizeof hazard_names / sizeof *hazard_names; i++)
		if (strcmp(s, hazard_names[i]) == 0) {
			*out = (enum hazard)i;
			return 0;
		}
	return -1;
}

const char *hazard_name(enum hazard h) { return hazard_names[h]; }

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "txfs: out of memory\n");
		abort();
	}
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p) {
		fprintf(stderr, "txfs: out of memory\n");
		abort();
	}
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "txfs: out of memory\n");
		abort();
	}
	return p;
}

void now_ts(struct timespec *ts) { clock_gettime(CLOCK_REALTIME, ts); }
