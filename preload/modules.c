/* modules.c - the loaded-object table (modules.h).
 *
 * A snapshot is one mmap'd block, sorted by address, published with a
 * release store; readers binary-search whatever snapshot they loaded.  Old
 * snapshots are kept (a process dlopens a handful of times), so a reader
 * never sees memory go away under it.  mmap, not malloc: the table is
 * rebuilt from inside the allocator's own callers (dlopen's wrappers), and
 * must not recurse into a pass.
 */
#include "fsr.h"
#include "modules.h"
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct modtab {
	int n, cap;
	unsigned long long adds, subs;   /* the loader's counters when built */
	struct fsr_module m[];
};

static struct modtab *cur;               /* published snapshot */
static struct modtab *first;             /* the start-up one: what is not in it was loaded at run time */
static int refresh_lock;                 /* one builder at a time (spin) */

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static unsigned int classify(const char *path)
{
	const char *b = base_name(path);
	if (starts(b, "libc.so") || starts(b, "ld-linux") || starts(b, "ld64.so") ||
	    starts(b, "libresolv.so") || starts(b, "libnss_") || starts(b, "libpthread.so") ||
	    starts(b, "libdl.so") || starts(b, "librt.so") || starts(b, "libm.so") ||
	    starts(b, "libanl.so") || starts(b, "libutil.so") || strstr(path, "/gconv/"))
		return FSR_MOD_LIBC;
	if (starts(b, "libfuse.so") || starts(b, "libfuse3.so"))
		return FSR_MOD_LIBFUSE;
	if (starts(b, "libstdc++.so") || starts(b, "libgcc_s.so"))
		return FSR_MOD_CXXRT;
	return 0;
}

static void build_id_of(struct dl_phdr_info *info, struct fsr_module *m)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof *nh;
			const char *desc = name + ((nh->n_namesz + 3) & ~3u);
			const char *next = desc + ((nh->n_descsz + 3) & ~3u);
			if (next > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0) {
				unsigned n = nh->n_descsz < FSR_BUILD_ID_MAX ? nh->n_descsz : FSR_BUILD_ID_MAX;
				memcpy(m->build_id, desc, n);
				m->build_id_len = (unsigned char)n;
				return;
			}
			p = next;
		}
	}
}

struct build { struct modtab *t; int first; };

/* the object at [lo, hi) named path was there at start-up */
static int in_first(uintptr_t lo, uintptr_t hi, const char *path)
{
	const struct modtab *f = first;
	int a = 0, b = f ? f->n - 1 : -1;
	while (a <= b) {
		int mid = (a + b) / 2;
		const struct fsr_module *m = &f->m[mid];
		if (lo < m->lo)
			b = mid - 1;
		else if (lo > m->lo)
			a = mid + 1;
		else
			return m->hi == hi && strcmp(m->path, path) == 0;
	}
	return 0;
}

static int collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct build *b = arg;
	struct modtab *t = b->t;
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
		t->adds = info->dlpi_adds;
		t->subs = info->dlpi_subs;
	}
	int is_first = b->first;
	b->first = 0;
	if (t->n >= t->cap)
		return 0;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
		if (s < lo) lo = s;
		if (e > hi) hi = e;
	}
	if (lo >= hi)
		return 0;
	struct fsr_module *m = &t->m[t->n];
	memset(m, 0, sizeof *m);
	const char *name = info->dlpi_name;
	if (is_first && (!name || !name[0])) {
		ssize_t n = readlink("/proc/self/exe", m->path, sizeof m->path - 1);
		if (n > 0)
			m->path[n] = 0;
		else
			strcpy(m->path, "/proc/self/exe");
		m->flags = FSR_MOD_MAIN;
	} else {
		if (!name || !name[0])
			strcpy(m->path, "[vdso]");
		else {
			size_t n = strlen(name);
			if (n >= sizeof m->path)
				n = sizeof m->path - 1;
			memcpy(m->path, name, n);
			m->path[n] = 0;
		}
		m->flags = classify(m->path);
	}
	uintptr_t self = (uintptr_t)&fsr_modules_refresh;
	if (self >= lo && self < hi)
		m->flags |= FSR_MOD_SHIM;   /* the unit tests link the shim into the program */
	if (first && !in_first(lo, hi, m->path))
		m->flags |= FSR_MOD_RTLOAD;
	m->lo = lo;
	m->hi = hi;
	m->bias = info->dlpi_addr;
	build_id_of(info, m);
	t->n++;
	return 0;
}

static int cmp_lo(const struct fsr_module *a, const struct fsr_module *b)
{
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static int count_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info; (void)size;
	(*(int *)arg)++;
	return 0;
}

struct counters { unsigned long long adds, subs; };

static int counters_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct counters *c = arg;
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
		c->adds = info->dlpi_adds;
		c->subs = info->dlpi_subs;
	}
	return 1;   /* the counters are the same in every entry */
}

void fsr_modules_refresh(void)
{
	struct counters c = { 0, 0 };
	dl_iterate_phdr(counters_cb, &c);
	struct modtab *old = __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
	if (old && old->adds == c.adds && old->subs == c.subs && c.adds)
		return;
	while (__atomic_exchange_n(&refresh_lock, 1, __ATOMIC_ACQUIRE))
		;
	int n = 0;
	dl_iterate_phdr(count_cb, &n);
	int cap = n + 16;
	size_t sz = sizeof(struct modtab) + (size_t)cap * sizeof(struct fsr_module);
	struct modtab *t = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t != MAP_FAILED) {
		t->cap = cap;
		struct build b = { t, 1 };
		dl_iterate_phdr(collect_cb, &b);
		/* insertion sort: a few dozen objects, no qsort (it may allocate) */
		for (int i = 1; i < t->n; i++) {
			struct fsr_module x = t->m[i];
			int j = i - 1;
			while (j >= 0 && cmp_lo(&t->m[j], &x) > 0) {
				t->m[j + 1] = t->m[j];
				j--;
			}
			t->m[j + 1] = x;
		}
		__atomic_store_n(&cur, t, __ATOMIC_RELEASE);
		if (!first)
			first = t;     /* only builders read it, under refresh_lock */
	}
	__atomic_store_n(&refresh_lock, 0, __ATOMIC_RELEASE);
}

const struct fsr_module *fsr_module_of(uintptr_t pc)
{
	const struct modtab *t = __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
	if (!t)
		return NULL;
	int lo = 0, hi = t->n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const struct fsr_module *m = &t->m[mid];
		if (pc < m->lo)
			hi = mid - 1;
		else if (pc >= m->hi)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

const struct fsr_module *fsr_modules_all(int *n)
{
	const struct modtab *t = __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
	*n = t ? t->n : 0;
	return t ? t->m : NULL;
}

unsigned int fsr_module_flags(uintptr_t pc)
{
	const struct fsr_module *m = fsr_module_of(pc);
	return m ? m->flags : 0;
}

void fsr_modules_ready(void)
{
	if (!__atomic_load_n(&cur, __ATOMIC_ACQUIRE))
		fsr_modules_refresh();
}
