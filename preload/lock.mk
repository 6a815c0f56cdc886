# Lock tracking and the fs_reclaim graph.
LOCK_CORE_SRCS = preload/lock.c preload/graph.c preload/lockdep.h
LOCK_WRAP_SRCS = preload/lockwrap.c
