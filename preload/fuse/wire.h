/* wire.h - the /dev/fuse wire transport: the FUSE protocol read from the
 * daemon's own read/write syscalls on its /dev/fuse fds (wire.c: which fds
 * those are, the interposers; wire_proto.c: the traffic, the ledger, the
 * synthetic reclaim requests).  Used for every FUSE connection no wrapped
 * libfuse serves (fuse_transport=auto), or for all (fuse_transport=wire). */
#ifndef FSR_WIRE_H
#define FSR_WIRE_H

#include "fsr.h"
#include <dlfcn.h>
#include <sys/uio.h>

/* fds the wire knows, one bit each: every read/write of other fds pays this test */
#define FSR_WIRE_FDS 65536
extern uint64_t fsr_wire_fdbits[FSR_WIRE_FDS / 64] FSR_HIDDEN;

static inline int fsr_wire_is_fd(int fd)
{
	return (unsigned int)fd < FSR_WIRE_FDS && ((fsr_wire_fdbits[(unsigned int)fd >> 6] >> (fd & 63)) & 1);
}

/* epoll fds that watch a FUSE fd for input (wire_poll.c) */
extern uint64_t fsr_wire_epbits[FSR_WIRE_FDS / 64] FSR_HIDDEN;

static inline int fsr_wire_is_epfd(int fd)
{
	return (unsigned int)fd < FSR_WIRE_FDS && ((fsr_wire_epbits[(unsigned int)fd >> 6] >> (fd & 63)) & 1);
}
void fsr_wire_epfd_closed(int epfd) FSR_HIDDEN;

/* the wire's interposers (wire.c, wire_poll.c): WIRE_REAL(ret, sym, params)
 * declares real_sym, the next definition of sym (resolved at first use);
 * WIRE_IPOS(ret, sym, params) defines the exported sym as fsrw_sym */
