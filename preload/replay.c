/* replay.c - reports that reproduce: the schedule of a pass, the replay
 * key printed with its report, replay=KEY, record=PATH and the schedule
 * digest (REPLAY.md 3.3).
 *
 * A pass is named by what does not depend on other threads: the thread's
 * creation-path key and its n-th may-reclaim allocation (exact key), the
 * FUSE op and the k-th may-reclaim allocation inside it (op key), and the
 * allocation's stack as module build-id + offset (site key, immune to
 * ASLR): its top frame (malloc's return address) in the high 32 bits, the
 * 8 frames below malloc in the low 32.  The site is hashed at a pass from
 * the backtrace that stack.c takes there anyway; its occurrence (site_hit)
 * is the count of its top frame among the op's may-reclaim allocations
 * (fsr.h's per-thread table, filled on malloc's slow path, which an op's
 * allocations take).  Replay mode compares the top frame first and unwinds
 * only on a match.  With replay= set every allocation takes policy.c's slow
 * path (fsr_slow_all), so that n and the op's count are exact at each look.
 *
 * The callbacks' targets are named by what outlives node ids and file
 * handles: an entry by its path from the root, a handle by its open order
 * in the session and its path ("#3:/d1/f").  A replayed pass chooses the
 * same target again if the kernel still holds it, else the first eligible
 * one, and says so. */
#include "fsr.h"
#include "modules.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECORD_MAX 4096         /* passes a replay=@PATH can hold */

int fsr_replay_on;
static int record_fd = -1;      /* record=PATH.PID */

enum { KEY_NONE, KEY_SITE, KEY_OP, KEY_EXACT, KEY_RECORD };

static struct {
	int kind;
	uint64_t site;              /* KEY_SITE */
	uint64_t k;                 /* KEY_SITE, KEY_OP: k-th; 0 with every = 1 */
	int every;                  /* site/HASH/ * */
	char op[32];                /* KEY_SITE (optional), KEY_OP */
	char thread[FSR_KEY_LEN];   /* KEY_EXACT */
	uint64_t n;                 /* KEY_EXACT */
	uint64_t fired;             /* atomic: passes this key gave */
	uint64_t site_hits;         /* atomic: top-frame matches outside an op (per process) */
	int site_fired;             /* atomic: fired outside an op */
	int nwant;                  /* /target=: the targets the pass chose */
	char want_type[FSR_SCHED_TARGETS];
	uint32_t want[FSR_SCHED_TARGETS];
} key;

static struct rec_entry {
	uint64_t site, hit;
	char op[32];
	int used;
	int nwant;
	char want_type[FSR_SCHED_TARGETS];
	uint32_t want[FSR_SCHED_TARGETS];
	char want_name[FSR_SCHED_TARGETS][64];
} *rec;
static size_t nrec;
static __thread int rec_fired = -1;     /* the record entry the last match fired */

/* ---- site hash ---- */

/* a module's hash, cached per thread (module pointers stay valid for the
 * life of the process, modules.h) */
#define MODHASH_CACHE 8
static __thread struct { const struct fsr_module *m; uint64_t h; } modhash[MODHASH_CACHE];

static uint64_t module_hash_of(const struct fsr_module *m)
{
	uint64_t h = 0x6d6f64ull;
	if (m->build_id_len)
		for (int i = 0; i < m->build_id_len; i++)
			h = fsr_mix64(h ^ m->build_id[i]);
	else
		for (const char *p = m->path; *p; p++)
			h = fsr_mix64(h ^ (unsigned char)*p);
	return h;
}

static uint64_t module_hash(const struct fsr_module *m)
{
	unsigned int i = (unsigned int)(((uintptr_t)m >> 4) % MODHASH_CACHE);
	if (modhash[i].m != m) {
		modhash[i].h = module_hash_of(m);
		modhash[i].m = m;
	}
	return modhash[i].h;
}

static uint64_t pc_hash(const struct fsr_module *m, uintptr_t pc, uint64_t i)
{
	return m ? module_hash(m) ^ fsr_mix64(pc - m->bias) : 0xdead ^ fsr_mix64(i);
}

/* the top frame's part of a site; per thread, the last few asked */
#define TOP_CACHE 16
static __thread struct { const void *ra; uint32_t h; } topc[TOP_CACHE];

static uint32_t top_hash(const void *ra)
{
	unsigned int i = (unsigned int)(((uintptr_t)ra >> 4) % TOP_CACHE);
	if (topc[i].ra != ra || !ra) {
		topc[i].h = (uint32_t)fsr_mix64(0x746f70ull ^ (ra ? pc_hash(fsr_module_of((uintptr_t)ra), (uintptr_t)ra, 99) : 0));
		topc[i].ra = ra;
	}
	return topc[i].h;
}

