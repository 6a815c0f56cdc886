/* reentry.c - fs-reentry: a thread inside a FUSE op that reaches the
 * daemon's own mount.
 *
 * The kernel waits for the daemon to serve such a call, and the daemon waits
 * for the call: a single-threaded daemon always deadlocks, a multi-threaded
 * one whenever the kernel holds a lock for the op in progress.  The decision
 * never touches the mount: each mount's ID comes from /proc/self/mountinfo;
 * an fd's (or dirfd's, or the cwd's) mount ID from statx(AT_EMPTY_PATH |
 * AT_STATX_DONT_SYNC, STATX_MNT_ID), which FUSE answers from its cache (or
 * /proc/self/fdinfo when statx has no mount ID); a path's components are then
 * resolved from there, lexically first.  A directory hidden under the
 * mountpoint (bindfs /a /a) is judged by its mount ID, not by its path string.
 * The call is reported and fails with EDEADLK; it never reaches the kernel.
 *
 * Symlinks: when the lexical walk stays off every mount, one openat2(O_PATH,
 * RESOLVE_NO_SYMLINKS) of the path - a walk that cannot enter a mount the
 * lexical walk did not - tells whether the kernel's walk meets a symlink.
 * Only then (or when the lexical walk reaches a mount) is the path resolved
 * component by component, lstat()ing and readlink()ing only components off
 * the mounts: a name looked up on a mount is the answer, wherever the walk
 * would go next.
 *
 * A mount learned from "/dev/fd/N" (a privileged parent opened /dev/fuse and
 * mounted it) is found by the fd's FUSE connection, which the kernel names in
 * /proc/self/fdinfo/N (fuse_connection, Linux 6.16 on) and which is the device
 * of the mount in mountinfo.  Without it the mount stays unchecked, said once.
 *
 * Only threads inside an op (t->op), or started by one while it runs
 * (t->op_lease, threads.c), are checked; the rest pay one TLS load. */
#undef _FORTIFY_SOURCE
#include "fuse_shim.h"
#include "wire.h"
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/stat.h>
#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif
#endif
#ifndef RESOLVE_NO_SYMLINKS
struct open_how { uint64_t flags, mode, resolve; };
#define RESOLVE_NO_SYMLINKS 0x04
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* check_at's flags: AT_EMPTY_PATH (an empty path is dirfd itself),
 * AT_SYMLINK_NOFOLLOW (a last component that is a symlink is not followed,
 * unless a slash follows it) and this: a creating or removing call, whose last
 * component is never followed */
#define FSR_AT_NOFOLLOW_ANY 0x40000000
#define MAXLINKS 40                 /* the kernel's limit of links in one walk */

#define MAX_MOUNTS 16
struct fmount {
	uint64_t mnt_id;          /* 0: unknown (path check only) */
	uint32_t dev;             /* the superblock's device, kernel encoding (0: unknown) */
	int devfd;                /* learned from /dev/fd/N: N; else -1 */
	size_t len;
	const char *base;         /* last component of path */
	size_t blen;              /* its length */
	char path[PATH_MAX];
};
static struct fmount mounts[MAX_MOUNTS];
static int nmounts;           /* atomic; entries are never moved while > 0 */
static struct fsr_mutex mlock;
static void direct_init(void);

/* /dev/fd/N sessions whose mount is not known yet (retried at FUSE_INIT) */
#define MAX_PENDING 4
static int pending_fd[MAX_PENDING] = { -1, -1, -1, -1 };

/* ---- mount IDs ---- */

/* the decimal number at *q (0: no digit), *q moved past it; saturates */
static uint64_t decimal(const char **q)
{
	uint64_t n = 0;
	for (; **q >= '0' && **q <= '9'; (*q)++)
		n = n > UINT64_MAX / 10 - 1 ? UINT64_MAX : n * 10 + (uint64_t)(**q - '0');
	return n;
}

struct mi_line {
	uint64_t id;
	uint32_t dev;             /* MKDEV(major, minor) as the kernel prints a dev_t */
	const char *mp;           /* unescaped */
};

/* calls fn(line, arg) for each line of the /proc file path (a line cut
 * at linesz - 1 bytes) until fn returns nonzero; buf and line are the
 * caller's (static, under mlock: these files are large) */
