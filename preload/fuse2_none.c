/* fuse2_none.c - built when libfuse2's headers are missing: libfuse2
 * daemons run unchanged under the shim, without op contexts or callbacks. */
#include "fsr.h"

int fsr_fuse2_reclaim_possible(struct fsr_thread *t) { (void)t; return 0; }
unsigned long fsr_fuse2_reclaim(struct fsr_pass *p) { (void)p; return 0; }