#define WIRE_REAL(ret, sym, params) \
	static ret (*real_##sym) params; \
	if (unlikely(!real_##sym)) real_##sym = (ret (*) params)dlsym(RTLD_NEXT, #sym)
#define WIRE_IPOS(ret, sym, params) \
	FSR_EXPORT ret fsrw_##sym params __asm__(#sym); \
	ret fsrw_##sym params

/* wire.c: fd bookkeeping (conn: a connection index, or -1 for a new one) */
void fsr_wire_fd_add(int fd, int conn) FSR_HIDDEN;
void fsr_wire_fd_del(int fd) FSR_HIDDEN;
int fsr_wire_conn_of(int fd) FSR_HIDDEN;   /* -1: not a FUSE fd */
int fsr_wire_fd_nonblock(int fd) FSR_HIDDEN;   /* O_NONBLOCK at its first read */
/* reentry.c's open interposers: path was opened as fd */
void fsr_wire_opened(const char *path, int fd) FSR_HIDDEN;
/* 1 when fd (tested by fstat) is /dev/fuse (char 10:229) */
int fsr_wire_fd_is_fuse(int fd) FSR_HIDDEN;
/* wire_proto.c: a request's op name, as libfuse's ops are named
 * ("request" for an opcode it does not know); libfuse2's high level too */
const char *fsr_fuse_op_name(uint32_t opcode) FSR_HIDDEN;

/* the interposers' entries (reentry.c: read, readv, write, close, dup2, dup3) */
ssize_t fsr_wire_read1(int fd, void *b, size_t n, void *caller) FSR_HIDDEN;
ssize_t fsr_wire_readv(int fd, const struct iovec *v, int n, void *caller) FSR_HIDDEN;
ssize_t fsr_wire_write1(int fd, const void *b, size_t n) FSR_HIDDEN;
void fsr_wire_closed(int fd) FSR_HIDDEN;
void fsr_wire_dup2(int oldfd, int newfd, int r) FSR_HIDDEN;
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* wire_proto.c */
typedef ssize_t (*fsr_wire_io_fn)(int fd, const struct iovec *iov, int iovcnt);
/* a read of one request into iov on FUSE fd `fd`; rd does the real read.
 * caller: the return address of the interposed call (who reads: libfuse?) */
ssize_t fsr_wire_read(int fd, const struct iovec *iov, int iovcnt, fsr_wire_io_fn rd, void *caller) FSR_HIDDEN;
/* a thread begins to wait in poll/select/epoll for FUSE fd `fd` to become
 * readable: returns its connection (-1: not followed), for the matching
 * end (ready: the wait said something is readable) */
int fsr_wire_wait_begin(int fd) FSR_HIDDEN;
void fsr_wire_wait_end(int conn, int ready) FSR_HIDDEN;
size_t fsr_wire_read_room(fsr_wire_io_fn rd, size_t cap) FSR_HIDDEN;
/* a write of one reply or notification; wr does the real write */
ssize_t fsr_wire_write(int fd, const struct iovec *iov, int iovcnt, fsr_wire_io_fn wr) FSR_HIDDEN;
/* a reply of `total` bytes whose first bytes are in iov (a spliced reply:
 * the rest stays in the daemon's pipe); wr does the real write */
ssize_t fsr_wire_reply(int fd, const struct iovec *iov, int iovcnt, size_t total, fsr_wire_io_fn wr) FSR_HIDDEN;
/* how much of a reply (its header oh, len bytes) the reply path reads past
 * its first bytes: len for a READDIRPLUS, else 0 (wire_splice.c) */
struct fuse_out_header;
size_t fsr_wire_reply_reads(int fd, const struct fuse_out_header *oh, size_t len) FSR_HIDDEN;
/* does the wire parse fd's requests (reading) / replies?  (0: pass through) */
int fsr_wire_follows(int fd, int reading) FSR_HIDDEN;
/* spliced traffic on FUSE fd `fd` the wire cannot read (why: the notice):
 * it stops following that connection (its ledger is dropped) */
void fsr_wire_splice_lost(int fd, const char *why) FSR_HIDDEN;

/* wire_splice.c: splice(2) with a FUSE fd on one side (wire.c's interposer);
 * caller: the return address of the interposed call */
ssize_t fsr_wire_splice(int in, loff_t *oin, int out, loff_t *oout, size_t len, unsigned int fl,
			void *caller) FSR_HIDDEN;
int fsr_wire_splice_stats(char *buf, size_t len) FSR_HIDDEN;
/* the shim's own write(2)/tee(2) into fd (a pipe, or an fd that may have
 * become one): never SIGPIPE the daemon for it (see wire_splice.c) */
ssize_t fsr_wire_nosigpipe_write(int fd, const void *buf, size_t n) FSR_HIDDEN;
/* a new connection slot (index) was made / its last fd closed */
int fsr_wire_conn_new(void) FSR_HIDDEN;
void fsr_wire_conn_ref(int conn) FSR_HIDDEN;   /* one more fd of it */
/* fd of conn closed; to: another fd of the same open file still open, or -1 */
void fsr_wire_conn_fd_closed(int conn, int fd, int to) FSR_HIDDEN;

/* wire_static.c: site is in a libfuse linked into the program (libfuse3.a) */
int fsr_wire_site_in_static_libfuse(const void *site) FSR_HIDDEN;
/* wire_bundled.c: the libfuse linked into the object that read an INIT
 * at caller (learnt once per object), and whether site is in its code */
void fsr_wire_bundled_learn(void *caller) FSR_HIDDEN;
int fsr_wire_site_in_bundled(const void *site) FSR_HIDDEN;

/* reclaim (fuse_state.c calls these beside the libfuse sessions') */
int fsr_wire_reclaim_possible(struct fsr_thread *t) FSR_HIDDEN;
unsigned long fsr_wire_reclaim(struct fsr_pass *p) FSR_HIDDEN;

#endif
