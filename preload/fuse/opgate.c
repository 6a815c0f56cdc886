/* opgate.c - the gate of a single-threaded file system and its table of
 * kernel ops in progress (opgate.h). */
#include "opgate.h"

void fsr_gate_enter(int *gate)
{
	for (;;) {
		int v = __atomic_load_n(gate, __ATOMIC_ACQUIRE);
		if (v & FSR_GATE_CB) {
			fsr_futex_wait(gate, v, 100000000ull);
			continue;
		}
		if (__atomic_compare_exchange_n(gate, &v, v + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return;
	}
}

void fsr_gate_open(int *gate)
{
	__atomic_store_n(gate, 0, __ATOMIC_RELEASE);
	fsr_futex_wake(gate, 0x7fffffff);
}

void fsr_gate_drain(int *gate)
{
	int v;
	while ((v = __atomic_load_n(gate, __ATOMIC_ACQUIRE)))
		fsr_futex_wait(gate, v, 1000000ull);
}

int fsr_inflight_add(uint64_t *tab, uint64_t ino)
{
	if (!ino)
		return -1;
	/* each thread starts at its own place: few collisions among readers */
	unsigned int start = (unsigned int)fsr_thread_self()->index * 7u;
	for (unsigned int k = 0; k < FSR_INFLIGHT_MAX; k++) {
		unsigned int i = (start + k) % FSR_INFLIGHT_MAX;
		uint64_t z = 0;
		if (!__atomic_load_n(&tab[i], __ATOMIC_RELAXED) &&
		    __atomic_compare_exchange_n(&tab[i], &z, ino, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return (int)i;
	}
	return -1;
}

int fsr_inflight_has(const uint64_t *tab, uint64_t ino)
{
	if (!ino)
		return 0;
	for (int i = 0; i < FSR_INFLIGHT_MAX; i++)
		if (__atomic_load_n(&tab[i], __ATOMIC_RELAXED) == ino)
			return 1;
	return 0;
}
