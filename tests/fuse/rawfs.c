/* rawfs - a FUSE daemon that speaks /dev/fuse itself, the way Rust's fuser
 * does (no libfuse): open("/dev/fuse") and mount(2), 16 MiB + 4 KiB read
 * buffers, writev replies.  It serves a small read-only tree (root: d/ and
 * f0..f9; d/: g0..g4) from memory and checks the protocol it is sent: its
 * own lookup count per node (a FORGET below zero is an error), handles (a
 * FLUSH, FSYNC, FSYNCDIR or RELEASE of an unknown handle is an error),
 * request lengths.  Errors print "rawfs: ERROR ..." and make the exit status 1.
 *
 * usage: rawfs [-t THREADS] [-c] [-o] [-v] [-s] [-S] [-R] [-C] [-P] MOUNTPOINT
 *   -t N  N reader threads (default 1)      -c  each extra reader on its own clone fd
 *   -o    replies written by a reply thread  -v  readv with an 80-byte first iovec (glusterfs)
 *   -s    splice requests into a pipe        -P  no READDIRPLUS
 *   -S    replies as libfuse's splice_write sends them: vmsplice into a
 *         pipe, then splice from the pipe to the fd
 *   -R    (with -s) the request pipe made by a raw syscall, which a shim
 *         following pipe/pipe2 cannot know
 *   -C    close every pipe fd it did not make (a daemon that closes fds
 *         it does not own, such as a shim's): the read ends after its
 *         200th request, the write ends after its 400th (in between, a
 *         write into such a pipe has no reader: EPIPE and SIGPIPE)
 *   -n    FLUSH sends INVAL_INODE of its own node before its reply (the
 *         notify-in-op pattern of CurvineIO/curvine#607)
 *   -D    LOOKUP replies go through an fd dup'ed by the syscall instruction
 *         itself (not libc's syscall(3)), which a shim following the fds
 *         cannot know (its ledger then drifts)
 *   -L    OPEN allocates while it holds the tree lock, which FLUSH and
 *         FSYNC need (a reclaim deadlock once reclaim waits for them)
 *   -U    runs as uid/gid 65534 once mounted (the shim's requests must say so)
 *   -W    a directory w/ of 40 files (w00..w39) in the root: its READDIRPLUS
 *         reply is over 4 KiB (the largest is printed as dirplus_max)
 *   -w N  the same with N files (w00..w99, w100..; at most 400)
 *   -F    after each kernel FORGET or BATCH_FORGET the reader waits 300 ms
 *         before it reads again, so that the FORGETs the kernel queues
 *         meanwhile (a dropped cache) come as one BATCH_FORGET (the largest
 *         count is printed as batch_forget_max)
 *   -Y    the replies to the first 6 of the shim's FSYNC/FLUSH/FSYNCDIR
 *         requests are written 2 s later by a thread of their own; a
 *         RELEASE of a handle meanwhile is an error (the kernel never
 *         releases a handle that a request of its own is still using: a
 *         shim that holds back RELEASE for its request must not let it go
 *         before that reply) once a request other than FORGET/RELEASE
 *         follows it (a held RELEASE may go just before the end of the
 *         connection, when its reply can no longer matter)
 *   -E    the fds are nonblocking and each reader waits in poll(2) before
 *         every read, as an event loop does (pyfuse3's trio loop)
 *   -e M  the fds stay blocking and each reader waits for input before
 *         every read with M: poll, ppoll, select or epoll (a loop that
 *         also watches other fds, or waits with a timeout)
 *   -I F  an idle thread: for each line written to the FIFO F it allocates
 *         once (outside every request), then waits up to 20 s for a
 *         synthetic request to be served and prints "rawfs: idle pass:
 *         served" or "not served", and how many kernel requests came
 *         meanwhile (a shim's pass made while every reader waits in poll
 *         must reach one without a kernel request to carry it)
 *   -X K  bad input of kind K, which the daemon survives as fuser-style
 *         daemons do; what the kernel answered is printed at the end as
 *         "rawfs: bad-input K: OUTCOME" lines (the same with and without a
 *         shim, whatever the counts):
 *           badlen    before each GETATTR reply, one whose len says 8 more bytes
 *           unique    before each GETATTR reply, one to a unique never issued,
 *                     and one to a never-issued unique of the shim's private form
 *           short     before each GETATTR reply, its first 10 bytes alone
 *           smallread every 7th read with a 100-byte buffer (the kernel's
 *                     minimum is 8192), every 7th a readv whose first iovec
 *                     (7 bytes) splits the header
 *           closefd   (with -t 2 -c) the clone reader that reads a synthetic
 *                     FLUSH (the shim's) closes its fd unanswered and ends
 *           dupclose  (with -t 2 -c) the clone reader that reads a synthetic
 *                     FLUSH (its first 10) copies its fd (dup, dup2, dup3,
 *                     fcntl F_DUPFD, SCM_RIGHTS to itself, syscall(3) with
 *                     SYS_dup, SYS_dup3, SYS_fcntl F_DUPFD_CLOEXEC, in turn), closes
 *                     the original, answers the FLUSH on the copy and reads
 *                     on from it: the file, and its requests, live on
 *           abort     FUSE_ABORT_ERROR negotiated (an aborted connection's
 *                     reads fail with ECONNABORTED, not ENODEV); replies
 *                     that fail because the connection is gone are not
 *                     errors; a read that says so ends the reader
 * It ends when the mount goes away (ENODEV) and prints its counts. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define BUFSZ (16u * 1024 * 1024 + 4096)
#define WIDE 40          /* -W: w/'s files */
#define WIDE_MAX 400     /* -w N: at most */
#define NNODES (18 + 1 + WIDE_MAX)

