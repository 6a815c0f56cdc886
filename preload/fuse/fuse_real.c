/* fuse_real.c - the real libfuse function behind a wrapper.
 *
 * A daemon linked to libfuse has it in the global scope after the shim, where
 * dlvsym(RTLD_NEXT) finds it.  A daemon that loads libfuse at run time does
 * not: Python's ctypes (fusepy), a Cython module (pyfuse3, llfuse) or a Perl
 * XS module (Fuse.pm) linked to it are dlopen'ed RTLD_LOCAL, so libfuse sits
 * in a local scope that RTLD_NEXT never searches, while its callers' (and
 * libfuse's own) calls to exported names still reach the shim first, the
 * global scope coming first.  Then the library is found among those loaded:
 * by its soname (dlopen RTLD_NOLOAD, which never loads anything), else in
 * every loaded object (a private build under another file name).  Only at
 * the first call of each wrapper, with the thread busy (no pass).
 *
 * Such a libfuse serves an interpreter (Python, Perl): its ops are the
 * interpreter's trampolines, which can neither run inside the interpreter's
 * own allocations nor on a thread it does not know (the shim's reclaimer):
 * Fuse.pm's crash there with no interpreter on the thread.  So a libfuse
 * loaded at run time (modules.h FSR_MOD_RTLOAD) is left to the wire
 * transport (fsr_fuse_on_wire): its wrappers pass through, and the wire's
 * asynchronous passes put synthetic requests into the daemon's own reader,
 * which serves them in its normal loop.  Under fuse_transport=lib its
 * requests are op contexts only, and callbacks are off, said once
 * (fsr_fuse_no_callbacks). */
#include "fuse_shim.h"
#include "modules.h"
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#define SCAN_MAX 512

static void *own_base(void)
{
	Dl_info i;
	return dladdr((void *)own_base, &i) ? i.dli_fbase : NULL;
}

/* sym from the loaded object named file, not the shim's own definition */
static void *sym_in(const char *file, const char *name, const char *ver, void *own)
{
	void *h = dlopen(file, RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return NULL;
	void *p = dlvsym(h, name, ver);
	Dl_info i;
	if (p && dladdr(p, &i) && i.dli_fbase == own)
		p = NULL;
	dlclose(h);
	return p;
}

struct names { const char *v[SCAN_MAX]; int n; };

static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct names *nm = arg;
	if (info->dlpi_name && info->dlpi_name[0] && nm->n < SCAN_MAX)
		nm->v[nm->n++] = info->dlpi_name;   /* link_map's own string: stable while loaded */
	return 0;
}

int fsr_fuse_local_scope;

/* *local: found only outside the global scope */
static void *lookup(const char *name, const char *ver, int *local)
{
	void *p = dlvsym(RTLD_NEXT, name, ver);
	if (p)
		return p;
	*local = 1;
	void *own = own_base();
	const char *soname = strncmp(ver, "FUSE_2", 6) == 0 ? "libfuse.so.2" : "libfuse3.so.3";
	if ((p = sym_in(soname, name, ver, own)))
		return p;
	/* the names first, the dlopens after: none inside dl_iterate_phdr's lock */
	static struct names nm;          /* too large for a stack: one scan at a time */
	static struct fsr_mutex scan_lock;
	fsr_mutex_lock(&scan_lock);
	nm.n = 0;
	dl_iterate_phdr(collect, &nm);
	for (int k = 0; k < nm.n && !p; k++)
		p = sym_in(nm.v[k], name, ver, own);
	fsr_mutex_unlock(&scan_lock);
	return p;
}

void *fsr_fuse_real(const char *name, const char *version)
{
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	int local = 0;
	void *p = lookup(name, version, &local);
	t->busy--;
	if (p && local)
		__atomic_store_n(&fsr_fuse_local_scope, 1, __ATOMIC_RELEASE);
	if (!p)
		fsr_say("fsreclaim: cannot find the real %s@%s in any loaded libfuse", name, version);
	return p;
}

int fsr_fuse_on_wire(const void *real)
{
	if (fsr_opt.fuse_transport == FSR_TRANSPORT_WIRE)
		return 1;
	if (!real || fsr_opt.fuse_transport == FSR_TRANSPORT_LIB)
		return 0;
	return (fsr_module_flags((uintptr_t)real) & (FSR_MOD_LIBFUSE | FSR_MOD_RTLOAD)) ==
	       (FSR_MOD_LIBFUSE | FSR_MOD_RTLOAD);
}

int fsr_fuse_no_callbacks(void)
{
	static int said;
	if (!__atomic_load_n(&fsr_fuse_local_scope, __ATOMIC_ACQUIRE))
		return 0;
	if (!__atomic_load_n(&said, __ATOMIC_RELAXED) && !__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		fsr_say("fsreclaim: libfuse was loaded at run time into a local scope (ctypes, a Perl XS or"
			" Cython module): the daemon's FUSE ops are seen, but not called back from reclaim"
			" (an interpreter's ops cannot run inside its own allocations or on the shim's thread)");
	return 1;
}
