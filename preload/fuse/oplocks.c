/* oplocks.c - the owner bits of lockdep.h's fsr_oplock_cls: which FUSE
 * connection's ops were seen taking a lock class.  One bit per wire
 * connection (keyed by its slot) and per libfuse session (keyed by the
 * session): an op sets its owner's bit in t->op_locks for as long as it
 * runs (fuse_ops.c fsr_op_enter/exit, wire_proto.c thread_begin), and the
 * lock paths mark every class taken meanwhile.  A libfuse session is
 * joined to the wire connection of its fd when its op writes a reply there
 * (wire_proto.c), so that a notification on that fd is checked against
 * the classes the session's ops took.  Bits are never given back: a slot or
 * session reused for a new connection of the same process keeps what the
 * old one's ops took (the same daemon code), and after 64 owners new ones
 * get none (their ops mark nothing: no notify-in-op from locks there). */
#include "fuse_shim.h"

#define OWNERS 64

static const void *owner_key[OWNERS];
static struct fsr_mutex owner_lock;

static __thread const void *last_key __attribute__((tls_model("initial-exec")));
static __thread uint64_t last_bit __attribute__((tls_model("initial-exec")));

uint64_t fsr_oplock_owner(const void *key)
{
	if (!key)
		return 0;
	if (key == last_key)
		return last_bit;
	uint64_t bit = 0;
	for (int i = 0; i < OWNERS && !bit; i++) {
		const void *k = __atomic_load_n(&owner_key[i], __ATOMIC_ACQUIRE);
		if (!k)
			break;
		if (k == key)
			bit = 1ull << i;
	}
	if (!bit) {
		fsr_mutex_lock(&owner_lock);
		for (int i = 0; i < OWNERS && !bit; i++) {
			const void *k = owner_key[i];
			if (k == key)
				bit = 1ull << i;
			else if (!k) {
				__atomic_store_n(&owner_key[i], key, __ATOMIC_RELEASE);
				bit = 1ull << i;
			}
		}
		fsr_mutex_unlock(&owner_lock);
	}
	last_key = key;
	last_bit = bit;
	return bit;
}