/* Below the program's own frames, those of the runtime that called it
 * (libfuse's dispatcher, libc's thread start) are not part of the site:
 * libfuse's worker loop reaches the same op through another call site
 * when it started a new worker first, which the thread pool's state (the
 * timing) decides, so one allocation got two sites and a replay by site
 * missed it under load.  A stack of libc or libfuse alone (their own
 * allocations) keeps all its frames. */
uint64_t fsr_site_of(const void *ra, void *const *pc, int n)
{
	uint64_t h = 0x73697465ull;
	int own = 0;
	for (int i = 0; i < n && i < FSR_SITE_FRAMES; i++) {
		const struct fsr_module *m = fsr_module_of((uintptr_t)pc[i]);
		int runtime = m && (m->flags & (FSR_MOD_LIBC | FSR_MOD_LIBFUSE));
		if (runtime && own)
			continue;
		if (m && !runtime)
			own = 1;
		h = fsr_mix64(h ^ pc_hash(m, (uintptr_t)pc[i], (uint64_t)i));
	}
	return (uint64_t)top_hash(ra) << 32 | (uint32_t)h;
}

uint64_t fsr_site_hash(const struct fsr_stack *s, const void *ra)
{
	return fsr_site_of(ra, s->pc, s->n);
}

static uint64_t site_now(const struct fsr_thread *t)
{
	struct fsr_stack s;
	fsr_stack_capture(&s, "allocation");
	return fsr_site_hash(&s, t->alloc_ra);
}

/* ---- the command line, for the replay line ---- */

static char cmdline[4096];
static size_t cmdline_len;
static char env_opts[4096];

static void read_cmdline(void)
{
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t r;
	while (cmdline_len < sizeof cmdline - 1 &&
	       (r = read(fd, cmdline + cmdline_len, sizeof cmdline - 1 - cmdline_len)) > 0)
		cmdline_len += (size_t)r;
	close(fd);
	const char *e = getenv("FSRECLAIM_OPTIONS");
	if (e) {
		size_t n = strnlen(e, sizeof env_opts - 1);
		memcpy(env_opts, e, n);
		env_opts[n] = 0;
	}
}

/* one shell word, single-quoted where needed */
static size_t put_word(char *b, size_t len, const char *w, size_t n)
{
	size_t o = 0;
	int plain = n > 0;
	for (size_t i = 0; i < n; i++) {
		char c = w[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("/._-=,+@%", c)))
			plain = 0;
	}
	if (plain) {
		if (n >= len)
			return 0;
		memcpy(b, w, n);
		return n;
	}
	if (o + 1 < len)
		b[o++] = '\'';
	for (size_t i = 0; i < n && o + 5 < len; i++) {
		if (w[i] == '\'') {
			memcpy(b + o, "'\\''", 4);
			o += 4;
		} else
			b[o++] = w[i];
	}
	if (o + 1 < len)
		b[o++] = '\'';
	return o;
}

/* ---- the schedule of a pass ---- */

void fsr_schedule_begin(struct fsr_pass *p, struct fsr_thread *t, uint64_t number)
{
	struct fsr_schedule *s = &p->sched;
	s->valid = 1;
	s->seed = fsr_opt.seed;
	s->pass = number;
	s->n = t->may_reclaim;
	s->op = t->op;
	s->op_hit = t->op ? t->may_reclaim - t->op_n0 : 0;
	s->site_hit = t->flags & FSR_PF_OP ? fsr_op_site_hit(t, t->alloc_ra, 0) : 0;
	s->tid = t->tid;
	s->key_hash = t->key_hash;
	memcpy(s->thread_key, t->key, sizeof s->thread_key);
	/* stack.c hashed this allocation's stack when the pass was decided
	 * (or replay mode did, at the look) */
	s->site = t->sched_site_valid ? t->sched_site : 0;
	s->site_done = t->sched_site_valid;
	t->sched_site_valid = 0;
	s->callback = p->shrink && p->fuse ? "shrinkers+fuse" : p->shrink ? "shrinkers" : "fuse";
	s->ran[0] = 0;
	s->target[0] = 0;
	s->ntargets = 0;
	__atomic_store_n(&s->recorded, 0, __ATOMIC_RELAXED);
	/* replay: the targets the original pass chose */
	s->nwant = 0;
	memset(s->want_used, 0, sizeof s->want_used);
	memset(s->want_name, 0, sizeof s->want_name);
	if (fsr_replay_on && key.kind == KEY_RECORD && rec_fired >= 0) {
		const struct rec_entry *r = &rec[rec_fired];
		s->nwant = r->nwant;
		memcpy(s->want_type, r->want_type, sizeof s->want_type);
		memcpy(s->want, r->want, sizeof s->want);
		memcpy(s->want_name, r->want_name, sizeof s->want_name);
	} else if (fsr_replay_on) {
		s->nwant = key.nwant;
		memcpy(s->want_type, key.want_type, sizeof s->want_type);
		memcpy(s->want, key.want, sizeof s->want);
	}
	rec_fired = -1;
}

