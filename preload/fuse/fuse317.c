/* fuse317.c - libfuse 3.17's versioned entry points.
 *
 * From 3.17 (libfuse3.so.4) fuse_session_new, fuse_new and fuse_main are
 * static inline functions of the headers that call new symbols with the
 * struct libfuse_version the daemon was built with:
 *   fuse_session_new -> fuse_session_new_versioned@@FUSE_3.17
 *   fuse_new         -> _fuse_new_31@@FUSE_3.17 (_fuse_new_30 for API 30)
 *   fuse_main        -> fuse_main_real_versioned@@FUSE_3.17
 * A daemon built against 3.17 binds only these, never the @FUSE_3.0/3.1
 * names fuse_ops.c wraps.  The wrapping itself is fuse_ops.c's; the version
 * struct is handed on unchanged.
 *
 * fuse_main_real_versioned is not wrapped: like 3.14's fuse_main_real it
 * calls _fuse_new_31 through libfuse's PLT, which calls
 * fuse_session_new_versioned through the PLT too.  3.17's compat
 * fuse_session_new@FUSE_3.0 and fuse_new@FUSE_3.1 also end in these:
 * fsr_session_new and fsr_fuse_new let the nested call through unwrapped.
 *
 * fuse_passthrough_open/close (new in 3.17) are given a request and use
 * its session's /dev/fuse: a callback's fake request never reaches them. */
#include "fuse_shim.h"
#include <errno.h>

typedef struct fuse_session *(*session_new_317_fn)(struct fuse_args *, const struct fuse_lowlevel_ops *, size_t,
						   void *version, void *userdata);
static struct fuse_session *call_session_new_317(void *real, struct fuse_args *args,
						 const struct fuse_lowlevel_ops *op, size_t op_size,
						 void *version, void *userdata)
{
	return ((session_new_317_fn)real)(args, op, op_size, version, userdata);
}

FSR_EXPORT struct fuse_session *fsrw_session_new_317(struct fuse_args *args, const struct fuse_lowlevel_ops *op,
						     size_t op_size, void *version, void *userdata);
FSR_SYMVER(fsrw_session_new_317, "fuse_session_new_versioned@@FUSE_3.17");
struct fuse_session *fsrw_session_new_317(struct fuse_args *args, const struct fuse_lowlevel_ops *op,
					  size_t op_size, void *version, void *userdata)
{
	static session_new_317_fn real;
	if (!real)
		real = (session_new_317_fn)fsr_fuse_real("fuse_session_new_versioned", "FUSE_3.17");
	if (!real)
		return NULL;
	return fsr_session_new(call_session_new_317, (void *)real, args, op, op_size, version, userdata);
}

typedef void *(*fuse_new_317_fn)(struct fuse_args *, const void *, size_t, void *version, void *ud);
static void *call_fuse_new_317(void *real, struct fuse_args *args, const void *op, size_t size, void *version,
			       void *ud)
{
	return ((fuse_new_317_fn)real)(args, op, size, version, ud);
}

#define FUSE_NEW_317(fn, name) \
	FSR_EXPORT void *fn(struct fuse_args *args, const void *op, size_t size, void *version, void *ud); \
	FSR_SYMVER(fn, name "@@FUSE_3.17"); \
	void *fn(struct fuse_args *args, const void *op, size_t size, void *version, void *ud) \
	{ \
		static fuse_new_317_fn real; \
		if (!real) \
			real = (fuse_new_317_fn)fsr_fuse_real(name, "FUSE_3.17"); \
		return real ? fsr_fuse_new(call_fuse_new_317, (void *)real, args, op, size, version, ud) : NULL; \
	}

FUSE_NEW_317(fsrw_fuse_new_317_31, "_fuse_new_31")
FUSE_NEW_317(fsrw_fuse_new_317_30, "_fuse_new_30")

/* ---- requests ---- */

FSR_EXPORT int fsrw_passthrough_open(fuse_req_t req, int fd);
FSR_SYMVER(fsrw_passthrough_open, "fuse_passthrough_open@@FUSE_3.17");
int fsrw_passthrough_open(fuse_req_t req, int fd)
{
	if (fsr_req_is_fake(req))
		return 0;       /* "0 for failure": the daemon serves the file itself */
	static int (*real)(fuse_req_t, int);
	if (!real)
		real = (int (*)(fuse_req_t, int))fsr_fuse_real("fuse_passthrough_open", "FUSE_3.17");
	return real ? real(req, fd) : 0;
}

FSR_EXPORT int fsrw_passthrough_close(fuse_req_t req, int backing_id);
FSR_SYMVER(fsrw_passthrough_close, "fuse_passthrough_close@@FUSE_3.17");
int fsrw_passthrough_close(fuse_req_t req, int backing_id)
{
	if (fsr_req_is_fake(req)) {
		errno = EINVAL;
		return -1;      /* as the failed ioctl would */
	}
	static int (*real)(fuse_req_t, int);
	if (!real)
		real = (int (*)(fuse_req_t, int))fsr_fuse_real("fuse_passthrough_close", "FUSE_3.17");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(req, backing_id);
}
