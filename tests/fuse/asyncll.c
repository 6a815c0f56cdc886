/* asyncll - a libfuse3 low-level daemon that answers lookups later, from
 * another thread, and counts every inode's lookups against its forgets.
 *
 * The kernel allows a reply at any time after the op returns; a daemon that
 * queues its lookups to a worker does just that.  When fsreclaim calls such a
 * daemon back with a lookup, the reply comes after the callback is over, and
 * the reference that reply gives must still be given back with a forget, or
 * the daemon holds it for ever.  asyncll checks that: a root directory of
 * NFILES small read-only files, each with a lookup count; a forget of more
 * than was looked up is an error on the spot; at destroy, with the kernel's
 * own references dropped first (the test drops the caches before it
 * unmounts), every count must be back at zero.  It prints
 *   asyncll: lookups=N forgets=M left=L errors=E
 * and exits 1 when left or errors is not 0. */
#include "../lib/lldaemon.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NFILES 64
#define INO0   LL_INO0            /* file i has inode INO0 + i */

static long nlookup[NFILES];      /* under mu */
static long lookups, forgets, errors;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* the lookups waiting for the worker */
struct job {
	struct job *next;
	fuse_req_t req;
	int file;                  /* -1: no such name */
};
static struct job *jobs, **jobs_tail = &jobs;
static pthread_cond_t jobs_cv = PTHREAD_COND_INITIALIZER;
static int stopping;
static pthread_t worker;

static void content(int i, char *buf, size_t size)
{
	snprintf(buf, size, "file %d\n", i);
}

static void attr_of(fuse_ino_t ino, struct stat *st)
{
	char buf[32];
	ll_attr(ino, st, 0444);
	if (ino == FUSE_ROOT_ID)
		return;
	content((int)(ino - INO0), buf, sizeof buf);
	st->st_size = (off_t)strlen(buf);
}

static int file_of(fuse_ino_t ino)
{
	return ino >= INO0 && ino < INO0 + NFILES ? (int)(ino - INO0) : -1;
}

/* the worker: answers each lookup a little after its op returned */
static void *answer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		while (!jobs && !stopping)
			pthread_cond_wait(&jobs_cv, &mu);
		if (!jobs)
			break;
		struct job *j = jobs;
		jobs = j->next;
		if (!jobs)
			jobs_tail = &jobs;
		pthread_mutex_unlock(&mu);
		nanosleep(&(struct timespec){ 0, 200000 }, NULL);
		if (j->file < 0) {
			fuse_reply_err(j->req, ENOENT);
		} else {
			struct fuse_entry_param e;
			memset(&e, 0, sizeof e);
			e.ino = INO0 + (fuse_ino_t)j->file;
			e.attr_timeout = 1.0;
			e.entry_timeout = 1.0;
			attr_of(e.ino, &e.attr);
			pthread_mutex_lock(&mu);
			nlookup[j->file]++;      /* counted before the kernel can forget it */
			lookups++;
			pthread_mutex_unlock(&mu);
			fuse_reply_entry(j->req, &e);
		}
		free(j);
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void al_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud;
	(void)conn;
	pthread_create(&worker, NULL, answer, NULL);
}

static void al_destroy(void *ud)
{
	(void)ud;
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_signal(&jobs_cv);
	pthread_mutex_unlock(&mu);
	pthread_join(worker, NULL);
	long left = 0;
	for (int i = 0; i < NFILES; i++)
		if (nlookup[i]) {
			left += nlookup[i];
			fprintf(stderr, "asyncll: f%02d still has %ld lookups\n", i, nlookup[i]);
		}
	printf("asyncll: lookups=%ld forgets=%ld left=%ld errors=%ld\n", lookups, forgets, left, errors);
	fflush(stdout);
	if (left || errors)
		_exit(1);
}

static void al_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct job *j = malloc(sizeof *j);
	if (!j) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int i = -1;
	if (parent == FUSE_ROOT_ID && name[0] == 'f' && strlen(name) == 3)
		i = atoi(name + 1);
	j->req = req;
	j->file = i >= 0 && i < NFILES ? i : -1;
	j->next = NULL;
	pthread_mutex_lock(&mu);
	*jobs_tail = j;
	jobs_tail = &j->next;
	pthread_cond_signal(&jobs_cv);
	pthread_mutex_unlock(&mu);
}

static void forget_one(fuse_ino_t ino, uint64_t n)
{
	int i = file_of(ino);
	pthread_mutex_lock(&mu);
	if (i < 0 || nlookup[i] < (long)n) {
		errors++;
		fprintf(stderr, "asyncll: forget of %lu for inode %lu, which has %ld lookups\n",
			(unsigned long)n, (unsigned long)ino, i < 0 ? 0 : nlookup[i]);
	} else {
		nlookup[i] -= (long)n;
		forgets += (long)n;
	}
	pthread_mutex_unlock(&mu);
}

static void al_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	forget_one(ino, n);
	fuse_reply_none(req);
}

static void al_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	for (size_t k = 0; k < count; k++)
		forget_one(f[k].ino, f[k].nlookup);
	fuse_reply_none(req);
}

static void al_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	if (ino != FUSE_ROOT_ID && file_of(ino) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct stat st;
	attr_of(ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void name_of(int i, char *buf, size_t len) { snprintf(buf, len, "f%02d", i); }

static void al_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	ll_reply_readdir(req, ino, size, off, NFILES, name_of);
}

static void al_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (file_of(ino) < 0)
		fuse_reply_err(req, EISDIR);
	else if ((fi->flags & O_ACCMODE) != O_RDONLY)
		fuse_reply_err(req, EACCES);
	else
		fuse_reply_open(req, fi);
}

static void al_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	char buf[32];
	content(file_of(ino), buf, sizeof buf);
	size_t len = strlen(buf);
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, buf + off, len - (size_t)off < size ? len - (size_t)off : size);
}

static void al_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void al_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	al_ok(req, ino, fi);
}

static const struct fuse_lowlevel_ops ops = {
	.init = al_init,
	.destroy = al_destroy,
	.lookup = al_lookup,
	.forget = al_forget,
	.forget_multi = al_forget_multi,
	.getattr = al_getattr,
	.readdir = al_readdir,
	.open = al_open,
	.read = al_read,
	.flush = al_ok,
	.release = al_ok,
	.fsync = al_fsync,
};

int main(int argc, char *argv[])
{
	return ll_run(argc, argv, &ops, sizeof ops, "usage: %s [-s] MOUNTPOINT");
}
