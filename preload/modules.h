/* modules.h - the process's loaded objects as address ranges.
 *
 * Built from dl_iterate_phdr at start-up and again after each dlopen or
 * dlclose (fsr_modules_refresh); looked up with no lock and no call into
 * libc (fsr_module_of), so the hot path, a pass's gate and a report can
 * all ask "which object is this pc in?" without dladdr, which takes the
 * loader's lock.  A snapshot is never unmapped: a pointer returned stays
 * valid for the life of the process.
 */
#ifndef FSR_MODULES_H
#define FSR_MODULES_H
#include <stdint.h>

/* what an object is, for the gates and the reports */
#define FSR_MOD_MAIN    0x01u  /* the program itself */
#define FSR_MOD_SHIM    0x02u  /* libfsreclaim.so */
#define FSR_MOD_LIBC    0x04u  /* glibc's own objects: libc, ld.so, libresolv,
                                  libnss_*, gconv modules, libpthread/libdl/librt/libm stubs */
#define FSR_MOD_LIBFUSE 0x08u  /* libfuse.so.2, libfuse3.so.3 */
#define FSR_MOD_CXXRT   0x10u  /* libstdc++, libgcc_s: language runtimes */
#define FSR_MOD_RTLOAD  0x20u  /* loaded at run time (dlopen), not there when the
                                  first table was built at start-up */

#define FSR_BUILD_ID_MAX 20

struct fsr_module {
	uintptr_t lo, hi;        /* [lo, hi): all PT_LOAD segments, biased */
	uintptr_t bias;          /* dlpi_addr: pc - bias is the object's own offset */
	unsigned int flags;      /* FSR_MOD_* */
	unsigned char build_id_len;
	unsigned char build_id[FSR_BUILD_ID_MAX];   /* NT_GNU_BUILD_ID, when it has one */
	char path[256];          /* as the loader names it; the program's from /proc/self/exe */
};

/* Rebuild the table (takes the loader's lock through dl_iterate_phdr: call
 * it only where the thread is not inside the loader, e.g. after dlopen
 * returned).  Cheap when nothing changed. */
void fsr_modules_refresh(void) __attribute__((visibility("hidden")));
/* The object containing pc, or NULL.  Lock-free, async-signal-safe. */
const struct fsr_module *fsr_module_of(uintptr_t pc) __attribute__((visibility("hidden")));
/* The current snapshot: *n objects sorted by address, or NULL when none
 * was built yet.  Lock-free; the array stays valid for good.  A new
 * snapshot is a new pointer: callers that cache what they derived from
 * one compare it. */
const struct fsr_module *fsr_modules_all(int *n) __attribute__((visibility("hidden")));
/* build the table if none was built yet (the core linked into a program,
 * as the unit tests do, has no start-up build) */
void fsr_modules_ready(void) __attribute__((visibility("hidden")));
/* flags of pc's object, 0 when in none */
unsigned int fsr_module_flags(uintptr_t pc) __attribute__((visibility("hidden")));

#endif
