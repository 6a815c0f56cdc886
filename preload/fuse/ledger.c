/* ledger.c - the entries and handles the kernel holds of a FUSE session or
 * connection, and a pass's choice of callback target among them (see
 * ledger.h).  Every function runs under the owner's lock.
 *
 * The owner keeps its counts at or below the kernel's (a reference counted
 * before its reply reaches the kernel, a forget before the daemon sees
 * it), so whatever is chosen here is alive in the daemon.  A pin (a
 * callback or synthetic request using an entry or handle) keeps it
 * allocated: an entry forgotten or a handle released meanwhile goes when
 * its pin drops. */
#include "ledger.h"
#include <string.h>

static inline unsigned int hash64(uint64_t x)
{
	x *= 0x9e3779b97f4a7c15ull;
	return (unsigned int)(x >> 40) % FSR_LEDGER_BUCKETS;
}

struct fsr_entry **fsr_ledger_ent_slot(struct fsr_ledger *l, uint64_t ino)
{
	struct fsr_entry **pp = &l->ent[hash64(ino)];
	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	return pp;
}

struct fsr_handle **fsr_ledger_hnd_slot(struct fsr_ledger *l, uint64_t ino, uint64_t fh, int dir)
{
	struct fsr_handle **pp = &l->hnd[hash64(ino ^ (fh * 31))];
	while (*pp && ((*pp)->ino != ino || (*pp)->fh != fh || (*pp)->dir != dir))
		pp = &(*pp)->next;
	return pp;
}

static void ent_drop(struct fsr_ledger *l, struct fsr_entry **pp)
{
	struct fsr_entry *e = *pp;
	*pp = e->next;
	l->nent--;
	fsr_free(e);
}

static void hnd_drop(struct fsr_ledger *l, struct fsr_handle **pp)
{
	struct fsr_handle *h = *pp;
	*pp = h->next;
	l->nhnd--;
	fsr_free(h->path);
	fsr_free(h);
}

int fsr_ledger_ent_add(struct fsr_ledger *l, uint64_t ino, uint64_t parent, const char *name, size_t len,
		       uint32_t mode, int64_t delta)
{
	if (!ino)
		return 0;
	struct fsr_entry **pp = fsr_ledger_ent_slot(l, ino), *e = *pp;
	if (delta < 0) {
		if (e) {
			e->count += delta;
			if (e->count <= 0 && !e->pin)
				ent_drop(l, pp);
		}
		return 0;
	}
	if (len > FSR_LEDGER_NAME_MAX || !name)
		len = 0;          /* too long to keep: counted, never looked up again */
	if (e && (e->parent != parent || strlen(e->name) != len || memcmp(e->name, name, len) != 0)) {
		struct fsr_entry *n = fsr_alloc(sizeof *n + len + 1);
		if (n) {          /* the same node by another name: keep the newest name */
			*n = *e;  /* its count and pin: a pin's owner finds it again by ino */
			memcpy(n->name, name, len);
			n->name[len] = 0;
			n->parent = parent;
			*pp = n;
			fsr_free(e);
			e = n;
		}
	}
	if (!e) {
		e = fsr_alloc(sizeof *e + len + 1);
		if (!e)
			return -1;    /* not counted: an under-count */
		e->ino = ino;
		e->parent = parent;
		if (len)
			memcpy(e->name, name, len);
		e->name[len] = 0;
		e->next = NULL;
		*pp = e;
		l->nent++;
	}
	e->count += delta;
	if (mode)
		e->mode = mode;
	return 0;
}

int fsr_ledger_hnd_open(struct fsr_ledger *l, uint64_t ino, uint64_t fh, int dir, int flags, char **path)
{
	struct fsr_handle **pp = fsr_ledger_hnd_slot(l, ino, fh, dir), *h = *pp;
	if (!h) {
		h = fsr_alloc(sizeof *h);
		if (!h)
			return -1;
		h->ino = ino;
		h->fh = fh;
		h->flags = flags;
		h->dir = dir;
		h->order = ++l->nopened;
		*pp = h;
		l->nhnd++;
	}
	h->refs++;
	if (path && *path && !h->pin) {    /* the latest path (a pinned one is in use) */
		fsr_free(h->path);
		h->path = *path;
		*path = NULL;
	}
	return 0;
}

