/* graph.c - the fs_reclaim dependency graph (lockdep's model of reclaim).
 *
 * Nodes are lock classes plus the pseudo-locks fs_reclaim and io_reclaim.
 * An allocation that may FS-reclaim while L is held records L -> fs_reclaim
 * (L -> io_reclaim when it may IO-reclaim), whether or not a pass runs: the
 * prediction.  A thread in reclaim "holds" fs_reclaim (io_reclaim when the
 * reclaim is IO-only), so every lock it takes records fs_reclaim -> L.  A
 * lock taken while others are held records held -> new.  A cycle through a
 * reclaim pseudo-lock is a reclaim-lock-inversion.
 *
 * The edge set is a matrix of nibbles read without locks (TSan's bit
 * matrix): the common acquisition finds its edges known and returns.  A new
 * edge takes graph_lock, keeps the stack of its first sighting, and looks
 * for a cycle closed by it (BFS over at most fsr_nclasses nodes).
 *
 * Read locks: a cycle is no deadlock when some lock on it is held only for
 * read where the cycle leaves it and taken only for read where the cycle
 * enters it (readers do not exclude readers; glibc's rwlocks prefer them). */
#include "lockdep.h"
#include "symbols.h"
#include <string.h>

uint8_t fsr_graph_matrix[FSR_MAX_CLASSES][FSR_MAX_CLASSES / 2];
static struct fsr_mutex graph_lock;

/* ---- edge records: first stack of each edge ---- */
#define EDGE_FRAMES 24
#define EDGE_HASH 65536
#define EDGE_MAX 65536
#define EDGE_CHUNK 1024
struct edge {
	uint16_t from, to;
	uint32_t next;           /* index + 1 of the next in the hash chain */
	pid_t tid;
	int n;
	int reported;            /* on a cycle that was reported (graph_path highlights it) */
	void *pc[EDGE_FRAMES];
};
static uint32_t edge_hash[EDGE_HASH];
static struct edge *edge_chunks[EDGE_MAX / EDGE_CHUNK];
static uint32_t nedges;

static inline struct edge *edge_at(uint32_t i) { return &edge_chunks[i / EDGE_CHUNK][i % EDGE_CHUNK]; }
static inline uint32_t edge_h(unsigned int a, unsigned int b) { return ((a * 4099u) ^ (b * 2654435761u)) & (EDGE_HASH - 1); }

static struct edge *edge_find(unsigned int a, unsigned int b)
{
	for (uint32_t i = edge_hash[edge_h(a, b)]; i; i = edge_at(i - 1)->next) {
		struct edge *e = edge_at(i - 1);
		if (e->from == a && e->to == b)
			return e;
	}
	return NULL;
}

static struct edge *edge_new(unsigned int a, unsigned int b)
{
	if (nedges >= EDGE_MAX)
		return NULL;
	uint32_t i = nedges;
	if (!edge_chunks[i / EDGE_CHUNK]) {
		edge_chunks[i / EDGE_CHUNK] = fsr_alloc(EDGE_CHUNK * sizeof(struct edge));
		if (!edge_chunks[i / EDGE_CHUNK])
			return NULL;
	}
	nedges++;
	struct edge *e = edge_at(i);
	e->from = (uint16_t)a;
	e->to = (uint16_t)b;
	uint32_t h = edge_h(a, b);
	e->next = edge_hash[h];
	edge_hash[h] = i + 1;
	return e;
}

static void edge_set(unsigned int a, unsigned int b, unsigned int bits)
{
	uint8_t *p = &fsr_graph_matrix[a][b >> 1];
	__atomic_or_fetch(p, (uint8_t)((b & 1) ? bits << 4 : bits), __ATOMIC_RELEASE);
}

/* ---- names ---- */
void fsr_class_name(unsigned int cls, char *buf, size_t len)
{
	if (cls == FSR_CLS_FS_RECLAIM)
		fsr_fmt(buf, len, "fs_reclaim");
	else if (cls == FSR_CLS_IO_RECLAIM)
		fsr_fmt(buf, len, "io_reclaim");
	else if (cls < fsr_nclasses && fsr_classes[cls].rep)
		fsr_lock_name(fsr_classes[cls].rep, buf, len);
	else
		fsr_fmt(buf, len, "class#%u", cls);
}

