/* libcwrap.c - libc entry points whose insides must never see a pass.
 *
 * dlopen runs constructors under the loader's lock; dl_iterate_phdr runs
 * its callback under the lock of the loader's object list; getaddrinfo and iconv_open load NSS and gconv
 * modules (dlopen inside libc, which no wrapper sees).  An allocation made
 * while the thread is inside one of them gets no pass (policy.c asks
 * fsr_stack_alloc_in_libc, which reads t->in_libc): a callback that needed
 * the loader's lock, or the resolver's, would wait for this very thread.
 *
 * After dlopen and dlclose return, the module table (modules.h) is built
 * again: the reports and the pass gate find objects there, never through
 * the loader.
 *
 * dlsym is not wrapped: with RTLD_NEXT it looks up the symbol after its
 * caller's object, which a wrapper would change; its allocations are the
 * loader's own, which the gate already knows by their caller.
 *
 * libdw loads libdebuginfod (and libcurl, gnutls, ...) when
 * DEBUGINFOD_URLS is set, to fetch debug info over the network from
 * inside a report, under the report's locks.  That dlopen, made by the
 * shim's own symbolizer, always fails here.  With debuginfod=1 the shim
 * loads it itself at start-up (fsr_debuginfod_open) and fetches before a
 * report takes any lock (symbols.c). */
#include "fsr.h"
#include "modules.h"
#include <dlfcn.h>
#include <iconv.h>
#include <link.h>
#include <netdb.h>
#include <string.h>

/* busy and errno kept while dlsym runs (util.c) */
#define REAL(name) ((__typeof__(real_##name))fsr_dlsym_next((void **)&real_##name, #name))

static void *(*real_dlopen)(const char *, int);
static int (*real_dlclose)(void *);
static int (*real_dladdr)(const void *, Dl_info *);
static int (*real_dladdr1)(const void *, Dl_info *, void **, int);
static int (*real_dl_iterate_phdr)(int (*)(struct dl_phdr_info *, size_t, void *), void *);
static int (*real_getaddrinfo)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
static iconv_t (*real_iconv_open)(const char *, const char *);

static int is_debuginfod(const char *file)
{
	const char *b = strrchr(file, '/');
	b = b ? b + 1 : file;
	return !strncmp(b, "libdebuginfod", 13);
}

/* dlopen("libx.so") searches the calling object's DT_RPATH and DT_RUNPATH
 * ($ORIGIN relative to it); called from here, the caller would be the
 * shim.  So a bare name is first looked up the way the loader would for
 * the real caller: already loaded (by soname), then that object's search
 * path as the loader itself reports it (dlinfo RTLD_DI_SERINFO: RPATH,
 * LD_LIBRARY_PATH, RUNPATH, system directories, expanded), and only then
 * the plain call (the ld.so cache). */
static void *dlopen_for(const char *file, int mode, const void *caller)
{
	Dl_info di;
	struct link_map *lm = NULL;
	if (!file || strchr(file, '/') || !caller)
		return NULL;
	void *h = real_dlopen(file, mode | RTLD_NOLOAD);
	if (h) {
		void *r = real_dlopen(file, mode);   /* the caller's mode and reference */
		real_dlclose(h);
		return r;
	}
	if (!real_dladdr1 || !real_dladdr1(caller, &di, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return NULL;
	if (fsr_module_flags((uintptr_t)caller) & FSR_MOD_SHIM)
		return NULL;
	Dl_serinfo size;
	if (dlinfo(lm, RTLD_DI_SERINFOSIZE, &size) || size.dls_size > 65536)
		return NULL;
	Dl_serinfo *si = fsr_alloc(size.dls_size);
	if (!si)
		return NULL;
	si->dls_size = size.dls_size;
	si->dls_cnt = size.dls_cnt;
	if (dlinfo(lm, RTLD_DI_SERINFO, si) == 0) {
		size_t fl = strlen(file);
		for (unsigned int i = 0; i < si->dls_cnt && !h; i++) {
			const char *dir = si->dls_serpath[i].dls_name;
			size_t dl = strlen(dir);
			char path[4096];
			if (!dl || dl + fl + 2 > sizeof path)
				continue;
			memcpy(path, dir, dl);
			path[dl] = '/';
			memcpy(path + dl + 1, file, fl + 1);
			h = real_dlopen(path, mode);
		}
	}
	fsr_free(si);
	return h;
}

/* dlopen for caller (NULL: the shim's own), marked as inside the loader;
 * the module table is built again once the outermost one returned */
static void *open_marked(const char *file, int mode, const void *caller)
{
	struct fsr_thread *t = &fsr_self;
	t->in_libc++;
	void *h = dlopen_for(file, mode, caller);
	if (!h)
		h = real_dlopen(file, mode);
	t->in_libc--;
	if (h && !t->in_libc) {
		fsr_busy_enter(t);
		fsr_modules_refresh();
		t->busy--;
	}
	return h;
}

FSR_EXPORT void *dlopen(const char *file, int mode)
{
	/* the shim's symbolizer (busy) asks libdw, which asks for debuginfod */
	if (file && fsr_self.busy && is_debuginfod(file))
		return NULL;
	if (!REAL(dlopen))
		return NULL;
	return open_marked(file, mode, __builtin_return_address(0));
}

/* debuginfod=1: the shim's own handle of libdebuginfod, at start-up */
void *fsr_debuginfod_open(void)
{
	return REAL(dlopen) ? open_marked("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL, NULL) : NULL;
}

FSR_EXPORT int dlclose(void *h)
{
	struct fsr_thread *t = &fsr_self;
	if (!REAL(dlclose))
		return -1;
	t->in_libc++;
	int r = real_dlclose(h);
	t->in_libc--;
	if (!t->in_libc) {
		fsr_busy_enter(t);
		fsr_modules_refresh();
		t->busy--;
	}
	return r;
}

FSR_EXPORT int dladdr(const void *addr, Dl_info *info)
{
	struct fsr_thread *t = &fsr_self;
	if (!REAL(dladdr))
		return 0;
	t->in_libc++;
	int r = real_dladdr(addr, info);
	t->in_libc--;
	return r;
}

FSR_EXPORT int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
	struct fsr_thread *t = &fsr_self;
	if (!REAL(dl_iterate_phdr))
		return 0;
	t->in_libc++;
	int r = real_dl_iterate_phdr(cb, arg);
	t->in_libc--;
	return r;
}

FSR_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			   struct addrinfo **res)
{
	struct fsr_thread *t = &fsr_self;
	if (!REAL(getaddrinfo))
		return EAI_SYSTEM;
	t->in_libc++;
	int r = real_getaddrinfo(node, service, hints, res);
	t->in_libc--;
	return r;
}

FSR_EXPORT iconv_t iconv_open(const char *to, const char *from)
{
	struct fsr_thread *t = &fsr_self;
	if (!REAL(iconv_open))
		return (iconv_t)-1;
	t->in_libc++;
	iconv_t r = real_iconv_open(to, from);
	t->in_libc--;
	return r;
}

/* look the real functions up once, early, from a thread marked busy: a
 * lazy dlsym could run inside the unwinder or an allocation */
__attribute__((constructor(101))) static void libcwrap_init(void)
{
	fsr_busy_enter(&fsr_self);
	(void)REAL(dlopen);
	(void)REAL(dlclose);
	(void)REAL(dladdr);
	(void)REAL(dladdr1);
	(void)REAL(dl_iterate_phdr);
	(void)REAL(getaddrinfo);
	(void)REAL(iconv_open);
	fsr_self.busy--;
}