void fsr_ledger_hnd_release(struct fsr_ledger *l, uint64_t ino, uint64_t fh, int dir)
{
	struct fsr_handle **pp = fsr_ledger_hnd_slot(l, ino, fh, dir), *h = *pp;
	if (h && --h->refs <= 0 && !h->pin)
		hnd_drop(l, pp);
}

struct fsr_handle **fsr_ledger_hnd_slot_fh(struct fsr_ledger *l, uint64_t ino, uint64_t fh, int dir)
{
	struct fsr_handle **pp = fsr_ledger_hnd_slot(l, ino, fh, dir);
	if (*pp)
		return pp;
	pp = fsr_ledger_hnd_slot(l, 0, fh, dir);    /* recorded without its inode */
	if (ino)
		return pp;      /* another inode's handle is another file's, though its fh is the same */
	for (int b = 0; !*pp && b < FSR_LEDGER_BUCKETS; b++)
		for (struct fsr_handle **q = &l->hnd[b]; *q; q = &(*q)->next)
			if ((*q)->fh == fh && (*q)->dir == dir && (*q)->refs > 0) {
				pp = q;
				break;
			}
	return pp;
}

/* ---- paths (the high levels) ---- */

/* p moved from `from` to `to`: p itself when not at or under from, else a
 * new path (NULL: to is NULL, or no memory) */
static char *moved_path(const char *p, const char *from, const char *to)
{
	size_t lf = strlen(from);
	if (strncmp(p, from, lf) != 0 || (p[lf] && p[lf] != '/'))
		return (char *)p;
	if (!to)
		return NULL;
	size_t lt = strlen(to), lr = strlen(p + lf);
	char *n = fsr_alloc(lt + lr + 1);
	if (n) {
		memcpy(n, to, lt);
		memcpy(n + lt, p + lf, lr + 1);
	}
	return n;
}

static int path_under(const char *p, const char *dir)
{
	size_t l = strlen(dir);
	return strncmp(p, dir, l) == 0 && (!p[l] || p[l] == '/');
}

static int moved_pinned(struct fsr_ledger *l, const char *from, const char *to)
{
	for (int b = 0; b < FSR_LEDGER_BUCKETS; b++)
		for (struct fsr_handle *h = l->hnd[b]; h; h = h->next)
			if (h->pin && h->path && (path_under(h->path, from) || (to && path_under(h->path, to))))
				return 1;
	return 0;
}

void fsr_ledger_move_paths(struct fsr_ledger *l, const char *from, const char *to, int exchange,
			   void (*wait)(void *arg), void *arg)
{
	if (!from || !l->nhnd || (exchange && !to))
		return;
	for (int tries = 0; tries <= 100 && moved_pinned(l, from, to); tries++)
		wait(arg);
	for (int b = 0; b < FSR_LEDGER_BUCKETS; b++)
		for (struct fsr_handle *h = l->hnd[b]; h; h = h->next) {
			if (!h->path || h->pin)
				continue;       /* pinned past the bound: keeps its path for now */
			char *n = moved_path(h->path, from, to);
			if (n == h->path && exchange)
				n = moved_path(h->path, to, from);
			else if (n == h->path && to)
				n = moved_path(h->path, to, NULL);   /* replaced by the rename: no path */
			if (n != h->path) {
				fsr_free(h->path);
				h->path = n;
			}
		}
}

void fsr_ledger_ent_unpin(struct fsr_ledger *l, uint64_t ino)
{
	struct fsr_entry **pp = fsr_ledger_ent_slot(l, ino), *e = *pp;
	if (e && e->pin && --e->pin == 0 && e->count <= 0)
		ent_drop(l, pp);      /* forgotten meanwhile */
}

