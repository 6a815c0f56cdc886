/* replay.c - reports that reproduce: the schedule of a pass, the replay
 * key printed with its report, replay=KEY, record=PATH and the schedule
 * digest (REPLAY.md 3.3).
 *
 * A pass is named by what does not depend on other threads: the thread's
 * creation-path key and its n-th may-reclaim allocation (exact key), the
 * FUSE op and the k-th may-reclaim allocation inside it (op key), and the
 * allocation's stack as module build-id + offset (site key, immune to
 * ASLR).  The site hash is computed only at a pass, and in replay=site
 * mode at each look; normal runs pay nothing here.  With replay= set every
 * allocation takes policy.c's slow path (fsr_slow_all), so that n and the
 * op's count are exact at each look. */
#include "fsr.h"
#include "modules.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SITE_FRAMES 8           /* frames below malloc that make a site */
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
	uint64_t site_hits;         /* atomic: matches outside an op (per process) */
} key;

static struct rec_entry { uint64_t site; char op[32]; int used; } *rec;
static size_t nrec;

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

/* Below the program's own frames, those of the runtime that called it
 * (libfuse's dispatcher, libc's thread start) are not part of the site:
 * libfuse's worker loop reaches the same op through another call site
 * when it started a new worker first, which the thread pool's state (the
 * timing) decides, so one allocation got two sites and a replay by site
 * missed it under load.  A stack of libc or libfuse alone (their own
 * allocations) keeps all its frames. */
uint64_t fsr_site_hash(const struct fsr_stack *s)
{
	uint64_t h = 0x73697465ull;
	int own = 0;
	for (int i = 0; i < s->n && i < SITE_FRAMES; i++) {
		uintptr_t pc = (uintptr_t)s->pc[i];
		const struct fsr_module *m = fsr_module_of(pc);
		int runtime = m && (m->flags & (FSR_MOD_LIBC | FSR_MOD_LIBFUSE));
		if (runtime && own)
			continue;
		if (m && !runtime)
			own = 1;
		if (m)
			h = fsr_mix64(h ^ module_hash(m) ^ fsr_mix64(pc - m->bias));
		else
			h = fsr_mix64(h ^ 0xdead ^ fsr_mix64(i));
	}
	/* 48 bits: short enough to type, plenty for one program's sites */
	return h & 0xffffffffffffull;
}

static uint64_t site_now(void)
{
	struct fsr_stack s;
	fsr_stack_capture(&s, "allocation");
	return fsr_site_hash(&s);
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
	s->tid = t->tid;
	s->key_hash = t->key_hash;
	memcpy(s->thread_key, t->key, sizeof s->thread_key);
	/* replay mode hashed this allocation's stack already */
	s->site = t->sched_site_valid ? t->sched_site : 0;
	s->site_done = t->sched_site_valid;
	t->sched_site_valid = 0;
	s->callback = p->shrink && p->fuse ? "shrinkers+fuse" : p->shrink ? "shrinkers" : "fuse";
}

/* The pass runs: its site (from the allocation stack that a handoff pass
 * captures anyway), its record line and its part of the digest.  An
 * inline pass (alloc NULL) unwinds its allocator's stack only when
 * something needs the site now (record=, the digest of stats=1, replay
 * mode): an unwind per pass would be most of an inline pass's cost
 * (measured: 12.0 -> 16.3 ns per small malloc at interval=1000).  Its
 * reports then say site unknown, as they show no allocation stack. */
void fsr_schedule_site(struct fsr_pass *p, const struct fsr_stack *alloc)
{
	struct fsr_schedule *s = &p->sched;
	if (!s->site_done && (alloc || record_fd >= 0 || fsr_opt.stats || fsr_replay_on)) {
		s->site = alloc ? fsr_site_hash(alloc) : site_now();
		s->site_done = 1;
	}
	if (!s->site_done)
		return;
	fsr_record_pass(s, "run");
	fsr_digest_add(s->key_hash, s->site, s->callback);
}