static int is_reclaim(unsigned int c) { return c == FSR_CLS_FS_RECLAIM || c == FSR_CLS_IO_RECLAIM; }

/* ---- cycles ---- */
static uint16_t bfs_parent[FSR_MAX_CLASSES];
static uint16_t bfs_queue[FSR_MAX_CLASSES];
static uint8_t bfs_seen[FSR_MAX_CLASSES];

/* shortest path src ->* dst; writes it (src first, dst last) into path,
 * returns its node count, 0 if none */
static int bfs(unsigned int src, unsigned int dst, uint16_t *path, int max)
{
	unsigned int n = __atomic_load_n(&fsr_nclasses, __ATOMIC_ACQUIRE);
	memset(bfs_seen, 0, n);
	int qh = 0, qt = 0;
	bfs_queue[qt++] = (uint16_t)src;
	bfs_seen[src] = 1;
	while (qh < qt) {
		unsigned int u = bfs_queue[qh++];
		if (u == dst)
			break;
		for (unsigned int v = 1; v < n; v++) {
			if (bfs_seen[v] || !(fsr_graph_edge(u, v) & FSR_EDGE_SEEN) || fsr_class_excluded(v))
				continue;
			bfs_seen[v] = 1;
			bfs_parent[v] = (uint16_t)u;
			bfs_queue[qt++] = (uint16_t)v;
		}
	}
	if (!bfs_seen[dst])
		return 0;
	int k = 0;
	uint16_t rev[64];
	for (unsigned int v = dst;; v = bfs_parent[v]) {
		if (k >= 64)
			return 0;
		rev[k++] = (uint16_t)v;
		if (v == src)
			break;
	}
	if (k > max)
		return 0;
	for (int i = 0; i < k; i++)
		path[i] = rev[k - 1 - i];
	return k;
}

#define MAX_CYCLE 16
/* cycle closed by a -> b through a reclaim pseudo-lock: nodes a, b, ...
 * (each to the next, the last to a) */
static int find_cycle(unsigned int a, unsigned int b, uint16_t *cyc)
{
	uint16_t p1[MAX_CYCLE], p2[MAX_CYCLE];
	int best = 0;
	if (is_reclaim(a) || is_reclaim(b)) {
		int k = bfs(b, a, p1, MAX_CYCLE);
		if (!k)
			return 0;
		cyc[0] = (uint16_t)a;
		for (int i = 0; i + 1 < k; i++)
			cyc[1 + i] = p1[i];
		return k;
	}
	for (unsigned int r = FSR_CLS_FS_RECLAIM; r <= FSR_CLS_IO_RECLAIM; r++) {
		int k1 = bfs(b, r, p1, MAX_CYCLE);
		if (!k1)
			continue;
		int k2 = bfs(r, a, p2, MAX_CYCLE);
		if (!k2 || k1 + k2 - 1 > MAX_CYCLE)
			continue;
		if (best && best <= k1 + k2 - 1)
			continue;
		cyc[0] = (uint16_t)a;
		int n = 1;
		for (int i = 0; i < k1; i++)
			cyc[n++] = p1[i];
		for (int i = 1; i + 1 < k2; i++)
			cyc[n++] = p2[i];
		best = n;
	}
	return best;
}

static unsigned int edge_bits(unsigned int a, unsigned int b) { return fsr_graph_edge(a, b); }

/* some lock on the cycle is read-read at both ends: no deadlock */
static int cycle_read_only(const uint16_t *cyc, int n)
{
	for (int i = 0; i < n; i++) {
		unsigned int prev = cyc[(i + n - 1) % n], cur = cyc[i], next = cyc[(i + 1) % n];
		if (is_reclaim(cur))
			continue;
		if (!(edge_bits(prev, cur) & FSR_EDGE_DSTW) && !(edge_bits(cur, next) & FSR_EDGE_SRCW))
			return 1;
	}
	return 0;
}

/* reported cycles, by their sorted class set */
#define MAX_REPORTED 1024
static uint64_t reported[MAX_REPORTED];
static int nreported;

