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
 * more passes. */
#include "fsr.h"
#include <errno.h>
#include <fcntl.h>
#include "fuse/wire.h"
#include <stdarg.h>
#include <sys/file.h>
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

static int fcntl_common(void **cache, const char *name, int fd, int cmd, void *arg)
{
	fcntl_fn f = (fcntl_fn)fsr_dlsym_next(cache, name);
	if (!f) {
		errno = ENOSYS;
		return -1;
	}
	int r = f(fd, cmd, arg);
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
	return fcntl_common(&real_fcntl, "fcntl", fd, cmd, arg);
}

FSR_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(&real_fcntl64, "fcntl64", fd, cmd, arg);
}

FSR_EXPORT int flock(int fd, int op)
{
	flock_fn f = (flock_fn)fsr_dlsym_next(&real_flock, "flock");
	if (!f) {
		errno = ENOSYS;
		return -1;
	}
	int r = f(fd, op);
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
