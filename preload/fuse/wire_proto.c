/* wire_proto.c - the FUSE protocol as it crosses the daemon's /dev/fuse fds:
 * what the kernel holds (the wire's ledger), which op each thread serves,
 * and reclaim as synthetic requests the kernel never sees.
 *
 * Ledger.  Entries come from the replies to LOOKUP, MKNOD, MKDIR, SYMLINK,
 * LINK and CREATE and from READDIRPLUS records (the kernel's own rules:
 * nodeid 0, "." and ".." give no reference), minus FORGET/BATCH_FORGET;
 * handles from OPEN, OPENDIR, CREATE and TMPFILE replies until
 * RELEASE/RELEASEDIR.  A reference is counted before its reply reaches the
 * kernel (and taken back if the write fails), a forget before the daemon
 * reads it, and a request whose reply the wire does not see counts nothing:
 * the count is never above the kernel's, so whatever the wire calls back on
 * is alive in the daemon.  The tables, the targets and their choice are
 * ledger.c's, shared with the libfuse transport's sessions (fuse_state.c;
 * the two never serve the same connection).
 *
 * Op contexts.  A thread is in op U from the read that returned U until it
 * writes U's reply or reads again.
 *
 * Reclaim.  A pass queues synthetic requests with private uniques
 * (PRIVATE: bit 62 set, even, bit 63 clear: no kernel id, interrupt id,
 * resend id or libfuse notify id has that form): LOOKUP of a counted entry
 * and then FORGET of exactly the node that reply returned, FSYNC and FLUSH
 * (a private lock owner) on file handles, FSYNCDIR on directory handles.
 * The next reader of the connection gets one instead of a kernel request
 * (a reader parked in the kernel, or waiting in poll/select/epoll for the
 * fd, wire_poll.c, is woken by a NOTIFY_RETRIEVE whose NOTIFY_REPLY the
 * wire swallows), serves it as reclaim (NORECLAIM, the
 * fs_reclaim pseudo-lock held), and its reply is absorbed.  A kernel
 * FORGET or RELEASE that touches what a synthetic request uses is held back
 * until that request is done.  Passes are asynchronous: nobody waits. */
#include "wire.h"
#include "modules.h"
#include "fuse_shim.h"
#include "ledger.h"
#include "lockdep.h"
#include <errno.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WIRE_CONNS     32
#define WIRE_INFLIGHT  512
#define WIRE_BUCKETS   1024        /* the hash of a request's unique */
#define WIRE_SYN       8           /* synthetic requests per connection at once */
#define WIRE_HELD      64          /* kernel messages held back per connection */
#define WIRE_HELD_BYTES 128
#define WIRE_NAME_MAX  FSR_LEDGER_NAME_MAX
#define PRIVATE        (1ull << 62)
#define IS_PRIVATE(u)  (((u) & (PRIVATE | (1ull << 63) | 1ull)) == PRIVATE)
#define OVER_IO_URING  (1ull << 41)  /* FUSE_OVER_IO_URING: flags2 bit 9 (7.42) */
#define LOCK_OWNER     0x4653524543cull  /* FLUSH's owner: no POSIX lock of the daemon's */
#define HDR            ((uint32_t)sizeof(struct fuse_in_header))
#define OHDR           ((uint32_t)sizeof(struct fuse_out_header))

enum { CONN_FREE, CONN_NEW, CONN_WIRE, CONN_LIB, CONN_OFF };
enum { SYN_FREE, SYN_QUEUED, SYN_SENT };
enum { SK_LOOKUP, SK_FORGET, SK_FSYNC, SK_FSYNCDIR, SK_FLUSH };

struct wreq {                       /* a kernel request in flight */
	uint64_t unique;                /* 0: free */
	uint32_t opcode;
	uint64_t nodeid;
	char name[WIRE_NAME_MAX + 1];   /* lookup-like ops */
};

struct wsyn {
	int state, kind;
	int fd;                         /* SYN_SENT: the fd whose reader got it */
	uint64_t unique, nodeid, parent, fh;
	int dir;
	unsigned int gfp;
	struct fsr_pass *pass;          /* a synchronous pass waits for its reply (NULL: nobody) */
	uint32_t len;
	union {
		struct fuse_in_header h;
		char buf[HDR + 24 + WIRE_NAME_MAX + 1];
	} m;
};

struct wheld {
	uint32_t len;
	int late;                       /* waited timeout_ms once: no reader waits for it again */
	char buf[WIRE_HELD_BYTES];
};

struct wconn {
	int state, nfds, inited, wake_fd, learned;
	int lossy;                      /* a reference may have gone uncounted: no lookup-drift */
	int async_only;                 /* read by code loaded at run time (an interpreter's libfuse):
	                                   no pass waits for its reader */
	int own_last;                   /* a reader got the shim's request last: the kernel's go first */
	unsigned int turn;              /* which kind a pass queues first */
	uint32_t kminor, minor;
	uint32_t cr_uid, cr_gid, cr_pid;  /* the credentials of the pass queueing requests now */
	int parked;                     /* readers in the kernel's read (atomic) */
	int wake_out;                   /* a wake-up written for no parked reader, its NOTIFY_REPLY
	                                   not read yet (c->lock): at most one at a time */
	int polling;                    /* a reader reads a nonblocking fd: an event loop, which
	                                   waits in poll/epoll, not in read (atomic) */
	int waiting;                    /* threads in poll/select/epoll on one of its fds (wire_poll.c;
	                                   atomic) */
	uint64_t lib_owners;            /* owner bits (oplocks.c) of the libfuse sessions whose ops
	                                   replied on this connection (atomic) */
	struct fsr_mutex lock;
	int unpin_seq;                  /* futex: bumped when a pin drops */
	uint64_t next_id;
	struct wreq req[WIRE_INFLIGHT];
	struct fsr_ledger led;          /* what the kernel holds (ledger.c), under lock */
	struct wsyn syn[WIRE_SYN];
	int nheld;
	struct wheld held[WIRE_HELD];
};

static struct wconn *conns[WIRE_CONNS];
static struct fsr_mutex conns_lock;

static uint64_t st_async, st_sync, st_forget, st_fsync, st_flush;
static uint64_t st_inexact;   /* connections whose ledger went inexact (no lookup-drift there) */
static int wire_used;     /* a connection went over the wire: its counters go on the stats line */

/* what a thread serves now */
struct wthr {
	struct fsr_opctx op;
	int in_op;
	uint64_t op_unique;
	int serving;                    /* a synthetic request, as reclaim */
	unsigned int saved_noreclaim;
	int serving_pass;               /* t->pass set: its allocator waits for this reply */
	int polled;                     /* its last poll/select/epoll on a FUSE fd said readable */
	int read_own;                   /* its last read got a synthetic request */
};
static __thread struct wthr wt __attribute__((tls_model("initial-exec")));

/* ---- names ---- */

static const char *const op_names[FUSE_TMPFILE + 1] = {
	[FUSE_LOOKUP] = "lookup", [FUSE_FORGET] = "forget", [FUSE_GETATTR] = "getattr",
	[FUSE_SETATTR] = "setattr", [FUSE_READLINK] = "readlink", [FUSE_SYMLINK] = "symlink",
	[FUSE_MKNOD] = "mknod", [FUSE_MKDIR] = "mkdir", [FUSE_UNLINK] = "unlink", [FUSE_RMDIR] = "rmdir",
	[FUSE_RENAME] = "rename", [FUSE_LINK] = "link", [FUSE_OPEN] = "open", [FUSE_READ] = "read",
	[FUSE_WRITE] = "write", [FUSE_STATFS] = "statfs", [FUSE_RELEASE] = "release",
	[FUSE_FSYNC] = "fsync", [FUSE_SETXATTR] = "setxattr", [FUSE_GETXATTR] = "getxattr",
	[FUSE_LISTXATTR] = "listxattr", [FUSE_REMOVEXATTR] = "removexattr", [FUSE_FLUSH] = "flush",
	[FUSE_INIT] = "init", [FUSE_OPENDIR] = "opendir", [FUSE_READDIR] = "readdir",
	[FUSE_RELEASEDIR] = "releasedir", [FUSE_FSYNCDIR] = "fsyncdir", [FUSE_GETLK] = "getlk",
	[FUSE_SETLK] = "setlk", [FUSE_SETLKW] = "setlkw", [FUSE_ACCESS] = "access",
	[FUSE_CREATE] = "create", [FUSE_INTERRUPT] = "interrupt", [FUSE_BMAP] = "bmap",
	[FUSE_DESTROY] = "destroy", [FUSE_IOCTL] = "ioctl", [FUSE_POLL] = "poll",
	[FUSE_NOTIFY_REPLY] = "notify_reply", [FUSE_BATCH_FORGET] = "forget_multi",
	[FUSE_FALLOCATE] = "fallocate", [FUSE_READDIRPLUS] = "readdirplus", [FUSE_RENAME2] = "rename",
	[FUSE_LSEEK] = "lseek", [FUSE_COPY_FILE_RANGE] = "copy_file_range",
	[FUSE_SETUPMAPPING] = "setupmapping", [FUSE_REMOVEMAPPING] = "removemapping",
	[FUSE_SYNCFS] = "syncfs", [FUSE_TMPFILE] = "tmpfile",
};
static const char *const syn_names[] = {
	[SK_LOOKUP] = "lookup (reclaim)", [SK_FORGET] = "forget (reclaim)", [SK_FSYNC] = "fsync (reclaim)",
	[SK_FSYNCDIR] = "fsyncdir (reclaim)", [SK_FLUSH] = "flush (reclaim)",
};

const char *fsr_fuse_op_name(uint32_t opcode)
{
	const char *n = opcode <= FUSE_TMPFILE ? op_names[opcode] : NULL;
	return n ? n : "request";
}

/* ---- iovecs ---- */

static size_t iov_total(const struct iovec *v, int n)
{
	size_t s = 0;
	for (int i = 0; i < n; i++)
		s += v[i].iov_len;
	return s;
}

/* len bytes at offset off of the iovecs, copied to buf (get) or from it
 * (put); returns the bytes copied */