static uint64_t cycle_key(const uint16_t *cyc, int n)
{
	uint16_t s[MAX_CYCLE];
	if (n <= 0 || n > MAX_CYCLE)
		return 1;
	memcpy(s, cyc, (size_t)n * sizeof s[0]);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
			uint16_t x = s[j]; s[j] = s[j - 1]; s[j - 1] = x;
		}
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h | 1;
}

static int seen_cycle(uint64_t k)
{
	for (int i = 0; i < nreported; i++)
		if (reported[i] == k)
			return 1;
	if (nreported < MAX_REPORTED)
		reported[nreported++] = k;
	return 0;
}

static void edge_title(char *buf, size_t len, unsigned int a, unsigned int b)
{
	char an[64], bn[64];
	fsr_class_name(a, an, sizeof an);
	fsr_class_name(b, bn, sizeof bn);
	if (b == FSR_CLS_FS_RECLAIM)
		fsr_fmt(buf, len, "lock %s held here while allocating (may enter fs reclaim)", an);
	else if (b == FSR_CLS_IO_RECLAIM)
		fsr_fmt(buf, len, "lock %s held here while allocating (may enter io reclaim)", an);
	else if (a == FSR_CLS_FS_RECLAIM)
		fsr_fmt(buf, len, "reclaim takes %s here", bn);
	else if (a == FSR_CLS_IO_RECLAIM)
		fsr_fmt(buf, len, "io reclaim takes %s here", bn);
	else
		fsr_fmt(buf, len, "%s taken here while holding %s", bn, an);
}

/* The report is built after graph_lock is released: naming locks and
 * symbolizing allocate and read ELF files, and an allocation of another
 * thread (one inside dlopen, holding the loader's lock, say) may be
 * waiting for graph_lock to record its edge.  What the report needs from
 * the graph is copied under graph_lock: the cycle and its edge records,
 * which are never changed once published.  inv_lock is taken only by a
 * thread that found a new cycle, never by an allocation that records an
 * edge. */
static struct fsr_mutex inv_lock;
static struct fsr_hazard inv;     /* under inv_lock */
static char inv_titles[FSR_MAX_REPORT_STACKS][160];

/* whose held locks the report shows: the thread itself, or, when it is a
 * reclaimer running a handed-off pass, the allocator that waits for it */
static const struct fsr_thread *lock_holder(const struct fsr_thread *t)
{
	const struct fsr_pass *p = t->pass;
	if (t->in_reclaim && p && p->allocator && p->allocator != t &&
	    __atomic_load_n(&p->state, __ATOMIC_ACQUIRE) == FSR_PASS_RUNNING)
		return p->allocator;
	return t;
}

/* debuginfod=1: the debug info of what build_inversion will name (this
 * stack, the edges' stacks, the held locks' sites), fetched before
 * inv_lock: another thread's report never waits for the network */
static void prefetch_cycle(struct fsr_thread *t, struct edge *const *e, int n)
{
	struct fsr_stack s;
	void *site[FSR_MAX_HELD];
	if (!fsr_opt.debuginfod)
		return;
	fsr_stack_capture(&s, "prefetch");
	fsr_sym_prefetch(s.pc, s.n);
	for (int i = 0; i < n; i++)
		if (e[i])
			fsr_sym_prefetch(e[i]->pc, e[i]->n);
	const struct fsr_thread *h = lock_holder(t);
	int k = h->nheld < FSR_MAX_HELD ? h->nheld : FSR_MAX_HELD;
	for (int i = 0; i < k; i++)
		site[i] = h->held[i].site;
	fsr_sym_prefetch(site, k);
}

/* build the report of cycle c0 (c0[0] -> c0[1] is the new edge, seen now
 * on thread t; e0[i] is the record of c0[i] -> c0[i+1]); under inv_lock */