/* The pass runs.  Its site comes from the pass's decision (stack.c); a
 * pass begun some other way (the unit tests) hashes a stack here. */
void fsr_schedule_site(struct fsr_pass *p, const struct fsr_stack *alloc)
{
	struct fsr_schedule *s = &p->sched;
	if (!s->site_done) {
		s->site = alloc ? fsr_site_hash(alloc, p->allocator ? p->allocator->alloc_ra : NULL)
				: site_now(fsr_thread_self());
		s->site_done = 1;
	}
}

static void say_unmet(struct fsr_schedule *s);

/* its callbacks returned (done), or it was given up (abandoned, timed
 * out): the record line and digest once, at the first of these */
void fsr_schedule_end(struct fsr_pass *p, int done)
{
	struct fsr_schedule *s = &p->sched;
	if (!s->valid)
		return;
	fsr_mutex_lock(&p->sched_lock);
	if (!__atomic_exchange_n(&s->recorded, 1, __ATOMIC_ACQ_REL)) {
		fsr_record_pass(s, "run");
		fsr_digest_add(s);
	}
	if (done)
		say_unmet(s);
	fsr_mutex_unlock(&p->sched_lock);
}

/* a target's text, percent-encoded where it would break a record line or
 * a list ('/' kept) */
size_t fsr_target_put(char *b, size_t len, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (const unsigned char *c = (const unsigned char *)str; *c && o + 4 < len; c++) {
		if (*c <= ' ' || *c >= 0x7f || *c == '%' || *c == ',') {
			b[o++] = '%';
			b[o++] = hex[*c >> 4];
			b[o++] = hex[*c & 15];
		} else
			b[o++] = (char)*c;
	}
	if (len)
		b[o < len ? o : len - 1] = 0;
	return o;
}

size_t fsr_target_path(char *b, size_t len, const char *const *names, int n)
{
	size_t o = 0;
	if (!len)
		return 0;
	b[0] = 0;
	while (n-- > 0 && o + 2 < len) {
		b[o++] = '/';
		o += fsr_target_put(b + o, len - o, names[n]);
	}
	if (!o && len > 1) {       /* the root itself */
		b[0] = '/';
		b[1] = 0;
		o = 1;
	}
	return o;
}

uint32_t fsr_target_hash(const char *target)
{
	uint64_t h = 0x746172ull;
	for (const char *c = target; *c; c++)
		h = fsr_mix64(h ^ (unsigned char)*c);
	return (uint32_t)h ? (uint32_t)h : 1;
}

static char target_type(const char *t)
{
	return t[0] == '#' ? 'h' : 'e';
}

static void schedule_callback(struct fsr_pass *p, const char *kind, char type, const char *target);

void fsr_schedule_callback(struct fsr_pass *p, const char *kind, char type, const char *target)
{
	fsr_mutex_lock(&p->sched_lock);
	schedule_callback(p, kind, type, target);
	fsr_mutex_unlock(&p->sched_lock);
}

static void schedule_callback(struct fsr_pass *p, const char *kind, char type, const char *target)
{
	struct fsr_schedule *s = &p->sched;
	size_t o;
	if (kind) {
		o = strlen(s->ran);
		if (o + strlen(kind) + 2 < sizeof s->ran)
			fsr_fmt(s->ran + o, sizeof s->ran - o, "%s%s", o ? "+" : "", kind);
	}
	if (type && target) {
		o = strlen(s->target);
		if (o + strlen(target) + 2 < sizeof s->target) {
			fsr_fmt(s->target + o, sizeof s->target - o, "%s%s", o ? "," : "", target);
			s->ntargets++;
		}
		for (int i = 0; i < s->nwant; i++)
			if (s->want_type[i] == type && !s->want_used[i]) {
				s->want_used[i] = 1;
				break;
			}
	}
}

uint32_t fsr_schedule_want(const struct fsr_pass *p, char type)
{
	const struct fsr_schedule *s = &p->sched;
	for (int i = 0; i < s->nwant; i++)
		if (s->want_type[i] == type && !s->want_used[i])
			return s->want[i];
	return 0;
}

