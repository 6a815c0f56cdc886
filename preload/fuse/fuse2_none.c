/* fuse2_none.c - built when libfuse2's headers are missing: libfuse2
 * daemons run unchanged under the shim, without op contexts or callbacks. */
#include "fsr.h"

int fsr_fuse2_reclaim_possible(struct fsr_thread *t) { (void)t; return 0; }
struct fsr_ids;
unsigned long fsr_fuse2_reclaim(struct fsr_pass *p, const struct fsr_ids *ids) { (void)p; (void)ids; return 0; }
int fsr_fuse2_ids(void *ctx, struct fsr_ids *ids) { (void)ctx; (void)ids; return 0; }
