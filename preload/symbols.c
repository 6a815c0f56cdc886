/* symbols.c - pcs and data addresses to names, with elfutils libdw.
 *
 * One Dwfl over the live process (the loader's objects), made lazily on
 * the first report and reported again when a pc falls in no known module
 * (a library dlopen'd since).  libdw allocates: callers mark their thread
 * busy so that the shim's malloc passes its allocations straight through,
 * and only reports (never the hot path) come here.
 *
 * For a pc: function names from DWARF (static and inlined functions
 * included: every DW_TAG_inlined_subroutine that contains the pc becomes a
 * frame of its own, with the call site as the caller's line), FILE:LINE
 * from the line table; without debug info the symbol table's name and
 * offset, and the module and offset. */
#include "symbols.h"
#include <dlfcn.h>
#include <link.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <dwarf.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fsr_mutex sym_lock;
static Dwfl *dwfl;
static char *debuginfo_path;
static int refresh_allowed = 1;   /* one re-read of the modules per report */

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static void copy(char *dst, size_t len, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= len)
		n = len - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
}

static const char *base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s ? s + 1 : p;
}

/* The loaded objects as the dynamic loader sees them (dl_iterate_phdr),
 * not as /proc/PID/maps shows files: a file that is also mmap'd as data
 * (a sanitizer runtime maps libc.so.6 that way) would otherwise stretch a
 * module over unrelated libraries. */
#define MAX_OBJS 1024
struct obj { uintptr_t bias; char path[512]; };
static struct obj objs[MAX_OBJS];
static int nobjs;

static unsigned long long cur_adds, cur_subs, seen_adds, seen_subs;

static int collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)arg;
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
		cur_adds = info->dlpi_adds;
		cur_subs = info->dlpi_subs;
	}
	if (nobjs >= MAX_OBJS)
		return 0;
	const char *name = info->dlpi_name;
	int has_load = 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD)
			has_load = 1;
	if (!has_load)
		return 0;
	struct obj *o = &objs[nobjs];
	if (!name || !name[0]) {
		if (nobjs)      /* only the first empty name is the program */
			return 0;
		ssize_t n = readlink("/proc/self/exe", o->path, sizeof o->path - 1);
		if (n <= 0)
			copy(o->path, sizeof o->path, "/proc/self/exe");
		else
			o->path[n] = 0;
	} else {
		if (!strchr(name, '/'))
			return 0;   /* the vDSO and other objects with no file */
		copy(o->path, sizeof o->path, name);
	}
	o->bias = (uintptr_t)info->dlpi_addr;
	nobjs++;
	return 0;
}

/* (Re)build the Dwfl when the loader's set of objects changed since the
 * last time (dlopen/dlclose).  libdwfl cannot report the same ELF module
 * again into a live Dwfl ("address range overlaps"), so a change means a
 * fresh Dwfl; that is rare, and nothing keeps pointers into the old one. */
static int report_modules(void)
{
	nobjs = 0;
	cur_adds = cur_subs = 0;
	dl_iterate_phdr(collect_cb, NULL);
	if (dwfl && cur_adds == seen_adds && cur_subs == seen_subs && cur_adds)
		return 1;   /* nothing new */
	if (dwfl)
		dwfl_end(dwfl);
	dwfl = dwfl_begin(&callbacks);
	if (!dwfl)
		return -1;
	dwfl_report_begin(dwfl);
	for (int i = 0; i < nobjs; i++)
		dwfl_report_elf(dwfl, base_name(objs[i].path), objs[i].path, -1,
				(GElf_Addr)objs[i].bias, true);
	dwfl_report_end(dwfl, NULL, NULL);
	seen_adds = cur_adds;
	seen_subs = cur_subs;
	return 0;
}

/* the module of addr; look at the loader's objects again (at most once
 * per report) if it is in none */
static Dwfl_Module *module_of(Dwarf_Addr addr, int refresh)
{
	if (!dwfl && report_modules() < 0)
		return NULL;
	Dwfl_Module *m = dwfl_addrmodule(dwfl, addr);
	if (!m && refresh && refresh_allowed) {
		refresh_allowed = 0;
		if (report_modules() == 0)
			m = dwfl_addrmodule(dwfl, addr);
	}
	return m;
}