static void want_name(const struct fsr_schedule *s, int i, char *b, size_t len)
{
	if (s->want_name[i][0])
		fsr_fmt(b, len, "%s", s->want_name[i]);
	else
		fsr_fmt(b, len, "%c%08x", s->want_type[i], (unsigned int)s->want[i]);
}

/* the want_used states: 0 not chosen yet, 1 chosen (or replaced), 2 said gone */
void fsr_schedule_instead(struct fsr_pass *p, char type, const char *kind, const char *took)
{
	struct fsr_schedule *s = &p->sched;
	char name[80];
	name[0] = 0;
	fsr_mutex_lock(&p->sched_lock);
	for (int i = 0; i < s->nwant; i++)
		if (s->want_type[i] == type && !s->want_used[i]) {
			want_name(s, i, name, sizeof name);
			if (!took)
				s->want_used[i] = 2;
			break;
		}
	fsr_mutex_unlock(&p->sched_lock);
	const char *what = type == 'h' ? "handle" : "entry";
	if (took)
		fsr_say("fsreclaim: replay: pass #%llu: the %s it chose (%s) is not held by the kernel now: "
			"%s on the first eligible one instead, %s", (unsigned long long)s->pass, what, name, kind, took);
	else
		fsr_say("fsreclaim: replay: pass #%llu: the %s it chose (%s) is not held by the kernel now, "
			"and no other is eligible: no %s", (unsigned long long)s->pass, what, name, kind);
}

/* a target the pass never came to choose: the kernel held nothing of
 * that kind that the pass could call back on */
static void say_unmet(struct fsr_schedule *s)
{
	for (int i = 0; i < s->nwant; i++)
		if (!s->want_used[i]) {
			char name[80];
			want_name(s, i, name, sizeof name);
			s->want_used[i] = 2;
			fsr_say("fsreclaim: replay: pass #%llu: the %s it chose (%s) is not held by the kernel now, "
				"and no other is eligible: not called back", (unsigned long long)s->pass,
				s->want_type[i] == 'h' ? "handle" : "entry", name);
		}
}

void fsr_schedule_snap(struct fsr_schedule *dst, struct fsr_pass *p)
{
	if (p && p->sched.valid) {
		fsr_mutex_lock(&p->sched_lock);
		*dst = p->sched;
		fsr_mutex_unlock(&p->sched_lock);
	} else
		dst->valid = 0;
}

/* "/target=h1a2b3c4d,e..." for the key: each target by type and hash */
static size_t key_targets(const struct fsr_schedule *s, char *b, size_t len)
{
	size_t o = 0;
	if (!s->target[0])
		return 0;
	o += (size_t)fsr_fmt(b, len, "/target=");
	const char *t = s->target;
	for (int n = 0; *t && n < FSR_SCHED_TARGETS && o + 12 < len; n++) {
		char one[sizeof s->target];
		size_t l = strcspn(t, ",");
		memcpy(one, t, l);
		one[l] = 0;
		o += (size_t)fsr_fmt(b + o, len - o, "%s%c%08x", n ? "," : "", target_type(one),
				     (unsigned int)fsr_target_hash(one));
		t += l;
		if (*t == ',')
			t++;
	}
	return o;
}

/* the option value that gives this pass again */
void fsr_schedule_key(const struct fsr_schedule *s, char *b, size_t len)
{
	size_t o;
	if (s->op)
		o = (size_t)fsr_fmt(b, len, "op/%s/%llu", s->op, (unsigned long long)s->op_hit);
	else
		o = (size_t)fsr_fmt(b, len, "exact/%llu/%s/%llu", (unsigned long long)s->seed, s->thread_key,
				    (unsigned long long)s->n);
	if (o < len)
		key_targets(s, b + o, len - o);
}

static const char *ran_of(const struct fsr_schedule *s)
{
	return s->ran[0] ? s->ran : s->callback;
}

