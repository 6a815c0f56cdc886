# libfuse 3/2 op wrapping, reclaim into FUSE ops, own-mount re-entry.
FUSE_SRCS = preload/fuse_ops.c preload/fuse317.c preload/fuse_req.c preload/fuse_state.c \
	preload/reentry.c preload/fuse_shim.h
# libfuse2 (high and low level) needs its headers; without them a stub
if HAVE_FUSE2
FUSE_SRCS += preload/fuse2.c preload/fuse2_ll.c preload/fuse2_abi.h
else
FUSE_SRCS += preload/fuse2_none.c
endif
EXTRA_DIST += preload/fuse2.c preload/fuse2_ll.c preload/fuse2_abi.h preload/fuse2_none.c