static void build_inversion(struct fsr_thread *t, const uint16_t *c0, struct edge *const *e0, int n)
{
	uint16_t cyc[MAX_CYCLE];
	struct edge *edge[MAX_CYCLE];
	char nm[MAX_CYCLE][64];
	const struct fsr_thread *holder = lock_holder(t);
	/* rotate: start at the lock before a reclaim pseudo-lock */
	int r = 0;
	for (int i = 0; i < n; i++)
		if (is_reclaim(c0[(i + 1) % n]) && !is_reclaim(c0[i])) { r = i; break; }
	for (int i = 0; i < n; i++) {
		cyc[i] = c0[(r + i) % n];
		edge[i] = e0[(r + i) % n];
	}
	int newi = (n - r) % n;         /* index in cyc of the new edge's source */
	/* a lock the allocating thread holds is named by its instance */
	int nheld = holder->nheld < FSR_MAX_HELD ? holder->nheld : FSR_MAX_HELD;
	for (int i = 0; i < n; i++) {
		int k;
		for (k = 0; k < nheld; k++)
			if (!is_reclaim(cyc[i]) && holder->held[k].cls == cyc[i])
				break;
		if (k < nheld)
			fsr_lock_name(holder->held[k].lock, nm[i], sizeof nm[i]);
		else
			fsr_class_name(cyc[i], nm[i], sizeof nm[i]);
	}
	unsigned int rc = FSR_CLS_FS_RECLAIM;
	for (int i = 0; i < n; i++)
		if (is_reclaim(cyc[i])) { rc = cyc[i]; break; }
	const char *rn = rc == FSR_CLS_FS_RECLAIM ? "fs" : "io";

	fsr_hazard_init(&inv, "reclaim-lock-inversion", FSR_WARNING);
	if (n == 2)
		fsr_fmt(inv.message, sizeof inv.message,
			"lock %s is held at an allocation that may enter %s reclaim, and %s reclaim takes %s: "
			"a reclaim pass at that allocation would deadlock", nm[0], rn, rn, nm[0]);
	else {
		char chain[256];
		size_t o = 0;
		for (int i = 0; i < n; i++)
			o += (size_t)fsr_fmt(chain + o, o < sizeof chain ? sizeof chain - o : 0, "%s --> ", nm[i]);
		fsr_fmt(chain + (o < sizeof chain ? o : sizeof chain - 1), o < sizeof chain ? sizeof chain - o : 1, "%s", nm[0]);
		fsr_fmt(inv.message, sizeof inv.message,
			"lock %s is held at an allocation that may enter %s reclaim, and a chain of lock "
			"dependencies leads from %s reclaim back to it (%s): a reclaim pass at that allocation "
			"could deadlock", nm[0], rn, rn, chain);
	}
	/* the locks the allocating thread holds, where it took them (not the
	 * other locks of the chain: other threads hold those) */
	fsr_hazard_add_held_locks(&inv, holder);
	/* stacks: each edge's first sighting, in chain order */
	for (int i = 0; i < n && inv.nstacks < FSR_MAX_REPORT_STACKS; i++) {
		unsigned int a = cyc[i], b = cyc[(i + 1) % n];
		struct fsr_stack *s = &inv.stacks[inv.nstacks];
		edge_title(inv_titles[inv.nstacks], sizeof inv_titles[0], a, b);
		struct edge *e = edge[i];
		if (i == newi || !e) {
			if (i == newi) {
				fsr_stack_capture(s, inv_titles[inv.nstacks]);
			} else
				continue;
		} else {
			s->title = inv_titles[inv.nstacks];
			s->n = e->n;
			memcpy(s->pc, e->pc, (size_t)e->n * sizeof(void *));
		}
		inv.nstacks++;
	}
	/* lockdep's text */
	char *b = inv.body;
	size_t o = 0, L = sizeof inv.body;
#define P(...) do { if (o < L) o += (size_t)fsr_fmt(b + o, L - o, __VA_ARGS__); } while (0)
	unsigned int src = cyc[newi], dst = cyc[(newi + 1) % n];
	char sn[64], dn[64];
	fsr_class_name(src, sn, sizeof sn);
	fsr_class_name(dst, dn, sizeof dn);
	P("======================================================\n");
	P("WARNING: possible circular locking dependency detected\n");
	P("------------------------------------------------------\n");
	if (dst == FSR_CLS_FS_RECLAIM || dst == FSR_CLS_IO_RECLAIM)
		P("thread %d is allocating memory that may enter reclaim, acquiring:\n  (%s)\n", (int)fsr_gettid(), dn);
	else
		P("thread %d is trying to acquire lock:\n  (%s)\n", (int)fsr_gettid(), dn);
	if (src == FSR_CLS_FS_RECLAIM || src == FSR_CLS_IO_RECLAIM)
		P("\nbut thread is already in reclaim, holding:\n  (%s)\n", sn);
	else
		P("\nbut thread already holds lock:\n  (%s)\n", sn);
	P("\nwhich lock already depends on the new lock.\n\n");
	P("the existing dependency chain (in reverse order) is:\n");
	for (int j = n - 1; j >= 1; j--) {
		int idx = (newi + j) % n;
		unsigned int a = cyc[idx], bb = cyc[(idx + 1) % n];
		char an[64], bn2[64], tl[160];
		fsr_class_name(a, an, sizeof an);
		fsr_class_name(bb, bn2, sizeof bn2);
		edge_title(tl, sizeof tl, a, bb);
		struct edge *e = edge[idx];
		P("\n-> #%d (%s --> %s): %s\n", j - 1, an, bn2, tl);
		if (e)
			P("       first seen on thread %d (its stack is below)\n", (int)e->tid);
	}
	P("\nother info that might help us debug this:\n\n");
	P("Chain exists of:\n  ");
	for (int i = 0; i < n; i++)
		P("%s --> ", nm[i]);
	P("%s\n\n", nm[0]);
	P(" Possible unsafe locking scenario:\n\n");
	P("       CPU0                    CPU1\n");
	P("       ----                    ----\n");
	P("  lock(%s);\n", nm[0]);
	P("                               lock(%s);\n", nm[n - 1]);
	P("                               lock(%s);\n", nm[0]);
	P("  lock(%s);\n", nm[1]);
	P("\n *** DEADLOCK ***\n");
	P("\n(lock(%s_reclaim) is an allocation that may enter %s reclaim, or a reclaim callback running)\n", rn, rn);
#undef P
	(void)t;
}

