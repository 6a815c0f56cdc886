/* wire_bundled.c - the code of a libfuse linked into the daemon's own
 * object (mergerfs' libfuse 2.9 fork, ntfs-3g's fuse-lite, libfuse3.a).
 *
 * On the wire every request goes through the library's dispatcher, which
 * holds its own locks (the high level's f->lock and tree_lock) while it
 * allocates and takes them for every request, synthetic ones included.  A
 * dynamic libfuse's locks are kept out of the graph by their DSO (wire.c,
 * fsr_wire_site_in_libfuse); a bundled copy has no DSO, and Debian's
 * binaries have no symbols.  Its code is found by how it was linked:
 *
 *  - a static library is linked after the objects that use it, so its
 *    functions form one run in the object's .eh_frame_hdr table (sorted by
 *    address), the run that holds the call that reads the requests;
 *  - libfuse calls nothing but the C library, while the daemon's own code
 *    calls its other libraries (mergerfs: libstdc++, ntfs-3g: libntfs-3g).
 *
 * So the library is the run of functions around the request-reading call
 * in which no function calls (or jumps to) a PLT/GOT entry bound outside
 * glibc, and the run must end below at such a function: a daemon whose own
 * code calls only the C library cannot be told from its libfuse, and then
 * nothing is excluded.  The reading function's caller (libfuse's loop) must
 * be in the run too: a read in a syscall wrapper called from elsewhere
 * (glusterfs' sys_readv) is no libfuse.  Lock classes whose site is in the
 * run are excluded as a libfuse DSO's are.  x86-64 only (the call
 * decoding); learnt once per object, at the first INIT the wire reads from
 * it, before its reply (no other request, no pass yet), off every hot path.
 */
#include "wire.h"
#include "modules.h"
#include <dlfcn.h>
#include <elf.h>
#include <execinfo.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RANGES 4
static struct { uintptr_t lo, hi; } ranges[MAX_RANGES];
static int nranges;                  /* published with release */
static uintptr_t tried[MAX_RANGES];  /* objects (bias) already looked at */
static int ntried;
static struct fsr_mutex learn_lock;

int fsr_wire_site_in_bundled(const void *site)
{
	int n = __atomic_load_n(&nranges, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if ((uintptr_t)site >= ranges[i].lo && (uintptr_t)site < ranges[i].hi)
			return 1;
	return 0;
}

#if defined(__x86_64__)

struct obj {
	uintptr_t bias;
	const ElfW(Phdr) *ph;
	int phnum;
	uintptr_t pc;          /* the request-reading call, to find the object */
	int found;
};

static int find_obj(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct obj *o = arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + p->p_vaddr;
		if (p->p_type == PT_LOAD && o->pc >= a && o->pc < a + p->p_memsz) {
			o->bias = info->dlpi_addr;
			o->ph = info->dlpi_phdr;
			o->phnum = info->dlpi_phnum;
			o->found = 1;
			return 1;
		}
	}
	return 0;
}

/* the readable executable segment holding [a, a + n), or 0 */
static uintptr_t text_end(const struct obj *o, uintptr_t a, size_t n)
{
	for (int i = 0; i < o->phnum; i++) {
		const ElfW(Phdr) *p = &o->ph[i];
		uintptr_t lo = o->bias + p->p_vaddr, hi = lo + p->p_memsz;
		if (p->p_type == PT_LOAD && (p->p_flags & PF_X) && (p->p_flags & PF_R) && a >= lo && a + n <= hi)
			return hi;
	}
	return 0;
}

static int in_obj_data(const struct obj *o, uintptr_t a, size_t n)
{
	for (int i = 0; i < o->phnum; i++) {
		const ElfW(Phdr) *p = &o->ph[i];
		uintptr_t lo = o->bias + p->p_vaddr, hi = lo + p->p_memsz;
		if (p->p_type == PT_LOAD && (p->p_flags & PF_R) && a >= lo && a + n <= hi)
			return 1;
	}
	return 0;
}

