/* hldir.h - the root directory of the libfuse3 high-level test daemons
 * (tests/fuse/lockfs.c, ctxcheck.c, tests/gfp/gfpfs.c), where all their
 * files stand.  Include it after <fuse3/fuse.h>. */
#ifndef FSR_TESTS_HLDIR_H
#define FSR_TESTS_HLDIR_H
#include <errno.h>
#include <string.h>

/* hl_fill_root: a READDIR of PATH, which must be the root: ".", "..",
 * then the file NAMES (NULL-terminated) */
static inline int hl_fill_root(const char *path, void *buf, fuse_fill_dir_t fill,
			       const char *const *names)
{
	if (strcmp(path, "/"))
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	for (; *names; names++)
		fill(buf, *names, NULL, 0, 0);
	return 0;
}
#endif
