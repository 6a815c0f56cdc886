/* lldaemon.c - the session and root-directory helpers of the libfuse3
 * low-level test daemons (see lldaemon.h) */
#include "lldaemon.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ll_usage(const char *usage, const char *argv0)
{
	fprintf(stderr, usage, argv0);
	fputc('\n', stderr);
	return 2;
}

int ll_mount(struct ll_daemon *d, const struct fuse_lowlevel_ops *ops, size_t ops_size,
	     const char *usage)
{
	const char *argv0 = d->args.argc > 0 ? d->args.argv[0] : "daemon";
	d->se = NULL;
	if (fuse_parse_cmdline(&d->args, &d->opts) != 0 || !d->opts.mountpoint)
		return ll_usage(usage, argv0);
	d->se = fuse_session_new(&d->args, ops, ops_size, NULL);
	if (!d->se || fuse_session_mount(d->se, d->opts.mountpoint) != 0)
		return 1;
	return 0;
}

int ll_loop(struct ll_daemon *d)
{
	if (d->opts.singlethread)
		return fuse_session_loop(d->se);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r = fuse_session_loop_mt(d->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}

void ll_end(struct ll_daemon *d)
{
	fuse_session_unmount(d->se);
	fuse_session_destroy(d->se);
	free(d->opts.mountpoint);
	fuse_opt_free_args(&d->args);
}

int ll_run(int argc, char *argv[], const struct fuse_lowlevel_ops *ops, size_t ops_size,
	   const char *usage)
{
	struct ll_daemon d = { .args = FUSE_ARGS_INIT(argc, argv) };
	int r = ll_mount(&d, ops, ops_size, usage);
	if (r)
		return r;
	r = ll_loop(&d);
	ll_end(&d);
	return r ? 1 : 0;
}

void ll_attr(fuse_ino_t ino, struct stat *st, mode_t file_mode)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | file_mode;
		st->st_nlink = 1;
	}
}

int ll_file_named(fuse_ino_t parent, const char *name, int nfiles, ll_name_fn *name_of)
{
	char buf[256];
	for (int i = 0; parent == FUSE_ROOT_ID && i < nfiles; i++) {
		name_of(i, buf, sizeof buf);
		if (strcmp(name, buf) == 0)
			return i;
	}
	return -1;
}

void ll_reply_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int nfiles,
		      ll_name_fn *name_of)
{
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	char *buf = calloc(1, size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	for (off_t k = off; k < nfiles + 2; k++) {
		char entry[256];
		struct stat st;
		memset(&st, 0, sizeof st);
		if (k < 2) {
			snprintf(entry, sizeof entry, "%s", k == 0 ? "." : "..");
			st.st_ino = FUSE_ROOT_ID;
			st.st_mode = S_IFDIR;
		} else {
			name_of((int)(k - 2), entry, sizeof entry);
			st.st_ino = LL_INO0 + (fuse_ino_t)(k - 2);
			st.st_mode = S_IFREG;
		}
		size_t n = fuse_add_direntry(req, buf + used, size - used, entry, &st, k + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}