void fsr_graph_edge_slow(struct fsr_thread *t, unsigned int a, unsigned int b,
			 unsigned int flags, int quiet)
{
	uint16_t cyc[MAX_CYCLE];
	int report = 0, n = 0;
	if (a == b || fsr_class_excluded(a) || fsr_class_excluded(b))
		return;
	fsr_busy_enter(t);
	fsr_mutex_lock(&graph_lock);
	unsigned int old = fsr_graph_edge(a, b);
	if ((old & flags) == flags) {
		fsr_mutex_unlock(&graph_lock);
		t->busy--;
		return;
	}
	if (!(old & FSR_EDGE_SEEN)) {
		struct edge *e = edge_new(a, b);
		if (e) {
			struct fsr_stack s;
			fsr_stack_capture(&s, "edge");
			e->n = s.n < EDGE_FRAMES ? s.n : EDGE_FRAMES;
			memcpy(e->pc, s.pc, (size_t)e->n * sizeof(void *));
			e->tid = fsr_gettid();
		}
	}
	edge_set(a, b, flags | old);
	n = find_cycle(a, b, cyc);
	struct edge *edges[MAX_CYCLE];
	if (n && !cycle_read_only(cyc, n) && !seen_cycle(cycle_key(cyc, n)) && !quiet) {
		for (int i = 0; i < n; i++) {
			edges[i] = edge_find(cyc[i], cyc[(i + 1) % n]);
			if (edges[i])
				edges[i]->reported = 1;
		}
		report = 1;
	}
	fsr_mutex_unlock(&graph_lock);
	if (report) {
		prefetch_cycle(t, edges, n);
		fsr_mutex_lock(&inv_lock);
		build_inversion(t, cyc, edges, n);
		fsr_report_locked(&inv);
		fsr_mutex_unlock(&inv_lock);
	}
	t->busy--;
}

/* graph_path (dot.c): copy out the recorded edges (at most max), each with
 * the top frame of its first sighting, whether it lies on a cycle and
 * whether on a reported one.  The caller symbolizes them after the graph
 * lock is released (symbolizing may take the loader's lock). */