/* The GOT slots bound outside glibc (and the shim, which stands in for
 * glibc's malloc and I/O): sorted addresses.  From the relocations the
 * loader processed: JUMP_SLOT (PLT calls) and GLOB_DAT (-fno-plt calls,
 * .plt.got). */
#define MAX_SLOTS 4096
static uintptr_t foreign[MAX_SLOTS];
static int nforeign;

static uintptr_t dyn_ptr(const struct obj *o, uintptr_t v)
{
	return v < o->bias ? v + o->bias : v;   /* glibc relocates d_ptr in place on most targets */
}

static int cmp_uptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

/* glibc, the vDSO its time calls resolve to (gettimeofday is an IFUNC),
 * or the shim standing in for glibc's malloc and I/O */
static int in_glibc(void *fn)
{
	const struct fsr_module *m = fsr_module_of((uintptr_t)fn);
	if (!m)
		return 1;     /* the vDSO when the table has no entry for it */
	const char *b = strrchr(m->path, '/');
	b = b ? b + 1 : m->path;
	return (m->flags & (FSR_MOD_LIBC | FSR_MOD_SHIM)) || strncmp(b, "linux-vdso", 10) == 0 ||
	       strncmp(b, "linux-gate", 10) == 0;
}

static void slots_of(const struct obj *o, const ElfW(Rela) *r, size_t bytes, const ElfW(Sym) *sym, const char *str)
{
	for (size_t i = 0; r && i < bytes / sizeof *r && nforeign < MAX_SLOTS; i++) {
		unsigned long type = ELF64_R_TYPE(r[i].r_info), si = ELF64_R_SYM(r[i].r_info);
		if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) || !si)
			continue;
		if (ELF64_ST_TYPE(sym[si].st_info) != STT_FUNC && ELF64_ST_TYPE(sym[si].st_info) != STT_NOTYPE &&
		    ELF64_ST_TYPE(sym[si].st_info) != STT_GNU_IFUNC)
			continue;
		if (sym[si].st_shndx != SHN_UNDEF)
			continue;     /* the object's own function */
		void *fn = dlsym(RTLD_DEFAULT, str + sym[si].st_name);
		if (!fn)
			continue;     /* weak and absent (__gmon_start__) */
		if (in_glibc(fn))
			continue;
		foreign[nforeign++] = o->bias + r[i].r_offset;
	}
}

static void foreign_slots(const struct obj *o)
{
	nforeign = 0;
	const ElfW(Dyn) *d = NULL;
	for (int i = 0; i < o->phnum; i++)
		if (o->ph[i].p_type == PT_DYNAMIC)
			d = (const ElfW(Dyn) *)(o->bias + o->ph[i].p_vaddr);
	if (!d)
		return;
	const ElfW(Rela) *jmprel = NULL, *rela = NULL;
	size_t jmpsz = 0, relasz = 0;
	const ElfW(Sym) *sym = NULL;
	const char *str = NULL;
	int pltrela = 1;
	for (; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_JMPREL: jmprel = (const void *)dyn_ptr(o, d->d_un.d_ptr); break;
		case DT_PLTRELSZ: jmpsz = d->d_un.d_val; break;
		case DT_PLTREL: pltrela = d->d_un.d_val == DT_RELA; break;
		case DT_RELA: rela = (const void *)dyn_ptr(o, d->d_un.d_ptr); break;
		case DT_RELASZ: relasz = d->d_un.d_val; break;
		case DT_SYMTAB: sym = (const void *)dyn_ptr(o, d->d_un.d_ptr); break;
		case DT_STRTAB: str = (const void *)dyn_ptr(o, d->d_un.d_ptr); break;
		}
	}
	if (!sym || !str)
		return;
	if (pltrela)
		slots_of(o, jmprel, jmpsz, sym, str);
	slots_of(o, rela, relasz, sym, str);
	qsort(foreign, (size_t)nforeign, sizeof foreign[0], cmp_uptr);
}

