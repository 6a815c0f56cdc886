/* opctx.h - a thread's op context (t->fuse_ctx, t->op, t->op_locks,
 * t->op_depth), pushed when a FUSE op or a reclaim callback into one
 * begins and popped when it ends, by the libfuse transport: fuse_ops.c
 * (libfuse3 and libfuse2 low-level ops), fuse_state.c (their callbacks)
 * and fuse2.c (libfuse2's high level, its requests and callbacks).  It is
 * what reports ("in FUSE op"), fs-reentry and the threads an op starts,
 * scope-leak checks at op end, notify-in-op (the op-lock owner) and
 * replay's op key read.  No libfuse types: fuse2.c cannot include
 * libfuse3's headers. */
#ifndef FSR_OPCTX_H
#define FSR_OPCTX_H

#include "fsr.h"
#include <stddef.h>
#include <stdint.h>

/* What t->fuse_ctx points to begins with this: which struct it is (3:
 * fuse_shim.h's struct fsr_opctx, an op of a libfuse3 session or of a
 * libfuse2 low-level one; 2: fuse2.c's context of a libfuse2 high-level
 * request) and what the push saved. */
#define FSR_CTX_V3 3
#define FSR_CTX_V2 2
struct fsr_ctxhdr {
	int api;
	void *prev_ctx;                /* t->fuse_ctx before */
	const char *prev_op;
	uint64_t prev_op_locks;        /* t->op_locks before (oplocks.c) */
	int nscopes;                   /* t->nscopes at entry */
};
/* a context struct T begins as struct fsr_ctxhdr does */
#define FSR_CTXHDR_OF(T) \
	_Static_assert(offsetof(T, api) == offsetof(struct fsr_ctxhdr, api) && \
		       offsetof(T, prev_ctx) == offsetof(struct fsr_ctxhdr, prev_ctx) && \
		       offsetof(T, prev_op) == offsetof(struct fsr_ctxhdr, prev_op) && \
		       offsetof(T, prev_op_locks) == offsetof(struct fsr_ctxhdr, prev_op_locks) && \
		       offsetof(T, nscopes) == offsetof(struct fsr_ctxhdr, nscopes), #T " begins as fsr_ctxhdr")

/* ctx (of kind api) begins on t as op name, with op_locks its owner bit;
 * a kernel request (request 1) is counted in fs_ops, and the outermost
 * one starts replay's op key; a callback (0) is neither */
static inline void fsr_ctx_push(struct fsr_thread *t, void *ctx, int api, const char *name, uint64_t op_locks,
				int request)
{
	struct fsr_ctxhdr *h = ctx;
	h->api = api;
	h->prev_ctx = t->fuse_ctx;
	h->prev_op = t->op;
	h->prev_op_locks = t->op_locks;
	h->nscopes = t->nscopes;
	t->fuse_ctx = ctx;
	t->op = name;
	t->op_locks = op_locks;
	t->op_depth++;
	if (request) {
		if (t->op_depth == 1) {
			t->op_nscopes = t->nscopes;
			fsr_sched_op_begin(t);     /* replay's op key counts from here */
		}
		__atomic_add_fetch(&fsr_stat_fs_ops, 1, __ATOMIC_RELAXED);
	}
}

/* ctx ends: t as before its push (the threads it started leave it) */
static inline void fsr_ctx_pop(struct fsr_thread *t, const void *ctx)
{
	const struct fsr_ctxhdr *h = ctx;
	t->fuse_ctx = h->prev_ctx;
	t->op = h->prev_op;
	t->op_locks = h->prev_op_locks;
	t->op_depth--;
	fsr_op_left(t);
}

#endif
