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
#include "modules.h"
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <dwarf.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <libiberty/demangle.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fsr_mutex sym_lock;
static Dwfl *dwfl;
static char *debuginfo_path;
static int refresh_allowed = 1;   /* one re-read of the modules per report */

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

/* The loaded objects are modules.c's table (the loader's objects as
 * dl_iterate_phdr gave them at start-up and after each dlopen/dlclose),
 * never the loader itself: a report may be made while another thread holds
 * the loader's lock (inside dlopen), so nothing here may call dladdr or
 * dl_iterate_phdr.  A new snapshot (a dlopen since) means a fresh Dwfl:
 * libdwfl cannot report the same ELF module again into a live Dwfl
 * ("address range overlaps"); that is rare, and nothing keeps pointers
 * into the old one. */
static const struct fsr_module *seen_tab;

/* ---- debuginfod=1: debug info fetched outside every lock ----
 * libdw's own use of debuginfod is refused (libcwrap.c fails its dlopen
 * of libdebuginfod), so nothing under sym_lock or report_lock touches the
 * network.  Before a report takes its locks, fsr_sym_prefetch fetches the
 * debug info of the modules its pcs are in, by build id, with the shim's
 * own handle of libdebuginfod; the Dwfl finds the fetched files through
 * find_debuginfo below.  One fetch at a time: a report that finds another
 * thread fetching goes on without (never waits for the network), and each
 * module is asked for once, bounded by DEBUGINFOD_BUDGET_NS. */
#define DEBUGINFOD_BUDGET_NS 3000000000ull
/* libcwrap.c's (weak: the core linked into the unit tests has none) */
void *fsr_debuginfod_open(void) FSR_HIDDEN __attribute__((weak));

static debuginfod_client *(*di_begin)(void);
static int (*di_find_debuginfo)(debuginfod_client *, const unsigned char *, int, char **);
static void (*di_set_progressfn)(debuginfod_client *, int (*)(debuginfod_client *, long, long));
static void (*di_end)(debuginfod_client *);

enum { FETCH_FREE, FETCH_LOCAL, FETCH_RUNNING, FETCH_GOT, FETCH_NONE };
#define NFETCH 128
static struct fetched {
	int state;               /* FETCH_*; FREE slots are claimed under fetch_lock */
	unsigned char id_len;
	unsigned char id[FSR_BUILD_ID_MAX];
	char path[512];          /* FETCH_GOT: the file in libdebuginfod's cache */
} fetched[NFETCH];
static struct fsr_mutex fetch_lock;   /* the table only, never held over a fetch */
static int fetching;                  /* atomic: a fetch is running */
static int fetch_gen;                 /* bumped by each file fetched: a new Dwfl reads it */
static int seen_fetch_gen;            /* under sym_lock */
static uint64_t fetch_deadline;

static int debuginfod_progress(debuginfod_client *c, long a, long b)
{
	(void)c; (void)a; (void)b;
	return fsr_now_ns() > __atomic_load_n(&fetch_deadline, __ATOMIC_RELAXED);
}

static struct fetched *fetched_find(const unsigned char *id, int len)
{
	for (int i = 0; i < NFETCH; i++) {
		struct fetched *f = &fetched[i];
		int st = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
		if (st == FETCH_FREE)
			return NULL;
		if (f->id_len == len && !memcmp(f->id, id, (size_t)len))
			return f;
	}
	return NULL;
}

/* does m have its DWARF at hand: in the file itself, or under
 * /usr/lib/debug/.build-id as Debian's -dbgsym packages put it */
static int has_local_debuginfo(const struct fsr_module *m)
{
	char p[128];
	int o = fsr_fmt(p, sizeof p, "/usr/lib/debug/.build-id/%02x/", m->build_id[0]);
	for (int i = 1; i < m->build_id_len && o < (int)sizeof p - 8; i++)
		o += fsr_fmt(p + o, sizeof p - (size_t)o, "%02x", m->build_id[i]);
	fsr_fmt(p + o, sizeof p - (size_t)o, ".debug");
	if (access(p, R_OK) == 0)
		return 1;
	int fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int found = 0;
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t shstrndx;
	if (e && elf_getshdrstrndx(e, &shstrndx) == 0) {
		for (Elf_Scn *scn = elf_nextscn(e, NULL); scn && !found; scn = elf_nextscn(e, scn)) {
			GElf_Shdr sh;
			const char *name = gelf_getshdr(scn, &sh) ? elf_strptr(e, shstrndx, sh.sh_name) : NULL;
			found = name && !strcmp(name, ".debug_info");
		}
	}
	if (e)
		elf_end(e);
	close(fd);
	return found;
}

