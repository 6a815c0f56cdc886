/* util.c - small helpers the whole shim uses: formatting without stdio,
 * a futex mutex, time, tid.  Nothing here calls the hooked malloc. */
#include "fsr.h"
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__thread struct fsr_thread fsr_self __attribute__((tls_model("initial-exec")));
pid_t fsr_pid;

void *fsr_alloc(size_t n) { return __libc_calloc(1, n); }
void fsr_free(void *p) { __libc_free(p); }

pid_t fsr_gettid(void)
{
	struct fsr_thread *t = fsr_thread_self();
	if (!t->tid)
		t->tid = (pid_t)syscall(SYS_gettid);
	return t->tid;
}

uint64_t fsr_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A printf subset: %s %d %i %u %ld %lu %lld %llu %zu %zd %x %lx %llx %p %c %%,
 * with width, '-', '0' and '.precision' for strings.  vsnprintf is avoided
 * because glibc's may allocate (positional args, wide chars). */
int fsr_vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
	size_t o = 0;
#define PUT(c) do { if (o + 1 < len) buf[o] = (c); o++; } while (0)
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') { PUT(*p); continue; }
		p++;
		int left = 0, zero = 0, width = 0, prec = -1, lng = 0, sz = 0;
		for (;; p++) {
			if (*p == '-') left = 1;
			else if (*p == '0') zero = 1;
			else break;
		}
		if (*p == '*') { width = va_arg(ap, int); p++; }
		while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
		if (*p == '.') {
			p++; prec = 0;
			if (*p == '*') { prec = va_arg(ap, int); p++; }
			while (*p >= '0' && *p <= '9') prec = prec * 10 + (*p++ - '0');
		}
		while (*p == 'l') { lng++; p++; }
		if (*p == 'z') { sz = 1; p++; }
		char tmp[32];
		const char *s = tmp;
		size_t n = 0;
		unsigned long long u = 0;
		int neg = 0, base = 10;
		switch (*p) {
		case '%': PUT('%'); continue;
		case 'c': tmp[0] = (char)va_arg(ap, int); n = 1; break;
		case 's':
			s = va_arg(ap, const char *);
			if (!s) s = "(null)";
			n = strlen(s);
			if (prec >= 0 && (size_t)prec < n) n = (size_t)prec;
			break;
		case 'd': case 'i': {
			long long v = sz ? (long long)va_arg(ap, ssize_t) : lng >= 2 ? va_arg(ap, long long)
				: lng ? va_arg(ap, long) : va_arg(ap, int);
			if (v < 0) { neg = 1; u = (unsigned long long)(-(v + 1)) + 1; } else u = (unsigned long long)v;
			goto num;
		}
		case 'p':
			u = (uintptr_t)va_arg(ap, void *); base = 16;
			PUT('0'); PUT('x');
			goto num;
		case 'x': base = 16; /* fall through */
		case 'u':
			u = sz ? va_arg(ap, size_t) : lng >= 2 ? va_arg(ap, unsigned long long)
				: lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
		num: {
			char r[24]; int k = 0;
			do { r[k++] = "0123456789abcdef"[u % (unsigned)base]; u /= (unsigned)base; } while (u);
			if (neg) tmp[n++] = '-';
			int pad = zero && !left ? width - k - neg : 0;
			while (pad-- > 0) tmp[n++] = '0';
			while (k) tmp[n++] = r[--k];
			break;
		}
		default: PUT('%'); PUT(*p); continue;
		}
		int padw = width - (int)n;
		if (!left) while (padw-- > 0) PUT(' ');
		for (size_t i = 0; i < n; i++) PUT(s[i]);
		if (left) while (padw-- > 0) PUT(' ');
	}
	if (len) buf[o < len ? o : len - 1] = 0;
#undef PUT
	return (int)(o < len ? o : (len ? len - 1 : 0));
}

