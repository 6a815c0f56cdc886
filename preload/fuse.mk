# libfuse 3/2 op wrapping, reclaim into FUSE ops, own-mount re-entry.
FUSE_SRCS = preload/fuse_ops.c