void fsr_schedule_snap(struct fsr_schedule *dst, const struct fsr_pass *p)
{
	if (p && p->sched.valid)
		*dst = p->sched;
	else
		dst->valid = 0;
}

/* the option value that gives this pass again */
void fsr_schedule_key(const struct fsr_schedule *s, char *b, size_t len)
{
	if (s->op)
		fsr_fmt(b, len, "op/%s/%llu", s->op, (unsigned long long)s->op_hit);
	else
		fsr_fmt(b, len, "exact/%llu/%s/%llu", (unsigned long long)s->seed, s->thread_key,
			(unsigned long long)s->n);
}

size_t fsr_schedule_text(const struct fsr_schedule *s, char *b, size_t len)
{
	if (!s->valid || len < 2)
		return 0;
	char k[128];
	size_t o;
	fsr_schedule_key(s, k, sizeof k);
	char site[24];
	if (s->site_done)
		fsr_fmt(site, sizeof site, "%012llx", (unsigned long long)s->site);
	else
		fsr_fmt(site, sizeof site, "unknown");
	o = (size_t)fsr_fmt(b, len, "  schedule: seed=%llu pass=#%llu thread=%s (tid %d) n=%llu site=%s",
			    (unsigned long long)s->seed, (unsigned long long)s->pass, s->thread_key,
			    (int)s->tid, (unsigned long long)s->n, site);
	if (s->op && o < len)
		o += (size_t)fsr_fmt(b + o, len - o, " in op %s (its allocation %llu)", s->op,
				     (unsigned long long)s->op_hit);
	if (o < len)
		o += (size_t)fsr_fmt(b + o, len - o, " callback=%s\n  replay:   ", s->callback);
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
	char k[128], site[24];
	size_t o;
	fsr_schedule_key(s, k, sizeof k);
	if (s->site_done)
		fsr_fmt(site, sizeof site, "\"%012llx\"", (unsigned long long)s->site);
	else
		fsr_fmt(site, sizeof site, "null");
	o = (size_t)fsr_fmt(b, len, ",\"schedule\":{\"seed\":%llu,\"pass\":%llu,\"thread_key\":",
			    (unsigned long long)s->seed, (unsigned long long)s->pass);
	o += fsr_json_str(b + o, len - o, s->thread_key);
	o += (size_t)fsr_fmt(b + o, len - o, ",\"n\":%llu,\"site\":%s,\"site_hit\":null,\"op\":",
			     (unsigned long long)s->n, site);
	o += fsr_json_str(b + o, len - o, s->op);
	o += (size_t)fsr_fmt(b + o, len - o, ",\"op_hit\":%llu,\"callback\":", (unsigned long long)s->op_hit);
	o += fsr_json_str(b + o, len - o, s->callback);
	o += (size_t)fsr_fmt(b + o, len - o, ",\"target\":null},\"replay\":");
	o += fsr_json_str(b + o, len - o, k);
	return o < len ? o : len - 1;
}

/* ---- replay=KEY ---- */

