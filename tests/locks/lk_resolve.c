/* lk_resolve: run with lk_resolve_lib.so preloaded after the shim (see
 * there).  A thread takes a busy mutex while the shim's resolve() is
 * half done: it must block on the mutex (released here), not call a real
 * function not resolved yet.  Prints "window" when the resolver saw the
 * thread's call begin inside resolve (the case under test). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

int main(void)
{
	pthread_mutex_t *busy = dlsym(RTLD_DEFAULT, "lk_resolve_busy");
	pthread_t *th = dlsym(RTLD_DEFAULT, "lk_resolve_thread");
	int *window = dlsym(RTLD_DEFAULT, "lk_resolve_window");
	if (!busy || !th || !window || !*th) {
		fprintf(stderr, "lk_resolve: lk_resolve_lib.so not preloaded\n");
		return 2;
	}
	pthread_mutex_unlock(busy);     /* locked by the library's constructor */
	pthread_join(*th, NULL);
	printf("%s\n", *window ? "window" : "no window");
	return 0;
}