int fsr_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = fsr_vfmt(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

/* appends to a bounded buffer; past its end, the rest is cut and full set */
void fsr_bput(struct fsr_buf *b, const char *fmt, ...)
{
	if (b->len + 1 >= b->cap) {
		b->full = 1;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = fsr_vfmt(b->b + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if ((size_t)n >= b->cap - b->len - 1)
		b->full = 1;
	b->len += (size_t)n;
}

void fsr_bmem(struct fsr_buf *b, const char *s, size_t n)
{
	if (!b->cap)
		return;
	if (b->len + n + 1 > b->cap) {
		n = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
		b->full = 1;
	}
	memcpy(b->b + b->len, s, n);
	b->len += n;
	b->b[b->len] = 0;
}

void fsr_say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = fsr_vfmt(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n > 0 && buf[n - 1] != '\n')
		buf[n++] = '\n';
	fsr_out_write(buf, (size_t)n);
}

int fsr_futex_wait(int *addr, int val, uint64_t timeout_ns)
{
	struct timespec ts, *tp = NULL;
	if (timeout_ns != UINT64_MAX) {
		ts.tv_sec = (time_t)(timeout_ns / 1000000000ull);
		ts.tv_nsec = (long)(timeout_ns % 1000000000ull);
		tp = &ts;
	}
	long r = syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tp, NULL, 0);
	return r == -1 && errno == ETIMEDOUT ? -ETIMEDOUT : 0;
}

void fsr_futex_wake(int *addr, int n)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* Drepper's "Futexes are tricky" mutex 2: 0 free, 1 locked, 2 contended. */
void fsr_mutex_lock(struct fsr_mutex *m)
{
	int c = 0;
	if (__atomic_compare_exchange_n(&m->v, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	int e = errno;
	if (c != 2)
		c = __atomic_exchange_n(&m->v, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		fsr_futex_wait(&m->v, 2, UINT64_MAX);
		c = __atomic_exchange_n(&m->v, 2, __ATOMIC_ACQUIRE);
	}
	errno = e;
}

void fsr_mutex_unlock(struct fsr_mutex *m)
{
	if (__atomic_fetch_sub(&m->v, 1, __ATOMIC_RELEASE) != 1) {
		int e = errno;
		__atomic_store_n(&m->v, 0, __ATOMIC_RELEASE);
		fsr_futex_wake(&m->v, 1);
		errno = e;
	}
}

/* Quote untrusted bytes for an error line (an option, a suppressions
 * file's line): printable ASCII as is, the rest as \xNN, at most `shown`
 * bytes, then "..." */
void fsr_quote(char *out, size_t len, const char *s, size_t n, size_t shown)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == shown) {
			if (o + 4 < len) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)fsr_fmt(out + o, len - o, "\\x%02x", c);
	}
	out[o] = 0;
}

/* all of n bytes to fd (EINTR retried); 0, or -1 on an error or a full device */
int fsr_write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* An absolute path made canonical in place, by its text alone: "." and
 * empty components dropped, ".." takes the one before it (as the kernel's
 * walk does without symlinks).  DWARF names files relative to the
 * compilation directory ("../../fusefs/journal.c" in an out-of-tree
 * build); joined and normalised they compare with source_root. */
void fsr_path_normalize(char *p)
{
	if (p[0] != '/')
		return;
	char *out = p + 1;          /* write position, after the leading '/' */
	const char *in = p + 1;
	while (*in) {
		const char *e = strchr(in, '/');
		size_t n = e ? (size_t)(e - in) : strlen(in);
		if (n == 0 || (n == 1 && in[0] == '.')) {
			/* nothing */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			if (out > p + 1) {
				out--;              /* the '/' after the last component */
				while (out > p + 1 && out[-1] != '/')
					out--;
			}
		} else {
			memmove(out, in, n);
			out += n;
			*out++ = '/';
		}
		in += n + (e ? 1 : 0);
	}
	if (out > p + 1)
		out--;                      /* no trailing '/' */
	*out = 0;
}

/* the next definition of name after the shim's (RTLD_NEXT), looked up with
 * the thread busy (dlsym may allocate: no pass, no tracking) and errno
 * kept; *cache holds it once found */
void *fsr_dlsym_next(void **cache, const char *name)
{
	void *f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
	if (!f) {
		struct fsr_thread *t = fsr_thread_self();
		int e = errno;
		fsr_busy_enter(t);
		f = dlsym(RTLD_NEXT, name);
		t->busy--;
		errno = e;
		__atomic_store_n(cache, f, __ATOMIC_RELEASE);
	}
	return f;
}
