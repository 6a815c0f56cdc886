/* replay.c - replay of the txfs journal at mount, and --dump-journal.
 *
 * Records are read in order.  The first one that is short (torn), has a
 * wrong magic, an impossible length, a bad CRC or a sequence number that
 * does not follow its predecessor ends the journal: everything from there
 * on is cut (journal_open truncates the file).  A record that passes the
 * checks but does not apply (it names a missing inode, say) is counted as
 * failed and skipped: replay never crashes the mount.
 */
#include "txfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *type_name(unsigned t)
{
	static const char *n[] = { "?", "create", "link", "unlink", "rename", "setattr", "data" };
	return t < sizeof n / sizeof *n ? n[t] : "?";
}

/* a copy of a string field, NUL-terminated, bounded */
static int field(const char **p, const char *end, size_t len, char *out, size_t cap)
{
	if (len >= cap || (size_t)(end - *p) < len)
		return -1;
	memcpy(out, *p, len);
	out[len] = 0;
	*p += len;
	return 0;
}

/* a copy of a record's fixed part (the payload must hold all of it) */
static int fixed(const char **p, const char *end, void *out, size_t size)
{
	if ((size_t)(end - *p) < size)
		return -1;
	memcpy(out, *p, size);
	*p += size;
	return 0;
}

static struct timespec ts(int64_t s, uint32_t ns)
{
	struct timespec t = { .tv_sec = s, .tv_nsec = ns < 1000000000u ? ns : 0 };
	return t;
}

/* apply (or print) one checked record; returns 0 or -errno */
static int apply_one(const struct jhdr *h, const char *pl, int apply, int verbose)
{
	const char *p = pl, *end = pl + h->len;
	char name[TXFS_NAME_MAX + 1], name2[TXFS_NAME_MAX + 1];
	static char target[TXFS_SYMLINK_MAX + 1];
	struct tinode *in, *dir, *ndir;
	int e = 0;

	switch (h->type) {
	case J_CREATE: {
		struct jr_create r;
		if (fixed(&p, end, &r, sizeof r) ||
		    field(&p, end, r.namelen, name, sizeof name) ||
		    field(&p, end, r.tgtlen, target, sizeof target))
			return -EINVAL;
		if (verbose)
			printf(" ino=%" PRIu64 " parent=%" PRIu64 " mode=0%o name=%s%s%s\n",
			       r.ino, r.parent, r.mode, name, r.tgtlen ? " target=" : "",
			       r.tgtlen ? target : "");
		if (!apply)
			return 0;
		if (!(dir = tree_get(r.parent)) || r.ino <= FUSE_ROOT_ID)
			return -ENOENT;
		struct timespec t = ts(r.sec, r.nsec);
		if (S_ISLNK(r.mode) != !!r.tgtlen)
			return -EINVAL;
		return tree_mknod(dir, name, r.mode, r.rdev, r.uid, r.gid,
				  S_ISLNK(r.mode) ? target : NULL, r.ino, &t, &in);
	}
	case J_LINK: {
		struct jr_link r;
		if (fixed(&p, end, &r, sizeof r) ||
		    field(&p, end, r.namelen, name, sizeof name))
			return -EINVAL;
		if (verbose)
			printf(" ino=%" PRIu64 " parent=%" PRIu64 " name=%s\n", r.ino, r.parent, name);
		if (!apply)
			return 0;
		if (!(in = tree_get(r.ino)) || !(dir = tree_get(r.parent)))
			return -ENOENT;
		struct timespec t = ts(r.sec, r.nsec);
		return tree_link(in, dir, name, &t);
	}
	case J_UNLINK: {
		struct jr_unlink r;
		if (fixed(&p, end, &r, sizeof r) ||
		    field(&p, end, r.namelen, name, sizeof name))
			return -EINVAL;
		if (verbose)
			printf(" parent=%" PRIu64 " name=%s%s\n", r.parent, name, r.rmdir ? " (rmdir)" : "");
		if (!apply)
			return 0;
		if (!(dir = tree_get(r.parent)))
			return -ENOENT;
		struct timespec t = ts(r.sec, r.nsec);
		return tree_unlink(dir, name, r.rmdir, &t);
	}
	case J_RENAME: {
		struct jr_rename r;
		if (fixed(&p, end, &r, sizeof r) ||
		    field(&p, end, r.namelen, name, sizeof name) ||
		    field(&p, end, r.newnamelen, name2, sizeof name2))
			return -EINVAL;
		if (verbose)
			printf(" %" PRIu64 "/%s -> %" PRIu64 "/%s flags=%u\n",
			       r.parent, name, r.newparent, name2, r.flags);
		if (!apply)
			return 0;
		if (!(dir = tree_get(r.parent)) || !(ndir = tree_get(r.newparent)))
			return -ENOENT;
		struct timespec t = ts(r.sec, r.nsec);
		return tree_rename(dir, name, ndir, name2, r.flags, &t);
	}
	case J_SETATTR: {
		struct jr_setattr r;
		if (fixed(&p, end, &r, sizeof r))
			return -EINVAL;
		if (verbose)
			printf(" ino=%" PRIu64 " valid=0x%x size=%" PRIu64 " mode=0%o\n",
			       r.ino, r.valid, r.size, r.mode);
		if (!apply)
			return 0;
		if (!(in = tree_get(r.ino)))
			return 0;   /* an unlinked, still open file: nothing to do */
		if (r.valid & FUSE_SET_ATTR_SIZE) {
			if (!S_ISREG(in->mode))
				return -EINVAL;
			if ((e = cache_truncate(in, r.size)))
				return e;
		}
		in->mode = (in->mode & S_IFMT) | (r.mode & 07777);
		in->uid = r.uid;
		in->gid = r.gid;
		in->atime = ts(r.asec, r.ansec);
		in->mtime = ts(r.msec, r.mnsec);
		in->ctime = ts(r.csec, r.cnsec);
		return 0;
	}
	case J_DATA: {
		struct jr_data r;
		if (fixed(&p, end, &r, sizeof r))
			return -EINVAL;
		if (r.len > TXFS_PAGE || (size_t)(end - p) < r.len)
			return -EINVAL;
		if (verbose)
			printf(" ino=%" PRIu64 " page=%" PRIu64 " len=%u isize=%" PRIu64 " crc=%08x\n",
			       r.ino, r.pgidx, r.len, r.isize, txfs_crc32(0, p, r.len));
		if (!apply)
			return 0;
		if (!(in = tree_get(r.ino)))
			return 0;   /* written back after its unlink: nothing to do */
		if (!S_ISREG(in->mode) || r.isize > TXFS_MAX_FILE)
			return -EINVAL;
		/* pages past the logged size are stale: drop them */
		if (r.isize < in->size)
			cache_truncate(in, r.isize);
		if ((e = store_write(in, r.pgidx, p, r.len)))
			return e;
		in->size = r.isize;
		in->mtime = ts(r.msec, r.mnsec);
		return 0;
	}
	default:
		if (verbose)
			printf(" unknown type\n");
		return -EINVAL;
	}
}