size_t fsr_schedule_text(const struct fsr_schedule *s, char *b, size_t len)
{
	if (!s->valid || len < 2)
		return 0;
	char k[256];
	size_t o;
	fsr_schedule_key(s, k, sizeof k);
	char site[24];
	if (s->site_done)
		fsr_fmt(site, sizeof site, "%016llx", (unsigned long long)s->site);
	else
		fsr_fmt(site, sizeof site, "unknown");
	o = (size_t)fsr_fmt(b, len, "  schedule: seed=%llu pass=#%llu thread=%s (tid %d) n=%llu site=%s",
			    (unsigned long long)s->seed, (unsigned long long)s->pass, s->thread_key,
			    (int)s->tid, (unsigned long long)s->n, site);
	if (s->site_hit && o < len)
		o += (size_t)fsr_fmt(b + o, len - o, " hit=%llu", (unsigned long long)s->site_hit);
	if (s->op && o < len)
		o += (size_t)fsr_fmt(b + o, len - o, " in op %s (its allocation %llu)", s->op,
				     (unsigned long long)s->op_hit);
	if (o < len)
		o += (size_t)fsr_fmt(b + o, len - o, " callback=%s target=%s\n  replay:   ", ran_of(s),
				     s->target[0] ? s->target : "-");
	if (env_opts[0] && o < len) {
		o += (size_t)fsr_fmt(b + o, len - o, "FSRECLAIM_OPTIONS=");
		if (o < len)
			o += put_word(b + o, len - o, env_opts, strlen(env_opts));
		if (o < len)
			b[o++] = ' ';
	}
	if (o < len)
		o += (size_t)fsr_fmt(b + o, len - o, "fsreclaim-run --opt replay=%s --", k);
	for (size_t i = 0; i < cmdline_len && o + 2 < len;) {
		size_t n = strnlen(cmdline + i, cmdline_len - i);
		b[o++] = ' ';
		o += put_word(b + o, len - o, cmdline + i, n);
		i += n + 1;
	}
	if (o + 1 < len)
		b[o++] = '\n';
	if (o >= len)
		o = len - 1;
	b[o] = 0;
	return o;
}

size_t fsr_schedule_json(const struct fsr_schedule *s, char *b, size_t len)
{
	if (!s->valid || len < 64)
		return 0;
	char k[256], site[24], hit[24];
	size_t o;
	fsr_schedule_key(s, k, sizeof k);
	if (s->site_done)
		fsr_fmt(site, sizeof site, "\"%016llx\"", (unsigned long long)s->site);
	else
		fsr_fmt(site, sizeof site, "null");
	if (s->site_hit)
		fsr_fmt(hit, sizeof hit, "%llu", (unsigned long long)s->site_hit);
	else
		fsr_fmt(hit, sizeof hit, "null");
	o = (size_t)fsr_fmt(b, len, ",\"schedule\":{\"seed\":%llu,\"pass\":%llu,\"thread_key\":",
			    (unsigned long long)s->seed, (unsigned long long)s->pass);
	o += fsr_json_str(b + o, len - o, s->thread_key);
	o += (size_t)fsr_fmt(b + o, len - o, ",\"n\":%llu,\"site\":%s,\"site_hit\":%s,\"op\":",
			     (unsigned long long)s->n, site, hit);
	o += fsr_json_str(b + o, len - o, s->op);
	o += (size_t)fsr_fmt(b + o, len - o, ",\"op_hit\":%llu,\"callback\":", (unsigned long long)s->op_hit);
	o += fsr_json_str(b + o, len - o, ran_of(s));
	o += (size_t)fsr_fmt(b + o, len - o, ",\"target\":");
	o += fsr_json_str(b + o, len - o, s->target[0] ? s->target : NULL);
	o += (size_t)fsr_fmt(b + o, len - o, "},\"replay\":");
	o += fsr_json_str(b + o, len - o, k);
	return o < len ? o : len - 1;
}

/* ---- replay=KEY ---- */

#define MAXW 6
/* split v at '/' into words; MAXW + 1 when there are more */
static int words(const char *v, size_t n, const char *w[MAXW], size_t wn[MAXW])
{
	int c = 0;
	size_t i = 0;
	for (;;) {
		if (c == MAXW)
			return MAXW + 1;
		size_t j = i;
		while (j < n && v[j] != '/')
			j++;
		w[c] = v + i;
		wn[c] = j - i;
		c++;
		if (j >= n)
			return c;
		i = j + 1;
	}
}

static int num(const char *s, size_t n, int base, uint64_t *out)
{
	char tmp[32], *e;
	if (!n || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	if (tmp[0] == '-' || tmp[0] == '+' || tmp[0] == ' ')
		return -1;
	errno = 0;
	*out = strtoull(tmp, &e, base);
	return *e || errno ? -1 : 0;
}

static int copy_word(char *dst, size_t len, const char *s, size_t n)
{
	if (!n || n >= len)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] == '/' || s[i] == ':' || (unsigned char)s[i] >= 0x7f)
			return -1;
	memcpy(dst, s, n);
	dst[n] = 0;
	return 0;
}