static void proc_lines(const char *path, char *buf, size_t bufsz, char *line, size_t linesz,
		       int (*fn)(char *line, void *arg), void *arg)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size_t ll = 0;
	ssize_t n;
	int stop = 0;
	while (!stop && (n = syscall(SYS_read, fd, buf, bufsz)) > 0) {
		for (ssize_t i = 0; i < n && !stop; i++) {
			if (buf[i] != '\n') {
				if (ll < linesz - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			ll = 0;
			stop = fn(line, arg);
		}
	}
	syscall(SYS_close, fd);
}

/* a small /proc file whole (one read: the kernel gives it in one go)
 * into buf, NUL-terminated; 0 when it cannot be read or is empty */
static int proc_read(const char *path, char *buf, size_t len)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = syscall(SYS_read, fd, buf, len - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return 1;
}

struct mi_scan { void (*fn)(const struct mi_line *, void *); void *arg; };

/* one line of /proc/self/mountinfo: a FUSE mount's to the scan's fn */
static int mi_scan_line(char *line, void *arg)
{
	struct mi_scan *sc = arg;
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPER */
	char *f[5], *p = line;
	int k;
	for (k = 0; k < 5 && p; k++) {
		f[k] = p;
		p = strchr(p, ' ');
		if (p)
			*p++ = 0;
	}
	if (k < 5 || !p)
		return 0;
	char *dash = strstr(p, " - ");
	if (!dash || strncmp(dash + 3, "fuse", 4) != 0)
		return 0;
	/* unescape \040 etc. in the mount point */
	char mp[PATH_MAX];
	size_t m = 0;
	for (char *q = f[4]; *q && m < sizeof mp - 1; q++) {
		if (q[0] == '\\' && q[1] >= '0' && q[1] <= '7' && q[2] && q[3]) {
			mp[m++] = (char)(((q[1] - '0') << 6) | ((q[2] - '0') << 3) | (q[3] - '0'));
			q += 3;
		} else {
			mp[m++] = *q;
		}
	}
	mp[m] = 0;
	const char *q = f[0];
	struct mi_line l = { decimal(&q), 0, mp };
	q = f[2];
	uint32_t maj = (uint32_t)decimal(&q), min = 0;
	if (*q == ':') {
		q++;
		min = (uint32_t)decimal(&q);
	}
	l.dev = (maj << 20) | min;
	sc->fn(&l, sc->arg);
	return 0;
}

/* calls fn for each FUSE mount (fuse, fuseblk, fuse.*, fuseblk.*) of this
 * process's mount namespace; under mlock (static buffer) */
static void mountinfo_scan(void (*fn)(const struct mi_line *, void *), void *arg)
{
	static char buf[65536];
	static char line[8192];
	struct mi_scan sc = { fn, arg };
	proc_lines("/proc/self/mountinfo", buf, sizeof buf, line, sizeof line, mi_scan_line, &sc);
}

struct mi_find { const char *path; uint64_t id; uint32_t dev; };
static void mi_by_path(const struct mi_line *l, void *arg)
{
	struct mi_find *f = arg;
	if (strcmp(l->mp, f->path) == 0) {
		f->id = l->id;           /* the last one: mounted on top */
		f->dev = l->dev;
	}
}

/* under mlock */
static void add_entry(const char *path, uint64_t id, uint32_t dev, int devfd)
{
	int n = __atomic_load_n(&nmounts, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (mounts[i].len && mounts[i].devfd == devfd &&
		    ((id && mounts[i].mnt_id == id) || strcmp(mounts[i].path, path) == 0))
			return;          /* known already */
	if (n >= MAX_MOUNTS)
		return;
	struct fmount *m = &mounts[n];
	size_t len = strlen(path);
	if (len >= sizeof m->path)
		return;
	memcpy(m->path, path, len + 1);
	while (len > 1 && m->path[len - 1] == '/')
		m->path[--len] = 0;
	m->len = len;
	const char *b = strrchr(m->path, '/');
	m->base = b ? b + 1 : m->path;
	m->blen = strlen(m->base);
	m->mnt_id = id;
	m->dev = dev;
	m->devfd = devfd;
	__atomic_store_n(&nmounts, n + 1, __ATOMIC_RELEASE);
}

/* the other mounts of the same file system (bind mounts of it or of a
 * directory in it): a call there reaches the daemon just the same */
struct mi_dev { uint32_t dev; int devfd; int found; };
static void mi_by_dev(const struct mi_line *l, void *arg)
{
	struct mi_dev *d = arg;
	if (l->dev == d->dev) {
		add_entry(l->mp, l->id, l->dev, d->devfd);
		d->found++;
	}
}

void fsr_reentry_add_mount(const char *path)
{
	fsr_mutex_lock(&mlock);
	direct_init();
	struct mi_find f = { path, 0, 0 };
	mountinfo_scan(mi_by_path, &f);
	add_entry(path, f.id, f.dev, -1);
	if (f.dev) {
		struct mi_dev d = { f.dev, -1, 0 };
		mountinfo_scan(mi_by_dev, &d);
	}
	fsr_mutex_unlock(&mlock);
}

/* The number after "key" in /proc/self/fdinfo/FD (0: none, or no such fd) */
static uint64_t fdinfo_number(int fd, const char *key)
{
	char p[64], buf[1024];
	fsr_fmt(p, sizeof p, "/proc/self/fdinfo/%d", fd);
	if (!proc_read(p, buf, sizeof buf))
		return 0;
	const char *q = strstr(buf, key);
	if (!q)
		return 0;
	q += strlen(key);
	while (*q == ' ' || *q == '\t')
		q++;
	return decimal(&q);
}

/* The FUSE connection of /dev/fuse fd `fd`: the kernel names it in fdinfo
 * ("fuse_connection:\tID", ID being the superblock's dev_t) once the fd is
 * mounted.  0: not named (an older kernel, or not mounted). */
static uint32_t devfd_connection(int fd)
{
	return (uint32_t)fdinfo_number(fd, "fuse_connection:");
}

/* 0: the mounts of fd's connection are known; else why not (under mlock) */
enum { DEVFD_OK, DEVFD_NO_CONN, DEVFD_NO_MOUNT };
static int devfd_learn(int fd, uint32_t *conn)
{
	*conn = devfd_connection(fd);
	if (!*conn)
		return DEVFD_NO_CONN;
	struct mi_dev d = { *conn, fd, 0 };
	mountinfo_scan(mi_by_dev, &d);
	return d.found ? DEVFD_OK : DEVFD_NO_MOUNT;
}

int fsr_devfd_of(const char *mp)
{
	if (strncmp(mp, "/dev/fd/", 8) != 0 || !mp[8])
		return -1;
	const char *q = mp + 8;
	uint64_t fd = decimal(&q);
	return *q || fd > 1000000000 ? -1 : (int)fd;
}

int fsr_reentry_add_devfd(int fd)
{
	uint32_t conn;
	fsr_mutex_lock(&mlock);
	direct_init();
	int r = devfd_learn(fd, &conn);
	if (r != DEVFD_OK)
		for (int i = 0; i < MAX_PENDING; i++)
			if (pending_fd[i] < 0) {
				pending_fd[i] = fd;
				break;
			}
	fsr_mutex_unlock(&mlock);
	return r == DEVFD_OK ? 0 : -1;
}

/* at FUSE_INIT (the kernel has mounted the fd by then): the /dev/fd/N mounts
 * not known yet; a mount that stays unknown is said once, with why */
void fsr_reentry_devfd_retry(void)
{
	int any = 0;
	for (int i = 0; i < MAX_PENDING; i++)
		any |= __atomic_load_n(&pending_fd[i], __ATOMIC_RELAXED) >= 0;
	if (!any)
		return;
	fsr_mutex_lock(&mlock);
	for (int i = 0; i < MAX_PENDING; i++) {
		int fd = pending_fd[i];
		if (fd < 0)
			continue;
		pending_fd[i] = -1;
		uint32_t conn;
		int r = devfd_learn(fd, &conn);
		if (r == DEVFD_NO_CONN)
			fsr_say("fsreclaim: fs-reentry is off for the mount behind /dev/fd/%d: /proc/self/fdinfo/%d "
				"names no fuse_connection (a kernel before 6.16), so which mount this daemon serves "
				"is unknown; the shim does not guess", fd, fd);
		else if (r == DEVFD_NO_MOUNT)
			fsr_say("fsreclaim: fs-reentry is off for the mount behind /dev/fd/%d: FUSE connection %u "
				"has no mount in this process's mount namespace", fd, (unsigned)conn);
	}
	fsr_mutex_unlock(&mlock);
}

static void kill_entry(struct fmount *m)
{
	/* keep the slot readable: mark it dead rather than move others */
	m->mnt_id = 0;
	m->dev = 0;
	m->path[0] = 0;
	m->len = 0;
	m->blen = 0;
}

/* path: what add_mount got, or "/dev/fd/N" for add_devfd(N) */
void fsr_reentry_del_mount(const char *path)
{
	fsr_mutex_lock(&mlock);
	int n = nmounts;
	int devfd = fsr_devfd_of(path);
	if (devfd >= 0) {
		for (int i = 0; i < n; i++)
			if (mounts[i].len && mounts[i].devfd == devfd)
				kill_entry(&mounts[i]);
		for (int i = 0; i < MAX_PENDING; i++)
			if (pending_fd[i] == devfd)
				pending_fd[i] = -1;
	} else {
		for (int i = 0; i < n; i++)
			if (mounts[i].len && mounts[i].devfd < 0 && strcmp(mounts[i].path, path) == 0) {
				uint32_t dev = mounts[i].dev;
				kill_entry(&mounts[i]);
				for (int j = 0; dev && j < n; j++)
					if (mounts[j].len && mounts[j].devfd < 0 && mounts[j].dev == dev)
						kill_entry(&mounts[j]);
				break;
			}
	}
	fsr_mutex_unlock(&mlock);
}

static uint64_t fd_mnt_id(int fd)
{
	struct statx stx;
	memset(&stx, 0, sizeof stx);
	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC | AT_SYMLINK_NOFOLLOW,
		    STATX_MNT_ID, &stx) == 0 && (stx.stx_mask & STATX_MNT_ID))
		return stx.stx_mnt_id;
	if (fd == AT_FDCWD)
		return 0;
	return fdinfo_number(fd, "mnt_id:");
}