void fsr_ledger_hnd_unpin(struct fsr_ledger *l, uint64_t ino, uint64_t fh, int dir)
{
	struct fsr_handle **pp = fsr_ledger_hnd_slot(l, ino, fh, dir), *h = *pp;
	if (h && h->pin && --h->pin == 0 && h->refs <= 0)
		hnd_drop(l, pp);      /* released meanwhile */
}

/* every entry forgotten, the handles kept (what a BATCH_FORGET the shim
 * could not read whole leaves: an under-count) */
void fsr_ledger_clear_entries(struct fsr_ledger *l)
{
	for (int i = 0; i < FSR_LEDGER_BUCKETS; i++) {
		for (struct fsr_entry *e = l->ent[i], *n; e; e = n) {
			n = e->next;
			fsr_free(e);
		}
		l->ent[i] = NULL;
	}
	l->nent = 0;
}

void fsr_ledger_clear(struct fsr_ledger *l)
{
	fsr_ledger_clear_entries(l);
	for (int i = 0; i < FSR_LEDGER_BUCKETS; i++) {
		for (struct fsr_handle *h = l->hnd[i], *n; h; h = n) {
			n = h->next;
			fsr_free(h->path);
			fsr_free(h);
		}
		l->hnd[i] = NULL;
	}
	l->nhnd = 0;
}

/* ---- targets ---- */

size_t fsr_ledger_ent_target(struct fsr_ledger *l, uint64_t ino, char *b, size_t len)
{
	const char *names[32];
	int d = 0;
	while (ino != FSR_LEDGER_ROOT && d < 32) {
		struct fsr_entry *e = *fsr_ledger_ent_slot(l, ino);
		if (!e || !e->name[0]) {
			names[d++] = "?";     /* a parent never seen looked up */
			break;
		}
		names[d++] = e->name;
		ino = e->parent;
	}
	return fsr_target_path(b, len, names, d);
}

void fsr_ledger_hnd_target(struct fsr_ledger *l, const struct fsr_handle *h, char *b, size_t len)
{
	int o = fsr_fmt(b, len, "#%lu:", h->order);
	if (h->path)
		fsr_target_put(b + o, len - (size_t)o, h->path);
	else
		fsr_ledger_ent_target(l, h->ino, b + o, len - (size_t)o);
}

/* ---- eligibility and choice ---- */

int fsr_ledger_ent_ok(struct fsr_ledger *l, const struct fsr_entry *e, struct fsr_entry **parent)
{
	if (e->count <= 0 || !e->name[0])
		return 0;
	*parent = e->parent != FSR_LEDGER_ROOT ? *fsr_ledger_ent_slot(l, e->parent) : NULL;
	return e->parent == FSR_LEDGER_ROOT || (*parent && (*parent)->count > 0);   /* the parent may be gone */
}

int fsr_ledger_hnd_ok(const struct fsr_handle *h, unsigned int ops)
{
	if (h->refs <= 0)
		return 0;
	if (h->dir)
		return (ops & FSR_LOP_FSYNCDIR) && !(ops & FSR_LOP_FLUSH);   /* never FLUSH a directory */
	return (ops & (FSR_LOP_FSYNC | FSR_LOP_FLUSH)) != 0;
}

/* A kind of callback target, for the one choice below: entries or
 * handles, walked bucket by bucket */
struct pick_kind {
	char type;                                      /* fsr_schedule_want's: 'e' or 'h' */
	void *(*head)(struct fsr_ledger *l, unsigned long b);
	void *(*next)(void *it);
	int (*ok)(struct fsr_ledger *l, void *it, void *arg, struct fsr_pick *k);   /* eligible now */
	void (*target)(struct fsr_ledger *l, void *it, char *b, size_t len);
};