/* "target=h1a2b3c4d,e0badf00d": the targets of the pass, by type and hash */
static int parse_targets(const char *s, size_t n, int apply)
{
	if (n < 8 || memcmp(s, "target=", 7))
		return -1;
	s += 7;
	n -= 7;
	int c = 0;
	while (n) {
		size_t l = 0;
		while (l < n && s[l] != ',')
			l++;
		uint64_t h;
		if (c == FSR_SCHED_TARGETS || l < 2 || l > 9 || (s[0] != 'h' && s[0] != 'e') ||
		    num(s + 1, l - 1, 16, &h) || !h)
			return -1;
		if (apply) {
			key.want_type[c] = s[0];
			key.want[c] = (uint32_t)h;
		}
		c++;
		if (l == n)
			break;
		s += l + 1;
		n -= l + 1;
		if (!n)
			return -1;
	}
	if (apply)
		key.nwant = c;
	return 0;
}

/* Check a replay= value; with apply set, make it the key of this process.
 * Returns NULL when it is well formed, else why not. */
const char *fsr_replay_check(const char *v, size_t n, int apply)
{
	const char *w[MAXW];
	size_t wn[MAXW];
	uint64_t x;
	if (n == 0)
		return "is empty";
	if (v[0] == '@')
		return n > 1 && v[1] ? NULL : "names no record file";
	int c = words(v, n, w, wn);
	/* an optional last part: the callbacks' targets */
	if (c >= 2 && c <= MAXW && wn[c - 1] >= 7 && !memcmp(w[c - 1], "target=", 7)) {
		if (parse_targets(w[c - 1], wn[c - 1], apply))
			return "has a target= part that is not a list of hTARGET or eTARGET hashes (at most 4)";
		c--;
	}
	if (wn[0] == 4 && !memcmp(w[0], "site", 4)) {
		if (c < 3 || c > 4 || num(w[1], wn[1], 16, &x))
			return "is not site/HASH/K[/op=NAME] or site/HASH/*";
		if (apply) {
			key.kind = KEY_SITE;
			key.site = x;
		}
		if (wn[2] == 1 && w[2][0] == '*') {
			if (apply)
				key.every = 1;
		} else if (num(w[2], wn[2], 10, &x) || !x)
			return "is not site/HASH/K[/op=NAME] with K a count from 1";
		else if (apply)
			key.k = x;
		if (c == 4) {
			char op[32];
			if (wn[3] < 4 || memcmp(w[3], "op=", 3) || copy_word(op, sizeof op, w[3] + 3, wn[3] - 3))
				return "has a fourth part that is not op=NAME";
			if (apply)
				memcpy(key.op, op, sizeof op);
		}
		return NULL;
	}
	if (wn[0] == 2 && !memcmp(w[0], "op", 2)) {
		char op[32];
		if (c != 3 || copy_word(op, sizeof op, w[1], wn[1]) || num(w[2], wn[2], 10, &x) || !x)
			return "is not op/NAME/K with K a count from 1";
		if (apply) {
			key.kind = KEY_OP;
			memcpy(key.op, op, sizeof op);
			key.k = x;
		}
		return NULL;
	}
	if (wn[0] == 5 && !memcmp(w[0], "exact", 5)) {
		char th[FSR_KEY_LEN];
		uint64_t seed;
		if (c != 4 || num(w[1], wn[1], 10, &seed) || copy_word(th, sizeof th, w[2], wn[2]) ||
		    num(w[3], wn[3], 10, &x) || !x)
			return "is not exact/SEED/THREADKEY/N with N a count from 1";
		if (apply) {
			key.kind = KEY_EXACT;
			memcpy(key.thread, th, sizeof th);
			key.n = x;
			fsr_opt.seed = seed;
		}
		return NULL;
	}
	return "is not site/..., op/..., exact/... or @PATH";
}

/* a record line's field NAME=VALUE: its value, length in *n; NULL if absent */
static const char *field(const char *l, const char *name, size_t *n)
{
	size_t nl = strlen(name);
	for (const char *f = l; (f = strstr(f, name)); f++)
		if ((f == l || f[-1] == ' ') && f[nl] == '=') {
			*n = strcspn(f + nl + 1, " ");
			return f + nl + 1;
		}
	return NULL;
}

/* a record's target= list: each target's type, hash and text */
static void record_targets(struct rec_entry *x, const char *t, size_t n)
{
	x->nwant = 0;
	if (n == 1 && t[0] == '-')
		return;
	while (n && x->nwant < FSR_SCHED_TARGETS) {
		size_t l = 0;
		while (l < n && t[l] != ',')
			l++;
		char one[256];
		size_t k = l < sizeof one - 1 ? l : sizeof one - 1;
		memcpy(one, t, k);
		one[k] = 0;
		int i = x->nwant++;
		x->want_type[i] = target_type(one);
		x->want[i] = fsr_target_hash(one);
		fsr_fmt(x->want_name[i], sizeof x->want_name[i], "%s", one);
		if (l == n)
			break;
		t += l + 1;
		n -= l + 1;
	}
}