/* split v at '/' into at most 5 words */
static int words(const char *v, size_t n, const char *w[5], size_t wn[5])
{
	int c = 0;
	size_t i = 0;
	while (c < 5) {
		size_t j = i;
		while (j < n && v[j] != '/')
			j++;
		w[c] = v + i;
		wn[c] = j - i;
		c++;
		if (j >= n)
			break;
		i = j + 1;
	}
	return c;
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

/* Check a replay= value; with apply set, make it the key of this process.
 * Returns NULL when it is well formed, else why not. */
const char *fsr_replay_check(const char *v, size_t n, int apply)
{
	const char *w[5];
	size_t wn[5];
	uint64_t x;
	if (n == 0)
		return "is empty";
	if (v[0] == '@')
		return n > 1 && v[1] ? NULL : "names no record file";
	int c = words(v, n, w, wn);
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
			char *st = strstr(l, " status=run");
			char *site = strstr(l, " site=");
			char *op = strstr(l, " op=");
			char *end;
			if (strncmp(l, "pass=", 5) || !site || !op) {
				fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: replay: record '%s' line %d "
					"is not 'pass=N thread=K site=H hit=K op=NAME callback=KIND target=T'",
					path, lineno);
				return -1;
			}
			errno = 0;
			uint64_t h = strtoull(site + 6, &end, 16);
			if (errno || end == site + 6 || (*end != ' ' && *end)) {
				fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: replay: record '%s' line %d "
					"has a bad site", path, lineno);
				return -1;
			}
			if (st && nrec < RECORD_MAX) {
				struct rec_entry *x = &rec[nrec++];
				x->site = h;
				size_t k = strcspn(op + 4, " ");
				if (k >= sizeof x->op)
					k = sizeof x->op - 1;
				memcpy(x->op, op + 4, k);
				x->op[k] = 0;
				if (!strcmp(x->op, "-"))
					x->op[0] = 0;
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

/* Replay mode, at each look of an allocation that may reclaim: does KEY
 * name this one?  (times= still bounds the passes.) */
int fsr_replay_match(struct fsr_thread *t, int64_t passes)
{
	if (fsr_opt.times >= 0 && passes >= fsr_opt.times)
		return 0;
	int hit = 0;
	switch (key.kind) {
	case KEY_EXACT:
		hit = t->may_reclaim == key.n && !strcmp(t->key, key.thread);
		break;
	case KEY_OP:
		hit = t->op && !strcmp(t->op, key.op) && t->may_reclaim - t->op_n0 == key.k;
		break;
	case KEY_SITE:
		if (!op_is(t, key.op))
			break;
		t->sched_site = site_now();
		t->sched_site_valid = 1;
		if (t->sched_site != key.site)
			break;
		if (key.every)
			hit = 1;
		else if (t->op)
			hit = ++t->op_site_hits == key.k;
		else
			hit = __atomic_add_fetch(&key.site_hits, 1, __ATOMIC_RELAXED) == key.k;
		break;
	case KEY_RECORD:
		t->sched_site = site_now();
		t->sched_site_valid = 1;
		for (size_t i = 0; i < nrec; i++)
			if (!rec[i].used && rec[i].site == t->sched_site && op_is(t, rec[i].op)) {
				hit = !__atomic_exchange_n(&rec[i].used, 1, __ATOMIC_ACQ_REL);
				break;
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
	char line[256];
	int n = fsr_fmt(line, sizeof line, "pass=%llu thread=%s site=%012llx hit=%llu op=%s callback=%s target=- status=%s\n",
			(unsigned long long)s->pass, s->thread_key, (unsigned long long)s->site,
			(unsigned long long)s->op_hit, s->op ? s->op : "-", s->callback ? s->callback : "-", status);
	fsr_mutex_lock(&record_lock);
	(void)fsr_write_all(record_fd, line, (size_t)n);
	fsr_mutex_unlock(&record_lock);
}

/* a pass decided but not started (another one in flight) */
void fsr_record_skip(struct fsr_thread *t)
{
	if (record_fd < 0)
		return;
	struct fsr_schedule s = { 0 };
	s.pass = 0;
	s.n = t->may_reclaim;
	s.op = t->op;
	s.op_hit = t->op ? t->may_reclaim - t->op_n0 : 0;
	memcpy(s.thread_key, t->key, sizeof s.thread_key);
	s.site = site_now();
	s.callback = "-";
	fsr_record_pass(&s, "skipped");
}

void fsr_digest_add(uint64_t thread, uint64_t site, const char *callback)
{
	uint64_t c = 0;
	for (const char *p = callback; p && *p; p++)
		c = fsr_mix64(c ^ (unsigned char)*p);
	/* passes are serialised by the pass slot: the order is the run's */
	digest = fsr_mix64(digest ^ fsr_mix64(thread ^ fsr_mix64(site ^ fsr_mix64(c))));
}

uint64_t fsr_schedule_digest(void)
{
	return digest;
}

void fsr_replay_atfork_child(void)
{
	record_lock.v = 0;
}