static struct fmount *mount_of_id(uint64_t id)
{
	if (!id)
		return NULL;
	int n = __atomic_load_n(&nmounts, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (mounts[i].len && mounts[i].mnt_id == id)
			return &mounts[i];
	return NULL;
}

static struct fmount *mount_of_path(const char *p, size_t len)
{
	int n = __atomic_load_n(&nmounts, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (mounts[i].len && mounts[i].len == len && memcmp(mounts[i].path, p, len) == 0)
			return &mounts[i];
	return NULL;
}

/* is a mountpoint a proper prefix of p (a walk of p from "/" enters it)? */
static int under_a_mount(const char *p, size_t len)
{
	int n = __atomic_load_n(&nmounts, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++) {
		size_t l = mounts[i].len;
		if (l && l < len && memcmp(mounts[i].path, p, l) == 0 && p[l] == '/')
			return 1;
	}
	return 0;
}

/* could a relative path descend into a mountpoint? (no "..", no component
 * equal to a mountpoint's last name: then it cannot) */
static int may_cross(const char *path)
{
	const char *p = path;
	int n = __atomic_load_n(&nmounts, __ATOMIC_ACQUIRE);
	while (*p) {
		while (*p == '/')
			p++;
		const char *e = p;
		while (*e && *e != '/')
			e++;
		size_t l = (size_t)(e - p);
		if (l == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		for (int i = 0; i < n; i++)
			if (mounts[i].len && mounts[i].blen == l && memcmp(mounts[i].base, p, l) == 0)
				return 1;
		p = e;
	}
	return 0;
}

static uint64_t fd_mnt_id_cached(int fd);

/* ---- the walk ----
 * buf is the canonical path of the directory reached; while it extends the
 * base directory's path (len >= alen), anchor (dirfd) reaches it
 * physically, so a directory hidden under a mountpoint is lstat()ed through
 * its fd, never through its path string (which would enter the mount). */
#define REM_SIZE (2 * PATH_MAX)
#define LNK_SIZE PATH_MAX
struct walk {
	char buf[2 * PATH_MAX];
	size_t len;
	int anchor;               /* dirfd, or -1: walk buf from "/" */
	size_t alen;
	char *rem;                /* REM_SIZE: the path still to walk, after a symlink */
	char *lnk;                /* LNK_SIZE: a link's target */
};

/* the component just appended (buf extends the anchor's path by at least one
 * name when anchor != -1) */
static int walk_lstat(struct walk *w, struct stat *st)
{
	if (w->anchor != -1)
		return (int)syscall(SYS_newfstatat, w->anchor, w->buf + w->alen + 1, st, AT_SYMLINK_NOFOLLOW);
	return (int)syscall(SYS_newfstatat, AT_FDCWD, w->buf, st, AT_SYMLINK_NOFOLLOW);
}

static ssize_t walk_readlink(struct walk *w)
{
	if (w->anchor != -1)
		return syscall(SYS_readlinkat, w->anchor, w->buf + w->alen + 1, w->lnk, LNK_SIZE - 1);
	return syscall(SYS_readlinkat, AT_FDCWD, w->buf, w->lnk, LNK_SIZE - 1);
}

/* Walks (dirfd, path): returns the mount the walk looks a name up on or ends
 * on, or NULL.  links 0: lexically (every component taken for a directory);
 * links 1 (w->rem and w->lnk set): lstat()s each component off the mounts
 * and follows symlinks the way the kernel would (at most MAXLINKS; a loop
 * gives NULL, and the real call its ELOOP).  *passed: the walk reached a
 * mount root. */
static struct fmount *walk(struct walk *w, int dirfd, const char *path, int flags, int links, int *passed)
{
	struct fmount *on = NULL;
	int nlinks = 0;
	w->len = 0;
	w->anchor = -1;
	w->alen = 0;
	if (path[0] != '/') {
		on = mount_of_id(fd_mnt_id_cached(dirfd));
		if (on)
			*passed = 1;
		if (!links && !may_cross(path))
			return on;
		/* the base directory's path, to resolve ".." and descents */
		ssize_t r;
		if (dirfd == AT_FDCWD) {
			r = syscall(SYS_getcwd, w->buf, sizeof w->buf / 2);
			r = r > 0 ? (ssize_t)strlen(w->buf) : -1;
		} else {
			char lp[64];
			fsr_fmt(lp, sizeof lp, "/proc/self/fd/%d", dirfd);
			r = syscall(SYS_readlinkat, AT_FDCWD, lp, w->buf, sizeof w->buf / 2 - 1);
		}
		if (r <= 0 || w->buf[0] != '/')
			return on;
		w->len = (size_t)r;
		w->buf[w->len] = 0;
		if (w->len == 1)
			w->len = 0;       /* "/" is the empty prefix */
		w->anchor = dirfd;
		w->alen = w->len;
	}
	const char *p = path;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != '/')
			e++;
		size_t l = (size_t)(e - p);
		if (l == 1 && p[0] == '.') {
			p = e;
			continue;
		}
		if (l == 2 && p[0] == '.' && p[1] == '.') {
			if (on && on->len == w->len && memcmp(on->path, w->buf, w->len) == 0)
				on = NULL;     /* up out of the mount */
			while (w->len > 0 && w->buf[w->len - 1] != '/')
				w->len--;
			if (w->len > 0)
				w->len--;
			if (w->anchor != -1 && w->len < w->alen)
				w->anchor = -1;   /* above the base: walk from "/" */
			p = e;
			continue;
		}
		if (on)
			return on;     /* a name looked up on the mount */
		if (w->len + 1 + l >= sizeof w->buf)
			return NULL;
		size_t plen = w->len;
		w->buf[w->len++] = '/';
		memcpy(w->buf + w->len, p, l);
		w->len += l;
		w->buf[w->len] = 0;
		on = mount_of_path(w->buf, w->len);
		if (on) {
			*passed = 1;
			p = e;
			continue;
		}
		if (!links) {
			p = e;
			continue;
		}
		const char *q = e;
		while (*q == '/')
			q++;
		if (!*q) {
			/* the last component: is it followed? */
			int follow = !(flags & (AT_SYMLINK_NOFOLLOW | FSR_AT_NOFOLLOW_ANY)) ||
				     (*e == '/' && !(flags & FSR_AT_NOFOLLOW_ANY));
			if (!follow)
				break;
		}
		struct stat st;
		if (w->anchor == -1 && under_a_mount(w->buf, w->len)) {
			/* reached by ".." from a directory hidden under a mountpoint:
			 * its path string enters the mount; taken for a directory */
			p = e;
			continue;
		}
		if (walk_lstat(w, &st) != 0)
			return NULL;   /* the real call fails here too (or creates it) */
		if (!S_ISLNK(st.st_mode)) {
			if (*q && !S_ISDIR(st.st_mode))
				return NULL;   /* ENOTDIR */
			p = e;
			continue;
		}
		if (++nlinks > MAXLINKS)
			return NULL;   /* the real call fails with ELOOP */
		ssize_t tl = walk_readlink(w);
		if (tl <= 0)
			return NULL;
		/* rem = target + what follows the link (its slash included) */
		size_t rl = strlen(e);
		if ((size_t)tl + rl + 1 > REM_SIZE)
			return NULL;
		memmove(w->rem + tl, e, rl + 1);
		memcpy(w->rem, w->lnk, (size_t)tl);
		p = w->rem;
		if (w->lnk[0] == '/') {
			w->len = 0;
			w->anchor = -1;
		} else {
			w->len = plen;    /* the target is relative to the link's directory */
			w->buf[w->len] = 0;
		}
	}
	return on;
}

/* the walk that follows symlinks, with its buffers off the common path's stack */
static __attribute__((noinline)) struct fmount *walk_links(struct walk *w, int dirfd, const char *path,
							    int flags, int *passed)
{
	char rem[REM_SIZE], lnk[LNK_SIZE];
	w->rem = rem;
	w->lnk = lnk;
	struct fmount *m = walk(w, dirfd, path, flags, 1, passed);
	w->rem = w->lnk = NULL;
	return m;
}

/* 1: the kernel's walk of (dirfd, path) meets no symlink, so the lexical walk
 * is exact; 0: it may meet one (or cannot tell).  Called only when the
 * lexical walk reaches no mount: then neither does this walk. */
static int openat2_usable = 1;
static int no_symlinks(int dirfd, const char *path, int flags)
{
	int follow = !(flags & (AT_SYMLINK_NOFOLLOW | FSR_AT_NOFOLLOW_ANY));
	const char *s = path;
	while (*s == '/')
		s++;
	const char *e = s;
	while (*e && *e != '/')
		e++;
	if (!*e && !follow)
		return 1;          /* one name, not followed: no symlink to meet */
	if (!__atomic_load_n(&openat2_usable, __ATOMIC_RELAXED))
		return 0;
	/* O_DIRECTORY: a file ends the walk with ENOTDIR; O_WRONLY: a directory
	 * with EISDIR (may_open, before any open): no fd made and closed (a
	 * daemon's getattr of its directories, the high-level passthrough's
	 * three a file) */
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = O_WRONLY | O_CLOEXEC | O_DIRECTORY | (follow ? 0 : O_NOFOLLOW);
	how.resolve = RESOLVE_NO_SYMLINKS;
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
	if (fd >= 0) {
		syscall(SYS_close, fd);
		return 1;
	}
	int err = errno;
	if (err == ELOOP && !follow) {
		/* a last name not followed may be a symlink (O_NOFOLLOW's ELOOP):
		 * O_PATH takes it as it is and says whether one came before */
		how.flags = O_PATH | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW;
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
		if (fd >= 0) {
			syscall(SYS_close, fd);
			return 1;
		}
		err = errno;
	}
	errno = err;
	switch (err) {
	case EISDIR:           /* the walk ended at a directory */
	case ENOTDIR:          /* the walk ended at a file, or failed the real call's way */
	case ENOENT:
	case EACCES:
	case ENAMETOOLONG:
		return 1;
	case ENOSYS:           /* before Linux 5.6, or a seccomp filter */
	case EPERM:
	case E2BIG:
		__atomic_store_n(&openat2_usable, 0, __ATOMIC_RELAXED);
		return 0;
	default:               /* ELOOP: a symlink */
		return 0;
	}
}

/* no_symlinks, remembered for the rest of the op: a daemon's op checks the
 * same absolute paths over and over (mergerfs: each branch's root for
 * statvfs and xattrs, three times an op), and the kernel's answer for them
 * is as fresh at the op's last call as at its first (the check and the real
 * call race with a symlink made meanwhile by another process anyway; the
 * op's own symlink and rename calls empty it).  Only absolute paths of a
 * thread in an op (t->op; op_gen names the op), only "no symlink". */
#define NOSYM_CACHE 4
#define NOSYM_LEN 128
struct nosym_entry {
	unsigned int gen;        /* t->op_gen + 1 when filled: 0 is empty */
	unsigned short len;
	unsigned char follow;
	char path[NOSYM_LEN];
};
static __thread struct nosym_entry nosym[NOSYM_CACHE] __attribute__((tls_model("initial-exec")));
static __thread unsigned int nosym_next __attribute__((tls_model("initial-exec")));
static __thread int nosym_off __attribute__((tls_model("initial-exec")));   /* check_at_slow */

static void nosym_forget(void)
{
	for (int i = 0; i < NOSYM_CACHE; i++)
		nosym[i].gen = 0;
}

static int no_symlinks_in_op(int dirfd, const char *path, int flags)
{
	struct fsr_thread *t = fsr_thread_self();
	if (path[0] != '/' || !t->op || nosym_off)
		return no_symlinks(dirfd, path, flags);
	size_t len = strlen(path);
	if (len >= NOSYM_LEN)
		return no_symlinks(dirfd, path, flags);
	unsigned char follow = !(flags & (AT_SYMLINK_NOFOLLOW | FSR_AT_NOFOLLOW_ANY));
	unsigned int gen = t->op_gen + 1;
	for (int i = 0; i < NOSYM_CACHE; i++)
		if (nosym[i].gen == gen && nosym[i].len == len && nosym[i].follow == follow &&
		    memcmp(nosym[i].path, path, len) == 0)
			return 1;
	if (!no_symlinks(dirfd, path, flags))
		return 0;
	struct nosym_entry *e = &nosym[nosym_next++ % NOSYM_CACHE];
	e->gen = gen;
	e->len = (unsigned short)len;
	e->follow = follow;
	memcpy(e->path, path, len);
	return 1;
}

/* "/proc/self/fd/N..." or "/proc/thread-self/fd/N...": N, *rest what
 * follows it ("" or "/..."); else -1 */
static int proc_fd_path(const char *path, const char **rest)
{
	const char *q;
	if (strncmp(path, "/proc/self/fd/", 14) == 0)
		q = path + 14;
	else if (strncmp(path, "/proc/thread-self/fd/", 21) == 0)
		q = path + 21;
	else
		return -1;
	if (*q < '0' || *q > '9')
		return -1;
	uint64_t fd = decimal(&q);
	if (fd > (1 << 24) || (*q && *q != '/'))
		return -1;
	*rest = q;
	return (int)fd;
}


/* Is (dirfd, path) on one of the mounts?  Returns the mount, or NULL. */
static struct fmount *path_on_mount(int dirfd, const char *path, int flags)
{
	if (!path)
		return NULL;
	if (!path[0])
		return (flags & AT_EMPTY_PATH) ? mount_of_id(fd_mnt_id_cached(dirfd)) : NULL;
	const char *rest;
	int pfd = path[0] == '/' ? proc_fd_path(path, &rest) : -1;
	if (pfd >= 0) {
		/* a magic link: the kernel goes to fd N's file without a walk
		 * (passthrough_ll opens its inodes so), and from there */
		int slash = *rest == '/';
		while (*rest == '/')
			rest++;
		if (*rest)
			return path_on_mount(pfd, rest, flags & ~AT_EMPTY_PATH);
		if ((flags & FSR_AT_NOFOLLOW_ANY) || ((flags & AT_SYMLINK_NOFOLLOW) && !slash))
			return NULL;   /* the link itself, on /proc */
		return mount_of_id(fd_mnt_id_cached(pfd));
	}
	struct walk w;
	int passed = 0;
	w.rem = w.lnk = NULL;
	struct fmount *m = walk(&w, dirfd, path, flags, 0, &passed);
	if (!m && !passed && no_symlinks_in_op(dirfd, path, flags))
		return NULL;
	return walk_links(&w, dirfd, path, flags, &passed);
}

static void report(const char *fn, const char *path, int fd, const struct fmount *m)
{
	struct fsr_thread *t = fsr_thread_self();
	struct fsr_hazard h;
	fsr_busy_enter(t);
	fsr_hazard_init(&h, "fs-reentry", FSR_ERROR);
	const char *op = fsr_op_of(t);
	const char *where = t->op ? "inside" : "in a thread started inside";
	h.op = op;
	if (path)
		fsr_fmt(h.message, sizeof h.message,
			"%s(\"%s\") %s FUSE op '%s' reaches the daemon's own mount %s: the kernel would "
			"wait for this daemon to serve it (deadlock); the call fails with EDEADLK",
			fn, path, where, op ? op : "?", m->path);
	else
		fsr_fmt(h.message, sizeof h.message,
			"%s(fd %d) %s FUSE op '%s' uses a file on the daemon's own mount %s: the kernel "
			"would wait for this daemon to serve it (deadlock); the call fails with EDEADLK",
			fn, fd, where, op ? op : "?", m->path);
	fsr_hazard_add_held_locks(&h, t);
	fsr_stack_capture(&h.stacks[h.nstacks++], "call to the own mount");
	fsr_report(&h);
	t->busy--;
}

static inline int checking(void)
{
	struct fsr_thread *t = fsr_thread_self();
	/* a thread an op started is checked while that op runs */
	return unlikely(t->op != NULL || t->op_lease != NULL) && !t->busy &&
	       __atomic_load_n(&nmounts, __ATOMIC_RELAXED) > 0 && fsr_op_of(t);
}

/* ---- memory a path is read from without a system call ----
 * process_vm_readv costs about a microsecond, as much as the daemon's own
 * call it precedes (fuse-overlayfs: 12 checked calls a file).  Two kinds of
 * memory stay mapped for as long as a pointer into them can be valid, so a
 * path there is read in place: the main heap, [the break at exec, the
 * current break) (one mapping; malloc only moves its end, and never below a
 * live block), and the program's own readable PT_LOAD segments (string
 * literals: fuse-overlayfs's statx(fd, "", AT_EMPTY_PATH)); the program is
 * never unloaded.  Anything else (a thread's arena, an mmap'd block, a
 * stack) takes the system call. */
#define DIRECT_MAX 8
static struct { uintptr_t lo, hi; } direct[DIRECT_MAX];
static int ndirect;              /* atomic; set once, under mlock */
static uintptr_t heap_lo;        /* 0: not known */

/* start_brk, field 47 of /proc/self/stat (Linux 3.5 on); 0 when unknown */
static uintptr_t start_brk(void)
{
	char buf[2048];
	if (!proc_read("/proc/self/stat", buf, sizeof buf))
		return 0;
	const char *q = strrchr(buf, ')');   /* the command may hold spaces and ')' */
	if (!q)
		return 0;
	q++;
	for (int field = 2; field < 46; field++) {   /* ")" ends field 2 */
		q = strchr(q + 1, ' ');
		if (!q)
			return 0;
	}
	q++;
	return (uintptr_t)decimal(&q);
}

/* a /proc/self/maps line: the [heap] mapping, from lo over hi? */
struct heap_cover { uintptr_t lo, hi; int ok; };

static int heap_line(char *line, void *arg)
{
	struct heap_cover *h = arg;
	size_t len = strlen(line);
	if (len < 6 || strcmp(line + len - 6, "[heap]") != 0)
		return 0;
	char *e;
	uintptr_t a = (uintptr_t)strtoull(line, &e, 16);
	uintptr_t z = *e == '-' ? (uintptr_t)strtoull(e + 1, NULL, 16) : 0;
	h->ok = a == h->lo && z >= h->hi;
	return h->ok;
}

/* is [lo, hi) inside the mapping /proc/self/maps names [heap], which
 * starts at lo?  (under an emulator such as valgrind the break that sbrk
 * reports is not the kernel's: then the range is not used) */
static int heap_mapping_covers(uintptr_t lo, uintptr_t hi)
{
	static char buf[8192];       /* under mlock */
	char line[512];
	struct heap_cover h = { lo, hi, 0 };
	proc_lines("/proc/self/maps", buf, sizeof buf, line, sizeof line, heap_line, &h);
	return h.ok;
}

/* under mlock; once */
static void direct_init(void)
{
	if (__atomic_load_n(&ndirect, __ATOMIC_ACQUIRE) || heap_lo)
		return;
	uintptr_t b = start_brk(), cur = (uintptr_t)sbrk(0);
	/* a break not moved yet has no mapping: b == cur, an empty range */
	if (b && cur != (uintptr_t)-1 && b <= cur && (b == cur || heap_mapping_covers(b, cur)))
		__atomic_store_n(&heap_lo, b, __ATOMIC_RELEASE);
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	size_t nph = getauxval(AT_PHNUM);
	uintptr_t bias = 0;
	int have_bias = 0;
	for (size_t i = 0; ph && i < nph; i++)
		if (ph[i].p_type == PT_PHDR) {
			bias = (uintptr_t)ph - ph[i].p_vaddr;
			have_bias = 1;
		}
	int n = 0;
	for (size_t i = 0; have_bias && i < nph && n < DIRECT_MAX; i++)
		if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_R) && ph[i].p_memsz) {
			direct[n].lo = bias + ph[i].p_vaddr;
			direct[n].hi = bias + ph[i].p_vaddr + ph[i].p_memsz;
			n++;
		}
	__atomic_store_n(&ndirect, n, __ATOMIC_RELEASE);
}

