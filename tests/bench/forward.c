/* forward.c - the noise floor of the benchmarks: a preload that interposes
 * what the shim interposes in them (the malloc family and the pthread lock
 * calls) and only forwards to glibc, the way the shim reaches glibc:
 * __libc_* entry points for malloc, dlsym(RTLD_NEXT) pointers for locks. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_calloc(size_t, size_t);
void *malloc(size_t n) { return __libc_malloc(n); }
void free(void *p) { __libc_free(p); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void *calloc(size_t a, size_t b) { return __libc_calloc(a, b); }

static int (*real_lock)(pthread_mutex_t *), (*real_unlock)(pthread_mutex_t *);
static int (*real_rdlock)(pthread_rwlock_t *), (*real_rwunlock)(pthread_rwlock_t *);
__attribute__((constructor)) static void resolve(void)
{
	real_lock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_lock");
	real_unlock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_unlock");
	real_rdlock = (int (*)(pthread_rwlock_t *))dlsym(RTLD_NEXT, "pthread_rwlock_rdlock");
	real_rwunlock = (int (*)(pthread_rwlock_t *))dlsym(RTLD_NEXT, "pthread_rwlock_unlock");
}
int pthread_mutex_lock(pthread_mutex_t *m) { return real_lock(m); }
int pthread_mutex_unlock(pthread_mutex_t *m) { return real_unlock(m); }
int pthread_rwlock_rdlock(pthread_rwlock_t *l) { return real_rdlock(l); }
int pthread_rwlock_unlock(pthread_rwlock_t *l) { return real_rwunlock(l); }