struct node { const char *name; uint64_t parent; int dir; char data[64]; int64_t nlookup; };
static struct node nodes[NNODES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t errlock = PTHREAD_MUTEX_INITIALIZER;   /* err() is called under lock too */
static int errors, opt_threads = 1, opt_clone, opt_other, opt_readv, opt_splice, opt_splice_write, opt_rawpipe, opt_closeforeign, opt_noplus, opt_notify, opt_hidden, opt_lockalloc, opt_nobody, opt_wide, opt_slow;
enum { BAD_NONE, BAD_LEN, BAD_UNIQUE, BAD_SHORT, BAD_READ, BAD_CLOSE, BAD_ABORT, BAD_DUPCLOSE };
static const char *const bad_names[] = { "", "badlen", "unique", "short", "smallread", "closefd", "abort", "dupclose" };
static int opt_bad, opt_poll;
static const char *opt_wait;
static int opt_forgetwait;     /* -F */
static unsigned long batch_forget_max;   /* -e: poll, ppoll, select or epoll before each read */
static const char *opt_idle;
static int hidden_fd = -1;

/* -D: dup(2) made with the syscall instruction itself, as Go does, which
 * no LD_PRELOAD shim sees (libc's syscall(3) is a function it may
 * interpose, and a shim that follows fd copies does) */
static int insn_dup(int fd)
{
#if defined(__x86_64__)
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_dup), "D"((long)fd) : "rcx", "r11", "memory");
	return ret < 0 ? -1 : (int)ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = SYS_dup;
	register long x0 __asm__("x0") = fd;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8) : "memory");
	return x0 < 0 ? -1 : (int)x0;
#else
#error "rawfs -D needs the syscall instruction of this architecture"
#endif
}
static unsigned long dirplus_max;   /* the largest READDIRPLUS reply, header included */
static unsigned long nreq, nreply, nforget, nsynth, nspliced_in, nspliced_out, nclosed, nsynth_after, nsynth_half;
static int closed_foreign;   /* -C: 1 read ends being closed, 2 closed, 3 write ends being closed, 4 all closed */
static void err(const char *fmt, ...);

/* -C: the pipes rawfs made itself, kept open */
#define MAXPIPES 256
static int own_pipes[MAXPIPES], nown_pipes;

static void own_pipe(const int *p)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < 2 && nown_pipes < MAXPIPES; i++)
		own_pipes[nown_pipes++] = p[i];
	pthread_mutex_unlock(&lock);
}

/* the pipe fds rawfs did not make, of one direction (O_RDONLY: read ends) */
static void close_foreign_pipes(int accmode)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		err("opendir /proc/self/fd: %s", strerror(errno));
		return;
	}
	int dfd = dirfd(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		char path[64], target[64];
		int fd = atoi(de->d_name), own = 0;
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dfd)
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t l = readlink(path, target, sizeof target - 1);
		if (l < 5 || memcmp(target, "pipe:", 5) != 0)
			continue;
		pthread_mutex_lock(&lock);
		for (int i = 0; i < nown_pipes; i++)
			own |= own_pipes[i] == fd;
		pthread_mutex_unlock(&lock);
		if (!own && (fcntl(fd, F_GETFL) & O_ACCMODE) == accmode && close(fd) == 0)
			nclosed++;
	}
	closedir(d);
}
static int fd0;

#define MAXH 4096
static struct { uint64_t fh; uint64_t ino; int dir; int slow; } handles[MAXH];   /* slow: -Y replies pending */
static uint64_t next_fh = 100;

static void err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&errlock);
	fprintf(stderr, "rawfs: ERROR ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	errors++;
	pthread_mutex_unlock(&errlock);
	va_end(ap);
}

/* the distinct outcomes of the bad input (-X), in the order first seen */
static struct { const char *what; int err; } outcomes[16];
static int noutcomes;

static void outcome(const char *what, ssize_t r)
{
	int e = r < 0 ? errno : 0;
	pthread_mutex_lock(&errlock);
	int i = 0;
	while (i < noutcomes && (strcmp(outcomes[i].what, what) || outcomes[i].err != e))
		i++;
	if (i == noutcomes && noutcomes < 16) {
		outcomes[i].what = what;
		outcomes[i].err = e;
		noutcomes++;
	}
	pthread_mutex_unlock(&errlock);
}

/* the tids of rawfs's threads (one may have ended since it allocated) */
static pid_t tids[80];
static int ntids;

static void tid_add(void)
{
	pthread_mutex_lock(&errlock);
	if (ntids < 80)
		tids[ntids++] = (pid_t)syscall(SYS_gettid);
	pthread_mutex_unlock(&errlock);
}

static void tree(void)
{
	static const char *names[NNODES] = { "", "", "d", "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7",
					     "f8", "f9", "g0", "g1", "g2", "g3", "g4", "w" };
	static char wide[WIDE_MAX][5];
	for (int i = 1; i < NNODES; i++) {
		if (i > 18) {
			snprintf(wide[i - 19], sizeof wide[0], "w%02d", i - 19);
			names[i] = wide[i - 19];
		}
		nodes[i].name = names[i];
		/* w/ and its files: in the tree with -W only (parent 0: nowhere) */
		nodes[i].parent = i <= 12 ? 1 : i < 18 ? 2 : i == 18 ? (opt_wide ? 1 : 0) : i - 19 < opt_wide ? 18 : 0;
		nodes[i].dir = i <= 2 || i == 18;
		snprintf(nodes[i].data, sizeof nodes[i].data, "this is %s (node %d)\n", names[i], i);
	}
}