/* the readable bytes from p on without a system call: 0 when p is in
 * none of the ranges */
static size_t direct_room(uintptr_t p)
{
	uintptr_t lo = __atomic_load_n(&heap_lo, __ATOMIC_ACQUIRE);
	if (lo && p >= lo) {
		uintptr_t hi = (uintptr_t)sbrk(0);
		if (p < hi)
			return hi - p;
	}
	int n = __atomic_load_n(&ndirect, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (p >= direct[i].lo && p < direct[i].hi)
			return direct[i].hi - p;
	return 0;
}

/* The caller's path copied the way the kernel reads it, never touched in
 * place: a pointer the kernel rejects (unmapped: EFAULT) or a path without a
 * NUL in PATH_MAX bytes (ENAMETOOLONG) gives 0, and the real call answers
 * as glibc does.  process_vm_readv on ourselves fails a page it cannot read
 * instead of faulting; one iovec per page, as it never splits one.  A path
 * in memory that stays mapped (direct_room) is copied without it. */
static int copy_user_path(const char *path, char *out)
{
	size_t room = direct_room((uintptr_t)path);
	if (room) {
		size_t l = strnlen(path, room < PATH_MAX ? room : PATH_MAX);
		if (l >= PATH_MAX)
			return 0;               /* ENAMETOOLONG */
		if (l < room) {
			memcpy(out, path, l);   /* the caller may change it meanwhile: */
			out[l] = 0;             /* the copy ends where it was measured */
			return 1;
		}
		/* it runs on past the range: the kernel's way */
	}
	uintptr_t pg = 4096, a = (uintptr_t)path;
	pid_t pid = fsr_pid ? fsr_pid : getpid();
	/* most paths are short: first what is left of 256 bytes in the first
	 * page, one page pinned and a few bytes copied (half the cost of two
	 * pages and PATH_MAX bytes) */
	size_t first = pg - (a & (pg - 1));
	if (first > 256)
		first = 256;
	struct iovec l1 = { out, first }, r1 = { (void *)a, first };
	ssize_t got = process_vm_readv(pid, &l1, 1, &r1, 1, 0);
	if (got <= 0)
		return 0;                 /* EFAULT: its first page is not readable */
	if (memchr(out, 0, (size_t)got))
		return 1;
	struct iovec local = { out, PATH_MAX }, remote[PATH_MAX / 4096 + 1];
	int n = 0;
	size_t left = PATH_MAX;
	while (left) {
		size_t chunk = pg - (a & (pg - 1));
		if (chunk > left)
			chunk = left;
		remote[n].iov_base = (void *)a;
		remote[n++].iov_len = chunk;
		a += chunk;
		left -= chunk;
	}
	got = process_vm_readv(pid, &local, 1, remote, (unsigned long)n, 0);
	if (got <= 0)
		return 0;
	return memchr(out, 0, (size_t)got) != NULL;
}

/* the interposers' first test, inlined into each: a thread in no op
 * (and started by none) goes straight on to the real call, without a call
 * or a stack frame (read and write of a daemon's pipes and files pay only
 * this and the wire's fd bit) */
static inline __attribute__((always_inline)) int maybe_checking(void)
{
	struct fsr_thread *t = fsr_thread_self();
	return unlikely(t->op != NULL || t->op_lease != NULL);
}

/* nonzero: refuse the call (reported, errno = EDEADLK) */
static __attribute__((noinline)) int check_at_slow(const char *fn, int dirfd, const char *upath, int flags)
{
	if (likely(!checking()) || !upath)
		return 0;
	/* this op may be making a symlink of a path it checked: the cache is
	 * emptied and not filled by these calls' own checks (made before the
	 * real call, they would remember the path as it was) */
	int changes = (fn[0] == 's' && strncmp(fn, "symlink", 7) == 0) ||
		      (fn[0] == 'r' && strncmp(fn, "rename", 6) == 0);
	if (changes) {
		nosym_forget();
		nosym_off = 1;
	}
	int e = errno;
	char path[PATH_MAX];
	struct fmount *m = copy_user_path(upath, path) ? path_on_mount(dirfd, path, flags) : NULL;
	nosym_off = 0;
	errno = e;
	if (!m)
		return 0;
	report(fn, path, -1, m);
	errno = EDEADLK;
	return 1;
}

/* A per-thread cache of the last fds judged (one entry per fd number mod
 * FD_CACHE), valid while that fd number was not closed or replaced through
 * the calls below (fd_gen[fd] unchanged): a daemon's data ops use the same
 * few fds over and over, and its path calls the same few dirfds
 * (fuse-overlayfs: each layer's, beside the file in hand; with one entry
 * the two evicted each other and every *at call paid a statx; with 4 its
 * layer dirfd 5 and the file's fd 9 still did, a statx a file) */
#define FD_GEN_MAX 65536
#define FD_CACHE 16
static unsigned int fd_gen[FD_GEN_MAX];
struct fd_cache_entry {
	int fd;                    /* + 1: 0 is no entry */
	unsigned int gen;
	int nmounts;
	uint64_t mnt;
};
static __thread struct fd_cache_entry fd_cache[FD_CACHE] __attribute__((tls_model("initial-exec")));

static inline void fd_changed(int fd)
{
	if (fd >= 0 && fd < FD_GEN_MAX)
		__atomic_add_fetch(&fd_gen[fd], 1, __ATOMIC_RELAXED);
}

static uint64_t fd_mnt_id_cached(int fd)
{
	int nm = __atomic_load_n(&nmounts, __ATOMIC_ACQUIRE);
	if (fd < 0 || fd >= FD_GEN_MAX)
		return fd_mnt_id(fd);    /* AT_FDCWD: chdir is not tracked */
	unsigned int g = __atomic_load_n(&fd_gen[fd], __ATOMIC_ACQUIRE);
	struct fd_cache_entry *c = &fd_cache[fd % FD_CACHE];
	if (c->fd == fd + 1 && g == c->gen && nm == c->nmounts)
		return c->mnt;
	uint64_t id = fd_mnt_id(fd);
	c->fd = fd + 1;
	c->gen = g;
	c->mnt = id;
	c->nmounts = nm;
	return id;
}

static __attribute__((noinline)) int check_fd_slow(const char *fn, int fd)
{
	if (likely(!checking()) || fd < 0)
		return 0;
	int e = errno;
	struct fmount *m = mount_of_id(fd_mnt_id_cached(fd));
	errno = e;
	if (!m)
		return 0;
	report(fn, NULL, fd, m);
	errno = EDEADLK;
	return 1;
}

static inline __attribute__((always_inline)) int check_at(const char *fn, int dirfd, const char *upath, int flags)
{
	return maybe_checking() ? check_at_slow(fn, dirfd, upath, flags) : 0;
}

static inline __attribute__((always_inline)) int check_fd(const char *fn, int fd)
{
	return maybe_checking() ? check_fd_slow(fn, fd) : 0;
}

/* /dev/fuse opened without a libfuse the shim sees: say so once */
void fsr_reentry_dev_fuse_opened(void)
{
	static int said;
	/* the wire transport follows such a daemon: only fuse_transport=lib leaves it unseen */
	if (fsr_fuse_libfuse_seen || fsr_opt.fuse_transport != FSR_TRANSPORT_LIB ||
	    __atomic_exchange_n(&said, 1, __ATOMIC_ACQ_REL))
		return;
	const char *prog = program_invocation_short_name;
	if (prog && strncmp(prog, "fusermount", 10) == 0)
		return;
	fsr_say("fsreclaim: this program opens /dev/fuse without a libfuse the shim can see "
		"(statically linked or its own): allocations, scopes and locks are checked, but its "
		"FUSE ops are not visible");
}

/* ---- the interposers ---- */

#define REAL(ret, sym, params) \
	static ret (*real_##sym) params; \
	if (!real_##sym) real_##sym = (ret (*) params)dlsym(RTLD_NEXT, #sym)

/* define exported symbol `sym` as C function fsrr_sym */
#define IPOS(ret, sym, params) \
	FSR_EXPORT ret fsrr_##sym params __asm__(#sym); \
	ret fsrr_##sym params

static mode_t va_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

/* check_at's flags for open(2)'s: O_CREAT | O_EXCL never follows the last
 * component, O_NOFOLLOW does not follow a symlink there */
static inline int open_at_flags(int flags)
{
	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return FSR_AT_NOFOLLOW_ANY;
	return (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0;
}

#define OPEN_LIKE(sym, realsym) \
	IPOS(int, sym, (const char *path, int flags, ...)) \
	{ \
		va_list ap; va_start(ap, flags); mode_t mode = va_mode(flags, ap); va_end(ap); \
		if (check_at(#sym, AT_FDCWD, path, open_at_flags(flags))) return -1; \
		REAL(int, realsym, (const char *, int, ...)); \
		int fd = real_##realsym(path, flags, mode); \
		/* the path only once the kernel took it: never a pointer it rejects */ \
		if (unlikely(fd >= 0 && path[0] == '/') && strcmp(path, "/dev/fuse") == 0) { \
			fsr_reentry_dev_fuse_opened(); \
			fsr_wire_opened(path, fd); \
		} \
		return fd; \
	}
OPEN_LIKE(open, open)
OPEN_LIKE(open64, open64)

#define OPENAT_LIKE(sym) \
	IPOS(int, sym, (int dirfd, const char *path, int flags, ...)) \
	{ \
		va_list ap; va_start(ap, flags); mode_t mode = va_mode(flags, ap); va_end(ap); \
		if (check_at(#sym, dirfd, path, open_at_flags(flags))) return -1; \
		REAL(int, sym, (int, const char *, int, ...)); \
		int fd = real_##sym(dirfd, path, flags, mode); \
		if (unlikely(fd >= 0 && path[0] == '/' && path[1] == 'd')) fsr_wire_opened(path, fd); \
		return fd; \
	}
OPENAT_LIKE(openat)
OPENAT_LIKE(openat64)

#define OPEN2_LIKE(sym) \
	IPOS(int, sym, (const char *path, int flags)) \
	{ \
		if (check_at(#sym, AT_FDCWD, path, open_at_flags(flags))) return -1; \
		REAL(int, sym, (const char *, int)); \
		return real_##sym(path, flags); \
	}
OPEN2_LIKE(__open_2)
OPEN2_LIKE(__open64_2)

#define OPENAT2_LIKE(sym) \
	IPOS(int, sym, (int dirfd, const char *path, int flags)) \
	{ \
		if (check_at(#sym, dirfd, path, open_at_flags(flags))) return -1; \
		REAL(int, sym, (int, const char *, int)); \
		return real_##sym(dirfd, path, flags); \
	}
OPENAT2_LIKE(__openat_2)
OPENAT2_LIKE(__openat64_2)

#define CREAT_LIKE(sym) \
	IPOS(int, sym, (const char *path, mode_t mode)) \
	{ \
		if (check_at(#sym, AT_FDCWD, path, 0)) return -1; \
		REAL(int, sym, (const char *, mode_t)); \
		return real_##sym(path, mode); \
	}
CREAT_LIKE(creat)
CREAT_LIKE(creat64)

/* path calls: (const char *path, REST...); PATH1 follows a symlink as the
 * last component, PATH1N does not, PATH1C creates or removes that name */
#define PATH1F(ret, sym, params, args, fail, fl) \
	IPOS(ret, sym, params) \
	{ \
		if (check_at(#sym, AT_FDCWD, path, (fl))) return fail; \
		REAL(ret, sym, params); \
		return real_##sym args; \
	}
#define PATH1(ret, sym, params, args, fail) PATH1F(ret, sym, params, args, fail, 0)
#define PATH1N(ret, sym, params, args, fail) PATH1F(ret, sym, params, args, fail, AT_SYMLINK_NOFOLLOW)
#define PATH1C(ret, sym, params, args, fail) PATH1F(ret, sym, params, args, fail, FSR_AT_NOFOLLOW_ANY)
PATH1(int, stat, (const char *path, struct stat *b), (path, b), -1)
PATH1(int, stat64, (const char *path, struct stat64 *b), (path, b), -1)
PATH1N(int, lstat, (const char *path, struct stat *b), (path, b), -1)
PATH1N(int, lstat64, (const char *path, struct stat64 *b), (path, b), -1)
PATH1(int, access, (const char *path, int mode), (path, mode), -1)
PATH1(int, euidaccess, (const char *path, int mode), (path, mode), -1)
PATH1(int, eaccess, (const char *path, int mode), (path, mode), -1)
PATH1N(ssize_t, readlink, (const char *path, char *b, size_t n), (path, b, n), -1)
PATH1C(int, mkdir, (const char *path, mode_t m), (path, m), -1)
PATH1C(int, rmdir, (const char *path), (path), -1)
PATH1C(int, unlink, (const char *path), (path), -1)
PATH1(int, chmod, (const char *path, mode_t m), (path, m), -1)
PATH1(int, chown, (const char *path, uid_t u, gid_t g), (path, u, g), -1)
PATH1N(int, lchown, (const char *path, uid_t u, gid_t g), (path, u, g), -1)
PATH1(int, truncate, (const char *path, off_t n), (path, n), -1)
PATH1(int, truncate64, (const char *path, off64_t n), (path, n), -1)
PATH1C(int, mknod, (const char *path, mode_t m, dev_t d), (path, m, d), -1)
PATH1(int, chdir, (const char *path), (path), -1)
PATH1(int, statfs, (const char *path, void *b), (path, b), -1)
PATH1(int, statfs64, (const char *path, void *b), (path, b), -1)
PATH1(int, statvfs, (const char *path, void *b), (path, b), -1)
PATH1(int, statvfs64, (const char *path, void *b), (path, b), -1)
PATH1(ssize_t, getxattr, (const char *path, const char *n, void *v, size_t s), (path, n, v, s), -1)
PATH1N(ssize_t, lgetxattr, (const char *path, const char *n, void *v, size_t s), (path, n, v, s), -1)
PATH1(int, setxattr, (const char *path, const char *n, const void *v, size_t s, int f), (path, n, v, s, f), -1)
PATH1N(int, lsetxattr, (const char *path, const char *n, const void *v, size_t s, int f), (path, n, v, s, f), -1)
PATH1(ssize_t, listxattr, (const char *path, char *l, size_t s), (path, l, s), -1)
PATH1N(ssize_t, llistxattr, (const char *path, char *l, size_t s), (path, l, s), -1)
PATH1(int, removexattr, (const char *path, const char *n), (path, n), -1)
PATH1N(int, lremovexattr, (const char *path, const char *n), (path, n), -1)
PATH1(int, utimes, (const char *path, const struct timeval *tv), (path, tv), -1)
PATH1(DIR *, opendir, (const char *path), (path), NULL)
#define FOPEN_LIKE(sym) \
	IPOS(FILE *, sym, (const char *path, const char *mode)) \
	{ \
		if (check_at(#sym, AT_FDCWD, path, mode && strchr(mode, 'x') ? FSR_AT_NOFOLLOW_ANY : 0)) return NULL; \
		REAL(FILE *, sym, (const char *, const char *)); \
		return real_##sym(path, mode); \
	}
FOPEN_LIKE(fopen)
FOPEN_LIKE(fopen64)
PATH1(char *, realpath, (const char *path, char *resolved), (path, resolved), NULL)

/* glibc < 2.33 binaries: __xstat and friends */
#define XSTAT(sym, st, fl) \
	IPOS(int, sym, (int ver, const char *path, st *b)) \
	{ \
		if (check_at(#sym, AT_FDCWD, path, (fl))) return -1; \
		REAL(int, sym, (int, const char *, st *)); \
		return real_##sym(ver, path, b); \
	}
XSTAT(__xstat, struct stat, 0)
XSTAT(__xstat64, struct stat64, 0)
XSTAT(__lxstat, struct stat, AT_SYMLINK_NOFOLLOW)
XSTAT(__lxstat64, struct stat64, AT_SYMLINK_NOFOLLOW)

/* dirfd calls: (int dirfd, const char *path, REST...) with check_at's flags `fl`
 * (AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW: the call's own, where it has them) */
#define PATHAT(ret, sym, params, args, fl) \
	IPOS(ret, sym, params) \
	{ \
		if (check_at(#sym, dirfd, path, (fl))) return -1; \
		REAL(ret, sym, params); \
		return real_##sym args; \
	}
PATHAT(int, fstatat, (int dirfd, const char *path, struct stat *b, int f), (dirfd, path, b, f), f)
PATHAT(int, fstatat64, (int dirfd, const char *path, struct stat64 *b, int f), (dirfd, path, b, f), f)
PATHAT(int, statx, (int dirfd, const char *path, int f, unsigned int mask, struct statx *b),
       (dirfd, path, f, mask, b), f)
PATHAT(int, faccessat, (int dirfd, const char *path, int mode, int f), (dirfd, path, mode, f), f)
PATHAT(ssize_t, readlinkat, (int dirfd, const char *path, char *b, size_t n), (dirfd, path, b, n),
       AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)
PATHAT(int, mkdirat, (int dirfd, const char *path, mode_t m), (dirfd, path, m), FSR_AT_NOFOLLOW_ANY)
PATHAT(int, unlinkat, (int dirfd, const char *path, int f), (dirfd, path, f), FSR_AT_NOFOLLOW_ANY)
PATHAT(int, fchmodat, (int dirfd, const char *path, mode_t m, int f), (dirfd, path, m, f), f)
PATHAT(int, fchownat, (int dirfd, const char *path, uid_t u, gid_t g, int f), (dirfd, path, u, g, f), f)
PATHAT(int, mknodat, (int dirfd, const char *path, mode_t m, dev_t d), (dirfd, path, m, d), FSR_AT_NOFOLLOW_ANY)
PATHAT(int, utimensat, (int dirfd, const char *path, const struct timespec *ts, int f), (dirfd, path, ts, f), f)
PATHAT(int, __fxstatat, (int ver, int dirfd, const char *path, struct stat *b, int f), (ver, dirfd, path, b, f), f)
PATHAT(int, __fxstatat64, (int ver, int dirfd, const char *path, struct stat64 *b, int f), (ver, dirfd, path, b, f), f)

/* two paths: the names renamed, linked or created are never followed */
#define C FSR_AT_NOFOLLOW_ANY
IPOS(int, rename, (const char *a, const char *b))
{
	if (check_at("rename", AT_FDCWD, a, C) || check_at("rename", AT_FDCWD, b, C))
		return -1;
	REAL(int, rename, (const char *, const char *));
	return real_rename(a, b);
}
IPOS(int, renameat, (int da, const char *a, int db, const char *b))
{
	if (check_at("renameat", da, a, C) || check_at("renameat", db, b, C))
		return -1;
	REAL(int, renameat, (int, const char *, int, const char *));
	return real_renameat(da, a, db, b);
}
IPOS(int, renameat2, (int da, const char *a, int db, const char *b, unsigned int f))
{
	if (check_at("renameat2", da, a, C) || check_at("renameat2", db, b, C))
		return -1;
	REAL(int, renameat2, (int, const char *, int, const char *, unsigned int));
	return real_renameat2(da, a, db, b, f);
}
IPOS(int, link, (const char *a, const char *b))
{
	if (check_at("link", AT_FDCWD, a, AT_SYMLINK_NOFOLLOW) || check_at("link", AT_FDCWD, b, C))
		return -1;
	REAL(int, link, (const char *, const char *));
	return real_link(a, b);
}
IPOS(int, linkat, (int da, const char *a, int db, const char *b, int f))
{
	int fa = (f & AT_EMPTY_PATH) | ((f & AT_SYMLINK_FOLLOW) ? 0 : AT_SYMLINK_NOFOLLOW);
	if (check_at("linkat", da, a, fa) || check_at("linkat", db, b, C))
		return -1;
	REAL(int, linkat, (int, const char *, int, const char *, int));
	return real_linkat(da, a, db, b, f);
}
IPOS(int, symlink, (const char *target, const char *path))
{
	if (check_at("symlink", AT_FDCWD, path, C))
		return -1;
	REAL(int, symlink, (const char *, const char *));
	return real_symlink(target, path);
}
IPOS(int, symlinkat, (const char *target, int dirfd, const char *path))
{
	if (check_at("symlinkat", dirfd, path, C))
		return -1;
	REAL(int, symlinkat, (const char *, int, const char *));
	return real_symlinkat(target, dirfd, path);
}
#undef C

/* fd calls: data and metadata of a file on the mount.  The fast path (no
 * op on this thread, libc's function known) is a test and a tail call with
 * no stack frame; the check and the first lookup are out of line. */
#define FD1_SLOW(ret, sym, params, args) \
	static ret (*real_##sym) params; \
	static __attribute__((noinline)) ret slow_##sym params \
	{ \
		if (check_fd_slow(#sym, fd)) return -1; \
		if (!real_##sym) real_##sym = (ret (*) params)dlsym(RTLD_NEXT, #sym); \
		return real_##sym args; \
	}
#define FD1(ret, sym, params, args) \
	FD1_SLOW(ret, sym, params, args) \
	IPOS(ret, sym, params) \
	{ \
		if (unlikely(maybe_checking() || !real_##sym)) return slow_##sym args; \
		return real_##sym args; \
	}
/* the same for /dev/fuse fds (they are on no mount): the wire reads the traffic */
#define FD1W(ret, sym, params, args, wire) \
	FD1_SLOW(ret, sym, params, args) \
	IPOS(ret, sym, params) \
	{ \
		if (unlikely(fsr_wire_is_fd(fd))) return wire; \
		if (unlikely(maybe_checking() || !real_##sym)) return slow_##sym args; \
		return real_##sym args; \
	}
FD1W(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n), fsr_wire_read1(fd, b, n, __builtin_return_address(0)))
FD1(ssize_t, pread, (int fd, void *b, size_t n, off_t o), (fd, b, n, o))
FD1(ssize_t, pread64, (int fd, void *b, size_t n, off64_t o), (fd, b, n, o))
FD1W(ssize_t, readv, (int fd, const struct iovec *v, int n), (fd, v, n), fsr_wire_readv(fd, v, n, __builtin_return_address(0)))
FD1(ssize_t, preadv, (int fd, const struct iovec *v, int n, off_t o), (fd, v, n, o))
FD1W(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n), fsr_wire_write1(fd, b, n))
FD1(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
FD1(ssize_t, pwrite64, (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o))
FD1(int, fstat, (int fd, struct stat *b), (fd, b))
FD1(int, fstat64, (int fd, struct stat64 *b), (fd, b))
FD1(int, fsync, (int fd), (fd))
FD1(int, fdatasync, (int fd), (fd))
FD1(int, ftruncate, (int fd, off_t n), (fd, n))
FD1(int, ftruncate64, (int fd, off64_t n), (fd, n))
FD1(int, fchmod, (int fd, mode_t m), (fd, m))
FD1(int, fchown, (int fd, uid_t u, gid_t g), (fd, u, g))
FD1(int, fchdir, (int fd), (fd))
FD1(int, fstatfs, (int fd, void *b), (fd, b))
FD1(int, fstatvfs, (int fd, void *b), (fd, b))
FD1(ssize_t, fgetxattr, (int fd, const char *n, void *v, size_t s), (fd, n, v, s))
FD1(int, fsetxattr, (int fd, const char *n, const void *v, size_t s, int f), (fd, n, v, s, f))
FD1(ssize_t, flistxattr, (int fd, char *l, size_t s), (fd, l, s))
FD1(int, fallocate, (int fd, int mode, off_t o, off_t l), (fd, mode, o, l))
FD1(ssize_t, getdents64, (int fd, void *b, size_t n), (fd, b, n))
IPOS(DIR *, fdopendir, (int fd))
{
	if (check_fd("fdopendir", fd))
		return NULL;
	REAL(DIR *, fdopendir, (int));
	return real_fdopendir(fd);
}

/* _FORTIFY_SOURCE variants */
FD1W(ssize_t, __read_chk, (int fd, void *b, size_t n, size_t bl), (fd, b, n, bl),
     fsr_wire_read1(fd, b, n <= bl ? n : bl, __builtin_return_address(0)))
FD1(ssize_t, __pread_chk, (int fd, void *b, size_t n, off_t o, size_t bl), (fd, b, n, o, bl))
FD1(ssize_t, __pread64_chk, (int fd, void *b, size_t n, off64_t o, size_t bl), (fd, b, n, o, bl))
PATH1N(ssize_t, __readlink_chk, (const char *path, char *b, size_t n, size_t bl), (path, b, n, bl), -1)
PATH1(char *, __realpath_chk, (const char *path, char *r, size_t rl), (path, r, rl), NULL)
PATHAT(ssize_t, __readlinkat_chk, (int dirfd, const char *path, char *b, size_t n, size_t bl),
       (dirfd, path, b, n, bl), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)

#define FXSTAT(sym, st) \
	IPOS(int, sym, (int ver, int fd, st *b)) \
	{ \
		if (check_fd(#sym, fd)) return -1; \
		REAL(int, sym, (int, int, st *)); \
		return real_##sym(ver, fd, b); \
	}
FXSTAT(__fxstat, struct stat)
FXSTAT(__fxstat64, struct stat64)

/* directory streams: readdir on a DIR of the mount */
IPOS(struct dirent *, readdir, (DIR *d))
{
	if (checking() && d && check_fd("readdir", dirfd(d)))
		return NULL;
	REAL(struct dirent *, readdir, (DIR *));
	return real_readdir(d);
}
IPOS(struct dirent64 *, readdir64, (DIR *d))
{
	if (checking() && d && check_fd("readdir64", dirfd(d)))
		return NULL;
	REAL(struct dirent64 *, readdir64, (DIR *));
	return real_readdir64(d);
}

/* fd numbers that change what they refer to */
IPOS(int, close, (int fd))
{
	fd_changed(fd);
	REAL(int, close, (int));
	int r = real_close(fd);
	fsr_wire_closed(fd);
	fd_changed(fd);         /* again: a judgement made in between is stale */
	return r;
}
IPOS(int, dup2, (int a, int b))
{
	fd_changed(b);
	REAL(int, dup2, (int, int));
	int r = real_dup2(a, b);
	fsr_wire_dup2(a, b, r);
	fd_changed(b);
	return r;
}
IPOS(int, dup3, (int a, int b, int f))
{
	fd_changed(b);
	REAL(int, dup3, (int, int, int));
	int r = real_dup3(a, b, f);
	fsr_wire_dup2(a, b, r);
	fd_changed(b);
	return r;
}
IPOS(int, fclose, (FILE *f))
{
	int fd = f ? fileno(f) : -1;
	fd_changed(fd);
	REAL(int, fclose, (FILE *));
	int r = real_fclose(f);
	fd_changed(fd);
	return r;
}
IPOS(int, closedir, (DIR *d))
{
	int fd = d ? dirfd(d) : -1;
	fd_changed(fd);
	REAL(int, closedir, (DIR *));
	int r = real_closedir(d);
	fd_changed(fd);
	return r;
}
IPOS(int, close_range, (unsigned int lo, unsigned int hi, int f))
{
	unsigned int top = hi < FD_GEN_MAX - 1 ? hi : FD_GEN_MAX - 1;
	for (unsigned int i = lo; i <= top; i++)
		fd_changed((int)i);
	REAL(int, close_range, (unsigned int, unsigned int, int));
	int r = real_close_range(lo, hi, f);
	for (unsigned int i = lo; i <= top; i++)
		fd_changed((int)i);
	if (r == 0 && !(f & CLOSE_RANGE_CLOEXEC))
		for (unsigned int i = lo; i <= hi && i < FSR_WIRE_FDS; i++)
			fsr_wire_closed((int)i);
	return r;
}

/* resolve the hot ones now, not on a first call that may come from a signal
 * handler or with the loader's lock in an odd state */
__attribute__((constructor(110))) static void reentry_prime(void)
{
	int e = errno;
	struct stat st;
	char c;
	(void)!fsrr_read(-1, &c, 0);
	(void)!fsrr_write(-1, &c, 0);
	(void)!fsrr_pread(-1, &c, 0, 0);
	(void)!fsrr_pwrite(-1, &c, 0, 0);
	(void)!fsrr_fstat(-1, &st);
	(void)!fsrr_fsync(-1);
	(void)!fsrr_fdatasync(-1);
	(void)!fsrr_close(-1);
	errno = e;
}