/* the target a replayed pass wants if it is eligible now, else the first
 * eligible one from bucket `cursor` on (k->bucket: where) */
static void *pick(struct fsr_ledger *l, struct fsr_pass *p, const struct pick_kind *pk, unsigned long cursor, void *arg,
		  struct fsr_pick *k)
{
	uint32_t want = fsr_schedule_want(p, pk->type);
	void *got = NULL;
	k->wanted = want != 0;
	k->matched = 0;
	k->parent = NULL;
	k->tgt[0] = 0;
	for (unsigned long b = 0; want && b < FSR_LEDGER_BUCKETS && !got; b++)
		for (void *it = pk->head(l, b); it; it = pk->next(it)) {
			if (!pk->ok(l, it, arg, k))
				continue;
			pk->target(l, it, k->tgt, sizeof k->tgt);
			if (fsr_target_hash(k->tgt) == want) {
				got = it;
				k->matched = 1;
				break;
			}
		}
	for (unsigned long i = 0; i < FSR_LEDGER_BUCKETS && !got; i++) {
		unsigned long b = (cursor + i) % FSR_LEDGER_BUCKETS;
		for (void *it = pk->head(l, b); it; it = pk->next(it))
			if (pk->ok(l, it, arg, k)) {
				got = it;
				k->bucket = b;
				break;
			}
	}
	if (got && !k->matched)
		pk->target(l, got, k->tgt, sizeof k->tgt);
	return got;
}

static void *ent_head(struct fsr_ledger *l, unsigned long b) { return l->ent[b]; }
static void *ent_next(void *it) { return ((struct fsr_entry *)it)->next; }
static int ent_pick_ok(struct fsr_ledger *l, void *it, void *arg, struct fsr_pick *k)
{
	(void)arg;
	return fsr_ledger_ent_ok(l, it, &k->parent);   /* the choice's parent: the last judged */
}
static void ent_pick_target(struct fsr_ledger *l, void *it, char *b, size_t len)
{
	fsr_ledger_ent_target(l, ((struct fsr_entry *)it)->ino, b, len);
}
static const struct pick_kind ent_kind = { 'e', ent_head, ent_next, ent_pick_ok, ent_pick_target };

struct fsr_entry *fsr_ledger_pick_ent(struct fsr_ledger *l, struct fsr_pass *p, struct fsr_pick *k)
{
	return pick(l, p, &ent_kind, l->cur_e, NULL, k);
}

struct hnd_rule { unsigned int ops; fsr_hnd_also_fn also; void *arg; };
static void *hnd_head(struct fsr_ledger *l, unsigned long b) { return l->hnd[b]; }
static void *hnd_next(void *it) { return ((struct fsr_handle *)it)->next; }
static int hnd_pick_ok(struct fsr_ledger *l, void *it, void *arg, struct fsr_pick *k)
{
	const struct hnd_rule *r = arg;
	(void)l;
	(void)k;
	return fsr_ledger_hnd_ok(it, r->ops) && (!r->also || r->also(r->arg, it, r->ops));
}
static void hnd_pick_target(struct fsr_ledger *l, void *it, char *b, size_t len)
{
	fsr_ledger_hnd_target(l, it, b, len);
}
static const struct pick_kind hnd_kind = { 'h', hnd_head, hnd_next, hnd_pick_ok, hnd_pick_target };

struct fsr_handle *fsr_ledger_pick_hnd(struct fsr_ledger *l, struct fsr_pass *p, unsigned int ops,
				       fsr_hnd_also_fn also, void *arg, struct fsr_pick *k)
{
	struct hnd_rule r = { ops, also, arg };
	return pick(l, p, &hnd_kind, l->cur_h, &r, k);
}

void fsr_ledger_say_instead(struct fsr_pass *p, char type, const char *kind, const struct fsr_pick *k, int took)
{
	if (k->wanted && !k->matched)
		fsr_schedule_instead(p, type, kind, took ? k->tgt : NULL);
}
