/* wire_splice.c - the wire on daemons that splice: requests spliced from
 * /dev/fuse into a pipe (libfuse3's default when it can grow its pipe to
 * max_write + header, libfuse2 and mergerfs with -o splice_read), replies
 * spliced from a pipe into /dev/fuse (-o splice_write: libfuse vmsplices
 * the header into the pipe, splices the data after it, then splices the
 * pipe to the fd).
 *
 * The data stays in the daemon's pipe.  The wire reads a copy of its first
 * bytes through tee(2) into a pipe of its own: tee duplicates the pipe's
 * buffers and consumes nothing, so a WRITE's pages are never copied and
 * the daemon reads its pipe as if the shim were not there.  A request's
 * copy goes through wire_proto.c's read path (ledger, op context, held
 * FORGETs and RELEASEs), a reply's through its write path (absorbed when
 * its unique is the shim's; a READDIRPLUS reply is read whole, each of its
 * records may give a reference).  The daemon's pipe is changed only when that
 * path changes the message: a request swallowed (a private NOTIFY_REPLY, a
 * held-back FORGET) is drained, a rewritten one (a BATCH_FORGET without
 * its pinned entries) replaces it, a synthetic request or a held message
 * is written into the pipe and its length returned, as the kernel's
 * splice would: libfuse then reads it from the pipe (fuse_ll_receive_buf
 * copies small requests out at once).  An absorbed reply is drained from
 * the pipe, so the kernel never sees it.
 *
 * tee needs the pipe's read end: pipe/pipe2 are interposed to learn which
 * read end belongs to each write end.  A splice into a pipe the wire did
 * not see made (a raw syscall, an inherited pipe), or whose first bytes
 * are not the request the splice returned (the pipe was not empty), makes
 * the wire stop following that connection, with a notice once.  vmsplice
 * needs nothing of its own: it only fills the pipe, and the reply is read
 * where it reaches the kernel, at the splice. */
#include "wire.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CAP 4096        /* what is copied of a message: every request the ledger parses, and more */
#define WHOLE_MAX (1024 * 1024 + 4096)   /* a READDIRPLUS reply read whole: the kernel's largest read */
#define HDR ((size_t)sizeof(struct fuse_in_header))
#define OHDR ((size_t)sizeof(struct fuse_out_header))

typedef ssize_t (*splice_fn)(int, loff_t *, int, loff_t *, size_t, unsigned int);
static void *real_splice_p;

static ssize_t real_splice(int in, loff_t *oin, int out, loff_t *oout, size_t len, unsigned int fl)
{
	return ((splice_fn)fsr_dlsym_next(&real_splice_p, "splice"))(in, oin, out, oout, len, fl);
}

static uint64_t st_in, st_out;    /* requests and replies the wire read from a pipe */

/* ---- the shim's own writes into pipes: no SIGPIPE ---- */

/* A write or tee into a pipe whose read end is closed raises SIGPIPE at the
 * writing thread, and SIGPIPE's default action ends the process: a daemon
 * that closed the read end of the shim's scratch pipe (rawfs -C, any daemon
 * that closes fds it does not own), or the read end of its own request pipe
 * while a reader was handed a synthetic request, would be killed by a write
 * it never made (rawfs -t 2 -s -S -C died with status 141 in CI).  As
 * libraries do for their own writes: SIGPIPE is blocked for this thread
 * around the call, and when the call failed with EPIPE, the SIGPIPE it
 * raised (pending on the thread, blocked) is taken back with a 0-timeout
 * sigtimedwait before the old mask returns -- unless one was pending before
 * the call (the daemon's own, left alone).  Raw syscalls: the kernel's
 * 8-byte sigset, no libc state. */
#define KSIGSET 8

struct nopipe {
	sigset_t old;
	int pending;
};

static void nopipe_on(struct nopipe *g)
{
	sigset_t pipe_set, pend;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &pipe_set, &g->old, KSIGSET);
	sigemptyset(&pend);
	g->pending = syscall(SYS_rt_sigpending, &pend, KSIGSET) == 0 && sigismember(&pend, SIGPIPE);
}

static void nopipe_off(struct nopipe *g, int failed_epipe)
{
	int e = errno;
	if (failed_epipe && !g->pending) {
		sigset_t pipe_set;
		struct timespec zero = { 0, 0 };
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		syscall(SYS_rt_sigtimedwait, &pipe_set, NULL, &zero, KSIGSET);
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &g->old, NULL, KSIGSET);
	errno = e;
}

