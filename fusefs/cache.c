/* cache.c - the page cache of txfs, with dirty tracking, in front of a
 * "disk" store.
 *
 * A regular file's data lives in two page arrays: cache[] (what a write
 * touches, possibly dirty) and store[] (what has been written back: the
 * disk, persisted by the journal's J_DATA records).  Writeback copies dirty
 * cache pages to the store and logs them; eviction drops clean cache pages.
 * All of it runs with journal_lock held, inside a NOFS scope (txn or wb).
 */
#include "txfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* updated under journal_lock; read without it by the shrinker's count */
uint64_t cache_pages_total, cache_dirty_total, store_pages_total;
#define INC(v) __atomic_add_fetch(&(v), 1, __ATOMIC_RELAXED)
#define DEC(v) __atomic_sub_fetch(&(v), 1, __ATOMIC_RELAXED)

static int grow(struct tinode *in, size_t need)
{
	if (need <= in->npg)
		return 0;
	size_t n = in->npg ? in->npg : 16;
	while (n < need)
		n *= 2;
	struct cpage **c = realloc(in->cache, n * sizeof *c);
	if (!c)
		return -ENOMEM;
	in->cache = c;
	char **s = realloc(in->store, n * sizeof *s);
	if (!s)
		return -ENOMEM;
	in->store = s;
	memset(in->cache + in->npg, 0, (n - in->npg) * sizeof *c);
	memset(in->store + in->npg, 0, (n - in->npg) * sizeof *s);
	in->npg = n;
	return 0;
}

/* the cache page for index i, created from the store (or zeros) */
static struct cpage *page_get(struct tinode *in, size_t i)
{
	struct cpage *p = in->cache[i];
	if (p)
		return p;
	p = malloc(sizeof *p);
	if (!p)
		return NULL;
	p->dirty = 0;
	if (in->store[i])
		memcpy(p->data, in->store[i], TXFS_PAGE);
	else
		memset(p->data, 0, TXFS_PAGE);
	in->cache[i] = p;
	in->ncache++;
	INC(cache_pages_total);
	return p;
}

static void mark_dirty(struct tinode *in, struct cpage *p)
{
	if (!p->dirty) {
		p->dirty = 1;
		in->ndirty++;
		INC(cache_dirty_total);
	}
}

int cache_write(struct tinode *in, const char *buf, size_t len, off_t off)
{
	if (off < 0)
		return -EINVAL;
	if ((uint64_t)off + len > TXFS_MAX_FILE)
		return -EFBIG;
	if (len == 0)
		return 0;
	size_t last = ((uint64_t)off + len - 1) / TXFS_PAGE;
	if (grow(in, last + 1))
		return -ENOMEM;
	size_t done = 0;
	while (done < len) {
		uint64_t pos = (uint64_t)off + done;
		size_t i = pos / TXFS_PAGE, po = pos % TXFS_PAGE;
		size_t n = TXFS_PAGE - po;
		if (n > len - done)
			n = len - done;
		struct cpage *p = page_get(in, i);
		if (!p)
			return done ? (int)done : -ENOMEM;
		memcpy(p->data + po, buf + done, n);
		mark_dirty(in, p);
		done += n;
	}
	if ((uint64_t)off + len > in->size)
		in->size = (uint64_t)off + len;
	return (int)len;
}

size_t cache_read(struct tinode *in, char *buf, size_t len, off_t off)
{
	if (off < 0 || (uint64_t)off >= in->size)
		return 0;
	if (len > in->size - (uint64_t)off)
		len = in->size - (uint64_t)off;
	size_t done = 0;
	while (done < len) {
		uint64_t pos = (uint64_t)off + done;
		size_t i = pos / TXFS_PAGE, po = pos % TXFS_PAGE;
		size_t n = TXFS_PAGE - po;
		if (n > len - done)
			n = len - done;
		const char *src = NULL;
		if (i < in->npg)
			src = in->cache[i] ? in->cache[i]->data : in->store[i];
		if (src)
			memcpy(buf + done, src + po, n);
		else
			memset(buf + done, 0, n);
		done += n;
	}
	return len;
}