int fsr_graph_edges(struct fsr_graph_edge_info *out, int max)
{
	uint16_t path[MAX_CYCLE];
	int k = 0;
	fsr_mutex_lock(&graph_lock);
	for (uint32_t i = 0; i < nedges && k < max; i++) {
		struct edge *e = edge_at(i);
		out[k].from = e->from;
		out[k].to = e->to;
		out[k].bits = fsr_graph_edge(e->from, e->to);
		out[k].site = e->n ? e->pc[0] : NULL;
		out[k].reported = e->reported;
		out[k].on_cycle = bfs(e->to, e->from, path, MAX_CYCLE) > 0;
		k++;
	}
	fsr_mutex_unlock(&graph_lock);
	return k;
}

void fsr_graph_acquire(struct fsr_thread *t, unsigned int cls, int read, int quiet)
{
	unsigned int dw = read ? 0 : FSR_EDGE_DSTW;
	for (int i = 0; i < t->nheld; i++) {
		const struct fsr_held *h = &t->held[i];
		if (h->cls && h->cls != cls)
			fsr_graph_edge_check(t, h->cls, cls, FSR_EDGE_SEEN | dw | (h->read ? 0 : FSR_EDGE_SRCW), quiet);
	}
	unsigned int rc = fsr_graph_reclaim_class(t);
	if (rc)
		fsr_graph_edge_check(t, rc, cls, FSR_EDGE_SEEN | FSR_EDGE_SRCW | dw, quiet);
}

/* ---- needless-nofs bookkeeping ---- */
#define NOFS_CLS 16
static __thread struct {
	int active;
	void *site;
	uint64_t allocs0;
	int ncls, overflow;
	uint16_t cls[NOFS_CLS];
} nofs_tls __attribute__((tls_model("initial-exec")));

#define MAX_NOFS_SITES 256
static struct nofs_site {
	void *site;
	const char *mask_fn;     /* an explicit mask (gfp.c): the call's name; NULL: a NOFS scope */
	unsigned int mask;
	int ncls, overflow;
	uint16_t cls[NOFS_CLS];
	uint64_t allocs;
} nofs_sites[MAX_NOFS_SITES];
static int nnofs_sites;
static struct fsr_mutex nofs_lock;

static void nofs_note_held(struct fsr_thread *t)
{
	for (int i = 0; i < t->nheld; i++) {
		unsigned int c = t->held[i].cls;
		int k;
		if (!c)
			continue;
		for (k = 0; k < nofs_tls.ncls; k++)
			if (nofs_tls.cls[k] == c)
				break;
		if (k < nofs_tls.ncls)
			continue;
		if (nofs_tls.ncls < NOFS_CLS)
			nofs_tls.cls[nofs_tls.ncls++] = (uint16_t)c;
		else
			nofs_tls.overflow = 1;
	}
}

void fsr_graph_scope_save(struct fsr_thread *t, unsigned int kind, unsigned int newly, void *site)
{
	if (!fsr_opt.detect_needless_nofs || kind != FSR_PF_NOFS || !(newly & FSR_PF_NOFS) || nofs_tls.active)
		return;
	if (t->flags & (FSR_PF_NOIO | FSR_PF_IOFLUSHER | FSR_PF_NORECLAIM) || t->in_reclaim)
		return;
	nofs_tls.active = 1;
	nofs_tls.site = site;
	nofs_tls.allocs0 = fsr_thread_allocs(t);
	nofs_tls.ncls = nofs_tls.overflow = 0;
}

void fsr_graph_scope_restore(struct fsr_thread *t, unsigned int newly, unsigned int kind)
{
	if (!nofs_tls.active || kind != FSR_PF_NOFS || !(newly & FSR_PF_NOFS))
		return;
	nofs_tls.active = 0;
	uint64_t n = fsr_thread_allocs(t) - nofs_tls.allocs0;
	if (!n)
		return;
	fsr_busy_enter(t);
	fsr_mutex_lock(&nofs_lock);
	struct nofs_site *s = NULL;
	for (int i = 0; i < nnofs_sites; i++)
		if (nofs_sites[i].site == nofs_tls.site && !nofs_sites[i].mask_fn) { s = &nofs_sites[i]; break; }
	if (!s && nnofs_sites < MAX_NOFS_SITES) {
		s = &nofs_sites[nnofs_sites++];
		s->site = nofs_tls.site;
	}
	if (s) {
		s->allocs += n;
		s->overflow |= nofs_tls.overflow;
		for (int i = 0; i < nofs_tls.ncls; i++) {
			int k;
			for (k = 0; k < s->ncls; k++)
				if (s->cls[k] == nofs_tls.cls[i])
					break;
			if (k < s->ncls)
				continue;
			if (s->ncls < NOFS_CLS)
				s->cls[s->ncls++] = nofs_tls.cls[i];
			else
				s->overflow = 1;
		}
	}
	fsr_mutex_unlock(&nofs_lock);
	t->busy--;
}

