/* selfcall - a single-threaded low-level FUSE daemon whose lookup op touches
 * its own mount: stat() of a path under it, openat() relative to a dirfd on
 * it, read() of a file on it.  Without fsreclaim this hangs forever (the
 * kernel waits for the daemon, which waits for the kernel).  Under the shim
 * each call is reported as fs-reentry and fails with EDEADLK.  Calls that do
 * not reach the mount must keep working: stat("/") and openat() relative to
 * the directory hidden under the mountpoint (opened before mounting).
 *
 * Symlinks: the calls through the links selfcall.sh makes next to the
 * mountpoint (see links_calls) must be judged where the kernel would take
 * them: into the mount (EDEADLK) or not (the real call's result).
 *
 * `stat MOUNTPOINT/leak` leaves a memalloc_nofs_save() scope open in lookup.
 * `stat MOUNTPOINT/helper`: lookup starts a thread that stats the mount (and
 * one of its own that does too) and joins it; `stat MOUNTPOINT/helper-late`
 * starts one that stats the mount once `stat MOUNTPOINT/late-go` ran, when
 * the op that started it is long over.
 * SELFCALL_FORK=1: a multi-threaded loop; once the mount is up, fork a
 * child that allocates and exits (a helper that never reads /dev/fuse).
 *
 * Usage: selfcall [-f] MOUNTPOINT; `stat MOUNTPOINT/trigger` runs the checks;
 * results go to stdout as lines "NAME: ok" or "NAME: errno N".  With
 * MOUNTPOINT /dev/fd/N (a /dev/fuse fd a parent mounted, see devfd.sh),
 * SELFCALL_MOUNT names the mount for the calls. */
#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>
#include "fsreclaim.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char mnt[4096];
static int hidden_fd = -1;            /* the directory under the mountpoint */
static int mnt_dirfd = -1, mnt_filefd = -1;
static volatile int inited, ready, done;
static const char data[] = "data\n";

static void result(const char *what, int r)
{
	if (r < 0)
		printf("%s: errno %d\n", what, errno);
	else
		printf("%s: ok\n", what);
	fflush(stdout);
}

static void st_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud; (void)conn;
	inited = 1;
}

static int attr_of(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	if (ino == 1) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else if (ino == 2) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = sizeof data - 1;
	} else {
		return -1;
	}
	return 0;
}

static void self_calls(void)
{
	char p[4200];
	struct stat st;
	char buf[16];
	snprintf(p, sizeof p, "%s/data", mnt);
	result("stat-own-mount", stat(p, &st));
	/* the same path where the shim reads it in place (the main heap), and
	 * in an mmap'd page across its end, longer than its first read there */
	char *h = strdup(p);
	result("stat-own-mount-heap", h ? stat(h, &st) : -1);
	free(h);
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED) {
		char *q = m + pg - 200;           /* mnt, 150 "/.", data: ends in the second page */
		int k = snprintf(q, pg + 200, "%s", mnt);
		for (int i = 0; i < 150; i++)
			k += snprintf(q + k, pg + 200 - (size_t)k, "/.");
		snprintf(q + k, pg + 200 - (size_t)k, "/data");
		result("stat-own-mount-mapped-long", stat(q, &st));
		munmap(m, 2 * pg);
	}
	result("openat-own-dirfd", openat(mnt_dirfd, "data", O_RDONLY));
	result("read-own-file", (int)read(mnt_filefd, buf, sizeof buf));
	/* lexical resolution: up and back into the mount, a sibling with the same prefix */
	const char *base = strrchr(mnt, '/');
	snprintf(p, sizeof p, "%s/..%s/data", mnt, base ? base : "/");
	result("stat-dotdot-own-mount", stat(p, &st));
	snprintf(p, sizeof p, "..%s/data", base ? base : "/");
	result("openat-hidden-up-own-mount", openat(hidden_fd, p, O_RDONLY));
	snprintf(p, sizeof p, "%s2/data", mnt);
	result("stat-sibling", stat(p, &st) < 0 && errno == ENOENT ? 0 : -1);
	result("stat-root", stat("/", &st));
	int fd = openat(hidden_fd, "under", O_RDONLY);
	result("openat-hidden-dir", fd);
	if (fd >= 0)
		close(fd);
}

/* through symlinks in the mountpoint's parent directory T (selfcall.sh):
 *   link-abs -> MNT/data        chain1 -> chain2 -> MNT/data
 *   link-rel -> mnt/data        link-dir -> MNT       dl -> deep/a
 *   loop1 -> loop2 -> loop1     src/link-in -> file   src/link-out -> ../other/f
 * and through /proc/self/fd/N (magic links) */
