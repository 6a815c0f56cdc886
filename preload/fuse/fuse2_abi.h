/* fuse2_abi.h - the libfuse 2.9 low-level ABI, as fuse2_ll.c sees it.
 *
 * fuse2_ll.c wraps libfuse2 low-level sessions with the same machinery as
 * libfuse3's (fuse_shim.h), which is built on libfuse3's headers; the two
 * libraries' headers cannot meet in one file (same names, other types).  So
 * the few libfuse2 types the wrappers need are declared here under names of
 * their own, with only types both headers agree on.  libfuse2's ABI is frozen
 * (2.9.9 is its last release); fuse2.c, built on libfuse2's headers, checks
 * every member's offset against them at compile time. */
#ifndef FSR_FUSE2_ABI_H
#define FSR_FUSE2_ABI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fuse_req;
struct stat;
struct flock;

/* struct fuse_file_info of libfuse2 */
struct fsr_fi2 {
	int flags;
	unsigned long fh_old;
	int writepage;
	unsigned int direct_io : 1;
	unsigned int keep_cache : 1;
	unsigned int flush : 1;
	unsigned int nonseekable : 1;
	unsigned int flock_release : 1;
	unsigned int padding : 27;
	uint64_t fh;
	uint64_t lock_owner;
};

typedef struct fuse_req *fsr_req2_t;
typedef unsigned long fsr_ino2_t;

/* struct fuse_lowlevel_ops of libfuse 2.9, member for member; pointers to
 * types the wrappers only pass on are void * */
struct fsr_ll2_ops {
	void (*init)(void *userdata, void *conn);
	void (*destroy)(void *userdata);
	void (*lookup)(fsr_req2_t req, fsr_ino2_t parent, const char *name);
	void (*forget)(fsr_req2_t req, fsr_ino2_t ino, unsigned long nlookup);
	void (*getattr)(fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi);
	void (*setattr)(fsr_req2_t req, fsr_ino2_t ino, struct stat *attr, int to_set, struct fsr_fi2 *fi);
	void (*readlink)(fsr_req2_t req, fsr_ino2_t ino);
	void (*mknod)(fsr_req2_t req, fsr_ino2_t parent, const char *name, mode_t mode, dev_t rdev);
	void (*mkdir)(fsr_req2_t req, fsr_ino2_t parent, const char *name, mode_t mode);
	void (*unlink)(fsr_req2_t req, fsr_ino2_t parent, const char *name);
	void (*rmdir)(fsr_req2_t req, fsr_ino2_t parent, const char *name);
	void (*symlink)(fsr_req2_t req, const char *link, fsr_ino2_t parent, const char *name);
	void (*rename)(fsr_req2_t req, fsr_ino2_t parent, const char *name, fsr_ino2_t newparent,
		       const char *newname);
	void (*link)(fsr_req2_t req, fsr_ino2_t ino, fsr_ino2_t newparent, const char *newname);
	void (*open)(fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi);
	void (*read)(fsr_req2_t req, fsr_ino2_t ino, size_t size, off_t off, struct fsr_fi2 *fi);
	void (*write)(fsr_req2_t req, fsr_ino2_t ino, const char *buf, size_t size, off_t off, struct fsr_fi2 *fi);
	void (*flush)(fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi);
	void (*release)(fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi);
	void (*fsync)(fsr_req2_t req, fsr_ino2_t ino, int datasync, struct fsr_fi2 *fi);
	void (*opendir)(fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi);
	void (*readdir)(fsr_req2_t req, fsr_ino2_t ino, size_t size, off_t off, struct fsr_fi2 *fi);
	void (*releasedir)(fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi);
	void (*fsyncdir)(fsr_req2_t req, fsr_ino2_t ino, int datasync, struct fsr_fi2 *fi);
	void (*statfs)(fsr_req2_t req, fsr_ino2_t ino);
	void (*setxattr)(fsr_req2_t req, fsr_ino2_t ino, const char *name, const char *value, size_t size,
			 int flags);
	void (*getxattr)(fsr_req2_t req, fsr_ino2_t ino, const char *name, size_t size);
	void (*listxattr)(fsr_req2_t req, fsr_ino2_t ino, size_t size);
	void (*removexattr)(fsr_req2_t req, fsr_ino2_t ino, const char *name);
	void (*access)(fsr_req2_t req, fsr_ino2_t ino, int mask);
	void (*create)(fsr_req2_t req, fsr_ino2_t parent, const char *name, mode_t mode, struct fsr_fi2 *fi);
	void (*getlk)(fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi, struct flock *lock);
	void (*setlk)(fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi, struct flock *lock, int sleep);
	void (*bmap)(fsr_req2_t req, fsr_ino2_t ino, size_t blocksize, uint64_t idx);
	void (*ioctl)(fsr_req2_t req, fsr_ino2_t ino, int cmd, void *arg, struct fsr_fi2 *fi, unsigned flags,
		      const void *in_buf, size_t in_bufsz, size_t out_bufsz);
	void (*poll)(fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi, void *ph);
	void (*write_buf)(fsr_req2_t req, fsr_ino2_t ino, void *bufv, off_t off, struct fsr_fi2 *fi);
	void (*retrieve_reply)(fsr_req2_t req, void *cookie, fsr_ino2_t ino, off_t offset, void *bufv);
	void (*forget_multi)(fsr_req2_t req, size_t count, void *forgets);
	void (*flock)(fsr_req2_t req, fsr_ino2_t ino, struct fsr_fi2 *fi, int op);
	void (*fallocate)(fsr_req2_t req, fsr_ino2_t ino, int mode, off_t offset, off_t length, struct fsr_fi2 *fi);
};

/* struct fuse_entry_param and struct fuse_ctx: one layout in both libraries,
 * which fuse2.c checks of libfuse2's headers and fuse2_ll.c of libfuse3's */
#define FSR_SAME_IN_BOTH_LIBRARIES() \
	_Static_assert(offsetof(struct fuse_entry_param, ino) == 0 && \
		       offsetof(struct fuse_entry_param, attr) == 16 && \
		       offsetof(struct fuse_entry_param, entry_timeout) == 24 + sizeof(struct stat) && \
		       sizeof(struct fuse_entry_param) == 32 + sizeof(struct stat), "fuse_entry_param"); \
	_Static_assert(offsetof(struct fuse_ctx, uid) == 0 && offsetof(struct fuse_ctx, gid) == 4 && \
		       offsetof(struct fuse_ctx, pid) == 8 && offsetof(struct fuse_ctx, umask) == 12 && \
		       sizeof(struct fuse_ctx) == 16, "fuse_ctx")

/* struct fuse_forget_data: { ino, nlookup } */
struct fsr_forget2 {
	uint64_t ino;
	uint64_t nlookup;
};

#endif
