# libfuse 3/2 op wrapping, reclaim into FUSE ops, own-mount re-entry.
FUSE_SRCS = preload/fuse/fuse_ops.c preload/fuse/fuse317.c preload/fuse/fuse_req.c preload/fuse/fuse_real.c preload/fuse/fuse_state.c \
	preload/fuse/ledger.c preload/fuse/ledger.h \
	preload/fuse/reentry.c preload/fuse/fuse_shim.h \
	preload/fuse/wire.c preload/fuse/wire_proto.c preload/fuse/wire_splice.c preload/fuse/wire_static.c preload/fuse/wire_bundled.c preload/fuse/wire_poll.c preload/fuse/wire_syscall.c preload/fuse/wire.h \
	preload/fuse/oplocks.c preload/fuse/opgate.c preload/fuse/opgate.h preload/fuse/opctx.h
# libfuse2 (high and low level) needs its headers; without them a stub
if HAVE_FUSE2
FUSE_SRCS += preload/fuse/fuse2.c preload/fuse/fuse2_ll.c preload/fuse/fuse2_abi.h
else
FUSE_SRCS += preload/fuse/fuse2_none.c
endif
EXTRA_DIST += preload/fuse/fuse2.c preload/fuse/fuse2_ll.c preload/fuse/fuse2_abi.h preload/fuse/fuse2_none.c