/* replay=@PATH: the record's lines, each re-fired once by its site key */
static int load_record(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: replay: cannot read record '%s': %s",
			path, strerror(errno));
		return -1;
	}
	static char text[1 << 20];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof text - 1 && (r = read(fd, text + len, sizeof text - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	text[len] = 0;
	rec = fsr_alloc(RECORD_MAX * sizeof *rec);
	if (!rec) {
		fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: replay: out of memory");
		return -1;
	}
	int lineno = 0;
	for (char *l = text; *l; ) {
		char *e = strchr(l, '\n');
		if (e)
			*e = 0;
		lineno++;
		if (*l && *l != '#') {
			size_t sn = 0, on = 0, hn = 0, tn = 0, stn = 0;
			const char *site = field(l, "site", &sn), *op = field(l, "op", &on);
			const char *hit = field(l, "hit", &hn), *tg = field(l, "target", &tn);
			const char *st = field(l, "status", &stn);
			uint64_t h, k = 0;
			if (strncmp(l, "pass=", 5) || !site || !op || !hit || !tg || !st) {
				fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: replay: record '%s' line %d "
					"is not 'pass=N thread=K site=H hit=K op=NAME callback=KIND target=T status=S'",
					path, lineno);
				return -1;
			}
			if (num(site, sn, 16, &h) || (!(hn == 1 && hit[0] == '-') && num(hit, hn, 10, &k))) {
				fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: replay: record '%s' line %d "
					"has a bad site or hit", path, lineno);
				return -1;
			}
			if (stn == 3 && !memcmp(st, "run", 3) && nrec < RECORD_MAX) {
				struct rec_entry *x = &rec[nrec++];
				x->site = h;
				x->hit = k;
				size_t m = on < sizeof x->op ? on : sizeof x->op - 1;
				memcpy(x->op, op, m);
				x->op[m] = 0;
				if (!strcmp(x->op, "-"))
					x->op[0] = 0;
				record_targets(x, tg, tn);
			}
		}
		if (!e)
			break;
		l = e + 1;
	}
	if (!nrec) {
		fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: replay: record '%s' has no pass that ran",
			path);
		return -1;
	}
	key.kind = KEY_RECORD;
	return 0;
}

int fsr_replay_init(char *err, size_t errlen)
{
	read_cmdline();
	if (fsr_record_open(err, errlen))
		return -1;
	if (!fsr_opt.replay[0])
		return 0;
	if (fsr_opt.replay[0] == '@') {
		if (load_record(fsr_opt.replay + 1, err, errlen))
			return -1;
	} else
		fsr_replay_check(fsr_opt.replay, strlen(fsr_opt.replay), 1);
	fsr_replay_on = 1;
	return 0;
}

static int op_is(const struct fsr_thread *t, const char *name)
{
	return !name[0] || (t->op && !strcmp(t->op, name));
}

/* the allocation is its top frame's k-th in the op (FSR_PF_OP: counted) */
static uint64_t op_count(struct fsr_thread *t)
{
	return t->flags & FSR_PF_OP ? fsr_op_site_hit(t, t->alloc_ra, 0) : 0;
}

/* the whole stack, unwound only once the top frame matched */
static uint64_t site_checked(struct fsr_thread *t)
{
	t->sched_site = site_now(t);
	t->sched_site_valid = 1;
	return t->sched_site;
}

/* Replay mode, at each look of an allocation that may reclaim: does KEY
 * name this one?  (times= still bounds the passes.)  A site key compares
 * malloc's return address first (its top frame) and unwinds only then. */
