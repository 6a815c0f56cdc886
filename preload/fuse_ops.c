/* fuse_ops.c - libfuse op wrapping. (stub) */
#include "fsr.h"

uint64_t fsr_stat_fs_ops;
unsigned long fsr_fuse_reclaim(struct fsr_pass *p) { (void)p; return 0; }
int fsr_fuse_reclaim_possible(struct fsr_thread *t) { (void)t; return 0; }
