/* callout.c - a daemon helper that calls a library other than glibc
 * (libstdc++'s demangler), linked between lockfs.o and libfuse3.a by
 * tests/fuse/wire_bundled.sh: the daemon's code below its bundled libfuse
 * calls out, as mergerfs' (libstdc++) and ntfs-3g's (libntfs-3g) do. */
#include <stdlib.h>

char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);
char *callout_demangle(const char *s);

char *callout_demangle(const char *s)
{
	int st;
	return __cxa_demangle(s, NULL, NULL, &st);
}