ssize_t fsr_wire_nosigpipe_write(int fd, const void *buf, size_t n)
{
	struct nopipe g;
	nopipe_on(&g);
	ssize_t k = syscall(SYS_write, fd, buf, n);
	nopipe_off(&g, k < 0 && errno == EPIPE);
	return k;
}

static ssize_t nosigpipe_tee(int in, int out, size_t n, unsigned int fl)
{
	struct nopipe g;
	nopipe_on(&g);
	ssize_t k = syscall(SYS_tee, in, out, n, fl);
	nopipe_off(&g, k < 0 && errno == EPIPE);
	return k;
}

/* ---- which read end belongs to a write end ---- */

static int pipe_rd[FSR_WIRE_FDS];   /* write end -> its read end + 1; 0: unknown */

static void pipe_made(const int *fds)
{
	if ((unsigned int)fds[0] < FSR_WIRE_FDS)
		__atomic_store_n(&pipe_rd[fds[0]], 0, __ATOMIC_RELAXED);
	if ((unsigned int)fds[1] < FSR_WIRE_FDS)
		__atomic_store_n(&pipe_rd[fds[1]], fds[0] + 1, __ATOMIC_RELAXED);
}

static int read_end(int w)
{
	return (unsigned int)w < FSR_WIRE_FDS ? __atomic_load_n(&pipe_rd[w], __ATOMIC_RELAXED) - 1 : -1;
}

FSR_EXPORT int fsrw_pipe(int fds[2]) __asm__("pipe");
int fsrw_pipe(int fds[2])
{
	static void *real;
	int r = ((int (*)(int *))fsr_dlsym_next(&real, "pipe"))(fds);
	if (r == 0)
		pipe_made(fds);
	return r;
}

FSR_EXPORT int fsrw_pipe2(int fds[2], int flags) __asm__("pipe2");
int fsrw_pipe2(int fds[2], int flags)
{
	static void *real;
	int r = ((int (*)(int *, int))fsr_dlsym_next(&real, "pipe2"))(fds, flags);
	if (r == 0)
		pipe_made(fds);
	return r;
}

/* ---- looking into a pipe without taking from it ---- */

/* one pipe for all threads (tee and its read take a few microseconds): a
 * pool would let one slot remade after a daemon closed the shim's fds take
 * another slot's old numbers while that slot still uses them */
static struct scratch {
	struct fsr_mutex lock;
	int made, r, w;
	ino_t ino;
	size_t size;        /* its capacity (F_GETPIPE_SZ) */
} scratch;

/* away from the low numbers a daemon expects to own (as out.c's log fd) */
static int high_fd(int fd)
{
	int h = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 600);
	if (h < 0)
		return fd;
	syscall(SYS_close, fd);
	return h;
}

static void scratch_make(struct scratch *s)
{
	int p[2];
	struct stat st;
	if (syscall(SYS_pipe2, p, O_NONBLOCK | O_CLOEXEC) != 0)
		return;
	s->r = high_fd(p[0]);
	s->w = high_fd(p[1]);
	s->ino = syscall(SYS_fstat, s->r, &st) == 0 ? st.st_ino : 0;
	long sz = syscall(SYS_fcntl, s->w, F_GETPIPE_SZ);
	s->size = sz > 0 ? (size_t)sz : 4096;
	s->made = 1;
}

/* both ends still the shim's pipe (a daemon may close fds it does not own) */
static int scratch_ours(const struct scratch *s)
{
	struct stat a, b;
	return syscall(SYS_fstat, s->r, &a) == 0 && syscall(SYS_fstat, s->w, &b) == 0 && S_ISFIFO(a.st_mode) &&
	       a.st_ino == s->ino && b.st_ino == s->ino;
}

/* Room for cap bytes in the scratch pipe (s->lock held).  tee takes a slot
 * of it for each buffer of the daemon's pipe, however short (a vmspliced
 * header is one): room for the bytes in pages, and two slots more. */
static void scratch_room(struct scratch *s, size_t cap)
{
	size_t want = (cap + 4095) / 4096 * 4096 + 2 * 4096;
	if (cap <= CAP || want <= s->size)
		return;
	long sz = syscall(SYS_fcntl, s->w, F_SETPIPE_SZ, (int)want);
	if (sz > 0)
		s->size = (size_t)sz;
}

/* the first (at most cap) bytes of pipe `rd`, copied to buf and left in the
 * pipe; -1 when tee cannot (not a pipe, empty, no pipe of the shim's) */