static size_t iov_copy(const struct iovec *v, int n, size_t off, void *buf, size_t len, int put)
{
	/* the common case: a header within the first iovec */
	if (n > 0 && off <= v[0].iov_len && len <= v[0].iov_len - off) {
		char *iov = (char *)v[0].iov_base + off;
		memcpy(put ? iov : (char *)buf, put ? (char *)buf : iov, len);
		return len;
	}
	size_t done = 0;
	for (int i = 0; i < n && done < len; i++) {
		size_t l = v[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		size_t k = l - off < len - done ? l - off : len - done;
		char *iov = (char *)v[i].iov_base + off, *mem = (char *)buf + done;
		memcpy(put ? iov : mem, put ? mem : iov, k);
		done += k;
		off = 0;
	}
	return done;
}

static size_t iov_get(const struct iovec *v, int n, size_t off, void *dst, size_t len)
{
	return iov_copy(v, n, off, dst, len, 0);
}

static void iov_put(const struct iovec *v, int n, size_t off, const void *src, size_t len)
{
	(void)iov_copy(v, n, off, (void *)src, len, 1);
}

/* ---- connections ---- */

int fsr_wire_conn_new(void)
{
	struct fsr_thread *t = fsr_thread_self();
	int got = -1;
	fsr_busy_enter(t);
	fsr_mutex_lock(&conns_lock);
	for (int i = 0; i < WIRE_CONNS && got < 0; i++) {
		if (!conns[i])
			conns[i] = fsr_alloc(sizeof *conns[i]);
		if (conns[i] && conns[i]->state == CONN_FREE) {
			memset(conns[i], 0, sizeof *conns[i]);
			conns[i]->state = CONN_NEW;
			conns[i]->wake_fd = -1;
			got = i;
		}
	}
	fsr_mutex_unlock(&conns_lock);
	t->busy--;
	if (got < 0) {
		static int said;
		if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
			fsr_say("fsreclaim: more than %d FUSE connections: the later ones are not followed", WIRE_CONNS);
	}
	return got;
}

void fsr_wire_conn_ref(int ci)
{
	if (ci >= 0 && ci < WIRE_CONNS && conns[ci])
		__atomic_add_fetch(&conns[ci]->nfds, 1, __ATOMIC_ACQ_REL);
}

static void syn_fd_closed(int ci, int fd, int to);

void fsr_wire_conn_fd_closed(int ci, int fd, int to)
{
	struct wconn *c = ci < WIRE_CONNS ? conns[ci] : NULL;
	if (!c)
		return;
	if (c->wake_fd == fd)
		c->wake_fd = to;      /* a dup of it (the same file) still reaches the connection */
	syn_fd_closed(ci, fd, to);
	if (__atomic_sub_fetch(&c->nfds, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	fsr_mutex_lock(&c->lock);
	fsr_ledger_clear(&c->led);
	fsr_mutex_unlock(&c->lock);
	fsr_mutex_lock(&conns_lock);
	c->state = CONN_FREE;
	fsr_mutex_unlock(&conns_lock);
	t->busy--;
}

static struct wconn *conn_of_fd(int fd)
{
	int ci = fsr_wire_conn_of(fd);
	return ci >= 0 && ci < WIRE_CONNS ? conns[ci] : NULL;
}

/* a unique id the kernel never issues (bit 62 set, even); c->lock held */
static uint64_t private_unique(struct wconn *c)
{
	return PRIVATE | (++c->next_id << 1);
}

/* a synthetic FORGET of nlookup references of nodeid */
struct wforget { struct fuse_in_header h; struct fuse_forget_in f; };
static struct wforget forget_msg(struct wconn *c, uint64_t nodeid, uint64_t nlookup)
{
	struct wforget m;
	memset(&m, 0, sizeof m);
	m.h.len = sizeof m;
	m.h.opcode = FUSE_FORGET;
	m.h.unique = private_unique(c);
	m.h.nodeid = nodeid;
	m.f.nlookup = nlookup;
	return m;
}

static void unpin_wake(struct wconn *c)
{
	__atomic_add_fetch(&c->unpin_seq, 1, __ATOMIC_RELEASE);
	fsr_futex_wake(&c->unpin_seq, 0x7fffffff);
}

/* the connection stops being followed: keep nothing the kernel may have changed */
static void conn_off(struct wconn *c, const char *why)
{
	static int said;
	fsr_mutex_lock(&c->lock);
	if (c->state == CONN_WIRE || c->state == CONN_NEW) {
		c->state = CONN_OFF;
		fsr_ledger_clear(&c->led);
	}
	fsr_mutex_unlock(&c->lock);
	unpin_wake(c);
	if (why && !__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		fsr_say("fsreclaim: %s: the wire stops following that FUSE connection (no more passes into it)", why);
}

/* the kernel ended the connection (aborted through fusectl, or unmounted):
 * nothing queued will be read, nobody may wait for it */
static void conn_gone(struct wconn *c, int e)
{
	if (c->state != CONN_WIRE && c->state != CONN_NEW)
		return;
	struct fsr_thread *t = fsr_thread_self();
	int saved = errno;
	fsr_busy_enter(t);
	conn_off(c, NULL);
	t->busy--;
	static int said;
	if (e == ECONNABORTED && !__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		fsr_say("fsreclaim: the FUSE connection was aborted (a read of /dev/fuse returned ECONNABORTED): the "
			"wire stops following it; its synthetic requests are dropped");
	errno = saved;
}

void fsr_wire_splice_lost(int fd, const char *why)
{
	struct wconn *c = conn_of_fd(fd);
	if (!c || c->state == CONN_LIB || c->state == CONN_OFF || fsr_opt.fuse_transport == FSR_TRANSPORT_LIB)
		return;
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	conn_off(c, why);
	t->busy--;
}

int fsr_wire_follows(int fd, int reading)
{
	struct wconn *c = conn_of_fd(fd);
	if (!c || fsr_opt.fuse_transport == FSR_TRANSPORT_LIB)
		return 0;
	int st = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
	if (reading)
		return st == CONN_NEW || st == CONN_WIRE || (st == CONN_OFF && c->nheld);
	return st == CONN_WIRE || st == CONN_OFF;
}

/* ---- the ledger (c->lock held) ---- */

static inline unsigned int hash64(uint64_t x)
{
	x *= 0x9e3779b97f4a7c15ull;
	return (unsigned int)(x >> 40) % WIRE_BUCKETS;
}

/* a reference may have gone uncounted, or the counts are off (c->lock
 * held): no lookup-drift on this connection from here; counted once */
static void inexact(struct wconn *c)
{
	if (!c->lossy)
		__atomic_add_fetch(&st_inexact, 1, __ATOMIC_RELAXED);
	c->lossy = 1;
}

/* delta references of ino, known by (parent, name) */
static void ent_add(struct wconn *c, uint64_t ino, uint64_t parent, const char *name, size_t len,
		    uint32_t mode, int64_t delta)
{
	if (fsr_ledger_ent_add(&c->led, ino, parent, name, len, mode, delta) < 0)
		inexact(c);       /* not counted: an under-count */
}

/* a kernel forget of n references; 1 when a synthetic request uses ino now */
static void report_drift(uint64_t ino, uint64_t n, int64_t have)
{
	struct fsr_hazard h;
	fsr_hazard_init(&h, "lookup-drift", FSR_WARNING);
	fsr_fmt(h.message, sizeof h.message,
		"the kernel forgets %llu reference%s of node %llu, but the daemon's replies gave it %lld: "
		"the daemon and the kernel disagree on its lookup count",
		(unsigned long long)n, n == 1 ? "" : "s", (unsigned long long)ino, (long long)have);
	fsr_stack_capture(&h.stacks[h.nstacks++], "forget read here");
	fsr_report(&h);
}

static int node_busy(struct wconn *c, uint64_t ino, int held_too);

static int ent_forget(struct wconn *c, uint64_t ino, uint64_t n)
{
	struct fsr_entry *e = *fsr_ledger_ent_slot(&c->led, ino);
	int pinned = node_busy(c, ino, 1);
	int64_t have = e ? e->count : 0;
	if (!c->lossy && ino != FUSE_ROOT_ID && (uint64_t)(have < 0 ? 0 : have) < n) {
		inexact(c);            /* said once per connection; counts are off from here */
		fsr_mutex_unlock(&c->lock);
		report_drift(ino, n, have);
		fsr_mutex_lock(&c->lock);
		pinned = node_busy(c, ino, 1);
	}
	ent_add(c, ino, 0, NULL, 0, 0, -(int64_t)(n > INT64_MAX ? INT64_MAX : n));
	return pinned;
}

static void hnd_add(struct wconn *c, uint64_t ino, uint64_t fh, int dir, int delta)
{
	if (delta < 0)
		fsr_ledger_hnd_release(&c->led, ino, fh, dir);
	else
		(void)fsr_ledger_hnd_open(&c->led, ino, fh, dir, 0, NULL);
}

static int hnd_pinned(struct wconn *c, uint64_t ino, uint64_t fh, int dir)
{
	struct fsr_handle *h = *fsr_ledger_hnd_slot(&c->led, ino, fh, dir);
	return h && h->pin;
}

static int ent_pinned(struct wconn *c, uint64_t ino)
{
	struct fsr_entry *e = *fsr_ledger_ent_slot(&c->led, ino);
	return e && e->pin;
}

/* A synthetic request uses node ino (a lookup's parent, a handle's FSYNC,
 * FSYNCDIR or FLUSH, queued or sent), or (held_too) a kernel message held
 * back is about it: its kernel FORGET waits too (behind those), so that a
 * synthetic request never reaches a node the daemon freed at its last
 * forget: libfuse's high level aborts then ("fuse internal error: node N
 * not found"). */
static int node_busy(struct wconn *c, uint64_t ino, int held_too)
{
	if (ent_pinned(c, ino))
		return 1;
	for (int i = 0; i < WIRE_SYN; i++) {
		const struct wsyn *s = &c->syn[i];
		if (s->state != SYN_FREE && s->kind != SK_LOOKUP && s->kind != SK_FORGET && s->nodeid == ino)
			return 1;
	}
	for (int i = 0; held_too && i < c->nheld; i++)
		if (((const struct fuse_in_header *)(const void *)c->held[i].buf)->nodeid == ino)
			return 1;
	return 0;
}

/* ---- requests in flight (c->lock held) ---- */

static struct wreq *req_put(struct wconn *c, uint64_t unique)
{
	unsigned int h = hash64(unique) % WIRE_INFLIGHT;
	for (unsigned int k = 0; k < 16; k++) {
		struct wreq *r = &c->req[(h + k) % WIRE_INFLIGHT];
		if (!r->unique || r->unique == unique)
			return r;
	}
	inexact(c);
	return &c->req[h];   /* full: the oldest record there is lost (an under-count) */
}

static struct wreq *req_find(struct wconn *c, uint64_t unique)
{
	unsigned int h = hash64(unique) % WIRE_INFLIGHT;
	for (unsigned int k = 0; k < 16; k++) {
		struct wreq *r = &c->req[(h + k) % WIRE_INFLIGHT];
		if (r->unique == unique)
			return r;
	}
	return NULL;
}

/* ---- the thread's op ---- */

static void thread_end(struct fsr_thread *t)
{
	if (wt.in_op) {
		wt.in_op = 0;
		fsr_op_exit(&wt.op, "FUSE op (wire) ends");
	}
	if (wt.serving) {
		wt.serving = 0;
		if (wt.serving_pass) {
			wt.serving_pass = 0;
			t->pass = NULL;
		}
		fsr_graph_reclaim_exit(t);
		t->flags = (t->flags & ~FSR_PF_NORECLAIM) | wt.saved_noreclaim;
		fsr_look(t);
	}
}

static void thread_begin(struct wconn *c, struct fsr_thread *t, const char *name, uint64_t nodeid, uint64_t unique)
{
	fsr_op_enter(&wt.op, NULL, NULL, name, (fuse_ino_t)nodeid);
	t->op_locks = fsr_oplock_owner(c);   /* the locks its ops take (notify-in-op) */
	wt.in_op = 1;
	wt.op_unique = unique;
}

static void serve_begin(struct wconn *c, struct fsr_thread *t, const struct wsyn *s)
{
	thread_begin(c, t, syn_names[s->kind], s->nodeid, s->unique);
	wt.serving = 1;
	wt.saved_noreclaim = t->flags & FSR_PF_NORECLAIM;
	t->flags |= FSR_PF_NORECLAIM;   /* reclaim never recurses */
	fsr_look(t);
	fsr_graph_reclaim_enter(t, s->gfp);
	if (s->pass && !t->pass) {
		/* like the reclaimer of a handoff pass: a lock this reader waits
		 * for that the allocator holds is a reclaim-deadlock (lock.c) */
		t->pass = s->pass;
		wt.serving_pass = 1;
	}
}

static void wake_idle(struct wconn *c);

/* a synthetic request waits for a reader (c->lock held) */
/* (relaxed loads: also asked without c->lock, by fsr_wire_wait_begin) */
static int syn_queued(const struct wconn *c)
{
	for (int i = 0; i < WIRE_SYN; i++)
		if (__atomic_load_n(&c->syn[i].state, __ATOMIC_RELAXED) == SYN_QUEUED)
			return 1;
	return 0;
}

/* ---- what a reader gets before the kernel's requests (c->lock held) ---- */

/* What a kernel FORGET releases (node ino, rel 0) or a RELEASE/RELEASEDIR
 * (the handle (ino, fh, dir), rel 1): the key by which held messages,
 * pins and synthetic requests are matched.  NULL where a key is taken:
 * everything (a BATCH_FORGET not read whole may release any node). */
struct relkey { uint64_t ino, fh; int rel, dir; };

static struct relkey forget_key(uint64_t ino)
{
	return (struct relkey){ .ino = ino };
}

static struct relkey release_key(uint64_t ino, uint64_t fh, int dir)
{
	return (struct relkey){ .ino = ino, .fh = fh, .rel = 1, .dir = dir };
}

/* the key of a held message (only FORGETs and RELEASEs are held) */
static struct relkey held_key(const struct wheld *m)
{
	const struct fuse_in_header *h = (const void *)m->buf;
	const struct fuse_release_in *a = (const void *)(m->buf + HDR);
	if (h->opcode == FUSE_RELEASE || h->opcode == FUSE_RELEASEDIR)
		return release_key(h->nodeid, a->fh, h->opcode == FUSE_RELEASEDIR);
	return forget_key(h->nodeid);
}

/* a synthetic request uses what k releases (held messages before a FORGET
 * went first: not counted) */
static int key_pinned(struct wconn *c, const struct relkey *k)
{
	return k->rel ? hnd_pinned(c, k->ino, k->fh, k->dir) : node_busy(c, k->ino, 0);
}

static int held_pinned(struct wconn *c, const struct wheld *m)
{
	struct relkey k = held_key(m);
	return key_pinned(c, &k);
}

static void syn_unpin(struct wconn *c, struct wsyn *s);

/* synthetic request s uses what k releases: a lookup under a forgotten
 * node, an FSYNC, FSYNCDIR or FLUSH on it or on a released handle (k NULL:
 * any request but the shim's FORGETs, which give back the shim's own
 * reference and use no kernel one; one dropped would leave the daemon's
 * count one too high for good) */
static int syn_on(const struct wsyn *s, const struct relkey *k)
{
	if (s->kind == SK_FORGET)
		return 0;
	if (!k)
		return 1;
	if (k->rel)
		return s->kind != SK_LOOKUP && s->nodeid == k->ino && s->fh == k->fh && s->dir == k->dir;
	return (s->kind == SK_LOOKUP ? s->parent : s->nodeid) == k->ino;
}

/* a queued synthetic request dropped: the daemon never gets it, and a
 * synchronous pass waiting for it is done */
static void syn_drop(struct wconn *c, struct wsyn *s)
{
	syn_unpin(c, s);
	s->state = SYN_FREE;
}

/* the queued synthetic requests on what k releases dropped: how many */
static int syn_cancel(struct wconn *c, const struct relkey *k)
{
	int n = 0;
	for (int i = 0; i < WIRE_SYN; i++) {
		struct wsyn *s = &c->syn[i];
		if (s->state == SYN_QUEUED && syn_on(s, k)) {
			syn_drop(c, s);
			n++;
		}
	}
	return n;
}

/* a synthetic request in state `state` (any but free: -1) uses what k releases */
static int syn_uses(struct wconn *c, const struct relkey *k, int state)
{
	for (int i = 0; i < WIRE_SYN; i++) {
		const struct wsyn *s = &c->syn[i];
		if ((state < 0 ? s->state != SYN_FREE : s->state == state) && syn_on(s, k))
			return 1;
	}
	return 0;
}

/* A kernel FORGET or RELEASE that a synthetic request uses and that cannot
 * be held back (the queue is full), or (k NULL) a BATCH_FORGET not copied
 * whole, which may release anything: the reader waits until no synthetic
 * request uses it (k: by the pins; NULL: none runs or is queued at all but
 * FORGETs) until `until`, then drops those still queued (c->lock held;
 * dropped and retaken while waiting) */
static void wait_syn(struct wconn *c, const struct relkey *k, uint64_t until)
{
	for (;;) {
		int seq = __atomic_load_n(&c->unpin_seq, __ATOMIC_ACQUIRE);
		if (!(k ? key_pinned(c, k) : syn_uses(c, NULL, -1)))
			return;
		if (fsr_now_ns() >= until) {
			syn_cancel(c, k);
			return;
		}
		fsr_mutex_unlock(&c->lock);
		fsr_futex_wait(&c->unpin_seq, seq, 20000000ull);
		fsr_mutex_lock(&c->lock);
	}
}

/* >0: a message of that length was put into iov; 0: none; -1: a held
 * message waits for its pin.  The order: after a message of the shim's
 * (own_last) the kernel's goes first when one is ready (kernel_first), and
 * a held kernel message delivered counts as the kernel's turn; the
 * synthetic requests otherwise.  A held FORGET/RELEASE never goes while a
 * synthetic request uses its node or handle: after timeout_ms (force) the
 * queued ones are dropped, and one the daemon already has keeps it back
 * (late: the readers no longer wait, they read the kernel) until its reply.
 * *note: bit 0 when a request was dropped, bit 1 when the message stays late. */
static ssize_t take_own(struct wconn *c, int fd, const struct iovec *iov, int n, size_t cap, struct fsr_thread *t,
			int force, int kernel_first, int *note)
{
	if (c->state == CONN_WIRE && !kernel_first) {
		/* what an allocator waits for first */
		int first = 0;
		for (int i = 0; i < WIRE_SYN; i++)
			if (c->syn[i].state == SYN_QUEUED && c->syn[i].pass) {
				first = i;
				break;
			}
		for (int k = 0; k < WIRE_SYN; k++) {
			struct wsyn *s = &c->syn[(first + k) % WIRE_SYN];
			if (s->state != SYN_QUEUED || s->len > cap)
				continue;
			iov_put(iov, n, 0, s->m.buf, s->len);
			if (s->kind == SK_FORGET) {
				s->state = SYN_FREE;   /* no reply */
				__atomic_add_fetch(&st_forget, 1, __ATOMIC_RELAXED);
			} else {
				s->state = SYN_SENT;
				s->fd = fd;
			}
			c->own_last = 1;
			wt.read_own = 1;
			serve_begin(c, t, s);
			return s->len;
		}
	}
	if (!c->nheld)
		return 0;
	struct wheld *m = &c->held[0];
	/* the synthetic request it waits for may be queued for this very reader
	 * (sent to the kernel's first): it reads the kernel, no wait.  Waiting
	 * here stalled a single-threaded daemon for timeout_ms, and the forced
	 * delivery then put RELEASE and FORGET before the request that used the
	 * node (Fuse.pm: "fuse internal error: node N not found"; likely also
	 * glusterfs' segfault in fuse.so's reader under a fairness cap tried
	 * once: its nodeids are its inode pointers) */
	struct relkey mk = held_key(m);
	if (c->state == CONN_WIRE && key_pinned(c, &mk)) {
		if (force && syn_cancel(c, &mk))
			*note |= 1;
		if (key_pinned(c, &mk)) {
			if (force && !m->late)
				*note |= 2;
			if (force || m->late)
				m->late = 1;
			return kernel_first || m->late ? 0 : -1;
		}
	}
	/* the connection ended (its held messages go before the end): the
	 * reply of a synthetic request the daemon has on the same node or
	 * handle is awaited, at most timeout_ms */
	if (c->state == CONN_OFF && !force && syn_uses(c, &mk, SYN_SENT))
		return -1;
	if (m->len > cap)
		return 0;
	uint32_t len = m->len;
	iov_put(iov, n, 0, m->buf, len);
	const struct fuse_in_header *h = (const void *)m->buf;
	thread_begin(c, t, fsr_fuse_op_name(h->opcode), h->nodeid, h->unique);
	c->nheld--;
	memmove(&c->held[0], &c->held[1], (size_t)c->nheld * sizeof c->held[0]);
	c->own_last = 0;   /* the kernel's turn */
	return len;
}

static int hold(struct wconn *c, const void *msg, uint32_t len)
{
	if (c->nheld >= WIRE_HELD || len > WIRE_HELD_BYTES)
		return -1;
	c->held[c->nheld].len = len;
	c->held[c->nheld].late = 0;
	memcpy(c->held[c->nheld].buf, msg, len);
	c->nheld++;
	return 0;
}

/* ---- requests ---- */

/* modules.h's table, not dladdr: this runs under c->lock, and dladdr
 * takes the loader's lock, which a thread inside dlopen holds while its
 * allocations may wait for c->lock (a pass).  A libfuse loaded at run time
 * is not wrapped (fsr_fuse_on_wire): the wire serves it. */
static int caller_is_wrapped_libfuse(void *caller)
{
	unsigned int f = caller ? fsr_module_flags((uintptr_t)caller) : 0;
	return (f & FSR_MOD_LIBFUSE) && !(f & FSR_MOD_RTLOAD);
}

/* the name a lookup-like request carries, after its fixed argument */
static void req_name(struct wconn *c, struct wreq *r, const char *msg, size_t len)
{
	size_t off;
	switch (r->opcode) {
	case FUSE_LOOKUP: case FUSE_SYMLINK: off = 0; break;
	case FUSE_MKNOD: off = c->kminor >= 12 ? sizeof(struct fuse_mknod_in) : FUSE_COMPAT_MKNOD_IN_SIZE; break;
	case FUSE_MKDIR: off = sizeof(struct fuse_mkdir_in); break;
	case FUSE_LINK: off = sizeof(struct fuse_link_in); break;
	case FUSE_CREATE: off = c->kminor >= 12 ? sizeof(struct fuse_create_in) : sizeof(struct fuse_open_in); break;
	default: r->name[0] = 0; return;
	}
	const char *p = msg + HDR + off;
	size_t room = len > HDR + off ? len - HDR - off : 0;
	size_t l = strnlen(p, room < WIRE_NAME_MAX + 1 ? room : WIRE_NAME_MAX + 1);
	if (l > WIRE_NAME_MAX || l == room) {
		r->name[0] = 0;     /* unterminated or too long: not recallable */
		return;
	}
	memcpy(r->name, p, l + 1);
}

enum { PASS_ON, SWALLOW, REWRITTEN };

/* a kernel message just read (msg: its first bytes, in the daemon's buffer
 * or a copy); c->lock held.  *newlen for REWRITTEN. */
static int on_request(struct wconn *c, int fd, char *msg, size_t have, size_t r, void *caller,
		      struct fsr_thread *t, uint32_t *newlen)
{
	struct fuse_in_header *h = (void *)msg;
	if (h->opcode == FUSE_NOTIFY_REPLY && IS_PRIVATE(h->unique)) {
		c->wake_out = 0;
		return SWALLOW;     /* the wake-up of a parked or polling reader */
	}
	if (h->opcode == FUSE_INIT && c->state == CONN_NEW) {
		/* a wrapped libfuse serves it (fuse_transport=wire leaves libfuse3
		 * sessions unwrapped; libfuse2's stay wrapped) */
		if (fsr_fuse_libfuse_seen && caller_is_wrapped_libfuse(caller)) {
			c->state = CONN_LIB;
			return PASS_ON;
		}
		c->state = CONN_WIRE;
		/* an interpreter's libfuse (Python's ctypes or Cython, Perl XS): its
		 * ops may need the interpreter's lock, which the allocator holds */
		c->async_only = caller && (fsr_module_flags((uintptr_t)caller) & FSR_MOD_RTLOAD);
		__atomic_store_n(&wire_used, 1, __ATOMIC_RELAXED);
		struct fuse_init_in *in = (void *)(msg + HDR);
		c->kminor = in->minor;
		c->wake_fd = fd;
		int rewritten = 0;
		if (in->minor >= 36 && (in->flags & FUSE_INIT_EXT) && have >= HDR + sizeof *in &&
		    (((uint64_t)in->flags2 << 32) & OVER_IO_URING)) {
			in->flags2 &= ~(uint32_t)(OVER_IO_URING >> 32);   /* keep it on read/write */
			rewritten = 1;
		}
		struct wreq *q = req_put(c, h->unique);
		q->unique = h->unique;
		q->opcode = FUSE_INIT;
		q->nodeid = 0;
		thread_begin(c, t, "init", 0, h->unique);
		*newlen = (uint32_t)r;
		return rewritten ? REWRITTEN : PASS_ON;
	}
	if (c->state != CONN_WIRE)
		return PASS_ON;
	if (!c->learned && h->opcode != FUSE_INIT) {
		c->learned = 1;     /* mounted by now: fs-reentry learns the mount */
		fsr_mutex_unlock(&c->lock);
		fsr_reentry_add_devfd(fd);
		fsr_reentry_devfd_retry();
		fsr_mutex_lock(&c->lock);
	}
	switch (h->opcode) {
	case FUSE_FORGET: {
		const struct fuse_forget_in *a = (const void *)(msg + HDR);
		if (have < HDR + sizeof *a)
			break;
		if (ent_forget(c, h->nodeid, a->nlookup)) {
			if (hold(c, msg, h->len) == 0)
				return SWALLOW;
			struct relkey k = forget_key(h->nodeid);
			wait_syn(c, &k, fsr_now_ns() + fsr_opt.timeout_ms * 1000000ull);
		}
		break;
	}
	case FUSE_BATCH_FORGET: {
		struct fuse_batch_forget_in *a = (void *)(msg + HDR);
		if (have < HDR + sizeof *a)
			break;
		struct fuse_forget_one *one = (void *)(a + 1);
		uint32_t n = a->count, k = 0;
		int whole = have >= r && HDR + sizeof *a + (size_t)n * sizeof *one <= have;
		int any_pinned = 0;
		uint64_t until = fsr_now_ns() + fsr_opt.timeout_ms * 1000000ull;
		for (uint32_t i = 0; i < n && HDR + sizeof *a + (i + 1) * sizeof *one <= have; i++) {
			struct fuse_forget_one o = one[i];
			int pinned = ent_forget(c, o.nodeid, o.nlookup);
			if (pinned && whole) {
				/* held back as its own FORGET (no reply: any unique does) */
				struct wforget m = forget_msg(c, o.nodeid, o.nlookup);
				if (hold(c, &m, sizeof m) == 0)
					continue;
				struct relkey k = forget_key(o.nodeid);
				wait_syn(c, &k, until);   /* the queue is full */
				pinned = 0;
			}
			any_pinned |= pinned;
			one[k++] = o;
		}
		if (!whole) {
			/* cannot rewrite what was not copied, nor count the
			 * entries past the copy: any synthetic request may use one
			 * of them, so wait for them all (bounded, then the queued
			 * ones are dropped), and keep no entry (an under-count:
			 * the ledger must never hold a node the kernel forgot) */
			wait_syn(c, NULL, until);
			fsr_ledger_clear_entries(&c->led);
			inexact(c);
			break;
		}
		if (k == n)
			break;
		if (!k)
			return SWALLOW;
		a->count = k;
		h->len = HDR + (uint32_t)sizeof *a + k * (uint32_t)sizeof *one;
		*newlen = h->len;
		thread_begin(c, t, "forget_multi", 0, h->unique);
		return REWRITTEN;
	}
	case FUSE_RELEASE: case FUSE_RELEASEDIR: {
		const struct fuse_release_in *a = (const void *)(msg + HDR);
		if (have < HDR + sizeof *a)
			break;
		int dir = h->opcode == FUSE_RELEASEDIR;
		int pinned = hnd_pinned(c, h->nodeid, a->fh, dir);
		hnd_add(c, h->nodeid, a->fh, dir, -1);
		if (pinned) {
			if (hold(c, msg, h->len) == 0)
				return SWALLOW;
			struct relkey k = release_key(h->nodeid, a->fh, dir);
			wait_syn(c, &k, fsr_now_ns() + fsr_opt.timeout_ms * 1000000ull);
		}
		break;
	}
	case FUSE_INTERRUPT: case FUSE_NOTIFY_REPLY:
		break;
	case FUSE_LOOKUP: case FUSE_MKNOD: case FUSE_MKDIR: case FUSE_SYMLINK: case FUSE_LINK:
	case FUSE_CREATE: case FUSE_TMPFILE: case FUSE_OPEN: case FUSE_OPENDIR: case FUSE_READDIRPLUS: {
		struct wreq *q = req_put(c, h->unique);
		q->unique = h->unique;
		q->opcode = h->opcode;
		q->nodeid = h->nodeid;
		req_name(c, q, msg, have < r ? have : r);
		break;
	}
	default:
		break;
	}
	thread_begin(c, t, fsr_fuse_op_name(h->opcode), h->nodeid, h->unique);
	return PASS_ON;
}

static void unpark(void *arg)
{
	__atomic_sub_fetch(&((struct wconn *)arg)->parked, 1, __ATOMIC_ACQ_REL);
}

/* the real read, counted as a parked reader (a cancelled one too: libfuse's
 * mt loop cancels workers blocked here) */
static __attribute__((noinline)) ssize_t parked_read(struct wconn *c, int fd, const struct iovec *iov, int iovcnt,
						     fsr_wire_io_fn rd)
{
	ssize_t r;
	__atomic_add_fetch(&c->parked, 1, __ATOMIC_ACQ_REL);
	pthread_cleanup_push(unpark, c);
	r = rd(fd, iov, iovcnt);
	pthread_cleanup_pop(0);
	__atomic_sub_fetch(&c->parked, 1, __ATOMIC_ACQ_REL);
	return r;
}

#define PEEK 4096     /* what a readv's request is copied for parsing */

/* the kernel has a message for fd now (or the connection is gone) */
static int kernel_ready(int fd)
{
	int e = errno;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec zero = { 0, 0 };
	int r = (int)syscall(SYS_ppoll, &p, 1, &zero, NULL, 0);
	errno = e;
	return r > 0;
}

ssize_t fsr_wire_read(int fd, const struct iovec *iov, int iovcnt, fsr_wire_io_fn rd, void *caller)
{
	struct wconn *c = conn_of_fd(fd);
	if (!c || c->state == CONN_LIB || fsr_opt.fuse_transport == FSR_TRANSPORT_LIB)
		return rd(fd, iov, iovcnt);
	struct fsr_thread *t = fsr_thread_self();
	thread_end(t);
	if (c->state == CONN_OFF && !c->nheld)
		return rd(fd, iov, iovcnt);
	if (!__atomic_load_n(&c->polling, __ATOMIC_RELAXED) && fsr_wire_fd_nonblock(fd))
		__atomic_store_n(&c->polling, 1, __ATOMIC_RELAXED);
	size_t cap = iov_total(iov, iovcnt);
	/* the kernel refuses a read below FUSE_MIN_READ_BUFFER (EINVAL): the
	 * wire gives it nothing of its own either */
	int small = fsr_wire_read_room(rd, cap) < FUSE_MIN_READ_BUFFER;
	int e = errno;
	uint64_t held_since = 0;
	int swallowed = 0, ended = 0;
	int polled = wt.polled;   /* a poll said readable before this read */
	wt.polled = 0;
	wt.read_own = 0;
	for (;;) {
		/* after the shim's request the kernel's, when one is ready: a daemon
		 * that allocates between requests (each allocation a pass that
		 * queues another) would otherwise serve only the shim's */
		int kernel_first = __atomic_load_n(&c->own_last, __ATOMIC_RELAXED) && kernel_ready(fd);
		fsr_busy_enter(t);
		fsr_mutex_lock(&c->lock);
		int force = held_since && fsr_now_ns() - held_since > fsr_opt.timeout_ms * 1000000ull;
		int seq = __atomic_load_n(&c->unpin_seq, __ATOMIC_ACQUIRE);
		int note = 0;
		ssize_t own = small ? 0 : take_own(c, fd, iov, iovcnt, cap, t, force, kernel_first, &note);
		if (own > 0 && syn_queued(c))
			wake_idle(c);   /* an event loop's reader polls before its next read */
		fsr_mutex_unlock(&c->lock);
		t->busy--;
		if (note & 1)
			unpin_wake(c);   /* a synchronous pass waiting for a dropped request */
		for (int b = 0; b < 2; b++) {
			static int said[2];
			if ((note >> b & 1) && !__atomic_exchange_n(&said[b], 1, __ATOMIC_RELAXED))
				fsr_say(b == 0 ? "fsreclaim: a kernel FORGET/RELEASE held back for a synthetic request "
						 "waited %llu ms: the synthetic requests still queued on its node or "
						 "handle are dropped"
					       : "fsreclaim: a kernel FORGET/RELEASE held back for a synthetic request "
						 "waited %llu ms for its reply: it goes to the daemon after that reply, "
						 "and the readers read on meanwhile",
					(unsigned long long)fsr_opt.timeout_ms);
		}
		if (own > 0) {
			errno = e;
			return own;
		}
		if (own < 0) {
			if (!held_since)
				held_since = fsr_now_ns();
			fsr_futex_wait(&c->unpin_seq, seq, 20000000ull);
			continue;
		}
		held_since = 0;
		/* the poll that let this reader in was woken by what the wire
		 * swallowed, and the kernel has nothing else: a blocking read now
		 * would sleep where the daemon was told it would not (a loop that
		 * polls other fds too): "try again", as for a nonblocking fd */
		if (swallowed && polled && !kernel_ready(fd)) {
			errno = EINTR;
			return -1;
		}
		ssize_t r = parked_read(c, fd, iov, iovcnt, rd);
		if (r < 0 && (errno == ECONNABORTED || errno == ENODEV)) {
			int gone = errno;
			conn_gone(c, gone);
			/* a FORGET/RELEASE the kernel sent before it ended and the
			 * wire held back goes to the daemon before the end, as it
			 * would have without the shim (its reply then fails, as a
			 * late reply does); once per read, so a held message too
			 * big for this read cannot loop */
			if (!ended && __atomic_load_n(&c->nheld, __ATOMIC_RELAXED)) {
				ended = 1;
				errno = gone;
				continue;
			}
		}
		__atomic_store_n(&c->own_last, 0, __ATOMIC_RELAXED);
		/* a nonblocking reader was told "readable" for what the wire
		 * swallowed: "try again" (libfuse's loops and pyfuse3's retry
		 * EINTR; pyfuse3 dies on EAGAIN) */
		if (r < 0 && swallowed && errno == EAGAIN)
			errno = EINTR;
		if (r < (ssize_t)HDR || c->state == CONN_OFF || c->state == CONN_LIB)
			return r;
		e = errno;
		char copy[PEEK];
		char *msg;
		size_t have;
		if (iovcnt == 1 || iov[0].iov_len >= (size_t)r) {
			/* a splice read may return more than cap: the rest stays in its pipe */
			msg = iov[0].iov_base;
			have = (size_t)r < cap ? (size_t)r : cap;
		} else {
			have = iov_get(iov, iovcnt, 0, copy, (size_t)r < sizeof copy ? (size_t)r : sizeof copy);
			msg = copy;
		}
		uint32_t newlen = 0;
		fsr_busy_enter(t);
		fsr_mutex_lock(&c->lock);
		int act = on_request(c, fd, msg, have, (size_t)r, caller, t, &newlen);
		int init = ((struct fuse_in_header *)(void *)msg)->opcode == FUSE_INIT && c->state == CONN_WIRE;
		fsr_mutex_unlock(&c->lock);
		t->busy--;
		if (init)     /* before the reply: no other request, no pass yet */
			fsr_wire_bundled_learn(caller);
		if (act == SWALLOW) {
			swallowed = 1;
			continue;
		}
		if (act == REWRITTEN) {
			if (msg == copy)
				iov_put(iov, iovcnt, 0, copy, have < newlen ? have : newlen);
			r = newlen;
		}
		errno = e;
		return r;
	}
}

/* ---- replies ---- */

/* the references a successful reply gives (sign 1) or, after a failed
 * write, takes back (sign -1); c->lock held */
static void reply_refs(struct wconn *c, const struct wreq *q, const struct iovec *v, int n, size_t total,
		       int sign)
{
	size_t esz = c->minor && c->minor < 9 ? FUSE_COMPAT_ENTRY_OUT_SIZE : sizeof(struct fuse_entry_out);
	struct fuse_entry_out eo;
	struct fuse_open_out oo;
	switch (q->opcode) {
	case FUSE_LOOKUP: case FUSE_MKNOD: case FUSE_MKDIR: case FUSE_SYMLINK: case FUSE_LINK:
		if (total >= OHDR + esz && iov_get(v, n, OHDR, &eo, esz) == esz)
			ent_add(c, eo.nodeid, q->nodeid, q->name, strlen(q->name), eo.attr.mode, sign);
		break;
	case FUSE_CREATE: case FUSE_TMPFILE:
		if (total >= OHDR + esz + sizeof oo && iov_get(v, n, OHDR, &eo, esz) == esz &&
		    iov_get(v, n, OHDR + esz, &oo, sizeof oo) == sizeof oo) {
			/* a tmpfile's entry has no name: counted, never looked up */
			ent_add(c, eo.nodeid, q->nodeid, q->name, q->opcode == FUSE_CREATE ? strlen(q->name) : 0,
				eo.attr.mode, sign);
			if (eo.nodeid)
				hnd_add(c, eo.nodeid, oo.fh, 0, sign);
		}
		break;
	case FUSE_OPEN: case FUSE_OPENDIR:
		if (total >= OHDR + sizeof oo && iov_get(v, n, OHDR, &oo, sizeof oo) == sizeof oo)
			hnd_add(c, q->nodeid, oo.fh, q->opcode == FUSE_OPENDIR, sign);
		break;
	case FUSE_READDIRPLUS: {
		/* fs/fuse/readdir.c parse_dirplusfile and fuse_direntplus_link */
		size_t off = OHDR;
		while (total - off >= FUSE_NAME_OFFSET_DIRENTPLUS) {
			struct fuse_direntplus d;
			char name[WIRE_NAME_MAX + 1];
			if (iov_get(v, n, off, &d, FUSE_NAME_OFFSET_DIRENTPLUS) != FUSE_NAME_OFFSET_DIRENTPLUS) {
				inexact(c);
				break;
			}
			size_t rec = FUSE_DIRENTPLUS_SIZE(&d);
			if (!d.dirent.namelen || d.dirent.namelen > 1024 || rec > total - off)
				break;      /* the kernel stops here too (EIO, or a short record) */
			size_t nl = d.dirent.namelen;
			if (nl <= WIRE_NAME_MAX) {
				if (iov_get(v, n, off + FUSE_NAME_OFFSET_DIRENTPLUS, name, nl) != nl) {
					inexact(c);     /* a reply read only in part: an under-count */
					break;
				}
				if (memchr(name, '/', nl))
					break;
				int dots = (nl == 1 && name[0] == '.') || (nl == 2 && name[0] == '.' && name[1] == '.');
				if (!dots && d.entry_out.nodeid)
					ent_add(c, d.entry_out.nodeid, q->nodeid, name, nl, d.entry_out.attr.mode, sign);
			} else if (d.entry_out.nodeid) {
				/* a name too long to keep: counted, never looked up */
				ent_add(c, d.entry_out.nodeid, q->nodeid, NULL, 0, d.entry_out.attr.mode, sign);
			}
			off += rec;
		}
		break;
	}
	case FUSE_INIT: {
		struct fuse_init_out io;
		if (sign > 0 && total >= OHDR + 8 && iov_get(v, n, OHDR, &io, 8) == 8) {
			c->minor = io.minor < c->kminor ? io.minor : c->kminor;
			c->inited = io.major == FUSE_KERNEL_VERSION;
		}
		break;
	}
	default:
		break;
	}
}

/* what synthetic request s pinned (its lookup's parent, its handle) is
 * free again, and goes when the kernel dropped it meanwhile (c->lock held) */
static void syn_unpin(struct wconn *c, struct wsyn *s)
{
	if (s->kind == SK_LOOKUP) {
		if (s->parent != FUSE_ROOT_ID)
			fsr_ledger_ent_unpin(&c->led, s->parent);
	} else if (s->kind != SK_FORGET) {
		fsr_ledger_hnd_unpin(&c->led, s->nodeid, s->fh, s->dir);
	}
}

static int wake_reader(struct wconn *c);

static int late_ready(struct wconn *c)
{
	return c->nheld && c->held[0].late && !held_pinned(c, &c->held[0]);
}

/* a held message no reader waits for (late) may go now: a reader parked in
 * the kernel, or waiting in poll, is woken for it (c->lock held) */
static void late_wake(struct wconn *c)
{
	if (late_ready(c) && !wake_reader(c))
		wake_idle(c);
}

int fsr_wire_wait_begin(int fd)
{
	int ci = fsr_wire_conn_of(fd);
	struct wconn *c = ci >= 0 && ci < WIRE_CONNS ? conns[ci] : NULL;
	if (!c || fsr_opt.fuse_transport == FSR_TRANSPORT_LIB || __atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != CONN_WIRE)
		return -1;
	/* a nonblocking fd's readers are woken as before (c->polling): a wait
	 * that woke itself for every queued request made pyfuse3's trio loop,
	 * which polls between all its steps, serve the shim's requests almost
	 * alone (its workload timed out in 2 of 6 runs) */
	if (fsr_wire_fd_nonblock(fd))
		return -1;
	__atomic_add_fetch(&c->waiting, 1, __ATOMIC_SEQ_CST);
	/* what was queued before this wait counted itself: the pass saw no
	 * waiter, so the waiter wakes itself (through the fd, as a pass would).
	 * Not after a read that got one of the shim's requests: a loop that
	 * polls before every read would then serve the shim's requests back
	 * to back, each allocation queueing the next, and the kernel's only
	 * between them (pyfuse3's trio loop under interval=1 served ~1.2
	 * million synthetic requests in 200 s and its workload timed out, 2
	 * runs of 6); the rest wait for a kernel request or another thread's
	 * pass, as before */
	if (!wt.read_own && (syn_queued(c) || __atomic_load_n(&c->nheld, __ATOMIC_RELAXED))) {
		struct fsr_thread *t = fsr_thread_self();
		int e = errno;
		fsr_busy_enter(t);
		fsr_mutex_lock(&c->lock);
		if (c->state == CONN_WIRE && (syn_queued(c) || late_ready(c)))
			wake_idle(c);
		fsr_mutex_unlock(&c->lock);
		t->busy--;
		errno = e;
	}
	return ci;
}

void fsr_wire_wait_end(int ci, int ready)
{
	struct wconn *c = ci >= 0 && ci < WIRE_CONNS ? conns[ci] : NULL;
	if (!c)
		return;
	__atomic_sub_fetch(&c->waiting, 1, __ATOMIC_RELEASE);
	wt.polled = ready;
}

/* fd is being closed: the synthetic requests read on it and unanswered
 * end with it when it was its open file's last fd, as the kernel ends the
 * requests of a closed file's processing queue (fuse_dev_release), so
 * nothing waits for their replies.  While a dup of it stays open (to >= 0:
 * dup, dup2, dup3, F_DUPFD, SCM_RIGHTS to itself) the file lives on and
 * so do they: the reply may come on the dup, and they are moved to it. */
static void syn_fd_closed(int ci, int fd, int to)
{
	struct wconn *c = ci >= 0 && ci < WIRE_CONNS ? conns[ci] : NULL;
	if (!c || c->state != CONN_WIRE)
		return;
	struct fsr_thread *t = fsr_thread_self();
	int ended = 0;
	fsr_busy_enter(t);
	fsr_mutex_lock(&c->lock);
	for (int i = 0; i < WIRE_SYN; i++) {
		struct wsyn *s = &c->syn[i];
		if (s->state != SYN_SENT || s->fd != fd)
			continue;
		if (to >= 0) {
			s->fd = to;
			continue;
		}
		syn_unpin(c, s);
		if (wt.serving && wt.op_unique == s->unique)
			thread_end(t);
		s->state = SYN_FREE;
		ended++;
	}
	if (ended)
		late_wake(c);
	fsr_mutex_unlock(&c->lock);
	t->busy--;
	if (!ended)
		return;
	unpin_wake(c);
	static int said;
	if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		fsr_say("fsreclaim: a FUSE fd closed with %d synthetic request%s read on it and unanswered: they end "
			"with it, as the kernel's own requests on that fd do", ended, ended == 1 ? "" : "s");
}

/* a reply to a synthetic request: never reaches the kernel (c->lock held);
 * 0 when no synthetic request has that unique */
static int absorb(struct wconn *c, const struct iovec *v, int n, size_t total, const struct fuse_out_header *oh,
		   struct fsr_thread *t)
{
	int found = 0, queued_forget = 0;
	for (int i = 0; i < WIRE_SYN; i++) {
		struct wsyn *s = &c->syn[i];
		if (s->state != SYN_SENT || s->unique != oh->unique)
			continue;
		syn_unpin(c, s);
		if (s->kind == SK_LOOKUP) {
			struct fuse_entry_out eo;
			size_t esz = c->minor < 9 ? FUSE_COMPAT_ENTRY_OUT_SIZE : sizeof eo;
			if (oh->error == 0 && total >= OHDR + esz && iov_get(v, n, OHDR, &eo, esz) == esz && eo.nodeid) {
				/* FORGET exactly the node this lookup gave */
				struct wforget m = forget_msg(c, eo.nodeid, 1);
				memcpy(s->m.buf, &m, sizeof m);
				s->len = sizeof m;
				s->kind = SK_FORGET;
				s->unique = m.h.unique;
				s->nodeid = eo.nodeid;
				s->state = SYN_QUEUED;
				queued_forget = 1;
			} else {
				s->state = SYN_FREE;
			}
		} else {
			__atomic_add_fetch(s->kind == SK_FLUSH ? &st_flush : &st_fsync, 1, __ATOMIC_RELAXED);
			s->state = SYN_FREE;
		}
		found = 1;
		break;
	}
	if (wt.serving && wt.op_unique == oh->unique)
		thread_end(t);
	late_wake(c);
	if (queued_forget)
		wake_idle(c);    /* the FORGET waits for a reader, which may be polling */
	unpin_wake(c);
	return found;
}

/* A notification written inside an op on the same inode or parent, or
 * while holding a lock that the connection's ops take: libfuse documents
 * that it must not be ("must not be called in the execution path of a
 * related filesystem operation or within any code that could hold a lock
 * that could be needed to execute such an operation", include/
 * fuse_lowlevel.h), and the kernel may deadlock on it: INVAL_INODE and
 * STORE wait for the inode's pages and locks, INVAL_ENTRY/DELETE for the
 * parent's i_rwsem, which the caller of an op waiting for that lock holds.
 * A class counts as "taken by ops" once the lock tracker saw it taken
 * inside an op of this connection (wire or libfuse transport, oplocks.c). */
static void notify_check(struct wconn *c, struct fsr_thread *t, const struct iovec *v, int n, size_t total, int code)
{
	uint64_t a[3] = { 0, 0, 0 };
	const char *what;
	size_t got = iov_get(v, n, OHDR, a, total - OHDR < sizeof a ? total - OHDR : sizeof a);
	uint64_t ino1 = 0, ino2 = 0;
	switch (code) {
	case FUSE_NOTIFY_INVAL_INODE: what = "INVAL_INODE"; ino1 = a[0]; break;
	case FUSE_NOTIFY_INVAL_ENTRY: what = "INVAL_ENTRY"; ino1 = a[0]; break;
	case FUSE_NOTIFY_DELETE: what = "DELETE"; ino1 = a[0]; ino2 = got >= 16 ? a[1] : 0; break;
	case FUSE_NOTIFY_STORE: what = "STORE"; ino1 = a[0]; break;
	case FUSE_NOTIFY_RETRIEVE: what = "RETRIEVE"; ino1 = got >= 16 ? a[1] : 0; break;
	default: return;
	}
	if (got < 8)
		return;
	uint64_t op_ino = wt.in_op ? (uint64_t)wt.op.ino : 0;
	int in_op = op_ino && (op_ino == ino1 || op_ino == ino2);
	int lk = -1;
	if (!in_op) {
		uint64_t owners = fsr_oplock_owner(c) | __atomic_load_n(&c->lib_owners, __ATOMIC_RELAXED);
		for (int i = 0; i < t->nheld && i < FSR_MAX_HELD && lk < 0; i++) {
			unsigned int cls = t->held[i].cls;
			if (cls && cls < FSR_MAX_CLASSES && (__atomic_load_n(&fsr_oplock_cls[cls], __ATOMIC_RELAXED) & owners))
				lk = i;
		}
		if (lk < 0)
			return;
	}
	struct fsr_hazard h;
	fsr_busy_enter(t);
	fsr_hazard_init(&h, "notify-in-op", FSR_ERROR);
	if (in_op) {
		fsr_fmt(h.message, sizeof h.message,
			"FUSE notification %s on node %llu written from inside the op %s on that node: the kernel "
			"may wait in it for what the op's caller holds (libfuse: \"must not be called in the execution "
			"path of a related filesystem operation\")",
			what, (unsigned long long)op_ino, t->op ? t->op : "?");
	} else {
		char name[64];
		unsigned int cls = t->held[lk].cls;
		const char *op = __atomic_load_n(&fsr_oplock_op[cls], __ATOMIC_RELAXED);
		fsr_lock_name(t->held[lk].lock, name, sizeof name);
		fsr_fmt(h.message, sizeof h.message,
			"FUSE notification %s on node %llu written while holding %s, which this connection's ops "
			"take (seen in the op %s): the kernel may wait in it for an op that waits for that lock "
			"(libfuse: \"must not be called ... within any code that could hold a lock that could be "
			"needed to execute such an operation\")",
			what, (unsigned long long)ino1, name, op ? op : "?");
	}
	fsr_hazard_add_held_locks(&h, t);
	fsr_stack_capture(&h.stacks[h.nstacks++], "notification written here");
	fsr_report(&h);
	t->busy--;
}

/* How much of a reply of len bytes (oh its header) the wire's reply path
 * reads: all of a READDIRPLUS reply (every record may give a reference),
 * 0 for any other (its first bytes are enough) */
size_t fsr_wire_reply_reads(int fd, const struct fuse_out_header *oh, size_t len)
{
	struct wconn *c = conn_of_fd(fd);
	if (!c || c->state != CONN_WIRE || oh->error || oh->len != len || oh->unique == 0 || IS_PRIVATE(oh->unique))
		return 0;
	struct fsr_thread *t = fsr_thread_self();
	fsr_busy_enter(t);
	fsr_mutex_lock(&c->lock);
	struct wreq *r = req_find(c, oh->unique);
	int plus = r && r->opcode == FUSE_READDIRPLUS;
	fsr_mutex_unlock(&c->lock);
	t->busy--;
	return plus ? len : 0;
}

/* a write on a connection the libfuse wrapping serves: passed through as
 * it is; a reply from inside one of its sessions' ops joins that session's
 * owner bit to the connection, a notification is checked (notify-in-op:
 * the held-lock half; the op context there is the wrapping's) */
static ssize_t lib_write(struct wconn *c, int fd, const struct iovec *iov, int iovcnt, size_t total, fsr_wire_io_fn wr)
{
	struct fsr_thread *t = fsr_thread_self();
	struct fuse_out_header oh;
	if (t->busy || total < OHDR || iov_get(iov, iovcnt, 0, &oh, OHDR) != OHDR || oh.len != total)
		return wr(fd, iov, iovcnt);
	if (oh.unique == 0) {
		if (t->nheld)
			notify_check(c, t, iov, iovcnt, total, oh.error);
	} else if (t->op_locks && (__atomic_load_n(&c->lib_owners, __ATOMIC_RELAXED) & t->op_locks) != t->op_locks) {
		__atomic_or_fetch(&c->lib_owners, t->op_locks, __ATOMIC_RELAXED);
	}
	return wr(fd, iov, iovcnt);
}

ssize_t fsr_wire_write(int fd, const struct iovec *iov, int iovcnt, fsr_wire_io_fn wr)
{
	return fsr_wire_reply(fd, iov, iovcnt, iov_total(iov, iovcnt), wr);
}

ssize_t fsr_wire_reply(int fd, const struct iovec *iov, int iovcnt, size_t total, fsr_wire_io_fn wr)
{
	struct wconn *c = conn_of_fd(fd);
	if (!c)
		return wr(fd, iov, iovcnt);
	int st = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
	if (st == CONN_LIB)
		return lib_write(c, fd, iov, iovcnt, total, wr);
	if (st != CONN_WIRE && st != CONN_OFF)
		return wr(fd, iov, iovcnt);
	struct fuse_out_header oh;
	if (total < OHDR || iov_get(iov, iovcnt, 0, &oh, OHDR) != OHDR || oh.len != total) {
		static int said;
		if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
			fsr_say("fsreclaim: a malformed FUSE message was written to /dev/fuse (%zu bytes, header len %u): "
				"passed to the kernel as it is, which refuses it", total, total >= 4 ? oh.len : 0);
		return wr(fd, iov, iovcnt);   /* the kernel answers it (EINVAL) */
	}
	struct fsr_thread *t = fsr_thread_self();
	if (oh.unique == 0) {             /* a notification */
		if (!t->busy && (wt.in_op || t->nheld))
			notify_check(c, t, iov, iovcnt, total, oh.error);
		return wr(fd, iov, iovcnt);
	}
	if (IS_PRIVATE(oh.unique)) {
		fsr_busy_enter(t);
		fsr_mutex_lock(&c->lock);
		int ours = absorb(c, iov, iovcnt, total, &oh, t);
		fsr_mutex_unlock(&c->lock);
		t->busy--;
		if (ours)
			return (ssize_t)total;
		static int said;
		if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
			fsr_say("fsreclaim: a reply to the private unique %#llx, which no synthetic request has (now): "
				"passed to the kernel, which answers ENOENT", (unsigned long long)oh.unique);
		return wr(fd, iov, iovcnt);
	}
	if (c->state != CONN_WIRE)
		return wr(fd, iov, iovcnt);
	struct wreq q;
	q.unique = 0;
	fsr_busy_enter(t);
	fsr_mutex_lock(&c->lock);
	struct wreq *r = req_find(c, oh.unique);
	if (r) {
		q = *r;
		r->unique = 0;
		if (oh.error == 0)
			reply_refs(c, &q, iov, iovcnt, total, 1);
	}
	fsr_mutex_unlock(&c->lock);
	t->busy--;
	ssize_t w = wr(fd, iov, iovcnt);
	int e = errno;
	if (q.unique && oh.error == 0 && w != (ssize_t)total && q.opcode != FUSE_INIT) {
		fsr_busy_enter(t);
		fsr_mutex_lock(&c->lock);
		reply_refs(c, &q, iov, iovcnt, total, -1);   /* the kernel did not take them */
		fsr_mutex_unlock(&c->lock);
		t->busy--;
	}
	if (wt.in_op && wt.op_unique == oh.unique)
		thread_end(t);
	errno = e;
	return w;
}

/* ---- passes ---- */

static struct wsyn *syn_free(struct wconn *c)
{
	for (int i = 0; i < WIRE_SYN; i++)
		if (c->syn[i].state == SYN_FREE)
			return &c->syn[i];
	return NULL;
}

static int syn_busy(struct wconn *c, uint64_t ino, uint64_t fh, int kind)
{
	for (int i = 0; i < WIRE_SYN; i++)
		if (c->syn[i].state != SYN_FREE && c->syn[i].kind == kind && c->syn[i].nodeid == ino &&
		    c->syn[i].fh == fh)
			return 1;
	return 0;
}

static struct wsyn *syn_new(struct wconn *c, int kind, uint32_t opcode, uint64_t nodeid, uint32_t arglen,
			    unsigned int gfp)
{
	struct wsyn *s = syn_free(c);
	if (!s)
		return NULL;
	memset(&s->m.h, 0, sizeof s->m.h);
	s->kind = kind;
	s->unique = private_unique(c);
	s->nodeid = nodeid;
	s->parent = 0;
	s->fh = 0;
	s->dir = 0;
	s->gfp = gfp;
	s->pass = NULL;
	s->len = HDR + arglen;
	s->m.h.len = s->len;
	s->m.h.opcode = opcode;
	s->m.h.unique = s->unique;
	s->m.h.nodeid = nodeid;
	/* the credentials the kernel gives a request made in the allocating
	 * task's context (fuse_force_creds, and for FLUSH the closing task's):
	 * the fsuid/fsgid of the thread running the pass and the allocating
	 * thread's tid.  FORGET keeps 0, as the kernel's (forget_msg). */
	s->m.h.uid = c->cr_uid;
	s->m.h.gid = c->cr_gid;
	s->m.h.pid = c->cr_pid;
	return s;
}

/* a pass's LOOKUP of an entry (ledger.c's choice; its FORGET follows the reply) */
static int queue_lookup(struct wconn *c, unsigned int gfp, struct fsr_pass *pass)
{
	struct fsr_pick k;
	struct fsr_entry *e = fsr_ledger_pick_ent(&c->led, pass, &k);
	if (!e) {
		fsr_ledger_say_instead(pass, 'e', "lookup", &k, 0);
		return 0;
	}
	size_t l = strlen(e->name);
	struct wsyn *s = syn_new(c, SK_LOOKUP, FUSE_LOOKUP, e->parent, (uint32_t)l + 1, gfp);
	if (!s)
		return 0;
	memcpy(s->m.buf + HDR, e->name, l + 1);
	s->parent = e->parent;
	if (k.parent)
		k.parent->pin++;
	s->state = SYN_QUEUED;
	fsr_ledger_advance(&c->led.cur_e, &k);
	fsr_ledger_say_instead(pass, 'e', "lookup", &k, 1);
	fsr_schedule_callback(pass, "lookup", 'e', k.tgt);
	return 1;
}

/* the wire's own rule on a handle: no synthetic request of that kind on it yet */
static int hnd_free(void *arg, const struct fsr_handle *h, unsigned int ops)
{
	int kind = (ops & FSR_LOP_FLUSH) ? SK_FLUSH : h->dir ? SK_FSYNCDIR : SK_FSYNC;
	return !syn_busy(arg, h->ino, h->fh, kind);
}

/* a pass's FSYNC (FSYNCDIR on a directory) or FLUSH of a handle */
static int queue_handle(struct wconn *c, int flush, unsigned int gfp, struct wsyn **made, struct fsr_pass *pass)
{
	const char *what = flush ? "flush" : "fsync";
	struct fsr_pick k;
	struct fsr_handle *h = fsr_ledger_pick_hnd(&c->led, pass, flush ? FSR_LOP_FLUSH : FSR_LOP_FSYNC | FSR_LOP_FSYNCDIR,
						   hnd_free, c, &k);
	if (!h) {
		fsr_ledger_say_instead(pass, 'h', what, &k, 0);
		return 0;
	}
	int kind = flush ? SK_FLUSH : h->dir ? SK_FSYNCDIR : SK_FSYNC;
	struct wsyn *s;
	if (flush) {
		s = syn_new(c, kind, FUSE_FLUSH, h->ino, sizeof(struct fuse_flush_in), gfp);
		if (!s)
			return 0;
		struct fuse_flush_in a = { .fh = h->fh, .lock_owner = LOCK_OWNER };
		memcpy(s->m.buf + HDR, &a, sizeof a);
	} else {
		s = syn_new(c, kind, h->dir ? FUSE_FSYNCDIR : FUSE_FSYNC, h->ino, sizeof(struct fuse_fsync_in), gfp);
		if (!s)
			return 0;
		struct fuse_fsync_in a = { .fh = h->fh, .fsync_flags = 1 /* FDATASYNC */ };
		memcpy(s->m.buf + HDR, &a, sizeof a);
	}
	s->fh = h->fh;
	s->dir = h->dir;
	h->pin++;
	s->state = SYN_QUEUED;
	if (!flush)
		fsr_ledger_advance(&c->led.cur_h, &k);   /* one step a pass: FSYNC's, not FLUSH's */
	*made = s;
	fsr_ledger_say_instead(pass, 'h', what, &k, 1);
	fsr_schedule_callback(pass, h->dir && !flush ? "fsyncdir" : what, 'h', k.tgt);
	return 1;
}

static int wake_write(struct wconn *c);

/* wake one reader parked in the kernel: NOTIFY_RETRIEVE of 0 bytes of a
 * regular file the kernel holds; its NOTIFY_REPLY is swallowed (c->lock held) */
static int wake_reader(struct wconn *c)
{
	if (!__atomic_load_n(&c->parked, __ATOMIC_ACQUIRE))
		return 0;
	return wake_write(c);
}

/* synthetic requests were queued and no reader is parked in the kernel's
 * read: one may wait in poll/select/epoll for the fd to become readable
 * (pyfuse3's trio loop, any event loop, a blocking reader that polls with a
 * timeout), which a queued request of the shim's does not make it.  The
 * same wake-up makes it readable: the NOTIFY_REPLY wakes the poll, the
 * reader's read takes the queued request first, and its next read swallows
 * the NOTIFY_REPLY.  Only where a thread waits in such a call on a fd of
 * the connection now (c->waiting, wire_poll.c), or, for the waits the
 * interposers cannot see (an epoll fd from a raw syscall), where a reader
 * reads a nonblocking fd (c->polling: event loops set O_NONBLOCK); and one
 * outstanding at a time (c->wake_out), so a reader that is merely busy gets
 * at most one more message to swallow per wake-up.  c->lock held. */
static void wake_idle(struct wconn *c)
{
	if (c->wake_out || __atomic_load_n(&c->parked, __ATOMIC_ACQUIRE))
		return;
	/* against fsr_wire_wait_begin: the request was queued (c->lock) before
	 * the waiter count is read; the waiter counts itself before it looks
	 * for queued requests */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&c->waiting, __ATOMIC_RELAXED) && !__atomic_load_n(&c->polling, __ATOMIC_RELAXED))
		return;
	if (wake_write(c))
		c->wake_out = 1;
}

/* one NOTIFY_RETRIEVE of 0 bytes of node ino: 1 written, 0 refused for
 * good, -1 the kernel has no such inode (ENOENT: another may do) */
static int retrieve_write(struct wconn *c, uint64_t ino)
{
	struct { struct fuse_out_header h; struct fuse_notify_retrieve_out r; } m;
	memset(&m, 0, sizeof m);
	m.h.len = sizeof m;
	m.h.error = FUSE_NOTIFY_RETRIEVE;
	m.r.notify_unique = private_unique(c);
	m.r.nodeid = ino;
	/* wake_fd is /dev/fuse unless the daemon closed and reused the
	 * number behind the shim's back (a raw close): never a SIGPIPE */
	int e0 = errno;
	long w = fsr_wire_nosigpipe_write(c->wake_fd, &m, sizeof m);
	int werr = errno;
	errno = e0;
	if (w == (long)sizeof m)
		return 1;
	/* ENOENT: the kernel no longer has that inode (its FORGET is held
	 * back for a synthetic request, the ledger still counts it) */
	return w < 0 && werr == ENOENT ? -1 : 0;
}

/* The wake-up: the kernel accepts a NOTIFY_RETRIEVE only on a regular
 * file it holds (since "reject NOTIFY_RETRIEVE on anything other than
 * regular files"), so the wire needs one.  In turn: a counted entry the
 * replies said is a regular file; the node of a file handle open now (an
 * open file keeps its inode; OPEN and CREATE give handles of regular files
 * only, the kernel opens special files itself); the node of a kernel
 * RELEASE held back (the kernel keeps the inode until that RELEASE is
 * answered, fuse_release_end).  So an open file is enough, where the
 * ledger has no entry (lookups it could not count, entries dropped after a
 * BATCH_FORGET it could not read whole, a listing without READDIRPLUS).
 * At most 8 tries.  c->lock held. */
static int wake_write(struct wconn *c)
{
	if (c->minor < 15 || c->wake_fd < 0)
		return 0;
	int tries = 0, r;
	for (unsigned int b = 0; b < FSR_LEDGER_BUCKETS && tries < 8; b++)
		for (struct fsr_entry *e = c->led.ent[b]; e && tries < 8; e = e->next) {
			if (e->count <= 0 || !S_ISREG(e->mode))
				continue;
			tries++;
			if ((r = retrieve_write(c, e->ino)) >= 0)
				return r;
		}
	for (unsigned int b = 0; b < FSR_LEDGER_BUCKETS && tries < 8; b++)
		for (struct fsr_handle *h = c->led.hnd[b]; h && tries < 8; h = h->next) {
			if (h->dir || h->refs <= 0)
				continue;
			tries++;
			if ((r = retrieve_write(c, h->ino)) >= 0)
				return r;
		}
	for (int i = 0; i < c->nheld && tries < 8; i++) {
		const struct fuse_in_header *h = (const void *)c->held[i].buf;
		if (h->opcode != FUSE_RELEASE)
			continue;
		tries++;
		if ((r = retrieve_write(c, h->nodeid)) >= 0)
			return r;
	}
	return 0;
}

/* a synchronous pass: the allocator (through the pass) waits for the
 * absorbed reply of s, at most timeout_ms, or until a reclaim-deadlock found
 * on the serving reader released it (the pass abandoned) */
static void wait_reply(struct wconn *c, struct wsyn *s, uint64_t unique, struct fsr_pass *p)
{
	uint64_t until = fsr_now_ns() + fsr_opt.timeout_ms * 1000000ull;
	for (;;) {
		int seq = __atomic_load_n(&c->unpin_seq, __ATOMIC_ACQUIRE);
		fsr_mutex_lock(&c->lock);
		int done = s->state == SYN_FREE || s->unique != unique || c->state != CONN_WIRE;
		if (done || fsr_now_ns() >= until || __atomic_load_n(&p->state, __ATOMIC_ACQUIRE) == FSR_PASS_ABANDONED) {
			if (!done)
				s->pass = NULL;   /* nobody waits any more */
			fsr_mutex_unlock(&c->lock);
			return;
		}
		fsr_mutex_unlock(&c->lock);
		fsr_futex_wait(&c->unpin_seq, seq, 10000000ull);
	}
}

/* The allocator holds a lock the graph does not track (a libfuse-internal
 * class excluded on the wire, or an excluded address): a synchronous pass
 * could only find a "deadlock" on it that is libfuse's own (its dispatcher
 * takes f->lock for the request), so such a pass stays asynchronous.  The
 * allocator waits for this pass, so its list is stable. */
static int holds_untracked(const struct fsr_thread *a)
{
	int n = a ? a->nheld : 0;
	for (int i = 0; i < n && i < FSR_MAX_HELD; i++)
		if (!a->held[i].cls)
			return 1;
	return 0;
}

/* a pass can queue into c, or (every slot queued already) wake a reader
 * that waits in poll for what is queued: nothing else would (a poll loop
 * wakes itself only after a kernel request, fsr_wire_wait_begin) */
static int conn_usable(struct wconn *c)
{
	return c && c->state == CONN_WIRE && c->inited && (c->led.nent || c->led.nhnd) &&
	       (syn_free(c) || (__atomic_load_n(&c->waiting, __ATOMIC_RELAXED) && !c->wake_out && syn_queued(c)));
}

int fsr_wire_reclaim_possible(struct fsr_thread *t)
{
	(void)t;
	if (fsr_opt.fuse_transport == FSR_TRANSPORT_LIB || !__atomic_load_n(&wire_used, __ATOMIC_ACQUIRE))
		return 0;
	for (int i = 0; i < WIRE_CONNS; i++)
		if (conn_usable(__atomic_load_n(&conns[i], __ATOMIC_ACQUIRE)))
			return 1;
	return 0;
}

unsigned long fsr_wire_reclaim(struct fsr_pass *p)
{
	if (fsr_opt.fuse_transport == FSR_TRANSPORT_LIB || !__atomic_load_n(&wire_used, __ATOMIC_ACQUIRE))
		return 0;
	struct fsr_thread *t = fsr_thread_self();
	unsigned long n = 0;
	int sync = 0;
	fsr_busy_enter(t);
	int64_t uid = -1, gid = -1;
	for (int i = 0; i < WIRE_CONNS; i++) {
		struct wconn *c = __atomic_load_n(&conns[i], __ATOMIC_ACQUIRE);
		if (!conn_usable(c))
			continue;
		if (uid < 0) {
			/* setfsuid/setfsgid(-1) change nothing and return the current ids */
			uid = (uint32_t)syscall(SYS_setfsuid, -1);
			gid = (uint32_t)syscall(SYS_setfsgid, -1);
		}
		fsr_mutex_lock(&c->lock);
		c->cr_uid = (uint32_t)uid;
		c->cr_gid = (uint32_t)gid;
		c->cr_pid = (uint32_t)(p->allocator_tid ? p->allocator_tid : t->tid);
		unsigned long before = n;
		struct wsyn *hs[2] = { NULL, NULL };
		int parked = __atomic_load_n(&c->parked, __ATOMIC_ACQUIRE) > 0;
		if (c->state == CONN_WIRE) {
			/* the kind queued first turns with each pass: where the
			 * readers serve fewer than the passes queue (one per kernel
			 * request: an interpreter's), the slots that free up would
			 * otherwise all go to the first kind */
			unsigned int first = c->turn++;
			/* the wire makes every kind for any daemon: the option's */
			unsigned int cbs = fsr_ledger_callbacks(FSR_CB_FORGET | FSR_CB_FSYNC | FSR_CB_FLUSH);
			for (unsigned int k = 0; k < 3; k++) {
				unsigned int kind = (first + k) % 3;
				if (kind == 0 && (cbs & FSR_CB_FORGET))
					n += (unsigned long)queue_lookup(c, p->gfp, p);    /* always asynchronous */
				if (kind == 1 && (cbs & FSR_CB_FSYNC))
					n += (unsigned long)queue_handle(c, 0, p->gfp, &hs[0], p);
				if (kind == 2 && (cbs & FSR_CB_FLUSH))
					n += (unsigned long)queue_handle(c, 1, p->gfp, &hs[1], p);
			}
			/* synchronous when another reader is parked in the kernel and
			 * can be woken for it: the pass then waits for the reply */
			int woke = n > before && wake_reader(c);
			/* a waiter in poll is woken also for what earlier passes
			 * queued: those may hold every slot and target this pass
			 * could use (conn_usable) */
			if (!woke && (n > before || syn_queued(c)))
				wake_idle(c);
			struct wsyn *w = hs[0] ? hs[0] : hs[1];
			if (w && parked && woke && !c->async_only && p->allocator != t &&
			    !holds_untracked(p->allocator)) {
				w->pass = p;
				uint64_t u = w->unique;
				fsr_mutex_unlock(&c->lock);
				sync++;
				wait_reply(c, w, u, p);
				continue;
			}
		}
		fsr_mutex_unlock(&c->lock);
	}
	t->busy--;
	if (sync)
		__atomic_add_fetch(&st_sync, 1, __ATOMIC_RELAXED);
	else if (n)
		__atomic_add_fetch(&st_async, 1, __ATOMIC_RELAXED);
	return n;
}

int fsr_wire_stats(char *buf, size_t len)
{
	if (!__atomic_load_n(&wire_used, __ATOMIC_RELAXED))
		return 0;
	int n = fsr_fmt(buf, len, " wire_async=%llu wire_sync=%llu absorbed_forget=%llu absorbed_fsync=%llu absorbed_flush=%llu"
			" wire_inexact=%llu",
			(unsigned long long)__atomic_load_n(&st_async, __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&st_sync, __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&st_forget, __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&st_fsync, __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&st_flush, __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&st_inexact, __ATOMIC_RELAXED));
	return n + fsr_wire_splice_stats(buf + n, len - (size_t)n);
}
