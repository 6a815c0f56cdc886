# libfuse 3/2 op wrapping, reclaim into FUSE ops, own-mount re-entry.
FUSE_SRCS = preload/fuse_ops.c preload/fuse_req.c preload/fuse_state.c \
	preload/fuse2.c preload/reentry.c preload/fuse_shim.h
