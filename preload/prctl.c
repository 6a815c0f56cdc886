/* prctl.c - prctl(PR_SET_IO_FLUSHER) / PR_GET_IO_FLUSHER, per thread.
 *
 * Linux (5.6+): PR_SET_IO_FLUSHER, 1 puts the calling task in the
 * IO_FLUSHER state, which includes PF_MEMALLOC_NOIO: every allocation of
 * that thread is NOIO (and so NOFS).  It needs CAP_SYS_RESOURCE, is
 * inherited by children (fork, and new threads, which copy the task flags)
 * and is kept across execve.
 *
 * The shim mirrors the kernel: the real prctl runs first and the thread's
 * FSR_PF_IOFLUSHER follows what it answered, so a daemon whose request the
 * kernel refused (no CAP_SYS_RESOURCE) is checked as what it really is, a
 * thread that may recurse into its filesystem.  FSRECLAIM_TEST_IO_FLUSHER=1
 * (tests only) grants the request when the kernel refuses it with EPERM.
 * The state is not a scope: never a scope-leak, never on the scope stack. */
#include "fsr.h"
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#define PR_GET_IO_FLUSHER 58
#endif

typedef int (*prctl_fn)(int, unsigned long, unsigned long, unsigned long, unsigned long);
static prctl_fn real_prctl;
static int test_grant = -1;

static int call_real(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	if (!real_prctl) {
		struct fsr_thread *t = fsr_thread_self();
		fsr_busy_enter(t);
		prctl_fn f = (prctl_fn)dlsym(RTLD_NEXT, "prctl");
		t->busy--;
		real_prctl = f ? f : NULL;
		if (!f)
			return (int)syscall(SYS_prctl, op, a2, a3, a4, a5);
	}
	return real_prctl(op, a2, a3, a4, a5);
}

static int granted_by_test(void)
{
	if (test_grant < 0) {
		const char *e = getenv("FSRECLAIM_TEST_IO_FLUSHER");
		test_grant = e && e[0] == '1';
	}
	return test_grant;
}

FSR_EXPORT int prctl(int op, ...)
{
	va_list ap;
	va_start(ap, op);
	unsigned long a2 = va_arg(ap, unsigned long);
	unsigned long a3 = va_arg(ap, unsigned long);
	unsigned long a4 = va_arg(ap, unsigned long);
	unsigned long a5 = va_arg(ap, unsigned long);
	va_end(ap);
	struct fsr_thread *t = fsr_thread_self();
	if (op == PR_SET_IO_FLUSHER) {
		int e = errno;
		int r = call_real(op, a2, a3, a4, a5);
		if (r < 0 && errno == EPERM && granted_by_test()) {
			/* what the kernel answers to a caller with CAP_SYS_RESOURCE */
			if (a2 > 1 || a3 || a4 || a5) {
				errno = EINVAL;
				return -1;
			}
			errno = e;
			r = 0;
		}
		if (r == 0) {
			if (a2)
				t->flags |= FSR_PF_IOFLUSHER;
			else
				t->flags &= ~FSR_PF_IOFLUSHER;
			fsr_look(t);
		}
		return r;
	}
	if (op == PR_GET_IO_FLUSHER) {
		int e = errno;
		int r = call_real(op, a2, a3, a4, a5);
		if (r < 0 && errno == EPERM && granted_by_test()) {
			if (a2 || a3 || a4 || a5) {
				errno = EINVAL;
				return -1;
			}
			errno = e;
			return !!(t->flags & FSR_PF_IOFLUSHER);
		}
		if (r >= 0) {   /* the kernel's answer is the truth: follow it */
			if (r)
				t->flags |= FSR_PF_IOFLUSHER;
			else
				t->flags &= ~FSR_PF_IOFLUSHER;
			fsr_look(t);
		}
		return r;
	}
	return call_real(op, a2, a3, a4, a5);
}

/* at load: the state survives execve, so ask the kernel */
void fsr_ioflusher_init(struct fsr_thread *t)
{
	int e = errno;
	long r = syscall(SYS_prctl, PR_GET_IO_FLUSHER, 0, 0, 0, 0);
	if (r == 1)
		t->flags |= FSR_PF_IOFLUSHER;
	fsr_look(t);
	errno = e;
}
