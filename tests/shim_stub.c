/* shim_stub.c - what the shim's interposing part (init.c, fuse_*.c)
 * provides to the core, for test programs that link the core library (or
 * core sources) without being preloaded: unit tests, lockdep and report
 * tests, fuzz targets and their replays. */
#include "fsr.h"
#include <unistd.h>

uint64_t fsr_stat_fs_ops;

void fsr_exit_now(void) { _exit(fsr_opt.exitcode); }
unsigned long fsr_fuse_reclaim(struct fsr_pass *p) { (void)p; return 0; }
int fsr_fuse_reclaim_possible(struct fsr_thread *t) { (void)t; return 0; }
int fsr_wire_site_in_libfuse(const void *site) { (void)site; return 0; }