void fsr_sym_new_report(void)
{
	__atomic_store_n(&refresh_allowed, 1, __ATOMIC_RELAXED);
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *n = NULL;
	/* C++ and friends: prefer the linkage name's demangled form is left to
	 * the reader; C names are plain */
	if (dwarf_attr_integrate(die, DW_AT_name, &a))
		n = dwarf_formstring(&a);
	return n;
}

static void fill_module(struct fsr_sym *s, Dwfl_Module *m, Dwarf_Addr pc)
{
	Dwarf_Addr start = 0;
	const char *name = dwfl_module_info(m, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	copy(s->module, sizeof s->module, base_name(name));
	s->mod_off = (uintptr_t)(pc - start);
}

int fsr_sym_pc(const void *pcv, struct fsr_sym *out, int max)
{
	if (max <= 0)
		return 0;
	uintptr_t pc = (uintptr_t)pcv;
	memset(&out[0], 0, sizeof out[0]);
	out[0].pc = pc;
	if (!pc)
		return 1;
	/* a return address: look up the call instruction before it */
	Dwarf_Addr addr = pc - 1;
	int n = 0;
	fsr_mutex_lock(&sym_lock);
	Dwfl_Module *m = module_of(addr, 1);
	if (!m)
		goto out;
	fill_module(&out[0], m, pc);

	/* symbol table: name and offset (also what we fall back to) */
	GElf_Sym sym;
	GElf_Off off = 0;
	const char *symname = dwfl_module_addrinfo(m, addr, &off, &sym, NULL, NULL, NULL);
	if (symname) {
		copy(out[0].func, sizeof out[0].func, symname);
		out[0].func_off = (uintptr_t)off + 1;
		out[0].has_off = 1;
	}

	Dwfl_Line *l = dwfl_module_getsrc(m, addr);
	const char *src = NULL;
	int line = 0;
	if (l)
		src = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);

	Dwarf_Addr bias = 0;
	Dwarf_Die *cu = dwfl_module_addrdie(m, addr, &bias);
	Dwarf_Die *scopes = NULL;
	int ns = cu ? dwarf_getscopes(cu, addr - bias, &scopes) : 0;
	if (ns > 0) {
		/* dwarf_getscopes stops at an inlined call's abstract origin; the
		 * DIE tree above the innermost scope has the concrete callers */
		Dwarf_Die inner = scopes[0];
		Dwarf_Die *chain = NULL;
		int nc = dwarf_getscopes_die(&inner, &chain);
		if (nc > 0) {
			free(scopes);
			scopes = chain;
			ns = nc;
		} else {
			free(chain);
		}
	}
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	if (cu && dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
		files = NULL;
	for (int i = 0; i < ns && n < max; i++) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		struct fsr_sym *s = &out[n];
		if (n > 0) {
			memset(s, 0, sizeof *s);
			s->pc = pc;
			s->mod_off = out[0].mod_off;
			memcpy(s->module, out[0].module, sizeof s->module);
		}
		const char *fn = die_name(&scopes[i]);
		if (fn)
			copy(s->func, sizeof s->func, fn);
		/* the symbol's offset applies only to the outermost symbol's own name */
		s->has_off = n == 0 && symname && (!fn || !strcmp(fn, symname));
		copy(s->file, sizeof s->file, src);
		s->line = src ? line : 0;
		n++;
		if (tag == DW_TAG_subprogram)
			break;
		/* the caller of this inlined call: its call site */
		out[n - 1].inlined = 1;
		Dwarf_Attribute a;
		Dwarf_Word w;
		src = NULL;
		line = 0;
		if (files && dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &a), &w) == 0 && w < nfiles)
			src = dwarf_filesrc(files, w, NULL, NULL);
		if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &a), &w) == 0)
			line = (int)w;
	}
	free(scopes);
	if (n == 0) {
		/* no DWARF scope: symbol table name, and the line table if any */
		copy(out[0].file, sizeof out[0].file, src);
		out[0].line = src ? line : 0;
		n = 1;
	} else if (!out[n - 1].func[0] && symname) {
		copy(out[n - 1].func, sizeof out[n - 1].func, symname);
	}
out:
	fsr_mutex_unlock(&sym_lock);
	return n ? n : 1;
}

static int data_type(int type)
{
	return type == STT_OBJECT || type == STT_TLS || type == STT_COMMON || type == STT_NOTYPE;
}

/* the symbol table's object containing addr (module m found by its base:
 * .bss lies outside what /proc/PID/maps attributes to the file) */
