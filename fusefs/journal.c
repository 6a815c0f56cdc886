/* journal.c - transactions, journal records and the IO layer of txfs.
 *
 * The journal is append-only: each record is a struct jhdr (magic, CRC32
 * over header and payload, a sequence number, type, length) followed by its
 * payload.  Records are built under journal_lock (a malloc'd buffer: a real
 * allocation in the journal-lock section) and handed to the IO layer,
 * jio_submit(), which numbers them, checksums them and queues them under
 * io_lock; jio_sync() writes the queue out and fdatasync()s the file.
 * Without -o journal the IO layer runs all the same and drops the bytes.
 *
 * The journal is written the way kernel filesystem code is: through the
 * Linux-compat header (kmalloc/kfree, GFP_KERNEL), with the NOFS/NOIO
 * scopes doing the masking, as Documentation/core-api/gfp_mask-from-fs-io.rst
 * advises, instead of GFP_NOFS on each call.
 */
#include "txfs.h"
#include <fsreclaim/linux.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

pthread_mutex_t journal_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- CRC32 (IEEE, as zlib) ---------------------------------------- */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t txfs_crc32(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- transactions -------------------------------------------------- */

/* Begin a metadata transaction: the journal lock, then NOFS, then the
 * fsr transaction marker.  NOFS, set right after the lock is taken, protects
 * against FS reclaim entering txfs's own reclaim paths from an allocation
 * made here: the FS shrinker (fs_shrink_scan), forget, fsync and flush all
 * take journal_lock, so recursing into them would self-deadlock. */
/* HAZARD gfp-kernel-under-lock: a reservation allocated with GFP_KERNEL
 * right after journal_lock is taken, before the NOFS scope opens. */
__attribute__((noinline)) void txn_reserve(struct txn *t)
{
	t->prealloc = kmalloc(256, GFP_KERNEL);
}

/* HAZARD vmalloc-nofs: a large buffer from __vmalloc(GFP_NOFS) under
 * journal_lock, no scope: right since Linux 5.17, a deadlock before (the
 * mask is ignored; reported under vmalloc_model=legacy). */
__attribute__((noinline)) void txn_vbuf(struct txn *t)
{
	t->prealloc = __vmalloc(16384, GFP_NOFS);
}

void txn_begin(struct txn *t)
{
	t->prealloc = NULL;
	t->nofs = 0;
	if (txfs_hazard == HAZARD_TXN_NESTING) {
		/* HAZARD txn-nesting (1/2): the transaction is opened before the
		 * lock and its record buffer allocated inside it without a NOFS
		 * scope, so FS reclaim can run inside the transaction. */
		t->cookie = fsr_transaction_begin("txfs-meta");
		t->prealloc = malloc(512);
		pthread_mutex_lock(&journal_lock);
		t->nofs = memalloc_nofs_save();
		return;
	}
	pthread_mutex_lock(&journal_lock);
	if (txfs_hazard == HAZARD_GFP_KERNEL_UNDER_LOCK)
		txn_reserve(t);
	else if (txfs_hazard == HAZARD_VMALLOC_NOFS)
		txn_vbuf(t);
	if (txfs_hazard != HAZARD_NOFS_MISSING)
		t->nofs = memalloc_nofs_save();
	/* HAZARD nofs-missing: no memalloc_nofs_save() here, so every
	 * allocation below, under journal_lock, may recurse into FS reclaim. */
	t->cookie = fsr_transaction_begin("txfs-meta");
}

void txn_end(struct txn *t)
{
	if (txfs_hazard == HAZARD_TXN_NESTING) {
		memalloc_nofs_restore(t->nofs);
		pthread_mutex_unlock(&journal_lock);
		free(t->prealloc);
		fsr_transaction_end(t->cookie);
		return;
	}
	fsr_transaction_end(t->cookie);
	if (txfs_hazard != HAZARD_NOFS_MISSING)
		memalloc_nofs_restore(t->nofs);
	pthread_mutex_unlock(&journal_lock);
	kvfree(t->prealloc);
}

/* The reclaim paths (FS shrinker, forget, fsync, flush) take journal_lock here.
 * They write back under it (record buffers are allocated), so the same
 * NOFS scope applies.  They never begin a transaction: the shim may run
 * them as reclaim while the allocating thread is inside one. */
void wb_begin(struct wb *w)
{
	w->cookie = NULL;
	pthread_mutex_lock(&journal_lock);
	w->nofs = memalloc_nofs_save();
	if (txfs_hazard == HAZARD_TXN_NESTING)
		/* HAZARD txn-nesting (2/2): a reclaim callback begins a
		 * transaction, nesting into the allocating thread's one. */
		w->cookie = fsr_transaction_begin("txfs-writeback");
}

void wb_end(struct wb *w)
{
	if (w->cookie)
		fsr_transaction_end(w->cookie);
	memalloc_nofs_restore(w->nofs);
	pthread_mutex_unlock(&journal_lock);
}

/* Journal memory: GFP_KERNEL, inside the caller's scope (journal_lock holds
 * NOFS, io_lock NOIO): the scope, not the mask, keeps reclaim out.  Never
 * NULL, as xmalloc. */
static void *jmalloc(size_t n)
{
	void *p = kmalloc(n ? n : 1, GFP_KERNEL);
	if (!p) {
		fprintf(stderr, "txfs: out of memory\n");
		abort();
	}
	return p;
}

/* ---- the IO layer -------------------------------------------------- */
pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
struct jbio {                   /* one queued record, like a kernel bio */
	struct jbio *next;
	size_t len;
	void *rec;
};
static struct jbio *pend_head, **pend_tail = &pend_head;
static unsigned long pend_n;
static size_t pend_bytes;
static uint64_t next_seq = 1;
static int jfd = -1;
static int jio_error;
#define JIO_HIGH (512u << 10)   /* write out (without sync) above this */

int journal_enabled(void) { return jfd >= 0; }

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* io_lock held: write out (or drop, without a journal) up to nr records */
static unsigned long flush_locked(unsigned long nr)
{
	unsigned long n = 0;
	while (pend_head && n < nr) {
		struct jbio *b = pend_head;
		if (jfd >= 0 && !jio_error) {
			int e = write_all(jfd, b->rec, b->len);
			if (e)
				jio_error = e;
		}
		pend_head = b->next;
		if (!pend_head)
			pend_tail = &pend_head;
		__atomic_sub_fetch(&pend_n, 1, __ATOMIC_RELAXED);
		pend_bytes -= b->len;
		kfree(b->rec);
		kfree(b);
		n++;
	}
	return n;
}

/* Queue one record (ownership passes).  Called with journal_lock held, so the
 * order of sequence numbers is the order of the changes. */
static void jio_submit(void *rec)
{
	struct jhdr *h = rec;
	unsigned int noio = 0;

	pthread_mutex_lock(&io_lock);
	/* NOIO: the IO shrinker (io_shrink_scan) takes io_lock, so an
	 * allocation in this section must not enter IO (or FS) reclaim. */
	if (txfs_hazard != HAZARD_NOIO_MISSING)
		noio = memalloc_noio_save();
	/* HAZARD noio-missing: without that scope, the malloc of the bio
	 * below may run the IO shrinker, which waits for io_lock. */
	h->seq = next_seq++;
	h->crc = 0;
	h->crc = txfs_crc32(0, rec, sizeof *h + h->len);
	struct jbio *b = jmalloc(sizeof *b);
	b->rec = rec;
	b->len = sizeof *h + h->len;
	b->next = NULL;
	*pend_tail = b;
	pend_tail = &b->next;
	__atomic_add_fetch(&pend_n, 1, __ATOMIC_RELAXED);
	pend_bytes += b->len;
	if (pend_bytes > JIO_HIGH || (jfd < 0 && pend_n > 64))
		flush_locked(~0ul);
	if (txfs_hazard != HAZARD_NOIO_MISSING)
		memalloc_noio_restore(noio);
	pthread_mutex_unlock(&io_lock);
}

int jio_sync(void)
{
	int e = 0;
	pthread_mutex_lock(&io_lock);
	unsigned int noio = memalloc_noio_save();   /* io_lock: see jio_submit */
	flush_locked(~0ul);
	if (jfd >= 0 && !jio_error && fdatasync(jfd) < 0)
		jio_error = -errno;
	e = jio_error;
	memalloc_noio_restore(noio);
	pthread_mutex_unlock(&io_lock);
	return e;
}

unsigned long jio_pending(void)
{
	return __atomic_load_n(&pend_n, __ATOMIC_RELAXED);
}

/* the IO shrinker's work: write out (trim) the queued records */
unsigned long jio_trim(unsigned long nr)
{
	pthread_mutex_lock(&io_lock);
	unsigned int noio = memalloc_noio_save();
	unsigned long n = flush_locked(nr);
	memalloc_noio_restore(noio);
	pthread_mutex_unlock(&io_lock);
	return n;
}

int journal_open(const char *path)
{
	struct replay_result r;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "txfs: journal %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* one daemon per journal: a second writer would interleave records */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "txfs: journal %s: %s\n", path,
			errno == EWOULDBLOCK ? "in use by another txfs" : strerror(errno));
		close(fd);
		return -1;
	}
	if (replay_fd(fd, 1, 0, &r) < 0) {
		close(fd);
		return -1;
	}
	if (r.stop) {
		fprintf(stderr, "txfs: journal %s: %s at offset %lld; cut %lld bytes\n",
			path, r.stop, (long long)r.end, (long long)(r.file_size - r.end));
		if (ftruncate(fd, r.end) < 0) {
			fprintf(stderr, "txfs: journal %s: truncate: %s\n", path, strerror(errno));
			close(fd);
			return -1;
		}
		fdatasync(fd);
	}
	if (r.records)
		fprintf(stderr, "txfs: journal %s: replayed %llu records (%llu failed)\n",
			path, (unsigned long long)r.records, (unsigned long long)r.failed);
	if (lseek(fd, r.end, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	next_seq = r.last_seq + 1;
	jfd = fd;
	return 0;
}

void journal_close(void)
{
	jio_sync();
	pthread_mutex_lock(&io_lock);
	if (jfd >= 0)
		close(jfd);
	jfd = -1;
	pthread_mutex_unlock(&io_lock);
}

/* ---- record builders (journal_lock held, inside txn or wb) ---------------- */

/* The record buffer is allocated here, under journal_lock: the allocation the
 * NOFS scope of txn_begin()/wb_begin() exists for. */
static void *jrec_alloc(enum jtype type, const void *fixed, size_t flen,
			const void *s1, size_t l1, const void *s2, size_t l2)
{
	size_t len = flen + l1 + l2;
	char *rec = jmalloc(sizeof(struct jhdr) + len);
	struct jhdr *h = (struct jhdr *)rec;
	memset(h, 0, sizeof *h);
	h->magic = J_MAGIC;
	h->type = (uint16_t)type;
	h->len = (uint32_t)len;
	char *p = rec + sizeof *h;
	memcpy(p, fixed, flen);
	if (l1)
		memcpy(p + flen, s1, l1);
	if (l2)
		memcpy(p + flen + l1, s2, l2);
	return rec;
}

void jlog_create(const struct tinode *in, const struct tinode *dir, const char *name)
{
	struct jr_create r;
	memset(&r, 0, sizeof r);
	r.ino = in->ino;
	r.parent = dir->ino;
	r.mode = in->mode;
	r.uid = in->uid;
	r.gid = in->gid;
	r.rdev = (uint32_t)in->rdev;
	r.sec = in->ctime.tv_sec;
	r.nsec = (uint32_t)in->ctime.tv_nsec;
	r.namelen = (uint16_t)strlen(name);
	r.tgtlen = in->target ? (uint16_t)strlen(in->target) : 0;
	jio_submit(jrec_alloc(J_CREATE, &r, sizeof r, name, r.namelen, in->target, r.tgtlen));
}

void jlog_link(const struct tinode *in, const struct tinode *dir, const char *name)
{
	struct jr_link r;
	memset(&r, 0, sizeof r);
	r.ino = in->ino;
	r.parent = dir->ino;
	r.sec = in->ctime.tv_sec;
	r.nsec = (uint32_t)in->ctime.tv_nsec;
	r.namelen = (uint16_t)strlen(name);
	jio_submit(jrec_alloc(J_LINK, &r, sizeof r, name, r.namelen, NULL, 0));
}

void jlog_unlink(const struct tinode *dir, const char *name, int rmdir)
{
	struct jr_unlink r;
	memset(&r, 0, sizeof r);
	r.parent = dir->ino;
	r.sec = dir->mtime.tv_sec;
	r.nsec = (uint32_t)dir->mtime.tv_nsec;
	r.namelen = (uint16_t)strlen(name);
	r.rmdir = (uint16_t)rmdir;
	jio_submit(jrec_alloc(J_UNLINK, &r, sizeof r, name, r.namelen, NULL, 0));
}

void jlog_rename(const struct tinode *dir, const char *name,
		 const struct tinode *ndir, const char *nname, unsigned int flags)
{
	struct jr_rename r;
	memset(&r, 0, sizeof r);
	r.parent = dir->ino;
	r.newparent = ndir->ino;
	r.sec = ndir->mtime.tv_sec;
	r.nsec = (uint32_t)ndir->mtime.tv_nsec;
	r.flags = flags;
	r.namelen = (uint16_t)strlen(name);
	r.newnamelen = (uint16_t)strlen(nname);
	jio_submit(jrec_alloc(J_RENAME, &r, sizeof r, name, r.namelen, nname, r.newnamelen));
}

void jlog_setattr(const struct tinode *in, int valid)
{
	struct jr_setattr r;
	memset(&r, 0, sizeof r);
	r.ino = in->ino;
	r.valid = (uint32_t)valid;
	r.size = in->size;
	r.mode = in->mode;
	r.uid = in->uid;
	r.gid = in->gid;
	r.asec = in->atime.tv_sec;
	r.ansec = (uint32_t)in->atime.tv_nsec;
	r.msec = in->mtime.tv_sec;
	r.mnsec = (uint32_t)in->mtime.tv_nsec;
	r.csec = in->ctime.tv_sec;
	r.cnsec = (uint32_t)in->ctime.tv_nsec;
	jio_submit(jrec_alloc(J_SETATTR, &r, sizeof r, NULL, 0, NULL, 0));
}

void jlog_data(const struct tinode *in, uint64_t pgidx, const char *data, size_t len)
{
	struct jr_data r;
	memset(&r, 0, sizeof r);
	r.ino = in->ino;
	r.pgidx = pgidx;
	r.isize = in->size;
	r.msec = in->mtime.tv_sec;
	r.mnsec = (uint32_t)in->mtime.tv_nsec;
	r.len = (uint32_t)len;
	jio_submit(jrec_alloc(J_DATA, &r, sizeof r, data, len, NULL, 0));
}
