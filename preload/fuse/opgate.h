/* opgate.h - what a libfuse-transport file system keeps so that its
 * callbacks never meet an op they must not: the gate of a single-threaded
 * one (its ops enter it, a callback closes it while none runs, so neither
 * runs during the other) and the inodes of the kernel ops in progress (a
 * callback skips a handle whose inode a kernel op works on now).  Shared
 * by fuse_ops.c's sessions (libfuse3, libfuse2 low level; fuse_state.c's
 * callbacks) and fuse2.c's libfuse2 high level.  No libfuse types: fuse2.c
 * cannot include libfuse3's headers. */
#ifndef FSR_OPGATE_H
#define FSR_OPGATE_H

#include "fsr.h"
#include <stdint.h>

#define FSR_GATE_CB       0x40000000   /* in the gate: a callback runs */
#define FSR_INFLIGHT_MAX  256          /* in-flight kernel ops tracked per file system */

/* an op enters (waits while a callback runs) and leaves */
void fsr_gate_enter(int *gate) FSR_HIDDEN;
static inline void fsr_gate_exit(int *gate)
{
	__atomic_sub_fetch(gate, 1, __ATOMIC_ACQ_REL);
}
/* a callback closes the gate if no op is in it (1), and opens it again */
static inline int fsr_gate_close(int *gate)
{
	int z = 0;
	return __atomic_compare_exchange_n(gate, &z, FSR_GATE_CB, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
void fsr_gate_open(int *gate) FSR_HIDDEN;
/* a multi-threaded loop takes over: wait for the ops begun single-threaded */
void fsr_gate_drain(int *gate) FSR_HIDDEN;

/* ino's kernel op begins: its slot in tab (FSR_INFLIGHT_MAX), -1 for none
 * (ino 0, or the table full: a handle may then be called back while that op
 * runs, as without the table); it ends: the slot freed */
int fsr_inflight_add(uint64_t *tab, uint64_t ino) FSR_HIDDEN;
static inline void fsr_inflight_del(uint64_t *tab, int slot)
{
	if (slot >= 0)
		__atomic_store_n(&tab[slot], 0, __ATOMIC_RELEASE);
}
int fsr_inflight_has(const uint64_t *tab, uint64_t ino) FSR_HIDDEN;

#endif
