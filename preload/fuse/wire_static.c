/* wire_static.c - the code of a libfuse linked statically into the program
 * (libfuse3.a: meson names its members fuse.c.o, fuse_lowlevel.c.o, ...).
 *
 * Such a daemon is served by the wire (the symbol wrapping cannot see its
 * libfuse), and its requests go through that libfuse's dispatcher: its
 * internal locks (f->lock in the high level, the mt loop's lock) are
 * libfuse's, not the daemon author's bug, as for a dynamic libfuse*.so on
 * fuse_transport=wire (wire.c fsr_wire_site_in_libfuse).  The program's
 * .symtab says which functions are libfuse's: the local functions of a
 * libfuse member (its FILE symbol) and, when there are such members, the
 * global fuse_* and cuse_* functions.  Read once at start-up, from the file, with syscalls and mmap
 * (no malloc); a stripped program has no .symtab and nothing is found. */
#include "wire.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct range { uintptr_t lo, hi; };
static struct range *ranges;     /* sorted by lo, biased */
static int nranges;

/* libfuse3.a's members (Debian 12's 3.14, and upstream 3.17's meson build) */
static int libfuse_member(const char *f)
{
	static const char *const names[] = {
		"fuse.c", "fuse_loop.c", "fuse_loop_mt.c", "fuse_lowlevel.c", "fuse_opt.c", "fuse_signals.c",
		"buffer.c", "cuse_lowlevel.c", "helper.c", "modules_subdir.c", "modules_iconv.c", "mount_util.c",
		"fuse_log.c", "compat.c", "mount.c", "util.c", "fuse_uring.c",
	};
	size_t l = strlen(f);
	if (l < 5 || strcmp(f + l - 4, ".c.o") != 0)
		return 0;      /* meson's object names only: a daemon's own helper.c is "helper.c" */
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == l - 2 && memcmp(names[i], f, l - 2) == 0)
			return 1;
	return 0;
}

static uintptr_t exe_bias(const Elf64_Ehdr *eh, size_t size)
{
	if (eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf64_Phdr) > size)
		return 0;
	const Elf64_Phdr *ph = (const void *)((const char *)eh + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_PHDR)
			return (uintptr_t)getauxval(AT_PHDR) - ph[i].p_vaddr;
	return 0;
}

static void scan(const char *img, size_t size)
{
	const Elf64_Ehdr *eh = (const void *)img;
	if (size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > size || eh->e_shentsize != sizeof(Elf64_Shdr))
		return;
	const Elf64_Shdr *sh = (const void *)(img + eh->e_shoff);
	const Elf64_Shdr *sym = NULL;
	for (int i = 0; i < eh->e_shnum && !sym; i++)
		if (sh[i].sh_type == SHT_SYMTAB && sh[i].sh_link < eh->e_shnum)
			sym = &sh[i];
	if (!sym || sym->sh_offset + sym->sh_size > size)
		return;
	const Elf64_Shdr *str = &sh[sym->sh_link];
	if (str->sh_offset + str->sh_size > size || !str->sh_size)
		return;
	const Elf64_Sym *s = (const void *)(img + sym->sh_offset);
	const char *names = img + str->sh_offset;
	size_t n = sym->sh_size / sizeof *s;
	uintptr_t bias = eh->e_type == ET_DYN ? exe_bias(eh, size) : 0;
	if (eh->e_type == ET_DYN && !bias)
		return;
	/* two rounds: count, then fill */
	for (int round = 0; round < 2; round++) {
		int k = 0, in_member = 0, members = 0;
		for (size_t i = 0; i < n; i++) {
			if (s[i].st_name >= str->sh_size)
				continue;
			const char *nm = names + s[i].st_name;
			int type = ELF64_ST_TYPE(s[i].st_info), bind = ELF64_ST_BIND(s[i].st_info);
			if (type == STT_FILE) {
				in_member = libfuse_member(nm);
				members += in_member;
				continue;
			}
			if (type != STT_FUNC || !s[i].st_size || !s[i].st_value)
				continue;
			/* the globals follow every local (ELF): a daemon's own fuse_*
			 * function counts only when libfuse's members are linked in */
			int ours = bind == STB_LOCAL ? in_member
						     : members && (strncmp(nm, "fuse_", 5) == 0 || strncmp(nm, "cuse_", 5) == 0);
			if (!ours)
				continue;
			if (round == 1) {
				ranges[k].lo = bias + s[i].st_value;
				ranges[k].hi = ranges[k].lo + s[i].st_size;
			}
			k++;
		}
		if (round == 0) {
			if (!k)
				return;
			void *m = mmap(NULL, (size_t)k * sizeof *ranges, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				       -1, 0);
			if (m == MAP_FAILED)
				return;
			ranges = m;
		} else {
			/* shell sort by lo: no qsort (it may allocate) */
			for (int gap = k / 2; gap > 0; gap /= 2)
				for (int i = gap; i < k; i++) {
					struct range x = ranges[i];
					int j = i;
					for (; j >= gap && ranges[j - gap].lo > x.lo; j -= gap)
						ranges[j] = ranges[j - gap];
					ranges[j] = x;
				}
			__atomic_store_n(&nranges, k, __ATOMIC_RELEASE);
		}
	}
}

__attribute__((constructor(112))) static void static_libfuse_scan(void)
{
	int e = errno;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/exe", O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && syscall(SYS_fstat, fd, &st) == 0 && st.st_size > 0 && st.st_size < (1ll << 30)) {
		void *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (img != MAP_FAILED) {
			scan(img, (size_t)st.st_size);
			munmap(img, (size_t)st.st_size);
		}
	}
	if (fd >= 0)
		syscall(SYS_close, fd);
	errno = e;
}

int fsr_wire_site_in_static_libfuse(const void *site)
{
	uintptr_t pc = (uintptr_t)site;
	int lo = 0, hi = __atomic_load_n(&nranges, __ATOMIC_ACQUIRE) - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (pc < ranges[mid].lo)
			hi = mid - 1;
		else if (pc >= ranges[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}