static void attr(uint64_t ino, struct fuse_attr *a)
{
	memset(a, 0, sizeof *a);
	a->ino = ino;
	a->mode = nodes[ino].dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	a->nlink = nodes[ino].dir ? 2 : 1;
	a->size = nodes[ino].dir ? 0 : strlen(nodes[ino].data);
	a->blksize = 4096;
}

static void entry(uint64_t ino, struct fuse_entry_out *e)
{
	memset(e, 0, sizeof *e);
	e->nodeid = ino;
	e->generation = 1;
	e->entry_valid = 0;     /* no caching: lookups keep coming */
	e->attr_valid = 0;
	attr(ino, &e->attr);
	nodes[ino].nlookup++;   /* under lock */
}

/* ---- replies (maybe from the reply thread) ---- */

struct reply { int fd; size_t len; struct reply *next; char buf[]; };
static struct reply *rq_head, **rq_tail = &rq_head;
static pthread_cond_t rq_cond = PTHREAD_COND_INITIALIZER;
static int rq_stop;

static void send_now(int fd, const char *buf, size_t len)
{
	/* header and payload in two iovecs, as fuser and libfuse write them */
	struct iovec v[2] = { { (void *)buf, sizeof(struct fuse_out_header) },
			      { (void *)(buf + sizeof(struct fuse_out_header)), len - sizeof(struct fuse_out_header) } };
	ssize_t w;
	if (opt_splice_write) {
		static __thread int p[2] = { -1, -1 };
		if (p[0] < 0) {
			if (pipe2(p, O_CLOEXEC)) {
				err("pipe2: %s", strerror(errno));
				return;
			}
			own_pipe(p);
		}
		w = vmsplice(p[1], v, v[1].iov_len ? 2 : 1, 0);
		if (w != (ssize_t)len) {
			err("vmsplice of a %zu-byte reply: %zd", len, w);
			return;
		}
		/* the kernel takes the reply out of the pipe whatever it answers */
		w = splice(p[0], NULL, fd, NULL, len, 0);
		if (w == (ssize_t)len) {
			pthread_mutex_lock(&lock);
			nspliced_out++;
			pthread_mutex_unlock(&lock);
		}
	} else {
		w = writev(fd, v, v[1].iov_len ? 2 : 1);
	}
	if (w < 0 && opt_bad == BAD_ABORT && (errno == ECONNABORTED || errno == ENODEV))
		w = 0;     /* the connection is gone */
	if (w < 0 && errno != ENOENT)
		err("%s of a reply: %s", opt_splice_write ? "splice" : "writev", strerror(errno));
	pthread_mutex_lock(&lock);
	nreply++;
	pthread_mutex_unlock(&lock);
}

static void *reply_thread(void *a)
{
	(void)a;
	tid_add();
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!rq_head && !rq_stop)
			pthread_cond_wait(&rq_cond, &lock);
		if (!rq_head)
			break;
		struct reply *r = rq_head;
		rq_head = r->next;
		if (!rq_head)
			rq_tail = &rq_head;
		pthread_mutex_unlock(&lock);
		send_now(r->fd, r->buf, r->len);
		free(r);
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* -Y: one late reply, then its handle may be released */
struct slow { struct reply *r; uint64_t fh; };
static int nslow;
static __thread uint64_t slow_fh;     /* serve() -> reply(): this reply is a late one */
static uint64_t released_pending;     /* a handle released while its reply was pending */

static void *slow_thread(void *a)
{
	struct slow *sl = a;
	tid_add();
	struct timespec ts = { 2, 0 };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	/* no longer pending before the write: a shim that sees the reply in
	 * the write may hand the held RELEASE to a reader before it returns */
	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAXH; i++)
		if (handles[i].fh == sl->fh && handles[i].slow)
			handles[i].slow--;
	pthread_mutex_unlock(&lock);
	send_now(sl->r->fd, sl->r->buf, sl->r->len);
	free(sl->r);
	free(sl);
	return NULL;
}

static void reply(int fd, uint64_t unique, int error, const void *arg, size_t alen)
{
	size_t len = sizeof(struct fuse_out_header) + (error ? 0 : alen);
	struct reply *r = malloc(sizeof *r + len);
	if (!r)
		abort();
	struct fuse_out_header *oh = (void *)r->buf;
	oh->len = (uint32_t)len;
	oh->error = error;
	oh->unique = unique;
	if (!error && alen)
		memcpy(r->buf + sizeof *oh, arg, alen);
	r->fd = fd;
	r->len = len;
	if (slow_fh) {
		struct slow *sl = malloc(sizeof *sl);
		pthread_t st;
		if (!sl)
			abort();
		sl->r = r;
		sl->fh = slow_fh;
		slow_fh = 0;
		if (pthread_create(&st, NULL, slow_thread, sl))
			abort();
		pthread_detach(st);
		return;
	}
	if (!opt_other) {
		send_now(fd, r->buf, len);
		free(r);
		return;
	}
	r->next = NULL;
	pthread_mutex_lock(&lock);
	*rq_tail = r;
	rq_tail = &r->next;
	pthread_cond_signal(&rq_cond);
	pthread_mutex_unlock(&lock);
}

