/* graph.c - the fs_reclaim dependency graph. (stub) */
#include "lockdep.h"

void fsr_graph_might_alloc(struct fsr_thread *t, unsigned int gfp) { (void)t; (void)gfp; }
void fsr_graph_reclaim_enter(struct fsr_thread *t, unsigned int gfp) { t->in_reclaim++; t->reclaim_gfp = gfp; }
void fsr_graph_reclaim_exit(struct fsr_thread *t) { t->in_reclaim--; }
void fsr_lock_exclude_addr(const void *lock) { (void)lock; }
void fsr_graph_exit_checks(void) {}
