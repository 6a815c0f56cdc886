/* filelock.c - file locks the thread holds (flock, fcntl record locks,
 * lockf), counted per thread.
 *
 * The lock tracker cannot follow a file lock (the kernel holds it), so an
 * inline callback that needs a file lock its own allocating thread holds
 * would block forever on that thread.  A thread that holds one is treated
 * as holding a tracked lock: its passes are handed off (pass.c), where the
 * allocator's wait is bounded by timeout_ms (reclaim-wait-timeout) and the
 * daemon goes on.  The count is per thread and follows the calls, not the
 * kernel: a lock dropped by close() keeps it raised, which only hands off
 * more passes.  A file lock is owned by an open file description, not a
 * thread, so an inline callback may still wait for one its thread holds
 * without a count (taken on another thread); inside such a callback flock
 * and F_OFD_SETLKW are polled and bounded by timeout_ms (abandon.c). */
#include "fsr.h"
#include <errno.h>
#include <fcntl.h>
#include "fuse/wire.h"
#include <stdarg.h>
#include <stdint.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

typedef int (*fcntl_fn)(int, int, ...);
typedef int (*flock_fn)(int, int);
typedef int (*lockf_fn)(int, int, off_t);

static void count(int taken, int released)
{
	struct fsr_thread *t = fsr_thread_self();
	if (taken)
		t->nfilelocks++;
	else if (released && t->nfilelocks > 0)
		t->nfilelocks--;
}

static int record_lock(int cmd)
{
	return cmd == F_SETLK || cmd == F_SETLKW
#ifdef F_OFD_SETLK
	       || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW
#endif
		;
}

/* Inside an inline reclaim callback (abandon.c) a blocking file lock is
 * polled without blocking until the callback's timeout_ms is used up; past
 * that the callback is abandoned, or, where that is not sound, the lock is
 * waited for as asked.  try(fd, arg) is one non-blocking attempt: 0 taken,
 * 1 busy, -1 an error (errno).  Returns 2 to block as asked. */
__attribute__((noinline, cold)) static int poll_lock(struct fsr_thread *t, int (*try)(int, void *), int fd,
						     void *arg, const char *what, void *site)
{
	uint64_t dl;
	if (!fsr_wait_bounded(t, (const void *)(intptr_t)fd, NULL, site, &dl))
		return 2;
	int e = errno;
	uint64_t step = 1000000;       /* 1 ms, doubled up to 16 ms */
	for (;;) {
		int r = try(fd, arg);
		if (r != 1) {
			fsr_wait_done(t);
			if (r == 0)
				errno = e;
			return r;
		}
		uint64_t now = fsr_now_ns();
		if (now >= dl)
			break;
		uint64_t d = dl - now < step ? dl - now : step;
		struct timespec ts = { (time_t)(d / 1000000000u), (long)(d % 1000000000u) };
		nanosleep(&ts, NULL);
		if (step < 16000000)
			step *= 2;
	}
	errno = e;
	fsr_wait_expired(t, what, (const void *)(intptr_t)fd, NULL);
	return 2;
}

static fcntl_fn ofd_fn;
static int ofd_try(int fd, void *arg)
{
	int r = ofd_fn(fd, F_OFD_SETLK, arg);
	return r == 0 ? 0 : (errno == EAGAIN || errno == EACCES) ? 1 : -1;
}

static int fcntl_common(void **cache, const char *name, int fd, int cmd, void *arg, void *site)
{
	fcntl_fn f = (fcntl_fn)fsr_dlsym_next(cache, name);
	if (!f) {
		errno = ENOSYS;
		return -1;
	}
	int r = 2;
#ifdef F_OFD_SETLKW
	/* an open file description's lock conflicts with another one of this
	 * process: it can wait for its own thread.  (F_SETLKW's process-owned
	 * locks never conflict with their own process.) */
	struct fsr_thread *t = fsr_thread_self();
	if (unlikely(t->cb_guard != NULL) && cmd == F_OFD_SETLKW && arg &&
	    ((const struct flock *)arg)->l_type != F_UNLCK) {
		ofd_fn = f;
		r = poll_lock(t, ofd_try, fd, arg, "fcntl(F_OFD_SETLKW)", site);
	}
#endif
	if (r == 2)
		r = f(fd, cmd, arg);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		fsr_wire_dup2(fd, r, r);     /* a copy of a /dev/fuse fd: the same connection */
	if (r == 0 && record_lock(cmd) && arg) {
		const struct flock *l = arg;
		count(l->l_type != F_UNLCK, l->l_type == F_UNLCK);
	}
	return r;
}

static void *real_fcntl, *real_fcntl64, *real_flock, *real_lockf;

/* the argument is an int or a pointer: read it as glibc's fcntl does */
FSR_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(&real_fcntl, "fcntl", fd, cmd, arg, __builtin_return_address(0));
}

FSR_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(&real_fcntl64, "fcntl64", fd, cmd, arg, __builtin_return_address(0));
}

static flock_fn flock_real;
static int flock_try(int fd, void *arg)
{
	int r = flock_real(fd, (int)(intptr_t)arg | LOCK_NB);
	return r == 0 ? 0 : errno == EWOULDBLOCK ? 1 : -1;
}

FSR_EXPORT int flock(int fd, int op)
{
	flock_fn f = (flock_fn)fsr_dlsym_next(&real_flock, "flock");
	if (!f) {
		errno = ENOSYS;
		return -1;
	}
	int r = 2;
	struct fsr_thread *t = fsr_thread_self();
	if (unlikely(t->cb_guard != NULL) && (op & (LOCK_SH | LOCK_EX)) && !(op & LOCK_NB)) {
		flock_real = f;
		r = poll_lock(t, flock_try, fd, (void *)(intptr_t)op, "flock", __builtin_return_address(0));
	}
	if (r == 2)
		r = f(fd, op);
	if (r == 0)
		count(op & (LOCK_SH | LOCK_EX), op & LOCK_UN);
	return r;
}

FSR_EXPORT int lockf(int fd, int cmd, off_t len)
{
	lockf_fn f = (lockf_fn)fsr_dlsym_next(&real_lockf, "lockf");
	if (!f) {
		errno = ENOSYS;
		return -1;
	}
	int r = f(fd, cmd, len);
	if (r == 0)
		count(cmd == F_LOCK || cmd == F_TLOCK, cmd == F_ULOCK);
	return r;
}