/* ---- requests ---- */

static int handle_ok(uint64_t fh, uint64_t ino, int dir)
{
	for (int i = 0; i < MAXH; i++)
		if (handles[i].fh == fh)
			return handles[i].ino == ino && handles[i].dir == dir;
	return 0;
}

static uint64_t handle_new(uint64_t ino, int dir)
{
	for (int i = 0; i < MAXH; i++)
		if (!handles[i].fh) {
			handles[i].fh = next_fh++;
			handles[i].ino = ino;
			handles[i].dir = dir;
			return handles[i].fh;
		}
	return 0;
}

static void forget(uint64_t ino, uint64_t n)
{
	nforget++;
	if (ino == 0 || ino >= NNODES) {
		err("FORGET of unknown node %llu", (unsigned long long)ino);
		return;
	}
	nodes[ino].nlookup -= (int64_t)n;
	if (nodes[ino].nlookup < 0)
		err("FORGET of node %llu (%s) by %llu goes below zero (%lld)", (unsigned long long)ino,
		    nodes[ino].name, (unsigned long long)n, (long long)nodes[ino].nlookup);
}

static size_t dirents(uint64_t dir, uint64_t off, size_t size, int plus, char *out)
{
	uint64_t list[NNODES + 2];
	int n = 0;
	list[n++] = dir;                      /* "." */
	list[n++] = nodes[dir].parent ? nodes[dir].parent : 1;   /* ".." */
	for (uint64_t i = 2; i < NNODES; i++)
		if (nodes[i].parent == dir)
			list[n++] = i;
	size_t used = 0;
	for (int i = (int)off; i < n; i++) {
		const char *name = i == 0 ? "." : i == 1 ? ".." : nodes[list[i]].name;
		size_t nl = strlen(name);
		size_t rec = plus ? FUSE_DIRENTPLUS_SIZE(&(struct fuse_direntplus){ .dirent.namelen = (uint32_t)nl })
				  : FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nl);
		if (used + rec > size)
			break;
		memset(out + used, 0, rec);
		struct fuse_dirent *d;
		if (plus) {
			struct fuse_direntplus *p = (void *)(out + used);
			if (i >= 2)
				entry(list[i], &p->entry_out);   /* "." and ".." give no reference */
			d = &p->dirent;
		} else {
			d = (void *)(out + used);
		}
		d->ino = list[i];
		d->off = (uint64_t)i + 1;
		d->namelen = (uint32_t)nl;
		d->type = nodes[list[i]].dir ? DT_DIR : DT_REG;
		memcpy(d->name, name, nl);
		used += rec;
	}
	return used;
}

/* a synthetic request (the shim's) carries what the kernel would give a
 * request of the allocating task: this process's uid/gid and the tid of
 * one of its threads (a FORGET has none, as the kernel's) */
static void synth_creds(const struct fuse_in_header *h)
{
	int mine = 0;
	pthread_mutex_lock(&errlock);
	for (int i = 0; i < ntids; i++)
		mine |= tids[i] == (pid_t)h->pid;
	pthread_mutex_unlock(&errlock);
	if (h->uid != getuid() || h->gid != getgid() || !mine)
		err("synthetic opcode %u carries uid %u gid %u pid %u (the daemon: uid %u gid %u)", h->opcode, h->uid,
		    h->gid, h->pid, getuid(), getgid());
}

/* -X badlen, unique, short: a malformed message before a real reply */
static void bad_reply(int fd, uint64_t unique)
{
	struct fuse_out_header oh = { .len = sizeof oh, .error = -EIO, .unique = unique };
	switch (opt_bad) {
	case BAD_LEN:
		oh.len += 8;
		outcome("badlen", write(fd, &oh, sizeof oh));
		break;
	case BAD_UNIQUE:
		oh.unique = 0x3ff0000000000000ull;            /* even, far beyond the kernel's counter */
		outcome("unique", write(fd, &oh, sizeof oh));
		oh.unique = (1ull << 62) | 0x7ff000000000ull;   /* the shim's form, never one of its ids */
		outcome("unique-private", write(fd, &oh, sizeof oh));
		break;
	case BAD_SHORT:
		outcome("short", write(fd, &oh, 10));
		break;
	default:
		break;
	}
}

