/* reentry_bench MOUNTPOINT PATH N: N stat(PATH) in a loop outside any FUSE
 * op, then inside one (a lookup of MOUNTPOINT/bench, which a thread of its
 * own makes), printing "outside NS" and "inop NS" (ns per call); PATH must
 * exist.  Under the shim the second loop pays the fs-reentry check. */
#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *path, *mnt;
static long n;
static struct fuse_session *se;

static double loop(void)
{
	struct timespec a, b;
	struct stat st;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		if (stat(path, &st) != 0) {
			perror(path);
			exit(1);
		}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n;
}

static void b_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	if (strcmp(name, "bench") == 0) {
		printf("inop %.1f\n", loop());
		fflush(stdout);
		fuse_session_exit(se);   /* the loop ends after this request */
	}
	fuse_reply_err(req, ENOENT);
}

static void b_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	(void)fi;
	memset(&st, 0, sizeof st);
	st.st_ino = ino;
	st.st_mode = S_IFDIR | 0755;
	st.st_nlink = 2;
	fuse_reply_attr(req, &st, 0);
}

static const struct fuse_lowlevel_ops ops = { .lookup = b_lookup, .getattr = b_getattr };

static void *trigger(void *arg)
{
	char p[4200];
	struct stat st;
	(void)arg;
	snprintf(p, sizeof p, "%s/bench", mnt);
	stat(p, &st);
	return NULL;
}

int main(int argc, char *argv[])
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s MOUNTPOINT PATH N\n", argv[0]);
		return 2;
	}
	mnt = argv[1];
	path = argv[2];
	n = atol(argv[3]);
	printf("outside %.1f\n", loop());
	fflush(stdout);
	char *av[] = { argv[0], NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, av);
	se = fuse_session_new(&args, &ops, sizeof ops, NULL);
	if (!se || fuse_session_mount(se, mnt) != 0)
		return 1;
	pthread_t t;
	pthread_create(&t, NULL, trigger, NULL);
	fuse_session_loop(se);
	pthread_join(t, NULL);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return 0;
}