int replay_fd(int fd, int apply, int verbose, struct replay_result *r)
{
	struct stat st;
	char *pl = NULL;
	size_t plcap = 0;

	memset(r, 0, sizeof *r);
	if (fstat(fd, &st) < 0)
		return -1;
	r->file_size = st.st_size;
	off_t pos = 0;
	for (;;) {
		struct jhdr h;
		ssize_t n = pread(fd, &h, sizeof h, pos);
		if (n == 0)
			break;
		if (n < 0) {
			r->stop = "read error";
			break;
		}
		if ((size_t)n < sizeof h) {
			r->stop = "torn record header";
			break;
		}
		if (h.magic != J_MAGIC) {
			r->stop = "bad record magic";
			break;
		}
		if (h.len > J_MAX_PAYLOAD || h.type == 0 || h.type > J_DATA) {
			r->stop = "bad record length or type";
			break;
		}
		if (h.seq != r->last_seq + 1 && !(r->records == 0 && h.seq >= 1)) {
			r->stop = "sequence gap";
			break;
		}
		if (h.len > plcap) {
			char *np = realloc(pl, h.len);
			if (!np) {
				r->stop = "out of memory";
				break;
			}
			pl = np;
			plcap = h.len;
		}
		n = h.len ? pread(fd, pl, h.len, pos + (off_t)sizeof h) : 0;
		if (n < 0 || (size_t)n < h.len) {
			r->stop = "torn record payload";
			break;
		}
		uint32_t crc = h.crc;
		h.crc = 0;
		uint32_t c = txfs_crc32(0, &h, sizeof h);
		c = txfs_crc32(c, pl, h.len);
		if (c != crc) {
			r->stop = "record checksum mismatch";
			break;
		}
		if (verbose)
			printf("%lld seq=%" PRIu64 " %s len=%u", (long long)pos, h.seq,
			       type_name(h.type), h.len);
		/* pl is still NULL when every record so far had no payload */
		int e = apply_one(&h, pl ? pl : "", apply, verbose);
		if (e)
			r->failed++;
		else
			r->applied++;
		r->records++;
		r->last_seq = h.seq;
		pos += (off_t)sizeof h + h.len;
	}
	r->end = pos;
	free(pl);
	return 0;
}

int journal_dump(const char *path)
{
	struct replay_result r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "txfs: %s: %s\n", path, strerror(errno));
		return 1;
	}
	replay_fd(fd, 0, 1, &r);
	close(fd);
	printf("records=%" PRIu64 " end=%lld size=%lld %s%s\n", r.records,
	       (long long)r.end, (long long)r.file_size,
	       r.stop ? "cut: " : "clean", r.stop ? r.stop : "");
	return 0;
}

/* --check-journal: replay into an in-memory tree without changing the file */
int journal_check(const char *path)
{
	struct replay_result r;
	struct tree_stats ts;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "txfs: %s: %s\n", path, strerror(errno));
		return 1;
	}
	tree_init();
	replay_fd(fd, 1, 0, &r);
	close(fd);
	tree_stats(&ts);
	printf("records=%" PRIu64 " applied=%" PRIu64 " failed=%" PRIu64 " inodes=%" PRIu64
	       " data_pages=%" PRIu64 " end=%lld size=%lld %s%s\n", r.records, r.applied,
	       r.failed, ts.inodes, ts.store_pages, (long long)r.end, (long long)r.file_size,
	       r.stop ? "cut: " : "clean", r.stop ? r.stop : "");
	tree_destroy();
	return 0;
}