static void serve(int fd, char *msg, size_t n)
{
	struct fuse_in_header *h = (void *)msg;
	void *a = msg + sizeof *h;
	if (n < sizeof *h || h->len != n) {
		err("request of %zu bytes says len %u", n, n >= sizeof *h ? h->len : 0);
		return;
	}
	/* allocated before the lock: an op's lock held across an allocation that
	 * may enter reclaim would be a real reclaim-lock-inversion */
	if ((h->unique & (1ull << 62)) && h->opcode != FUSE_FORGET && h->opcode != FUSE_NOTIFY_REPLY)
		synth_creds(h);
	union { struct fuse_entry_out e; struct fuse_attr_out at; struct fuse_open_out o;
		struct fuse_init_out i; struct fuse_statfs_out s; char data[128 * 1024]; } *out = malloc(sizeof *out);
	if (!out)
		abort();
	pthread_mutex_lock(&lock);
	nreq++;
	if (h->unique & (1ull << 62)) {
		nsynth++;      /* the shim's: bit 62 is never in a kernel id */
		if (closed_foreign == 2)
			nsynth_half++;
		if (closed_foreign == 4)
			nsynth_after++;
	}
	int close_now = opt_closeforeign && ((nreq >= 200 && closed_foreign == 0) || (nreq >= 400 && closed_foreign == 2));
	if (close_now)
		closed_foreign++;
	if (released_pending && h->opcode != FUSE_FORGET && h->opcode != FUSE_BATCH_FORGET &&
	    h->opcode != FUSE_RELEASE && h->opcode != FUSE_RELEASEDIR) {
		err("RELEASE of handle %llu while the reply to a request on it was pending",
		    (unsigned long long)released_pending);
		released_pending = 0;
	}
	uint64_t ino = h->nodeid;
	if (h->opcode != FUSE_INIT && h->opcode != FUSE_FORGET && h->opcode != FUSE_BATCH_FORGET &&
	    h->opcode != FUSE_INTERRUPT && h->opcode != FUSE_DESTROY && h->opcode != FUSE_NOTIFY_REPLY &&
	    (ino == 0 || ino >= NNODES)) {
		pthread_mutex_unlock(&lock);
		err("opcode %u on unknown node %llu", h->opcode, (unsigned long long)ino);
		reply(fd, h->unique, -ENOENT, NULL, 0);
		free(out);
		return;
	}
	/* the kernel sends nothing on a node after its last FORGET (it evicted
	 * the inode), and a shim must not either: a daemon that frees its
	 * node there would use freed memory */
	if (ino != FUSE_ROOT_ID && nodes[ino].nlookup <= 0 && h->opcode != FUSE_INIT && h->opcode != FUSE_FORGET &&
	    h->opcode != FUSE_BATCH_FORGET && h->opcode != FUSE_INTERRUPT && h->opcode != FUSE_DESTROY &&
	    h->opcode != FUSE_NOTIFY_REPLY)
		err("opcode %u (unique %#llx) on node %llu (%s), whose lookups were all forgotten", h->opcode,
		    (unsigned long long)h->unique, (unsigned long long)ino, nodes[ino].name);
	size_t olen = 0;
	int error = 0, noreply = 0;
	memset(out, 0, 512);
	switch (h->opcode) {
	case FUSE_INIT: {
		struct fuse_init_in *in = a;
		out->i.major = FUSE_KERNEL_VERSION;
		out->i.minor = in->minor < FUSE_KERNEL_MINOR_VERSION ? in->minor : FUSE_KERNEL_MINOR_VERSION;
		out->i.max_readahead = in->max_readahead;
		out->i.flags = opt_noplus ? 0 : (in->flags & FUSE_DO_READDIRPLUS);
		if (opt_bad == BAD_ABORT)
			out->i.flags |= in->flags & FUSE_ABORT_ERROR;   /* reads then say ECONNABORTED */
		out->i.max_write = 128 * 1024;
		out->i.max_background = 16;
		out->i.congestion_threshold = 12;
		olen = sizeof out->i;
		break;
	}
	case FUSE_LOOKUP: {
		const char *name = a;
		error = -ENOENT;
		for (uint64_t i = 2; i < NNODES; i++)
			if (nodes[i].parent == ino && strcmp(nodes[i].name, name) == 0) {
				entry(i, &out->e);
				olen = sizeof out->e;
				error = 0;
			}
		break;
	}
	case FUSE_FORGET:
		forget(ino, ((struct fuse_forget_in *)a)->nlookup);
		noreply = 1;
		break;
	case FUSE_BATCH_FORGET: {
		struct fuse_batch_forget_in *b = a;
		struct fuse_forget_one *o = (void *)(b + 1);
		if (sizeof *h + sizeof *b + b->count * sizeof *o != n)
			err("BATCH_FORGET of %u entries in %zu bytes", b->count, n);
		if (b->count > batch_forget_max)
			batch_forget_max = b->count;
		for (uint32_t i = 0; i < b->count; i++)
			forget(o[i].nodeid, o[i].nlookup);
		noreply = 1;
		break;
	}
	case FUSE_GETATTR:
		attr(ino, &out->at.attr);
		olen = sizeof out->at;
		break;
	case FUSE_OPEN: case FUSE_OPENDIR:
		if (opt_lockalloc) {
			void *volatile planted = malloc(64);   /* under lock: the bug -L plants */
			free(planted);
		}
		if (nodes[ino].dir != (h->opcode == FUSE_OPENDIR)) {
			error = nodes[ino].dir ? -EISDIR : -ENOTDIR;
			break;
		}
		out->o.fh = handle_new(ino, h->opcode == FUSE_OPENDIR);
		olen = sizeof out->o;
		break;
	case FUSE_READ: {
		struct fuse_read_in *r = a;
		if (!handle_ok(r->fh, ino, 0)) err("READ of unknown handle %llu", (unsigned long long)r->fh);
		size_t sz = strlen(nodes[ino].data);
		size_t off = r->offset < sz ? r->offset : sz;
		olen = sz - off < r->size ? sz - off : r->size;
		memcpy(out->data, nodes[ino].data + off, olen);
		break;
	}
	case FUSE_READDIR: case FUSE_READDIRPLUS: {
		struct fuse_read_in *r = a;
		if (!handle_ok(r->fh, ino, 1)) err("READDIR of unknown handle %llu", (unsigned long long)r->fh);
		olen = dirents(ino, r->offset, r->size < sizeof out->data ? r->size : sizeof out->data,
			       h->opcode == FUSE_READDIRPLUS, out->data);
		if (h->opcode == FUSE_READDIRPLUS && sizeof(struct fuse_out_header) + olen > dirplus_max)
			dirplus_max = sizeof(struct fuse_out_header) + olen;
		break;
	}
	case FUSE_FLUSH: case FUSE_FSYNC: case FUSE_FSYNCDIR: {
		if (opt_notify && h->opcode == FUSE_FLUSH) {
			struct { struct fuse_out_header h; struct fuse_notify_inval_inode_out i; } m;
			memset(&m, 0, sizeof m);
			m.h.len = sizeof m;
			m.h.error = FUSE_NOTIFY_INVAL_INODE;
			m.i.ino = ino;
			m.i.off = -1;     /* attributes only: no page of the inode is touched */
			if (write(fd, &m, sizeof m) < 0 && errno != ENOENT)
				err("INVAL_INODE: %s", strerror(errno));
		}
		uint64_t fh = *(uint64_t *)a;    /* fuse_flush_in and fuse_fsync_in begin with fh */
		int dir = h->opcode == FUSE_FSYNCDIR;
		size_t want = h->opcode == FUSE_FLUSH ? sizeof(struct fuse_flush_in) : sizeof(struct fuse_fsync_in);
		if (n != sizeof *h + want)
			err("opcode %u of %zu bytes", h->opcode, n);
		if (!handle_ok(fh, ino, dir))
			err("opcode %u on unknown handle %llu of node %llu", h->opcode, (unsigned long long)fh,
			    (unsigned long long)ino);
		if (opt_slow && (h->unique & (1ull << 62)) && nslow < 6)
			for (int i = 0; i < MAXH; i++)
				if (handles[i].fh == fh) {
					handles[i].slow++;
					slow_fh = fh;
					nslow++;
					break;
				}
		break;
	}
	case FUSE_RELEASE: case FUSE_RELEASEDIR: {
		uint64_t fh = ((struct fuse_release_in *)a)->fh;
		int found = 0;
		for (int i = 0; i < MAXH; i++)
			if (handles[i].fh == fh) {
				if (handles[i].slow)
					released_pending = fh;
				handles[i].fh = 0;
				handles[i].slow = 0;
				found = 1;
			}
		if (!found)
			err("RELEASE of unknown handle %llu", (unsigned long long)fh);
		break;
	}
	case FUSE_STATFS:
		out->s.st.bsize = 4096;
		out->s.st.namelen = 255;
		olen = sizeof out->s;
		break;
	case FUSE_ACCESS:
		break;
	case FUSE_INTERRUPT: case FUSE_NOTIFY_REPLY:
		noreply = 1;
		break;
	case FUSE_DESTROY:
		break;
	default:
		error = -ENOSYS;
		break;
	}
	pthread_mutex_unlock(&lock);
	if (h->opcode == FUSE_GETATTR)
		bad_reply(fd, h->unique);
	if (close_now) {
		pthread_mutex_lock(&lock);
		int stage = closed_foreign;
		pthread_mutex_unlock(&lock);
		close_foreign_pipes(stage == 1 ? O_RDONLY : O_WRONLY);
		pthread_mutex_lock(&lock);
		closed_foreign = stage + 1;
		pthread_mutex_unlock(&lock);
	}
	if (!noreply)
		reply(opt_hidden && h->opcode == FUSE_LOOKUP && fd == fd0 ? hidden_fd : fd, h->unique, error, out, olen);
	free(out);
}

