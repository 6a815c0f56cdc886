/* ctorlib.c - a library whose constructor allocates (and, for the hang
 * test, takes a lock of its own and allocates under it), run by dlopen
 * under the loader's lock.  It first calls the program's hook. */
#include <pthread.h>
#include <stdlib.h>

/* the test program's (it is linked with --export-dynamic) */
extern void (*libc_hook)(void) __attribute__((weak));
static pthread_mutex_t ctor_lock = PTHREAD_MUTEX_INITIALIZER;
static void *volatile keep;

__attribute__((constructor)) static void ctorlib_init(void)
{
	if (&libc_hook && libc_hook)
		libc_hook();
	pthread_mutex_lock(&ctor_lock);
	keep = malloc(64);       /* an allocation inside dlopen, holding ctor_lock */
	free(keep);
	pthread_mutex_unlock(&ctor_lock);
}