static const char *data_symbol(Dwfl_Module *m, GElf_Addr addr, GElf_Off *off)
{
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(m, addr, off, &sym, NULL, NULL, NULL);
	if (name && data_type(GELF_ST_TYPE(sym.st_info)) && (*off < sym.st_size || *off == 0))
		return name;
	int n = dwfl_module_getsymtab(m);
	const char *best = NULL;
	GElf_Addr best_lo = 0;
	for (int i = 1; i < n; i++) {
		GElf_Addr lo;
		name = dwfl_module_getsym_info(m, i, &sym, &lo, NULL, NULL, NULL);
		if (!name || !name[0] || !data_type(GELF_ST_TYPE(sym.st_info)) || sym.st_shndx == SHN_UNDEF)
			continue;
		if (addr >= lo && (addr < lo + sym.st_size || (sym.st_size == 0 && addr == lo)) &&
		    (!best || lo > best_lo)) {
			best = name;
			best_lo = lo;
		}
	}
	if (best)
		*off = addr - best_lo;
	return best;
}

int fsr_sym_data(const void *addr, char *buf, size_t len)
{
	Dl_info di;
	/* not inside any loaded object (heap, stack, mmap): no name */
	if (!addr || !dladdr(addr, &di))
		return -1;
	if (di.dli_sname && di.dli_saddr == addr) {
		copy(buf, len, di.dli_sname);
		return 0;
	}
	int r = -1;
	fsr_mutex_lock(&sym_lock);
	Dwfl_Module *m = module_of((Dwarf_Addr)(uintptr_t)addr, 0);
	if (!m && di.dli_fbase)
		m = module_of((Dwarf_Addr)(uintptr_t)di.dli_fbase, 0);
	if (m) {
		GElf_Off off = 0;
		const char *name = data_symbol(m, (GElf_Addr)(uintptr_t)addr, &off);
		if (name) {
			if (off)
				fsr_fmt(buf, len, "%s+0x%lx", name, (unsigned long)off);
			else
				copy(buf, len, name);
			r = 0;
		}
	}
	fsr_mutex_unlock(&sym_lock);
	return r;
}

void fsr_sym_atfork_child(void)
{
	/* another thread was inside libdw when we forked: its Dwfl may be
	 * half-changed; leave it (leaked) and build a new one when needed */
	if (sym_lock.v)
		dwfl = NULL;
	sym_lock.v = 0;
}

int fsr_sym_is_header_frame(const struct fsr_sym *s)
{
	static const char *const names[] = {
		"memalloc_nofs_save", "memalloc_nofs_restore", "memalloc_noio_save",
		"memalloc_noio_restore", "memalloc_noreclaim_save", "memalloc_noreclaim_restore",
		"fsr_transaction_begin", "fsr_transaction_end", "fsr_reclaim_acquire",
		"fsr_reclaim_release", "fsr_register_shrinker", "fsr_unregister_shrinker",
		"fsr_lock_exclude",
		/* the GFP calls, inlined from fsreclaim.h */
		"fsr_kmalloc", "fsr_kzalloc", "fsr_kcalloc", "fsr_krealloc", "fsr_kvmalloc",
		"fsr___vmalloc", "fsr_vmalloc", "fsr_current_gfp_context", "fsr_might_alloc",
		"fsr_api_get_", "fsr_api_gfp_",
	};
	/* fsreclaim/linux.h's inlines (only where the debug info says so) */
	static const char *const linux_names[] = {
		"kmalloc", "kzalloc", "kcalloc", "kmalloc_array", "krealloc", "kvmalloc", "kvzalloc",
		"kvcalloc", "vmalloc", "vzalloc", "__vmalloc", "current_gfp_context", "might_alloc",
		"fs_reclaim_acquire", "fs_reclaim_release",
	};
	const char *b = base_name(s->file);
	size_t fl = strlen(s->file);
	if (fl >= 17 && !strcmp(s->file + fl - 17, "fsreclaim/linux.h")) {
		for (size_t i = 0; i < sizeof linux_names / sizeof linux_names[0]; i++)
			if (!strcmp(s->func, linux_names[i]))
				return 1;
		return 0;
	}
	if (s->file[0] && strcmp(b, "fsreclaim.h"))
		return 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(s->func, names[i]))
			return 1;
	return 0;
}
