/* stub.c - what the shim's interposing part (init.c, fuse_ops.c) provides,
 * for lockdep_test, which links only the core library. */
#include "fsr.h"
#include <unistd.h>

uint64_t fsr_stat_fs_ops;

void fsr_thread_register(struct fsr_thread *t) { t->registered = 1; fsr_gettid(); }
void fsr_thread_unregister(struct fsr_thread *t) { t->registered = 0; }
void fsr_threads_foreach(void (*fn)(struct fsr_thread *, void *), void *arg)
{
	fn(fsr_thread_self(), arg);
}
void fsr_exit_now(void) { _exit(fsr_opt.exitcode); }
unsigned long fsr_fuse_reclaim(struct fsr_pass *p) { (void)p; return 0; }
int fsr_fuse_reclaim_possible(struct fsr_thread *t) { (void)t; return 0; }