static void links_calls(void)
{
	char t[4200], p[4300], buf[64];
	struct stat st;
	snprintf(t, sizeof t, "%s", mnt);
	char *sl = strrchr(t, '/');
	if (!sl)
		return;
	*sl = 0;
	int tfd = open(t, O_RDONLY | O_DIRECTORY);
	snprintf(p, sizeof p, "%s/link-abs", t);
	result("link-abs", stat(p, &st));
	result("link-abs-lstat", lstat(p, &st));        /* the link itself: off the mount */
	result("link-abs-readlink", (int)readlink(p, buf, sizeof buf));
	result("link-abs-open", open(p, O_RDONLY));
	result("link-abs-nofollow", open(p, O_RDONLY | O_NOFOLLOW) < 0 && errno == ELOOP ? 0 : -1);
	snprintf(p, sizeof p, "%s/chain1", t);
	result("link-chain", stat(p, &st));
	snprintf(p, sizeof p, "%s/link-rel", t);
	result("link-rel", stat(p, &st));
	result("link-rel-openat", openat(tfd, "link-rel", O_RDONLY));
	result("link-chain-fstatat", fstatat(tfd, "chain1", &st, 0));
	result("link-chain-fstatat-nofollow", fstatat(tfd, "chain1", &st, AT_SYMLINK_NOFOLLOW));
	snprintf(p, sizeof p, "%s/link-dir/data", t);
	result("link-dir-descend", stat(p, &st));
	snprintf(p, sizeof p, "%s/link-dir/", t);
	result("link-dir-slash-lstat", lstat(p, &st));  /* a trailing slash follows it */
	/* ".." after a symlink is the target's parent: T/deep, then T */
	snprintf(p, sizeof p, "%s/dl/../../mnt/data", t);
	result("dotdot-after-link-into-mount", stat(p, &st));
	snprintf(p, sizeof p, "%s/dl/../mnt/data", t);   /* T/deep/mnt/data: none */
	result("dotdot-after-link-off-mount", stat(p, &st) < 0 && errno == ENOENT ? 0 : -1);
	snprintf(p, sizeof p, "%s/loop1", t);
	result("link-loop", stat(p, &st) < 0 && errno == ELOOP ? 0 : -1);
	snprintf(p, sizeof p, "%s/src/link-in", t);
	result("src-link-in", stat(p, &st));
	snprintf(p, sizeof p, "%s/src/link-out", t);
	int fd = open(p, O_RDONLY);
	result("src-link-out", fd);
	if (fd >= 0)
		close(fd);
	/* magic links: /proc/self/fd/N is fd N's file, wherever its path leads */
	snprintf(p, sizeof p, "/proc/self/fd/%d", mnt_filefd);
	result("proc-fd-own-file", stat(p, &st));
	result("proc-fd-own-file-lstat", lstat(p, &st));  /* the link itself */
	snprintf(p, sizeof p, "/proc/self/fd/%d/data", mnt_dirfd);
	result("proc-fd-own-dir-descend", stat(p, &st));
	snprintf(p, sizeof p, "/proc/thread-self/fd/%d/link-abs", tfd);
	result("proc-fd-then-link", stat(p, &st));
	snprintf(p, sizeof p, "/proc/self/fd/%d/src/link-in", tfd);
	result("proc-fd-off-mount", stat(p, &st));
	if (tfd >= 0)
		close(tfd);
}

/* helper threads an op starts: part of the op while it runs (issue 11) */
static volatile int late_go;
static void *helper_grandchild(void *arg)
{
	struct stat st;
	char p[4200];
	(void)arg;
	snprintf(p, sizeof p, "%s/data", mnt);
	result("helper-grandchild-stat", stat(p, &st));
	return NULL;
}

static void *helper(void *arg)
{
	struct stat st;
	char p[4200];
	pthread_t g;
	(void)arg;
	snprintf(p, sizeof p, "%s/data", mnt);
	result("helper-thread-stat", stat(p, &st));
	pthread_create(&g, NULL, helper_grandchild, NULL);
	pthread_join(g, NULL);
	return NULL;
}

/* started inside an op, stats the mount after that op returned */
static void *helper_late(void *arg)
{
	struct stat st;
	char p[4200];
	(void)arg;
	for (int i = 0; i < 2000 && !late_go; i++)
		usleep(10000);
	snprintf(p, sizeof p, "%s/data", mnt);
	result("helper-after-op", late_go ? stat(p, &st) : -1);
	return NULL;
}

