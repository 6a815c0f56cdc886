/* wire_poll.c - readers that wait for a FUSE fd to become readable in
 * poll, ppoll, select, pselect or epoll_wait before they read it.
 *
 * The shim's synthetic requests live in the shim, not in the kernel's
 * queue, so they do not make the fd readable: a reader waiting in poll
 * would sleep through them (only a kernel request would wake it).  Each
 * wait that watches a FUSE fd for input is counted on the fd's connection
 * while it lasts (fsr_wire_wait_begin/end, wire_proto.c); a pass that
 * queues a request then wakes the waiter through the fd itself (the same
 * NOTIFY_RETRIEVE wake-up a reader parked in read gets), and a wait that
 * begins with a request already queued wakes itself the same way.
 *
 * epoll: epoll_ctl tells which epoll fds watch a FUSE fd (or an epoll fd
 * that does); an epoll fd made by a raw syscall, or handed over from
 * another process, is not seen (the wire then relies on the
 * nonblocking-reader heuristic in wire_proto.c). */
#include "wire.h"
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>

/* epoll fds that watch a FUSE fd: ep_fuse[epfd] is that fd + 1 (0: none) */
uint64_t fsr_wire_epbits[FSR_WIRE_FDS / 64];
static int ep_fuse[FSR_WIRE_FDS];

static void ep_mark(int epfd, int fuse_fd)
{
	if ((unsigned int)epfd >= FSR_WIRE_FDS)
		return;
	__atomic_store_n(&ep_fuse[epfd], fuse_fd + 1, __ATOMIC_RELAXED);
	__atomic_or_fetch(&fsr_wire_epbits[(unsigned int)epfd >> 6], 1ull << (epfd & 63), __ATOMIC_RELEASE);
}

void fsr_wire_epfd_closed(int epfd)
{
	if (!fsr_wire_is_epfd(epfd))
		return;
	__atomic_and_fetch(&fsr_wire_epbits[(unsigned int)epfd >> 6], ~(1ull << (epfd & 63)), __ATOMIC_RELEASE);
	__atomic_store_n(&ep_fuse[epfd], 0, __ATOMIC_RELAXED);
}

/* the FUSE fd an epoll fd watches (-1: none, or it was closed since) */
static int ep_target(int epfd)
{
	if (!fsr_wire_is_epfd(epfd))
		return -1;
	int fd = __atomic_load_n(&ep_fuse[epfd], __ATOMIC_RELAXED) - 1;
	return fd >= 0 && fsr_wire_is_fd(fd) ? fd : -1;
}

WIRE_IPOS(int, epoll_ctl, (int epfd, int op, int fd, struct epoll_event *ev))
{
	WIRE_REAL(int, epoll_ctl, (int, int, int, struct epoll_event *));
	int r = real_epoll_ctl(epfd, op, fd, ev);
	if (likely(!fsr_wire_is_fd(fd) && !fsr_wire_is_epfd(fd)) || r != 0)
		return r;
	/* a nested epoll fd that watches one counts as watching it too */
	int target = fsr_wire_is_fd(fd) ? fd : ep_target(fd);
	if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && ev && (ev->events & (EPOLLIN | EPOLLRDNORM)) && target >= 0)
		ep_mark(epfd, target);
	else if ((op == EPOLL_CTL_DEL || op == EPOLL_CTL_MOD) && ep_target(epfd) == target)
		fsr_wire_epfd_closed(epfd);
	return r;
}

/* the wait on fd's connection ends (a cancelled one too: poll and
 * epoll_wait are cancellation points) */
static void wait_end(void *arg)
{
	fsr_wire_wait_end((int)(intptr_t)arg - 1, 0);
}

/* the wait itself, counted on FUSE fd `fd`'s connection (fd < 0: not one) */
#define COUNTED_WAIT(fd, call) \
	({ \
		int ci_ = (fd) >= 0 ? fsr_wire_wait_begin(fd) : -1; \
		__typeof__(call) r_; \
		if (ci_ < 0) { \
			r_ = (call); \
		} else { \
			pthread_cleanup_push(wait_end, (void *)(intptr_t)(ci_ + 1)); \
			r_ = (call); \
			pthread_cleanup_pop(0); \
			int e_ = errno; \
			fsr_wire_wait_end(ci_, r_ > 0); \
			errno = e_; \
		} \
		r_; \
	})

