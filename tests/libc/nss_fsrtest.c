/* nss_fsrtest.c - an NSS module (libnss_fsrtest.so.2) that libc loads by
 * itself, with no dlopen the shim sees, when the program looks a user up
 * after __nss_configure_lookup("passwd", "fsrtest").  Its lookup allocates
 * while getpwnam holds libc's lock, and marks that span through the
 * program's hook: a reclaim pass must never run inside it.  Its second
 * lookup restores a scope it never saved: that report's stack names this
 * module's function only once the shim's module table knows the module. */
#include <fsreclaim.h>
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

/* the test program's (it is linked with --export-dynamic) */
extern void libc_nss_mark(int inside) __attribute__((weak));

enum nss_status _nss_fsrtest_getpwnam_r(const char *name, struct passwd *pw, char *buf,
					size_t len, int *errnop);

enum nss_status _nss_fsrtest_getpwnam_r(const char *name, struct passwd *pw, char *buf,
					size_t len, int *errnop)
{
	if (strcmp(name, "fsrtest"))
		return NSS_STATUS_NOTFOUND;
	if (len < 16) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	if (&libc_nss_mark)
		libc_nss_mark(1);
	void *volatile p = malloc(64);   /* the caller is this module */
	free(p);
	if (&libc_nss_mark)
		libc_nss_mark(0);
	static int calls;
	if (++calls == 2)
		memalloc_nofs_restore(0x1);
	strcpy(buf, "fsrtest");
	memset(pw, 0, sizeof *pw);
	pw->pw_name = buf;
	pw->pw_passwd = buf + 7;         /* "" */
	pw->pw_dir = buf + 7;
	pw->pw_shell = buf + 7;
	pw->pw_gecos = buf + 7;
	pw->pw_uid = 4242;
	pw->pw_gid = 4242;
	return NSS_STATUS_SUCCESS;
}
