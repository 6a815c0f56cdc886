/* wire_syscall.c - fd copies and closes made through libc's syscall(3).
 *
 * A daemon may copy or close its /dev/fuse fd with syscall(SYS_dup, fd),
 * syscall(SYS_dup3, ...), syscall(SYS_fcntl, fd, F_DUPFD, n) or
 * syscall(SYS_close, fd) instead of the libc wrappers the wire interposes
 * (wire.c, reentry.c, filelock.c).  Unseen, a copy is not a FUSE fd to the
 * wire (its reads and replies go past the ledger, and a synthetic request
 * read on the original ends when the original is closed although its file
 * lives on), and a raw close leaves a stale bit.  syscall(3) is one libc
 * function, so it is interposed here: the call itself is made with the
 * syscall instruction (never through dlsym: the shim's own code calls
 * syscall(3) too, from its allocator and lock paths, where the loader's
 * lock may not be taken), then the wire follows what it did.
 *
 * What stays unseen: the syscall instruction used directly (Go, inline
 * assembly, a static libc), and architectures this file has no
 * instruction sequence for (there syscall(3) is not interposed). */
#include "wire.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>

#if defined(__x86_64__) || defined(__aarch64__)

static inline long raw_syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
#if defined(__x86_64__)
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#else
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a1;
	register long x1 __asm__("x1") = a2;
	register long x2 __asm__("x2") = a3;
	register long x3 __asm__("x3") = a4;
	register long x4 __asm__("x4") = a5;
	register long x5 __asm__("x5") = a6;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
	return x0;
#endif
}

/* what a successful call n with arguments a, result r, did to the fds */
static void follow(long n, const long *a, long r)
{
	switch (n) {
	case SYS_dup:
		if (unlikely(fsr_wire_is_fd((int)a[0])))
			fsr_wire_dup2((int)a[0], (int)r, (int)r);
		break;
#ifdef SYS_dup2
	case SYS_dup2:
#endif
	case SYS_dup3:
		fsr_wire_dup2((int)a[0], (int)a[1], (int)r);
		break;
	case SYS_fcntl:
		if ((a[1] == F_DUPFD || a[1] == F_DUPFD_CLOEXEC) && unlikely(fsr_wire_is_fd((int)a[0])))
			fsr_wire_dup2((int)a[0], (int)r, (int)r);
		break;
	case SYS_close:
		fsr_wire_closed((int)a[0]);
		break;
#ifdef SYS_close_range
	case SYS_close_range:
		if (!((unsigned int)a[2] & CLOSE_RANGE_CLOEXEC))
			for (unsigned long i = (unsigned int)a[0]; i <= (unsigned int)a[1] && i < FSR_WIRE_FDS; i++)
				fsr_wire_closed((int)i);
		break;
#endif
	default:
		break;
	}
}

FSR_EXPORT long fsrw_syscall(long n, ...) __asm__("syscall");
long fsrw_syscall(long n, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	long r = raw_syscall6(n, a[0], a[1], a[2], a[3], a[4], a[5]);
	if ((unsigned long)r > -4096ul) {
		if (n == SYS_close && r != -EBADF)
			fsr_wire_closed((int)a[0]);   /* the fd is gone even when close says EINTR or EIO */
		errno = (int)-r;
		return -1;
	}
	if (unlikely(n == SYS_dup || n == SYS_dup3 || n == SYS_fcntl || n == SYS_close
#ifdef SYS_dup2
		     || n == SYS_dup2
#endif
#ifdef SYS_close_range
		     || n == SYS_close_range
#endif
		     ))
		follow(n, a, r);
	return r;
}

#endif
