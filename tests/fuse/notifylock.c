/* notifylock - a libfuse3 low-level daemon in the shape of libfuse's
 * example/notify_inval_inode.c: one file, "counter", whose contents a
 * thread of its own changes and then tells the kernel so with
 * fuse_lowlevel_notify_inval_inode.  The ops (getattr, open, read) take the
 * mutex that guards the contents.
 *
 * By default the updating thread sends the notification while it still
 * holds that mutex.  libfuse's documentation forbids it ("must not be
 * called ... within any code that could hold a lock that could be needed to
 * execute such an operation", include/fuse_lowlevel.h): INVAL_INODE waits in
 * the kernel for the inode's page locks, which a reader of the file holds
 * while its READ waits in the daemon for the mutex.  With -c (correct) it
 * updates under the mutex and notifies after unlocking it.
 *
 * The file is opened direct_io, so that the kernel keeps no pages of it and
 * the forbidden pattern cannot actually hang the test: the hazard is what
 * is checked (notify-in-op), not the deadlock.  The thread runs outside any
 * op: each READ wakes it once (a condition variable, no timing), and it
 * sends one notification per wake-up.  At exit it prints
 *   notifylock: reads=N notifies=M errors=E
 * (errors: a notification the kernel refused, other than for an inode it
 * does not have or a connection that ended). */
#include "../lib/lldaemon.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_INO LL_INO0
#define FILE_NAME "counter"

#include "notifylock_updater.h"

static struct ll_daemon d;         /* d.se: where the updater notifies */

static int notify_inval(void)
{
	return fuse_lowlevel_notify_inval_inode(d.se, FILE_INO, 0, 0);
}

static void attr_of(fuse_ino_t ino, struct stat *st)
{
	ll_attr(ino, st, 0444);
	if (ino == FUSE_ROOT_ID)
		return;
	pthread_mutex_lock(&content_lock);
	st->st_size = (off_t)strlen(content);
	pthread_mutex_unlock(&content_lock);
}

static void nl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	if (parent != FUSE_ROOT_ID || strcmp(name, FILE_NAME) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof e);
	e.ino = FILE_INO;
	attr_of(FILE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void nl_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != FILE_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	attr_of(ino, &st);
	fuse_reply_attr(req, &st, 0);
}

static void name_of(int i, char *buf, size_t len) { (void)i; snprintf(buf, len, FILE_NAME); }

static void nl_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	ll_reply_readdir(req, ino, size, off, 1, name_of);
}

static void nl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FILE_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = 1;   /* no page cache: see the top of the file */
	fuse_reply_open(req, fi);
}

static void nl_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	char buf[64];
	size_t len;
	(void)fi;
	(void)ino;
	pthread_mutex_lock(&content_lock);
	len = strlen(content);
	memcpy(buf, content, len);
	pthread_mutex_unlock(&content_lock);
	if ((size_t)off >= len)
		len = 0;
	else {
		len -= (size_t)off;
		memmove(buf, buf + off, len);
	}
	fuse_reply_buf(req, buf, len < size ? len : size);
	read_done();
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = nl_lookup,
	.getattr = nl_getattr,
	.readdir = nl_readdir,
	.open = nl_open,
	.read = nl_read,
};

int main(int argc, char *argv[])
{
	pthread_t th;
	d.args = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0)
			opt_correct = 1;
		else
			fuse_opt_add_arg(&d.args, argv[i]);
	}
	int r = ll_mount(&d, &ops, sizeof ops, "usage: %s [-c] [-s] MOUNTPOINT");
	if (r)
		return r;
	pthread_create(&th, NULL, updater, NULL);
	r = ll_loop(&d);
	updater_stop(th);
	ll_end(&d);
	fprintf(stderr, "notifylock: reads=%lu notifies=%lu errors=%lu\n", reads, notifies, errors);
	return r || errors ? 1 : 0;
}