static volatile int ops_seen, data_lookups;
static void st_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	ops_seen = 1;
	if (parent == 1 && strcmp(name, "helper") == 0) {
		pthread_t h;
		pthread_create(&h, NULL, helper, NULL);
		pthread_join(h, NULL);   /* without the shim: a real deadlock */
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (parent == 1 && strcmp(name, "helper-late") == 0) {
		pthread_t h;
		pthread_create(&h, NULL, helper_late, NULL);
		pthread_detach(h);
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (parent == 1 && strcmp(name, "late-go") == 0) {
		late_go = 1;             /* helper-late's op returned long ago */
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (parent == 1 && strcmp(name, "trigger") == 0 && ready) {
		self_calls();
		links_calls();
		done = 1;
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (parent == 1 && strcmp(name, "leak") == 0) {
		/* a NOFS scope left open when the op returns: scope-leak */
		(void)memalloc_nofs_save();
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (parent != 1 || strcmp(name, "data") != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	data_lookups++;
	memset(&e, 0, sizeof e);
	e.ino = 2;
	e.attr_timeout = 1.0;
	e.entry_timeout = 1.0;
	attr_of(2, &e.attr);
	fuse_reply_entry(req, &e);
}

static void st_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	(void)fi;
	ops_seen = 1;
	if (attr_of(ino, &st) < 0)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, 1.0);
}

static void st_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != 2)
		fuse_reply_err(req, EISDIR);
	else
		fuse_reply_open(req, fi);
}

static void st_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino; (void)fi;
	size_t len = sizeof data - 1;
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off, size < len - (size_t)off ? size : len - (size_t)off);
}

static void st_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	(void)ino; (void)n;
	fuse_reply_none(req);
}

static const struct fuse_lowlevel_ops ops = {
	.forget = st_forget,
	.init = st_init,
	.lookup = st_lookup,
	.getattr = st_getattr,
	.open = st_open,
	.read = st_read,
};

/* opens fds on the mount once it is up (the loop thread serves them) */
static void *opener(void *arg)
{
	char p[4200];
	(void)arg;
	while (!inited)
		usleep(10000);
	snprintf(p, sizeof p, "%s/data", mnt);
	for (int i = 0; i < 500 && (mnt_dirfd < 0 || mnt_filefd < 0); i++) {
		if (mnt_dirfd < 0)
			mnt_dirfd = open(mnt, O_RDONLY | O_DIRECTORY);
		if (mnt_filefd < 0)
			mnt_filefd = open(p, O_RDONLY);
		if (mnt_dirfd < 0 || mnt_filefd < 0)
			usleep(10000);
	}
	printf("opened: %d %d\n", mnt_dirfd, mnt_filefd);
	fflush(stdout);
	if (getenv("SELFCALL_FORK")) {
		/* a helper child that never reads /dev/fuse: its allocations
		 * must not call this daemon's ops back (forkown.sh); the
		 * session is multi-threaded then, so that its copy could */
		pid_t p = fork();
		if (p == 0) {
			int before = data_lookups;
			for (int i = 0; i < 2000; i++) {
				void *volatile b = malloc(64);
				free(b);
			}
			printf("child-callbacks: %d\n", data_lookups - before);
			exit(0);
		}
		int st = -1;
		waitpid(p, &st, 0);
		printf("fork-child: pid %d status %d\n", (int)p, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		fflush(stdout);
		/* the next request makes the sessions this process's again:
		 * then this thread's allocations call lookup (+forget) back */
		ops_seen = 0;
		for (int i = 0; i < 2000 && !ops_seen; i++)
			usleep(10000);
		int before = data_lookups;
		for (int i = 0; i < 200; i++) {
			void *volatile b = malloc(64);
			free(b);
		}
		printf("parent-callbacks: %d\n", data_lookups - before);
		fflush(stdout);
		done = 1;
	}
	ready = 1;
	/* close them outside any op: a close on the mount sends FLUSH */
	while (!done)
		usleep(10000);
	close(mnt_dirfd);
	close(mnt_filefd);
	printf("closed\n");
	fflush(stdout);
	return NULL;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	int ret = 1;
	if (fuse_parse_cmdline(&args, &opts) != 0 || !opts.mountpoint) {
		fprintf(stderr, "usage: %s [-f] MOUNTPOINT\n", argv[0]);
		return 1;
	}
	const char *real_mnt = getenv("SELFCALL_MOUNT");
	snprintf(mnt, sizeof mnt, "%s", real_mnt ? real_mnt : opts.mountpoint);
	if (!real_mnt)   /* else mounted already: an open here would wait for this daemon */
		hidden_fd = open(mnt, O_RDONLY | O_DIRECTORY);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out;
	pthread_t th;
	pthread_create(&th, NULL, opener, NULL);
	pthread_detach(th);
	if (getenv("SELFCALL_FORK")) {   /* forkown.sh: multi-threaded */
		struct fuse_loop_config *lc = fuse_loop_cfg_create();
		ret = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	} else {
		ret = fuse_session_loop(se);     /* single-threaded */
	}
	fuse_session_unmount(se);
out:
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
