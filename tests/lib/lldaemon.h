/* lldaemon.h - what the libfuse3 low-level test daemons (tests/fuse/
 * condfs.c, notifylock.c, asyncll.c) share, so that each of them is only
 * the file system it shows: the session's life from the command line to
 * the unmount, and a root directory of numbered files.
 *
 * Their files are inodes LL_INO0, LL_INO0 + 1, ... in the root directory. */
#ifndef FSR_TESTS_LLDAEMON_H
#define FSR_TESTS_LLDAEMON_H
#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>

#define LL_INO0 2

struct ll_daemon {
	struct fuse_args args;
	struct fuse_cmdline_opts opts;
	struct fuse_session *se;
};

/* ll_usage: print USAGE (a format with one %s, the program's name) to
 * stderr; returns 2, the daemons' exit status for a bad command line */
int ll_usage(const char *usage, const char *argv0);

/* ll_mount: parse libfuse's command line from d->args (-s, -f, -o ...,
 * MOUNTPOINT), make the session with OPS and mount it.  Returns 0; or 2
 * after ll_usage(USAGE) when the line is bad or names no mountpoint, or 1
 * when the session cannot be made or mounted. */
int ll_mount(struct ll_daemon *d, const struct fuse_lowlevel_ops *ops, size_t ops_size,
	     const char *usage);

/* ll_loop: serve requests until the unmount, on one thread with -s, else
 * on libfuse's worker threads; returns libfuse's status (0: unmounted) */
int ll_loop(struct ll_daemon *d);

/* ll_end: unmount, end the session and free what ll_mount took */
void ll_end(struct ll_daemon *d);

/* ll_run: ll_mount, ll_loop and ll_end for a daemon with nothing of its
 * own to start or stop; returns the exit status (0, 1 or 2) */
int ll_run(int argc, char *argv[], const struct fuse_lowlevel_ops *ops, size_t ops_size,
	   const char *usage);

/* ll_attr: the attributes every daemon gives INO, with st_size left 0:
 * the root a directory (0755), any other inode a regular file of FILE_MODE */
void ll_attr(fuse_ino_t ino, struct stat *st, mode_t file_mode);

/* the name of the root's i-th file (inode LL_INO0 + i) */
typedef void ll_name_fn(int i, char *buf, size_t len);

/* ll_file_named: the index of the file NAME in the directory PARENT: one
 * of the NFILES that NAME_OF names in the root, or -1 */
int ll_file_named(fuse_ino_t parent, const char *name, int nfiles, ll_name_fn *name_of);

/* ll_reply_readdir: reply to a READDIR of INO at offset OFF with at most
 * SIZE bytes: for the root ".", "..", then its NFILES files; ENOTDIR for
 * any other inode */
void ll_reply_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int nfiles,
		      ll_name_fn *name_of);
#endif