static int slot_foreign(uintptr_t slot)
{
	return bsearch(&slot, foreign, (size_t)nforeign, sizeof foreign[0], cmp_uptr) != NULL;
}

/* the GOT slot a PLT stub at t jumps through, 0: not a stub.  Stubs:
 * [endbr64] [bnd] jmp *slot(%rip) (.plt, .plt.sec, .plt.got) */
static uintptr_t stub_slot(const struct obj *o, uintptr_t t)
{
	if (!text_end(o, t, 11))
		return 0;
	const unsigned char *p = (const unsigned char *)t;
	if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa)
		p += 4;
	if (p[0] == 0xf2)
		p++;
	if (p[0] != 0xff || p[1] != 0x25)
		return 0;
	int32_t d;
	memcpy(&d, p + 2, 4);
	return (uintptr_t)(p + 6) + (uintptr_t)(intptr_t)d;
}

/* does [lo, hi) call or jump to code outside glibc?  Every byte offset is
 * tried (no decoder): a stray match can only make code look foreign, which
 * shrinks the library's run (fewer exclusions), never grows it */
static int calls_foreign(const struct obj *o, uintptr_t lo, uintptr_t hi)
{
	const unsigned char *b = (const unsigned char *)lo;
	for (uintptr_t k = 0; lo + k + 6 <= hi; k++) {
		int32_t d;
		uintptr_t slot = 0;
		if (b[k] == 0xe8 || b[k] == 0xe9) {            /* call/jmp rel32 to a stub */
			memcpy(&d, b + k + 1, 4);
			slot = stub_slot(o, lo + k + 5 + (uintptr_t)(intptr_t)d);
		} else if (b[k] == 0xff && (b[k + 1] == 0x15 || b[k + 1] == 0x25)) {   /* call/jmp *slot(%rip) */
			memcpy(&d, b + k + 2, 4);
			slot = lo + k + 6 + (uintptr_t)(intptr_t)d;
		}
		if (slot && in_obj_data(o, slot, sizeof(void *)) && slot_foreign(slot))
			return 1;
	}
	return 0;
}

/* .eh_frame_hdr's sorted table: n entries of (start, fde), datarel sdata4 */
struct fde_tab { const int32_t *t; size_t n; uintptr_t base; };

static int eh_table(const struct obj *o, struct fde_tab *ft)
{
	for (int i = 0; i < o->phnum; i++) {
		if (o->ph[i].p_type != PT_GNU_EH_FRAME)
			continue;
		const unsigned char *h = (const unsigned char *)(o->bias + o->ph[i].p_vaddr);
		/* version 1, eh_frame_ptr sdata4 pcrel, fde_count udata4, table datarel sdata4 */
		if (h[0] != 1 || h[1] != 0x1b || h[2] != 0x03 || h[3] != 0x3b)
			return 0;
		uint32_t n;
		memcpy(&n, h + 8, 4);
		ft->t = (const int32_t *)(const void *)(h + 12);
		ft->n = n;
		ft->base = (uintptr_t)h;
		return n > 0;
	}
	return 0;
}

static uintptr_t fn_start(const struct fde_tab *ft, size_t i)
{
	return ft->base + (uintptr_t)(intptr_t)ft->t[2 * i];
}

/* function i's code: up to the next function, or its segment's end */
static int fn_foreign(const struct obj *o, const struct fde_tab *ft, size_t i)
{
	uintptr_t lo = fn_start(ft, i), end = text_end(o, lo, 1);
	if (!end)
		return 1;     /* not readable code: no run across it */
	uintptr_t hi = i + 1 < ft->n ? fn_start(ft, i + 1) : end;
	return calls_foreign(o, lo, hi < end && hi > lo ? hi : end);
}

