/* lockdep.h - lock classes and the fs_reclaim graph (lock.c, graph.c). */
#ifndef FSR_LOCKDEP_H
#define FSR_LOCKDEP_H
#include "fsr.h"
#endif