/* -I: allocations outside every request, on demand */
static void *idle_thread(void *arg)
{
	(void)arg;
	tid_add();        /* its allocations' synthetic requests carry its tid */
	FILE *f = fopen(opt_idle, "r");
	char line[64];
	if (!f) {
		err("fopen %s: %s", opt_idle, strerror(errno));
		return NULL;
	}
	while (fgets(line, sizeof line, f)) {
		pthread_mutex_lock(&lock);
		unsigned long before = nsynth, kbefore = nreq - nsynth, kernel;
		pthread_mutex_unlock(&lock);
		char *volatile p = malloc(100);   /* under a shim: a pass, asynchronous (nobody in read) */
		free(p);
		int served = 0;
		for (int i = 0; i < 400 && !served; i++) {
			pthread_mutex_lock(&lock);
			served = nsynth > before;
			pthread_mutex_unlock(&lock);
			if (!served)
				usleep(50000);
		}
		pthread_mutex_lock(&lock);
		kernel = nreq - nsynth - kbefore;
		pthread_mutex_unlock(&lock);
		fprintf(stderr, "rawfs: idle pass: %s (kernel requests meanwhile: %lu)\n", served ? "served" : "not served",
			kernel);
	}
	fclose(f);
	return NULL;
}

/* -X dupclose: a copy of fd made the k-th way (the same open file) */
static int copy_fd(int fd, int k)
{
	static const char *const how[] = { "dup", "dup2", "dup3", "F_DUPFD", "SCM_RIGHTS", "syscall-dup",
					   "syscall-dup3", "syscall-F_DUPFD_CLOEXEC" };
	int r = -1;
	switch (k % 8) {
	case 0: r = dup(fd); break;
	case 1: r = dup2(fd, 200 + k); break;
	case 2: r = dup3(fd, 200 + k, O_CLOEXEC); break;
	case 3: r = fcntl(fd, F_DUPFD, 300); break;
	case 5: r = (int)syscall(SYS_dup, fd); break;
	case 6: r = (int)syscall(SYS_dup3, fd, 200 + k, O_CLOEXEC); break;
	case 7: r = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 300); break;
	case 4: {
		int sv[2];
		char c = 0, cb[CMSG_SPACE(sizeof(int))];
		struct iovec v = { &c, 1 };
		struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb };
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0)
			break;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
		if (sendmsg(sv[0], &m, 0) == 1) {
			memset(cb, 0, sizeof cb);
			m.msg_controllen = sizeof cb;
			if (recvmsg(sv[1], &m, 0) == 1 && (cm = CMSG_FIRSTHDR(&m)) && cm->cmsg_type == SCM_RIGHTS)
				memcpy(&r, CMSG_DATA(cm), sizeof r);
		}
		close(sv[0]);
		close(sv[1]);
		break;
	}
	}
	if (r < 0)
		err("%s of the FUSE fd: %s", how[k % 8], strerror(errno));
	else
		fprintf(stderr, "rawfs: dupclose %s: fd %d -> %d\n", how[k % 8], fd, r);
	return r;
}