static void fetch_one(const struct fsr_module *m, uint64_t deadline)
{
	fsr_mutex_lock(&fetch_lock);
	struct fetched *f = fetched_find(m->build_id, m->build_id_len);
	if (!f)
		for (int i = 0; i < NFETCH && !f; i++)
			if (__atomic_load_n(&fetched[i].state, __ATOMIC_ACQUIRE) == FETCH_FREE)
				f = &fetched[i];
	int mine = f && f->state == FETCH_FREE;
	if (mine) {
		memcpy(f->id, m->build_id, m->build_id_len);
		f->id_len = m->build_id_len;
		__atomic_store_n(&f->state, FETCH_RUNNING, __ATOMIC_RELEASE);
	}
	fsr_mutex_unlock(&fetch_lock);
	if (!mine)
		return;          /* asked for already (or the table is full) */
	if (has_local_debuginfo(m)) {
		__atomic_store_n(&f->state, FETCH_LOCAL, __ATOMIC_RELEASE);
		return;
	}
	int st = FETCH_NONE;
	debuginfod_client *c = di_begin();
	if (c) {
		char *path = NULL;
		__atomic_store_n(&fetch_deadline, deadline, __ATOMIC_RELAXED);
		di_set_progressfn(c, debuginfod_progress);
		int fd = di_find_debuginfo(c, m->build_id, m->build_id_len, &path);
		if (fd >= 0) {
			close(fd);
			if (path && strlen(path) < sizeof f->path) {
				strcpy(f->path, path);
				st = FETCH_GOT;
			}
		}
		free(path);
		di_end(c);
	}
	__atomic_store_n(&f->state, st, __ATOMIC_RELEASE);
	if (st == FETCH_GOT)
		__atomic_add_fetch(&fetch_gen, 1, __ATOMIC_RELEASE);
}