static ssize_t peek(int rd, void *buf, size_t cap)
{
	struct scratch *s = &scratch;
	ssize_t n = -1;
	fsr_mutex_lock(&s->lock);
	if (!s->made)
		scratch_make(s);
	if (s->made)
		scratch_room(s, cap);
	if (s->made) {
		n = nosigpipe_tee(rd, s->w, cap, SPLICE_F_NONBLOCK);
		if (n < 0 && (errno == EBADF || errno == EINVAL || errno == EPIPE) && !scratch_ours(s)) {
			/* closed behind the shim's back (EPIPE: the read end only):
			 * a new one; the old numbers are not ours, except an end
			 * still on the old pipe, which nobody else can use */
			struct stat st;
			for (int i = 0; i < 2; i++) {
				int fd = i ? s->w : s->r;
				if (syscall(SYS_fstat, fd, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_ino == s->ino)
					syscall(SYS_close, fd);
			}
			s->made = 0;
			scratch_make(s);
			if (s->made)
				n = nosigpipe_tee(rd, s->w, cap, SPLICE_F_NONBLOCK);
		}
		size_t got = 0;
		while (n > 0 && got < (size_t)n) {
			ssize_t k = syscall(SYS_read, s->r, (char *)buf + got, (size_t)n - got);
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		if (n > 0 && got != (size_t)n)
			n = -1;
	}
	fsr_mutex_unlock(&s->lock);
	return n;
}

/* take n bytes out of pipe `rd` (a message the wire swallowed or replaced) */
static void drain(int rd, size_t n)
{
	char sink[CAP];
	while (n) {
		ssize_t k = syscall(SYS_read, rd, sink, n < sizeof sink ? n : sizeof sink);
		if (k <= 0)
			return;
		n -= (size_t)k;
	}
}

/* ---- requests: splice(fuse fd -> pipe) ---- */

static __thread struct {
	int w, r;
	size_t len;
	unsigned int fl;
	size_t in_pipe;     /* the kernel's message spliced into the pipe and not given back yet */
	size_t peeked;      /* its first bytes, in orig */
	int lost;           /* could not be read back: the connection is left alone */
	const char *orig;
} si __attribute__((tls_model("initial-exec")));

/* wire_proto.c's "real read": the kernel's splice, then a copy of the
 * message's first bytes into iov[0] (it stays in the pipe) */
static ssize_t rd_splice(int fd, const struct iovec *iov, int n)
{
	(void)n;
	if (si.in_pipe) {          /* the last one was swallowed by the wire */
		drain(si.r, si.in_pipe);
		si.in_pipe = 0;
	}
	ssize_t r = real_splice(fd, NULL, si.w, NULL, si.len, si.fl);
	if (r <= 0)
		return r;
	int e = errno;
	size_t want = (size_t)r < CAP ? (size_t)r : CAP;
	struct fuse_in_header h = { .len = 0 };
	ssize_t k = peek(si.r, (void *)si.orig, want);
	if (k == (ssize_t)want && want >= HDR)
		memcpy(&h, si.orig, HDR);
	if (h.len != (size_t)r) {
		si.lost = 1;
		fsr_wire_splice_lost(fd, "the daemon spliced a request into a pipe whose first bytes are not that "
					 "request (or tee(2) failed)");
		errno = e;
		return r;
	}
	si.in_pipe = (size_t)r;
	si.peeked = want;
	memcpy(iov[0].iov_base, si.orig, want);
	__atomic_add_fetch(&st_in, 1, __ATOMIC_RELAXED);
	errno = e;
	return r;
}

/* what the daemon's read can take: a splice's length, not the peek buffer
 * (the kernel refuses one below FUSE_MIN_READ_BUFFER, so does the wire) */
size_t fsr_wire_read_room(fsr_wire_io_fn rd, size_t cap)
{
	return rd == rd_splice ? si.len : cap;
}

static ssize_t splice_in(int fd, int w, size_t len, unsigned int fl, void *caller)
{
	int r = read_end(w);
	if (r < 0) {
		fsr_wire_splice_lost(fd, "the daemon splices requests into a pipe the wire did not see made "
					 "(pipe/pipe2), so it cannot read them");
		return real_splice(fd, NULL, w, NULL, len, fl);
	}
	char buf[CAP], orig[CAP];
	si.w = w;
	si.r = r;
	si.len = len;
	si.fl = fl;
	si.in_pipe = si.peeked = 0;
	si.lost = 0;
	si.orig = orig;
	struct iovec v = { buf, sizeof buf };
	ssize_t ret = fsr_wire_read(fd, &v, 1, rd_splice, caller);
	int e = errno;
	if (si.lost)
		return ret;        /* the kernel's message, untouched, in the pipe */
	if (ret <= 0) {
		if (si.in_pipe)
			drain(si.r, si.in_pipe);
		errno = e;
		return ret;
	}
	/* the kernel's message as it came: it is in the pipe already */
	if (si.in_pipe == (size_t)ret && ((size_t)ret > si.peeked || memcmp(buf, orig, (size_t)ret) == 0))
		return ret;
	/* swallowed or rewritten by the wire, or a message of the wire's own:
	 * the pipe gets what the daemon would have read */
	if (si.in_pipe)
		drain(si.r, si.in_pipe);
	si.in_pipe = 0;
	if ((size_t)ret > sizeof buf) {
		errno = EIO;       /* cannot happen: the wire's messages are small */
		return -1;
	}
	/* the daemon's pipe: with its read end closed the kernel's splice
	 * would have failed (EPIPE, SIGPIPE) or, the connection gone, not
	 * reached the pipe at all; the shim's write fails with EPIPE alone */
	ssize_t k = fsr_wire_nosigpipe_write(w, buf, (size_t)ret);
	if (k != ret) {
		errno = k < 0 ? errno : EIO;
		return -1;
	}
	errno = e;
	return ret;
}

/* ---- replies: splice(pipe -> fuse fd) ---- */

static __thread struct {
	int r;
	size_t len;
	unsigned int fl;
	int called;
} so __attribute__((tls_model("initial-exec")));

static ssize_t wr_splice(int fd, const struct iovec *iov, int n)
{
	(void)iov;
	(void)n;
	so.called = 1;
	return real_splice(so.r, NULL, fd, NULL, so.len, so.fl);
}

static ssize_t splice_out(int r, int fd, size_t len, unsigned int fl)
{
	char buf[CAP];
	ssize_t k = peek(r, buf, len < CAP ? len : CAP);
	if (k < (ssize_t)OHDR)
		return real_splice(r, NULL, fd, NULL, len, fl);   /* not a reply the wire can read: the kernel answers it */
	__atomic_add_fetch(&st_out, 1, __ATOMIC_RELAXED);
	/* a READDIRPLUS reply past the first bytes: all of it, or its records
	 * past them would go uncounted (the ledger then inexact) */
	char *whole = NULL;
	if (len > CAP && k == CAP) {
		struct fuse_out_header oh;
		memcpy(&oh, buf, OHDR);
		size_t want = fsr_wire_reply_reads(fd, &oh, len);
		int e = errno;
		if (want > CAP && want <= WHOLE_MAX && (whole = fsr_alloc(want)) && peek(r, whole, want) != (ssize_t)want) {
			fsr_free(whole);
			whole = NULL;
		}
		errno = e;
	}
	so.r = r;
	so.len = len;
	so.fl = fl;
	so.called = 0;
	struct iovec v = { whole ? whole : buf, whole ? len : (size_t)k };
	ssize_t ret = fsr_wire_reply(fd, &v, 1, len, wr_splice);
	int e = errno;
	if (!so.called && ret == (ssize_t)len)
		drain(r, len);     /* absorbed: the kernel never sees it */
	fsr_free(whole);
	errno = e;
	return ret;
}

ssize_t fsr_wire_splice(int in, loff_t *oin, int out, loff_t *oout, size_t len, unsigned int fl, void *caller)
{
	/* /dev/fuse has no offsets: with one the kernel fails the call anyway */
	if (!oin && !oout) {
		if (fsr_wire_is_fd(in) && !fsr_wire_is_fd(out) && fsr_wire_follows(in, 1))
			return splice_in(in, out, len, fl, caller);
		if (fsr_wire_is_fd(out) && !fsr_wire_is_fd(in) && fsr_wire_follows(out, 0))
			return splice_out(in, out, len, fl);
	}
	return real_splice(in, oin, out, oout, len, fl);
}

int fsr_wire_splice_stats(char *buf, size_t len)
{
	uint64_t i = __atomic_load_n(&st_in, __ATOMIC_RELAXED), o = __atomic_load_n(&st_out, __ATOMIC_RELAXED);
	if (!i && !o)
		return 0;
	return fsr_fmt(buf, len, " wire_splice_in=%llu wire_splice_out=%llu", (unsigned long long)i,
		       (unsigned long long)o);
}