/* an explicit NOFS/NOIO mask (gfp.c): the call site, with the classes held
 * now; an open transaction makes it needed (reclaim must not nest into one) */
void fsr_graph_mask_note(struct fsr_thread *t, unsigned int gfp, void *site, const char *fn)
{
	gfp &= FSR_GFP_IO | FSR_GFP_FS;
	fsr_mutex_lock(&nofs_lock);
	struct nofs_site *s = NULL;
	for (int i = 0; i < nnofs_sites; i++)
		if (nofs_sites[i].site == site && nofs_sites[i].mask_fn && nofs_sites[i].mask == gfp) {
			s = &nofs_sites[i];
			break;
		}
	if (!s && nnofs_sites < MAX_NOFS_SITES) {
		s = &nofs_sites[nnofs_sites++];
		s->site = site;
		s->mask_fn = fn;
		s->mask = gfp;
	}
	if (s) {
		s->allocs++;
		s->overflow |= t->txn_depth > 0;
		for (int i = 0; i < t->nheld; i++) {
			unsigned int c = t->held[i].cls;
			int k;
			if (!c)
				continue;
			for (k = 0; k < s->ncls; k++)
				if (s->cls[k] == c)
					break;
			if (k < s->ncls)
				continue;
			if (s->ncls < NOFS_CLS)
				s->cls[s->ncls++] = (uint16_t)c;
			else
				s->overflow = 1;
		}
	}
	fsr_mutex_unlock(&nofs_lock);
}

/* ---- fork ---- */
void fsr_graph_atfork_prepare(void)
{
	fsr_mutex_lock(&graph_lock);
	fsr_mutex_lock(&nofs_lock);
}
void fsr_graph_atfork_parent(void)
{
	fsr_mutex_unlock(&nofs_lock);
	fsr_mutex_unlock(&graph_lock);
}
void fsr_graph_atfork_child(void)
{
	nofs_lock.v = graph_lock.v = inv_lock.v = 0;
}

/* ---- the calls from the core ---- */

/* held sets (by their chain, lockdep.h) that had all their edges to the reclaim
 * pseudo-locks at an allocation with this gfp */
#define ma_memo (fsr_ltls.ma_memo)

__attribute__((noinline)) static void might_alloc_slow(struct fsr_thread *t, unsigned int gfp, uint64_t sig)
{
	unsigned int slot = (unsigned int)(sig >> 61);
	if (nofs_tls.active && !(gfp & FSR_GFP_FS))
		nofs_note_held(t);
	if (ma_memo[slot].sig == sig && ma_memo[slot].gfp == gfp)
		return;
	for (int i = 0; i < t->nheld; i++) {
		const struct fsr_held *h = &t->held[i];
		unsigned int c = h->cls, w = h->read ? 0 : FSR_EDGE_SRCW;
		if (!c)
			continue;
		if (gfp & FSR_GFP_FS)
			fsr_graph_edge_check(t, c, FSR_CLS_FS_RECLAIM, FSR_EDGE_SEEN | FSR_EDGE_DSTW | w, 0);
		if (gfp & FSR_GFP_IO)
			fsr_graph_edge_check(t, c, FSR_CLS_IO_RECLAIM, FSR_EDGE_SEEN | FSR_EDGE_DSTW | w, 0);
	}
	ma_memo[slot].sig = sig;
	ma_memo[slot].gfp = gfp;
}