/* the first FUSE fd polled for input (-1: none) */
static int poll_fuse_fd(const struct pollfd *p, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++)
		if (unlikely(fsr_wire_is_fd(p[i].fd)) && (p[i].events & (POLLIN | POLLRDNORM)))
			return p[i].fd;
	return -1;
}

/* the first FUSE fd in a select read set (-1: none) */
static int select_fuse_fd(int n, const fd_set *rd)
{
	if (!rd || n <= 0)
		return -1;
	if (n > FD_SETSIZE)
		n = FD_SETSIZE;
	for (int fd = 0; fd < n; fd++)
		if (unlikely(fsr_wire_is_fd(fd)) && FD_ISSET(fd, rd))
			return fd;
	return -1;
}

WIRE_IPOS(int, poll, (struct pollfd *p, nfds_t n, int timeout))
{
	WIRE_REAL(int, poll, (struct pollfd *, nfds_t, int));
	return COUNTED_WAIT(poll_fuse_fd(p, n), real_poll(p, n, timeout));
}

WIRE_IPOS(int, __poll_chk, (struct pollfd *p, nfds_t n, int timeout, size_t len))
{
	WIRE_REAL(int, __poll_chk, (struct pollfd *, nfds_t, int, size_t));
	return COUNTED_WAIT(poll_fuse_fd(p, n), real___poll_chk(p, n, timeout, len));
}

WIRE_IPOS(int, ppoll, (struct pollfd *p, nfds_t n, const struct timespec *ts, const sigset_t *ss))
{
	WIRE_REAL(int, ppoll, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *));
	return COUNTED_WAIT(poll_fuse_fd(p, n), real_ppoll(p, n, ts, ss));
}

WIRE_IPOS(int, __ppoll_chk, (struct pollfd *p, nfds_t n, const struct timespec *ts, const sigset_t *ss, size_t len))
{
	WIRE_REAL(int, __ppoll_chk, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t));
	return COUNTED_WAIT(poll_fuse_fd(p, n), real___ppoll_chk(p, n, ts, ss, len));
}

WIRE_IPOS(int, select, (int n, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv))
{
	WIRE_REAL(int, select, (int, fd_set *, fd_set *, fd_set *, struct timeval *));
	return COUNTED_WAIT(select_fuse_fd(n, rd), real_select(n, rd, wr, ex, tv));
}

WIRE_IPOS(int, pselect, (int n, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts, const sigset_t *ss))
{
	WIRE_REAL(int, pselect, (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *));
	return COUNTED_WAIT(select_fuse_fd(n, rd), real_pselect(n, rd, wr, ex, ts, ss));
}

WIRE_IPOS(int, epoll_wait, (int epfd, struct epoll_event *ev, int max, int timeout))
{
	WIRE_REAL(int, epoll_wait, (int, struct epoll_event *, int, int));
	return COUNTED_WAIT(ep_target(epfd), real_epoll_wait(epfd, ev, max, timeout));
}

WIRE_IPOS(int, epoll_pwait, (int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *ss))
{
	WIRE_REAL(int, epoll_pwait, (int, struct epoll_event *, int, int, const sigset_t *));
	return COUNTED_WAIT(ep_target(epfd), real_epoll_pwait(epfd, ev, max, timeout, ss));
}

WIRE_IPOS(int, epoll_pwait2, (int epfd, struct epoll_event *ev, int max, const struct timespec *ts, const sigset_t *ss))
{
	WIRE_REAL(int, epoll_pwait2, (int, struct epoll_event *, int, const struct timespec *, const sigset_t *));
	if (unlikely(!real_epoll_pwait2)) {
		errno = ENOSYS;    /* an older glibc: the program could not have linked it */
		return -1;
	}
	return COUNTED_WAIT(ep_target(epfd), real_epoll_pwait2(epfd, ev, max, ts, ss));
}
