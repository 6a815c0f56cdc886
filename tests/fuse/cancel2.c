/* cancel2 - libfuse2's high level driven in-process, with no kernel: a
 * channel of its own (fuse_chan_new) takes the replies and can fail one as
 * the kernel fails the reply to a request it no longer waits for (-ENOENT:
 * an interrupted open or create), and the requests are made here and
 * handed to fuse_session_process_buf.  The file system works by path alone
 * (fh 0 on every file).  It then allocates (the shim's passes, interval=1)
 * and counts the shim's flush and fsync callbacks by path:
 *   keep      opened and kept open: the only file the shim may call back
 *   a         opened, the open's reply fails: libfuse2 releases it inside the open
 *   new       created, the create's reply fails: released inside the create
 *   nolookup  created, its lookup fails: released inside the create, before any reply
 * Prints "cancel2: released PATH" at each release, "cancel2: PATH N" per
 * path called back, then "cancel2: done".
 * Usage: cancel2 (under fsreclaim-run --opt interval=1) */
#define FUSE_USE_VERSION 26
#include <fuse/fuse.h>
#include <fuse/fuse_lowlevel.h>
#include <linux/fuse.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define NPATHS 8
static struct { char path[32]; int n; } called[NPATHS];
static int created_new;

static void count(const char *path)
{
	for (int i = 0; i < NPATHS; i++)
		if (!called[i].path[0] || strcmp(called[i].path, path) == 0) {
			snprintf(called[i].path, sizeof called[i].path, "%s", path);
			__atomic_add_fetch(&called[i].n, 1, __ATOMIC_RELAXED);
			return;
		}
}

static int x_getattr(const char *path, struct stat *st)
{
	memset(st, 0, sizeof *st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/keep") == 0 || strcmp(path, "/a") == 0 || (strcmp(path, "/new") == 0 && created_new)) {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		return 0;
	}
	return -ENOENT;     /* nolookup too, though it was created */
}

static int x_open(const char *path, struct fuse_file_info *fi)
{
	(void)path; (void)fi;
	return 0;           /* fi->fh stays 0 */
}

static int x_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode; (void)fi;
	if (strcmp(path, "/new") == 0)
		created_new = 1;
	return 0;
}

static int x_flush(const char *path, struct fuse_file_info *fi)
{
	if ((fi->lock_owner >> 48) == 0x6673)
		count(path);
	return 0;
}

static int x_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)datasync; (void)fi;
	count(path);        /* only the shim fsyncs here */
	return 0;
}

static int x_release(const char *path, struct fuse_file_info *fi)
{
	(void)fi;
	printf("cancel2: released %s\n", path);   /* the cancellations took place */
	return 0;
}

static const struct fuse_operations ops = {
	.getattr = x_getattr, .open = x_open, .create = x_create, .flush = x_flush,
	.fsync = x_fsync, .release = x_release,
};

/* ---- the channel: replies kept, one failed on purpose ---- */

static uint64_t fail_unique;             /* the reply to fail with -ENOENT */
static unsigned char reply[4096];        /* the latest reply */

static int ch_send(struct fuse_chan *ch, const struct iovec iov[], size_t count)
{
	(void)ch;
	size_t o = 0;
	for (size_t i = 0; i < count; i++) {
		size_t n = iov[i].iov_len < sizeof reply - o ? iov[i].iov_len : sizeof reply - o;
		memcpy(reply + o, iov[i].iov_base, n);
		o += n;
	}
	const struct fuse_out_header *out = (const void *)reply;
	return o >= sizeof *out && out->unique == fail_unique ? -ENOENT : 0;
}

static int ch_receive(struct fuse_chan **chp, char *buf, size_t size)
{
	(void)chp; (void)buf; (void)size;
	return -1;
}

static struct fuse_chan_ops chops = { .receive = ch_receive, .send = ch_send };

/* ---- requests ---- */

static struct fuse_session *se;
static struct fuse_chan *ch;
static uint64_t unique;

/* one request (its argument, then name if any); its unique */
static uint64_t request(uint32_t opcode, uint64_t nodeid, const void *arg, size_t len, const char *name, int fail)
{
	static unsigned char buf[4096];
	struct fuse_in_header *in = (void *)buf;
	size_t nl = name ? strlen(name) + 1 : 0;
	memset(buf, 0, sizeof buf);
	in->len = (uint32_t)(sizeof *in + len + nl);
	in->opcode = opcode;
	in->unique = ++unique;
	in->nodeid = nodeid;
	in->pid = 1;
	memcpy(buf + sizeof *in, arg, len);
	if (name)
		memcpy(buf + sizeof *in + len, name, nl);
	fail_unique = fail ? in->unique : 0;
	struct fuse_buf fb = { .size = in->len, .mem = buf };
	fuse_session_process_buf(se, &fb, ch);
	return in->unique;
}

static int reply_error(void)
{
	return ((const struct fuse_out_header *)(const void *)reply)->error;
}

static uint64_t lookup(const char *name)
{
	request(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, name, 0);
	const struct fuse_entry_out *e = (const void *)(reply + sizeof(struct fuse_out_header));
	if (reply_error() || !e->nodeid) {
		fprintf(stderr, "cancel2: lookup of %s failed (%d)\n", name, reply_error());
		exit(1);
	}
	return e->nodeid;
}

static void open_file(uint64_t nodeid, int fail)
{
	struct fuse_open_in o = { .flags = 1 /* O_WRONLY */ };
	request(FUSE_OPEN, nodeid, &o, sizeof o, NULL, fail);
}

static void create_file(const char *name, int fail)
{
	struct fuse_create_in c = { .flags = 0101 /* O_WRONLY|O_CREAT */, .mode = S_IFREG | 0644 };
	request(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof c, name, fail);
}

int main(int argc, char **argv)
{
	(void)argc;
	char *av[] = { argv[0], NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, av);
	ch = fuse_chan_new(&chops, -1, 1 << 17, NULL);
	struct fuse *f = ch ? fuse_new(ch, &args, &ops, sizeof ops, NULL) : NULL;
	if (!f) {
		fprintf(stderr, "cancel2: no libfuse2 file system\n");
		return 1;
	}
	se = fuse_get_session(f);
	struct fuse_init_in init = { .major = 7, .minor = 12, .max_readahead = 65536 };
	request(FUSE_INIT, 0, &init, sizeof init, NULL, 0);
	if (reply_error()) {
		fprintf(stderr, "cancel2: init failed (%d)\n", reply_error());
		return 1;
	}
	open_file(lookup("keep"), 0);
	open_file(lookup("a"), 1);          /* cancelled */
	create_file("new", 1);              /* cancelled */
	create_file("nolookup", 0);         /* released inside, before any reply */
	if (reply_error() != -ENOENT)
		fprintf(stderr, "cancel2: the create of nolookup did not fail with ENOENT (%d)\n", reply_error());
	/* allocations: the shim's passes call the open handles back */
	static void *volatile keep[64];
	for (int i = 0; i < 400; i++) {
		free(keep[i % 64]);
		keep[i % 64] = malloc(64 + (size_t)i);
	}
	for (int i = 0; i < NPATHS && called[i].path[0]; i++)
		printf("cancel2: %s %d\n", called[i].path, called[i].n);
	printf("cancel2: done\n");
	fflush(stdout);
	_exit(0);           /* no destroy: the session has no loop to end */
}