void fsr_graph_might_alloc(struct fsr_thread *t, unsigned int gfp)
{
	if (likely(!nofs_tls.active && fsr_graph_alloc_known(gfp)))
		return;
	might_alloc_slow(t, gfp, fsr_held_chain(t));
}

/* the held stack's chain starts at the reclaim pseudo-lock held (lockdep.h):
 * rebased when it changes */
void fsr_graph_reclaim_enter(struct fsr_thread *t, unsigned int gfp)
{
	t->in_reclaim++;
	t->reclaim_gfp = gfp;
	fsr_held_resig(t);
}

void fsr_graph_reclaim_exit(struct fsr_thread *t)
{
	if (t->in_reclaim > 0)
		t->in_reclaim--;
	fsr_held_resig(t);
}

void fsr_graph_exit_checks(void)
{
	if (!fsr_opt.detect_needless_nofs)
		return;
	fsr_mutex_lock(&nofs_lock);
	for (int i = 0; i < nnofs_sites; i++) {
		struct nofs_site *s = &nofs_sites[i];
		int needed = s->overflow;
		for (int k = 0; k < s->ncls && !needed; k++)
			if ((fsr_graph_edge(FSR_CLS_FS_RECLAIM, s->cls[k]) & FSR_EDGE_SEEN) ||
			    (fsr_graph_edge(FSR_CLS_IO_RECLAIM, s->cls[k]) & FSR_EDGE_SEEN))
				needed = 1;
		if (needed)
			continue;
		struct fsr_hazard h;
		fsr_hazard_init(&h, "needless-nofs", FSR_WARNING);
		h.op = NULL;
		if (s->ncls) {
			char names[256];
			size_t o = 0;
			for (int k = 0; k < s->ncls && o < sizeof names; k++) {
				char nm[64];
				fsr_class_name(s->cls[k], nm, sizeof nm);
				o += (size_t)fsr_fmt(names + o, sizeof names - o, "%s%s", k ? ", " : "", nm);
				if (h.nlocks < FSR_MAX_REPORT_LOCKS) {
					struct fsr_report_lock *l = &h.locks[h.nlocks++];
					memcpy(l->name, nm, sizeof l->name);
					l->cls = s->cls[k];
					l->site = fsr_classes[s->cls[k]].site;
				}
			}
			if (s->mask_fn)
				fsr_fmt(h.message, sizeof h.message,
					"%s(%s) called %llu time%s while holding only %s, which no reclaim took "
					"during the run: a \"just in case\" mask only keeps reclaim from freeing "
					"memory (pass GFP_KERNEL; a scope belongs where a lock that reclaim takes "
					"is held)", s->mask_fn, s->mask & FSR_GFP_IO ? "GFP_NOFS" : "GFP_NOIO",
					(unsigned long long)s->allocs, s->allocs > 1 ? "s" : "", names);
			else
			fsr_fmt(h.message, sizeof h.message,
				"a memalloc_nofs_save() scope covered %llu allocation%s while holding only %s, "
				"which no reclaim took during the run: the scope only keeps reclaim from "
				"freeing memory", (unsigned long long)s->allocs, s->allocs > 1 ? "s" : "", names);
		} else if (s->mask_fn)
			fsr_fmt(h.message, sizeof h.message,
				"%s(%s) called %llu time%s while no lock was held and no transaction was "
				"open: reclaim could not deadlock there, a \"just in case\" mask only keeps "
				"it from freeing memory (pass GFP_KERNEL)", s->mask_fn,
				s->mask & FSR_GFP_IO ? "GFP_NOFS" : "GFP_NOIO",
				(unsigned long long)s->allocs, s->allocs > 1 ? "s" : "");
		else
			fsr_fmt(h.message, sizeof h.message,
				"a memalloc_nofs_save() scope covered %llu allocation%s while no lock was held: "
				"reclaim could not deadlock there, the scope only keeps it from freeing memory",
				(unsigned long long)s->allocs, s->allocs > 1 ? "s" : "");
		fsr_stack_from_pc(&h.stacks[h.nstacks++], s->mask_fn ? "mask passed at" : "NOFS scope opened at", s->site);
		fsr_report(&h);
	}
	fsr_mutex_unlock(&nofs_lock);
}