/* the function i holding pc: the last start <= pc */
static size_t fn_of(const struct fde_tab *ft, uintptr_t pc)
{
	size_t i = ft->n;
	for (size_t lo = 0, hi = ft->n; lo < hi;) {
		size_t m = lo + (hi - lo) / 2;
		if (fn_start(ft, m) <= pc) {
			i = m;
			lo = m + 1;
		} else {
			hi = m;
		}
	}
	return i;
}

/* pc: the request-reading call; up: its caller's return address (0: none) */
static void learn(uintptr_t pc, uintptr_t up, const char *path)
{
	struct obj o = { .pc = pc };
	dl_iterate_phdr(find_obj, &o);
	struct fde_tab ft;
	if (!o.found || !eh_table(&o, &ft))
		return;
	size_t i = fn_of(&ft, pc), j = up ? fn_of(&ft, up) : ft.n;
	if (i == ft.n || j == ft.n || !text_end(&o, up, 1))
		return;
	foreign_slots(&o);
	if (nforeign && fn_foreign(&o, &ft, i))
		return;
	size_t a = i, b = i;
	while (a > 0 && (!nforeign || !fn_foreign(&o, &ft, a - 1)))
		a--;
	while (b + 1 < ft.n && (!nforeign || !fn_foreign(&o, &ft, b + 1)))
		b++;
	/* a libfuse reads requests in its channel code and is called by its
	 * own loop; a syscall wrapper of the daemon's (glusterfs' sys_readv in
	 * libglusterfs, called from its fuse.so) is not, and is no libfuse */
	if (j < a || j > b)
		return;
	if (a == 0) {
		fsr_say("fsreclaim: %s reads /dev/fuse itself and its own code calls only the C library: "
			"a libfuse linked into it, if any, cannot be told from it: no lock class is kept out", path);
		return;
	}
	uintptr_t end = text_end(&o, fn_start(&ft, b), 1);
	uintptr_t hi = b + 1 < ft.n ? fn_start(&ft, b + 1) : end;
	int n = nranges;
	ranges[n].lo = fn_start(&ft, a);
	ranges[n].hi = hi;
	__atomic_store_n(&nranges, n + 1, __ATOMIC_RELEASE);
	unsigned int k = fsr_lock_exclude_code(ranges[n].lo, ranges[n].hi);
	fsr_say("fsreclaim: the libfuse linked into %s: %zu functions at offsets 0x%lx-0x%lx, "
		"its lock classes are kept out of the graph as a libfuse DSO's are (%u so far)",
		path, b - a + 1, (unsigned long)(ranges[n].lo - o.bias), (unsigned long)(hi - o.bias), k);
}

#endif

#if defined(__x86_64__)
/* the return address of the caller of the function that called read at pc */
static uintptr_t caller_of(uintptr_t pc)
{
	void *raw[48];
	int n = backtrace(raw, 48);
	for (int i = 0; i + 1 < n; i++)
		if ((uintptr_t)raw[i] == pc)
			return (uintptr_t)raw[i + 1];
	return 0;
}
#endif

void fsr_wire_bundled_learn(void *caller)
{
	uintptr_t pc = (uintptr_t)caller;
	const struct fsr_module *m = pc ? fsr_module_of(pc) : NULL;
	if (!m || (m->flags & (FSR_MOD_LIBFUSE | FSR_MOD_LIBC | FSR_MOD_SHIM | FSR_MOD_CXXRT)))
		return;
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	fsr_mutex_lock(&learn_lock);
	int seen = 0;
	for (int i = 0; i < ntried; i++)
		seen |= tried[i] == m->bias;
	if (!seen && ntried < MAX_RANGES) {
		tried[ntried++] = m->bias;
#if defined(__x86_64__)
		learn(pc, caller_of(pc), m->path);
#endif
	}
	fsr_mutex_unlock(&learn_lock);
	t->busy--;
}