int fsr_replay_match(struct fsr_thread *t, int64_t passes)
{
	rec_fired = -1;          /* a match the pass never used (no callback, libc's) is forgotten */
	if (fsr_opt.times >= 0 && passes >= fsr_opt.times)
		return 0;
	int hit = 0;
	uint32_t top;
	switch (key.kind) {
	case KEY_EXACT:
		hit = t->may_reclaim == key.n && !strcmp(t->key, key.thread);
		break;
	case KEY_OP:
		hit = t->op && !strcmp(t->op, key.op) && t->may_reclaim - t->op_n0 == key.k;
		break;
	case KEY_SITE:
		if (!op_is(t, key.op) || top_hash(t->alloc_ra) != (uint32_t)(key.site >> 32))
			break;
		/* the K-th occurrence of the top frame (per op, or per process
		 * outside ops), or the first after it whose whole stack matches */
		if (!key.every) {
			if (t->flags & FSR_PF_OP) {
				if (t->op_site_fired || op_count(t) < key.k)
					break;
			} else if (__atomic_load_n(&key.site_fired, __ATOMIC_RELAXED) ||
				   __atomic_add_fetch(&key.site_hits, 1, __ATOMIC_RELAXED) < key.k)
				break;
		}
		if (site_checked(t) != key.site)
			break;
		hit = 1;
		if (!key.every) {
			if (t->flags & FSR_PF_OP)
				t->op_site_fired = 1;
			else
				hit = !__atomic_exchange_n(&key.site_fired, 1, __ATOMIC_ACQ_REL);
		}
		break;
	case KEY_RECORD:
		top = top_hash(t->alloc_ra);
		for (size_t i = 0; i < nrec; i++) {
			struct rec_entry *r = &rec[i];
			if (__atomic_load_n(&r->used, __ATOMIC_RELAXED) || (uint32_t)(r->site >> 32) != top ||
			    !op_is(t, r->op) || (r->hit && (t->flags & FSR_PF_OP) && op_count(t) < r->hit))
				continue;
			if ((t->sched_site_valid ? t->sched_site : site_checked(t)) != r->site)
				continue;
			if (!__atomic_exchange_n(&r->used, 1, __ATOMIC_ACQ_REL)) {
				hit = 1;
				rec_fired = (int)i;
				break;
			}
		}
		break;
	}
	if (hit)
		__atomic_add_fetch(&key.fired, 1, __ATOMIC_RELAXED);
	return hit;
}

/* at exit: a key that never matched says so */
void fsr_replay_exit(void)
{
	if (fsr_replay_on && !__atomic_load_n(&key.fired, __ATOMIC_RELAXED))
		fsr_say("fsreclaim: replay=%s never matched an allocation: no pass was run", fsr_opt.replay);
}

/* ---- record=PATH and the digest ---- */

static struct fsr_mutex record_lock;
static uint64_t digest;

int fsr_record_open(char *err, size_t errlen)
{
	if (!fsr_opt.record[0])
		return 0;
	char path[4200];
	fsr_fmt(path, sizeof path, "%s.%d", fsr_opt.record, (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: record: cannot create '%s': %s",
			path, strerror(errno));
		return -1;
	}
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 600);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	record_fd = fd;
	return 0;
}

void fsr_record_pass(const struct fsr_schedule *s, const char *status)
{
	if (record_fd < 0)
		return;
	char line[512], hit[24];
	if (s->site_hit)
		fsr_fmt(hit, sizeof hit, "%llu", (unsigned long long)s->site_hit);
	else
		fsr_fmt(hit, sizeof hit, "-");
	int n = fsr_fmt(line, sizeof line, "pass=%llu thread=%s site=%016llx hit=%s op=%s callback=%s target=%s status=%s\n",
			(unsigned long long)s->pass, s->thread_key, (unsigned long long)s->site, hit,
			s->op ? s->op : "-", ran_of(s), s->target[0] ? s->target : "-", status);
	fsr_mutex_lock(&record_lock);
	(void)fsr_write_all(record_fd, line, (size_t)n);
	fsr_mutex_unlock(&record_lock);
}

/* a pass decided but not started (another one in flight) */
void fsr_record_skip(struct fsr_thread *t)
{
	if (record_fd < 0)
		return;
	struct fsr_schedule s;
	memset(&s, 0, sizeof s);
	s.n = t->may_reclaim;
	s.op = t->op;
	s.op_hit = t->op ? t->may_reclaim - t->op_n0 : 0;
	s.site_hit = op_count(t);
	memcpy(s.thread_key, t->key, sizeof s.thread_key);
	s.site = t->sched_site_valid ? t->sched_site : site_now(t);
	t->sched_site_valid = 0;
	s.callback = "-";
	fsr_record_pass(&s, "skipped");
}

void fsr_digest_add(const struct fsr_schedule *s)
{
	uint64_t c = 0;
	for (const char *p = ran_of(s); p && *p; p++)
		c = fsr_mix64(c ^ (unsigned char)*p);
	for (const char *p = s->target; *p; p++)
		c = fsr_mix64(c ^ (unsigned char)*p);
	/* passes are serialised by the pass slot: the order is the run's */
	digest = fsr_mix64(digest ^ fsr_mix64(s->key_hash ^ fsr_mix64(s->site ^ fsr_mix64(c))));
}

uint64_t fsr_schedule_digest(void)
{
	return digest;
}

void fsr_replay_atfork_child(void)
{
	record_lock.v = 0;
}