void fsr_sym_prefetch(void *const *pc, int n)
{
	int zero = 0;
	if (!fsr_opt.debuginfod || !di_begin || n <= 0)
		return;
	if (!__atomic_compare_exchange_n(&fetching, &zero, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;          /* another thread's fetch: go on without waiting for it */
	fsr_busy_enter(&fsr_self);
	fsr_modules_ready();
	uint64_t deadline = fsr_now_ns() + DEBUGINFOD_BUDGET_NS;
	const struct fsr_module *last = NULL;
	for (int i = 0; i < n && fsr_now_ns() < deadline; i++) {
		/* a return address: the call is just before it */
		const struct fsr_module *m = pc[i] ? fsr_module_of((uintptr_t)pc[i] - 1) : NULL;
		if (!m || m == last || !m->build_id_len || m->path[0] != '/')
			continue;
		last = m;
		fetch_one(m, deadline);
	}
	fsr_self.busy--;
	__atomic_store_n(&fetching, 0, __ATOMIC_RELEASE);
}

/* the Dwfl's find_debuginfo: libdw's local search (its debuginfod part is
 * off, see above), then a file fetched before the report */
static int find_debuginfo(Dwfl_Module *mod, void **user, const char *modname, GElf_Addr base,
			  const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			  char **debuginfo_file_name)
{
	int fd = dwfl_standard_find_debuginfo(mod, user, modname, base, file_name, debuglink_file,
					      debuglink_crc, debuginfo_file_name);
	const unsigned char *id;
	GElf_Addr vaddr;
	if (fd >= 0 || !fsr_opt.debuginfod)
		return fd;
	int len = dwfl_module_build_id(mod, &id, &vaddr);
	const struct fetched *f = len > 0 ? fetched_find(id, len) : NULL;
	if (!f || __atomic_load_n(&f->state, __ATOMIC_ACQUIRE) != FETCH_GOT)
		return -1;
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		free(*debuginfo_file_name);
		*debuginfo_file_name = strdup(f->path);
	}
	return fd;
}

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static int report_modules(void)
{
	int n;
	fsr_modules_ready();
	const struct fsr_module *tab = fsr_modules_all(&n);
	int gen = __atomic_load_n(&fetch_gen, __ATOMIC_ACQUIRE);
	if (dwfl && tab == seen_tab && gen == seen_fetch_gen)
		return 1;   /* nothing new (no object loaded, no debug file fetched) */
	if (dwfl)
		dwfl_end(dwfl);
	dwfl = dwfl_begin(&callbacks);
	if (!dwfl)
		return -1;
	dwfl_report_begin(dwfl);
	for (int i = 0; i < n; i++)
		if (tab[i].path[0] == '/')   /* not the vDSO */
			dwfl_report_elf(dwfl, base_name(tab[i].path), tab[i].path, -1,
					(GElf_Addr)tab[i].bias, true);
	dwfl_report_end(dwfl, NULL, NULL);
	seen_tab = tab;
	seen_fetch_gen = gen;
	return 0;
}

/* the module of addr; look at the loader's objects again (at most once
 * per report) if it is in none */
static Dwfl_Module *module_of(Dwarf_Addr addr, int refresh)
{
	/* a debug file fetched since the Dwfl was made: a new one reads it */
	if ((!dwfl || __atomic_load_n(&fetch_gen, __ATOMIC_ACQUIRE) != seen_fetch_gen) &&
	    report_modules() < 0)
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

/* C++ names, demangled by libiberty's demangler (the one binutils and GCC
 * use).  The callback form writes into our buffer and allocates nothing. */
struct dm_out { char *b; size_t len, o; };

static void dm_put(const char *s, size_t n, void *arg)
{
	struct dm_out *d = arg;
	if (d->o + n >= d->len)
		n = d->o + 1 < d->len ? d->len - 1 - d->o : 0;
	memcpy(d->b + d->o, s, n);
	d->o += n;
	d->b[d->o] = 0;
}

/* name, demangled when it is a mangled C++ name, into dst */
static void copy_name(char *dst, size_t len, const char *name)
{
	if (name && name[0] == '_' && name[1] == 'Z') {
		struct dm_out d = { dst, len, 0 };
		dst[0] = 0;
		if (cplus_demangle_v3_callback(name, DMGL_PARAMS | DMGL_ANSI, dm_put, &d) && d.o)
			return;
	}
	copy(dst, len, name);
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *n = NULL;
	/* C++: the linkage name (qualified, with the parameters once
	 * demangled); C names are plain */
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a))
		n = dwarf_formstring(&a);
	if (!n && dwarf_attr_integrate(die, DW_AT_name, &a))
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
		copy_name(out[0].func, sizeof out[0].func, symname);
		out[0].func_off = (uintptr_t)off + 1;
		out[0].has_off = 1;
	}

	Dwfl_Line *l = dwfl_module_getsrc(m, addr);
	const char *src = NULL;
	int line = 0;
	static char absrc[512];     /* under sym_lock */
	if (l)
		src = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
	if (src && src[0] != '/') {
		/* relative to the compilation directory (an out-of-tree build
		 * configured as ../configure): the absolute, canonical name */
		const char *dir = dwfl_line_comp_dir(l);
		if (dir && dir[0] == '/' &&
		    (size_t)fsr_fmt(absrc, sizeof absrc, "%s/%s", dir, src) < sizeof absrc - 1) {
			fsr_path_normalize(absrc);
			src = absrc;
		}
	}

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
			copy_name(s->func, sizeof s->func, fn);
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
		copy_name(out[n - 1].func, sizeof out[n - 1].func, symname);
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
	/* not inside any loaded object (heap, stack, mmap): no name */
	fsr_modules_ready();
	const struct fsr_module *mod = addr ? fsr_module_of((uintptr_t)addr) : NULL;
	if (!mod)
		return -1;
	int r = -1;
	fsr_mutex_lock(&sym_lock);
	Dwfl_Module *m = module_of((Dwarf_Addr)(uintptr_t)addr, 0);
	if (!m)
		m = module_of((Dwarf_Addr)mod->lo, 0);
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
	/* a fetch of another thread did not survive the fork */
	fetch_lock.v = 0;
	fetching = 0;
	for (int i = 0; i < NFETCH; i++)
		if (fetched[i].state == FETCH_RUNNING)
			fetched[i].state = FETCH_NONE;
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

/* debuginfod=1: load libdebuginfod (and libcurl ...) at start-up, not from
 * inside a report, where the loader's lock may be held by a thread that
 * waits for that report */
__attribute__((constructor(104))) static void debuginfod_preload(void)
{
	if (!fsr_opt.debuginfod || !fsr_debuginfod_open)
		return;
	fsr_busy_enter(&fsr_self);
	void *h = fsr_debuginfod_open();
	if (h) {
		*(void **)&di_find_debuginfo = dlsym(h, "debuginfod_find_debuginfo");
		*(void **)&di_set_progressfn = dlsym(h, "debuginfod_set_progressfn");
		*(void **)&di_end = dlsym(h, "debuginfod_end");
		if (di_find_debuginfo && di_set_progressfn && di_end)
			*(void **)&di_begin = dlsym(h, "debuginfod_begin");
	}
	fsr_self.busy--;
}