static void page_drop(struct tinode *in, size_t i)
{
	struct cpage *p = in->cache[i];
	if (p) {
		if (p->dirty) {
			in->ndirty--;
			DEC(cache_dirty_total);
		}
		free(p);
		in->cache[i] = NULL;
		in->ncache--;
		DEC(cache_pages_total);
	}
	if (in->store[i]) {
		free(in->store[i]);
		in->store[i] = NULL;
		DEC(store_pages_total);
	}
}

int cache_truncate(struct tinode *in, uint64_t size)
{
	if (size > TXFS_MAX_FILE)
		return -EFBIG;
	if (size < in->size) {
		size_t keep = (size + TXFS_PAGE - 1) / TXFS_PAGE;
		for (size_t i = keep; i < in->npg; i++)
			page_drop(in, i);
		/* zero the tail of the last kept page, in cache and store */
		size_t po = size % TXFS_PAGE;
		if (po && keep - 1 < in->npg) {
			size_t i = keep - 1;
			if (in->cache[i])
				memset(in->cache[i]->data + po, 0, TXFS_PAGE - po);
			if (in->store[i])
				memset(in->store[i] + po, 0, TXFS_PAGE - po);
		}
	}
	in->size = size;
	return 0;
}

unsigned long cache_writeback(struct tinode *in)
{
	unsigned long n = 0;
	if (!in->ndirty)
		return 0;
	for (size_t i = 0; i < in->npg && in->ndirty; i++) {
		struct cpage *p = in->cache[i];
		if (!p || !p->dirty)
			continue;
		uint64_t pos = (uint64_t)i * TXFS_PAGE;
		size_t len = 0;
		if (pos < in->size)
			len = in->size - pos < TXFS_PAGE ? (size_t)(in->size - pos) : TXFS_PAGE;
		if (!in->store[i]) {
			in->store[i] = malloc(TXFS_PAGE);
			if (!in->store[i])
				break;  /* stays dirty; written back later */
			INC(store_pages_total);
		}
		memcpy(in->store[i], p->data, TXFS_PAGE);
		if (len)
			jlog_data(in, i, p->data, len);
		p->dirty = 0;
		in->ndirty--;
		DEC(cache_dirty_total);
		n++;
	}
	return n;
}

unsigned long cache_evict_clean(struct tinode *in, unsigned long nr)
{
	unsigned long n = 0;
	for (size_t i = 0; i < in->npg && in->ncache && n < nr; i++) {
		struct cpage *p = in->cache[i];
		if (!p || p->dirty)
			continue;
		free(p);
		in->cache[i] = NULL;
		in->ncache--;
		DEC(cache_pages_total);
		n++;
	}
	return n;
}

void cache_free(struct tinode *in)
{
	for (size_t i = 0; i < in->npg; i++)
		page_drop(in, i);
	free(in->cache);
	free(in->store);
	in->cache = NULL;
	in->store = NULL;
	in->npg = 0;
}

/* replay: data straight into the store */
int store_write(struct tinode *in, uint64_t pgidx, const char *data, size_t len)
{
	if (len > TXFS_PAGE || pgidx >= TXFS_MAX_FILE / TXFS_PAGE)
		return -EINVAL;
	if (grow(in, pgidx + 1))
		return -ENOMEM;
	if (!in->store[pgidx]) {
		in->store[pgidx] = calloc(1, TXFS_PAGE);
		if (!in->store[pgidx])
			return -ENOMEM;
		INC(store_pages_total);
	}
	memcpy(in->store[pgidx], data, len);
	memset(in->store[pgidx] + len, 0, TXFS_PAGE - len);
	if (in->cache[pgidx]) {     /* never at replay, but keep them coherent */
		memcpy(in->cache[pgidx]->data, in->store[pgidx], TXFS_PAGE);
	}
	return 0;
}
