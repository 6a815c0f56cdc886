/* notifylock2 - notifylock.c's daemon on libfuse2's high level: one file,
 * "counter", whose contents a thread of its own changes and then tells
 * the kernel so with fuse_lowlevel_notify_inval_inode on the channel (the
 * root's inode: a high-level daemon does not know its files' node ids).
 * The ops (getattr, open, read) take the mutex that guards the contents;
 * the thread is notifylock_updater.h's, shared with notifylock.c.
 *
 * By default the updating thread sends the notification while it still
 * holds that mutex, which libfuse's documentation forbids; with -c it
 * notifies after unlocking.  The file is opened direct_io; each READ wakes
 * the thread once.  At exit:
 *   notifylock: reads=N notifies=M errors=E
 * Usage: notifylock2 [-c] [-s] [-f] MOUNTPOINT */
#define FUSE_USE_VERSION 26
#include <fuse/fuse.h>
#include <fuse/fuse_lowlevel.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_PATH "/counter"

#include "notifylock_updater.h"

static struct fuse_chan *ch;

static int notify_inval(void)
{
	return fuse_lowlevel_notify_inval_inode(ch, FUSE_ROOT_ID, 0, 0);
}

static int n2_getattr(const char *path, struct stat *st)
{
	memset(st, 0, sizeof *st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, FILE_PATH) != 0)
		return -ENOENT;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	pthread_mutex_lock(&content_lock);
	st->st_size = (off_t)strlen(content);
	pthread_mutex_unlock(&content_lock);
	return 0;
}

static int n2_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi)
{
	(void)off; (void)fi;
	if (strcmp(path, "/") != 0)
		return -ENOTDIR;
	fill(buf, ".", NULL, 0);
	fill(buf, "..", NULL, 0);
	fill(buf, FILE_PATH + 1, NULL, 0);
	return 0;
}

static int n2_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, FILE_PATH) != 0)
		return -ENOENT;
	fi->direct_io = 1;   /* no page cache: see notifylock.c */
	return 0;
}

static int n2_read(const char *path, char *b, size_t size, off_t off, struct fuse_file_info *fi)
{
	size_t len;
	(void)path; (void)fi;
	pthread_mutex_lock(&content_lock);
	len = strlen(content);
	if ((size_t)off >= len)
		len = 0;
	else {
		len -= (size_t)off;
		if (len > size)
			len = size;
		memcpy(b, content + off, len);
	}
	pthread_mutex_unlock(&content_lock);
	read_done();
	return (int)len;
}

static const struct fuse_operations ops = {
	.getattr = n2_getattr, .readdir = n2_readdir, .open = n2_open, .read = n2_read,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	char *mp = NULL;
	int mt = 0, fg = 0;
	pthread_t th;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0)
			opt_correct = 1;
		else
			fuse_opt_add_arg(&args, argv[i]);
	}
	if (fuse_parse_cmdline(&args, &mp, &mt, &fg) != 0 || !mp) {
		fprintf(stderr, "usage: %s [-c] [-s] [-f] MOUNTPOINT\n", argv[0]);
		return 2;
	}
	ch = fuse_mount(mp, &args);
	if (!ch)
		return 1;
	struct fuse *f = fuse_new(ch, &args, &ops, sizeof ops, NULL);
	if (!f) {
		fuse_unmount(mp, ch);
		return 1;
	}
	pthread_create(&th, NULL, updater, NULL);
	int r = mt ? fuse_loop_mt(f) : fuse_loop(f);
	updater_stop(th);
	fuse_unmount(mp, ch);
	fuse_destroy(f);
	free(mp);
	fuse_opt_free_args(&args);
	fprintf(stderr, "notifylock: reads=%lu notifies=%lu errors=%lu\n", reads, notifies, errors);
	return r || errors ? 1 : 0;
}