/* -e: wait until fd is readable (or the mount is gone: POLLERR) */
static int wait_input(int fd, int ep)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	if (strcmp(opt_wait, "poll") == 0)
		return poll(&pf, 1, -1);
	if (strcmp(opt_wait, "ppoll") == 0)
		return ppoll(&pf, 1, NULL, NULL);
	if (strcmp(opt_wait, "select") == 0) {
		fd_set rd, ex;
		FD_ZERO(&rd);
		FD_ZERO(&ex);
		FD_SET(fd, &rd);
		FD_SET(fd, &ex);
		return select(fd + 1, &rd, NULL, &ex, NULL);
	}
	struct epoll_event ev;
	return epoll_wait(ep, &ev, 1, -1);
}

static void *reader(void *arg)
{
	int fd = (int)(intptr_t)arg;
	tid_add();
	char *buf = malloc(BUFSZ);
	char *hdr = malloc(80);
	int pfd[2] = { -1, -1 };
	if (opt_splice) {
		if (opt_rawpipe ? syscall(SYS_pipe2, pfd, 0) : pipe2(pfd, 0)) { err("pipe2: %s", strerror(errno)); return NULL; }
		own_pipe(pfd);
		fcntl(pfd[1], F_SETPIPE_SZ, 1024 * 1024);
	}
	int ndup = 0;
	int ep = -1;
	if (opt_wait && strcmp(opt_wait, "epoll") == 0) {
		struct epoll_event ev = { .events = EPOLLIN };
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) { err("epoll: %s", strerror(errno)); return NULL; }
	}
	for (unsigned long k = 0;; k++) {
		ssize_t n;
		if (opt_poll) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			if (poll(&pf, 1, -1) < 0 && errno != EINTR)
				break;
		}
		if (opt_wait && wait_input(fd, ep) < 0 && errno != EINTR)
			break;
		if (opt_bad == BAD_READ && k % 7 == 3) {
			outcome("smallread", read(fd, buf, 100));   /* EINVAL: below FUSE_MIN_READ_BUFFER */
			continue;
		}
		if (opt_bad == BAD_READ && k % 7 == 5) {
			struct iovec v[2] = { { buf, 7 }, { buf + 7, BUFSZ - 7 } };
			n = readv(fd, v, 2);     /* the header across two iovecs */
		} else if (opt_splice) {
			n = splice(fd, NULL, pfd[1], NULL, 1024 * 1024, 0);
			if (n > 0 && read(pfd[0], buf, (size_t)n) != n)
				err("short read from the splice pipe");
			if (n > 0) {
				pthread_mutex_lock(&lock);
				nspliced_in++;
				pthread_mutex_unlock(&lock);
			}
		} else if (opt_readv) {
			struct iovec v[2] = { { hdr, 80 }, { buf + 80, BUFSZ - 80 } };
			n = readv(fd, v, 2);
			if (n > 0)
				memcpy(buf, hdr, n < 80 ? (size_t)n : 80);
		} else {
			n = read(fd, buf, BUFSZ);   /* fuser: nix::unistd::read into a 16 MiB buffer */
		}
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOENT))
			continue;      /* fuser's receive_retrying */
		if (n < 0 && opt_bad == BAD_ABORT)
			outcome("reader-end", n);
		if (n < 0)
			break;         /* ENODEV: unmounted; ECONNABORTED: aborted */
		if (opt_bad == BAD_CLOSE && fd != fd0 && n >= (ssize_t)sizeof(struct fuse_in_header)) {
			const struct fuse_in_header *h = (const void *)buf;
			if (h->opcode == FUSE_FLUSH && (h->unique & (1ull << 62))) {
				close(fd);
				fprintf(stderr, "rawfs: closed clone fd %d with a synthetic FLUSH unanswered\n", fd);
				break;
			}
		}
		if (opt_bad == BAD_DUPCLOSE && fd != fd0 && ndup < 10 && n >= (ssize_t)sizeof(struct fuse_in_header)) {
			const struct fuse_in_header *h = (const void *)buf;
			if (h->opcode == FUSE_FLUSH && (h->unique & (1ull << 62))) {
				int nfd = copy_fd(fd, ndup++);
				if (nfd >= 0) {
					close(fd);      /* the FLUSH read on fd, now unanswered on it */
					fd = nfd;
				}
			}
		}
		serve(fd, buf, (size_t)n);
		const struct fuse_in_header *sh = (const void *)buf;
		if (opt_forgetwait && n >= (ssize_t)sizeof *sh && !(sh->unique & (1ull << 62)) &&
		    (sh->opcode == FUSE_FORGET || sh->opcode == FUSE_BATCH_FORGET))
			usleep(300000);
	}
	if (ep >= 0)
		close(ep);
	free(hdr);
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "t:covsSRCPnDLUWw:FYEe:I:X:")) != -1) {
		switch (c) {
		case 't': opt_threads = atoi(optarg); break;
		case 'c': opt_clone = 1; break;
		case 'o': opt_other = 1; break;
		case 'v': opt_readv = 1; break;
		case 's': opt_splice = 1; break;
		case 'S': opt_splice_write = 1; break;
		case 'R': opt_rawpipe = 1; break;
		case 'C': opt_closeforeign = 1; break;
		case 'P': opt_noplus = 1; break;
		case 'n': opt_notify = 1; break;
		case 'D': opt_hidden = 1; break;
		case 'L': opt_lockalloc = 1; break;
		case 'U': opt_nobody = 1; break;
		case 'W': opt_wide = WIDE; break;
		case 'w':
			opt_wide = atoi(optarg);
			if (opt_wide < 1 || opt_wide > WIDE_MAX) { fprintf(stderr, "rawfs: -w %s: not 1..%d\n", optarg, WIDE_MAX); return 2; }
			break;
		case 'F': opt_forgetwait = 1; break;
		case 'Y': opt_slow = 1; break;
		case 'E': opt_poll = 1; break;
		case 'e':
			opt_wait = optarg;
			if (strcmp(optarg, "poll") && strcmp(optarg, "ppoll") && strcmp(optarg, "select") && strcmp(optarg, "epoll")) {
				fprintf(stderr, "rawfs: -e %s: not poll, ppoll, select or epoll\n", optarg);
				return 2;
			}
			break;
		case 'I': opt_idle = optarg; break;
		case 'X':
			for (int i = 1; i < (int)(sizeof bad_names / sizeof bad_names[0]); i++)
				if (strcmp(optarg, bad_names[i]) == 0)
					opt_bad = i;
			if (!opt_bad) { fprintf(stderr, "rawfs: -X %s: unknown\n", optarg); return 2; }
			break;
		default: fprintf(stderr, "usage: rawfs [-t N] [-c] [-o] [-v] [-s] [-S] [-R] [-C] [-P] [-n] [-D] [-L] [-U] [-W] [-w N] [-F] [-Y] [-E] [-e MODE] [-I FIFO] [-X KIND] MOUNTPOINT\n"); return 2;
		}
	}
	if (optind + 1 != argc || opt_threads < 1 || opt_threads > 64) {
		fprintf(stderr, "usage: rawfs [-t N] [-c] [-o] [-v] [-s] [-S] [-R] [-C] [-P] [-n] [-D] [-L] [-U] [-W] [-w N] [-F] [-Y] [-E] [-e MODE] [-I FIFO] [-X KIND] MOUNTPOINT\n");
		return 2;
	}
	tree();
	fd0 = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd0 < 0) { perror("rawfs: /dev/fuse"); return 1; }
	char opts[128];
	snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd0);
	if (mount("rawfs", argv[optind], "fuse.rawfs", MS_NOSUID | MS_NODEV, opts)) {
		perror("rawfs: mount");
		return 1;
	}
	hidden_fd = insn_dup(fd0);
	pthread_t th[64], rt;
	int fds[64];
	for (int i = 1; i < opt_threads; i++) {
		fds[i] = fd0;
		if (opt_clone) {
			fds[i] = open("/dev/fuse", O_RDWR | O_CLOEXEC);
			if (fds[i] < 0 || ioctl(fds[i], FUSE_DEV_IOC_CLONE, &fd0)) { perror("rawfs: clone"); return 1; }
		}
	}
	/* before any thread: every request it serves comes after */
	if (opt_nobody && (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))) {
		perror("rawfs: setresuid");
		return 1;
	}
	if (opt_poll)
		for (int i = 0; i < opt_threads; i++)
			fcntl(i ? fds[i] : fd0, F_SETFL, fcntl(i ? fds[i] : fd0, F_GETFL) | O_NONBLOCK);
	if (opt_other)
		pthread_create(&rt, NULL, reply_thread, NULL);
	if (opt_idle) {
		pthread_t it;
		pthread_create(&it, NULL, idle_thread, NULL);
		pthread_detach(it);
	}
	for (int i = 1; i < opt_threads; i++)
		pthread_create(&th[i], NULL, reader, (void *)(intptr_t)fds[i]);
	reader((void *)(intptr_t)fd0);
	for (int i = 1; i < opt_threads; i++)
		pthread_join(th[i], NULL);
	if (opt_other) {
		pthread_mutex_lock(&lock);
		rq_stop = 1;
		pthread_cond_signal(&rq_cond);
		pthread_mutex_unlock(&lock);
		pthread_join(rt, NULL);
	}
	for (int i = 0; i < noutcomes; i++)
		fprintf(stderr, "rawfs: bad-input %s: %s\n", outcomes[i].what, outcomes[i].err ? strerror(outcomes[i].err) : "accepted");
	fprintf(stderr, "rawfs: requests=%lu replies=%lu forgets=%lu private=%lu spliced_in=%lu spliced_out=%lu "
		"foreign_pipes_closed=%lu private_half_closed=%lu private_after_close=%lu errors=%d dirplus_max=%lu "
		"batch_forget_max=%lu\n",
		nreq, nreply, nforget, nsynth, nspliced_in, nspliced_out, nclosed, nsynth_half, nsynth_after, errors, dirplus_max,
		batch_forget_max);
	return errors ? 1 : 0;
}
