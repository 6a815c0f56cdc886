/* rpath_host.c - a library that dlopens a plugin found only through its
 * own DT_RUNPATH ($ORIGIN/plug): the shim's dlopen must search the real
 * caller's path, not its own.  libc.sh builds it. */
#include <dlfcn.h>
#include <stdio.h>

int host_load(void)
{
	void *h = dlopen("librpathplug.so", RTLD_NOW);
	if (!h) {
		printf("host: %s\n", dlerror());
		return -1;
	}
	int (*f)(void) = (int (*)(void))dlsym(h, "plug_value");
	return f ? f() : -1;
}
