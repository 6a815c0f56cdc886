/* report.c - hazard reports: dedup, suppressions, text, JSON.
 *
 * A report is made under one lock, with the reporting thread marked busy
 * (libdw allocates while symbolizing; those allocations pass straight
 * through the shim's malloc).  Nothing here uses stdio: the text is built
 * in a static buffer and written with one fsr_out_write, the JSON line with
 * one fsr_out_json.  Dedup is a fixed table of hashes of (kind, stacks'
 * pcs); suppressions are a fixed table of `kind:function-glob` rules. */
#include "symbols.h"
#include "modules.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t fsr_stat_hazards;
int fsr_exit_status_hit;

/* fsr_self is used directly, not through fsr_thread_self(): GCC's UBSan null
 * check of a pointer to initial-exec TLS misfires once the linker relaxes
 * the access into an executable (the unit tests under ASan+UBSan). */
static struct fsr_mutex report_lock;

/* ---- hazards ---- */

void fsr_hazard_init(struct fsr_hazard *h, const char *kind, int level)
{
	memset(h, 0, offsetof(struct fsr_hazard, stacks));
	h->nstacks = 0;
	h->body[0] = 0;
	h->kind = kind;
	h->level = level;
	h->op = fsr_self.op;
	h->tid = fsr_gettid();
	fsr_schedule_snap(&h->sched, fsr_self.pass ? fsr_self.pass : fsr_self.waiting);
}

void fsr_lock_name(const void *lock, char *buf, size_t len)
{
	if (!len)
		return;
	fsr_busy_enter(&fsr_self);
	int e = errno;
	if (fsr_sym_data(lock, buf, len))
		fsr_fmt(buf, len, "lock@%p", lock);
	errno = e;
	fsr_self.busy--;
}

void fsr_hazard_add_held_locks(struct fsr_hazard *h, const struct fsr_thread *t)
{
	if (t)
		fsr_hazard_add_locks(h, t->held, t->nheld);
}

void fsr_hazard_add_locks(struct fsr_hazard *h, const struct fsr_held *held, int n)
{
	if (n > FSR_MAX_HELD)
		n = FSR_MAX_HELD;
	for (int i = 0; i < n && h->nlocks < FSR_MAX_REPORT_LOCKS; i++) {
		const struct fsr_held *hl = &held[i];
		struct fsr_report_lock *rl = &h->locks[h->nlocks++];
		fsr_lock_name(hl->lock, rl->name, sizeof rl->name);
		rl->cls = hl->cls;
		rl->site = hl->site;
	}
}

/* ---- dedup: open addressing over 64-bit hashes, no malloc ---- */

#define DEDUP_SLOTS 8192
static uint64_t dedup[DEDUP_SLOTS];

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t hazard_hash(const struct fsr_hazard *h)
{
	uint64_t x = 0xcbf29ce484222325ull;
	x = fnv(x, h->kind, strlen(h->kind));
	for (int i = 0; i < h->nstacks && i < FSR_MAX_REPORT_STACKS; i++) {
		const struct fsr_stack *s = &h->stacks[i];
		int n = s->n < FSR_MAX_FRAMES ? s->n : FSR_MAX_FRAMES;
		x = fnv(x, "|", 1);
		x = fnv(x, s->pc, (size_t)(n > 0 ? n : 0) * sizeof(void *));
	}
	return x ? x : 1;
}

/* 1 when already seen (and records it when not) */
static int dedup_seen(uint64_t key)
{
	size_t i = (size_t)(key % DEDUP_SLOTS);
	for (int probe = 0; probe < 128; probe++, i = (i + 1) % DEDUP_SLOTS) {
		if (dedup[i] == key)
			return 1;
		if (!dedup[i]) {
			dedup[i] = key;
			return 0;
		}
	}
	return 0;   /* table crowded: report again rather than lose one */
}

/* ---- suppressions ---- */

#define SUPP_MAX      512
#define SUPP_KIND_LEN 32
#define SUPP_PAT_LEN  224
struct supp { char kind[SUPP_KIND_LEN]; char pat[SUPP_PAT_LEN]; };
static struct supp supp[SUPP_MAX];
static int nsupp;
static struct supp supp_new[SUPP_MAX];   /* parsed here, committed on success */

static const char *const kinds[] = {
	"reclaim-deadlock", "reclaim-wait-timeout", "fs-reentry", "nested-transaction",
	"reclaim-lock-inversion", "scope-leak", "scope-imbalance", "needless-nofs",
	"vmalloc-gfp-mask", "notify-in-op", "lookup-drift",
};

/* '*' matches any run of characters, '?' one character; the whole name
 * must match.  Iterative, linear in practice (backtracks to the last '*'). */
static int glob_match(const char *p, const char *s)
{
	const char *star = NULL, *ss = NULL;
	while (*s) {
		if (*p == '*') {
			star = p++;
			ss = s;
		} else if (*p == '?' || *p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++ss;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return !*p;
}

static int supp_error(char *err, size_t errlen, const char *name, unsigned long lineno,
		      const char *line, size_t n, const char *why)
{
	char q[300];
	fsr_quote(q, sizeof q, line, n, 64);
	if (err && errlen)
		fsr_fmt(err, errlen, "fsreclaim: error: suppressions: %s:%lu: %s: '%s'",
			name, lineno, why, q);
	return -1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

static int parse_named(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
	int n = 0;
	unsigned long lineno = 0;
	size_t i = 0;
	if (!text)
		len = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && text[j] != '\n')
			j++;
		lineno++;
		const char *l = text + i;
		size_t ln = j - i;
		i = j + 1;
		/* trim */
		while (ln && is_space(*l)) { l++; ln--; }
		while (ln && is_space(l[ln - 1])) ln--;
		if (!ln || l[0] == '#')
			continue;
		for (size_t k = 0; k < ln; k++) {
			unsigned char c = (unsigned char)l[k];
			if (c < 0x20 && c != '\t')
				return supp_error(err, errlen, name, lineno, l, ln, "control character in line");
		}
		const char *colon = memchr(l, ':', ln);
		if (!colon)
			return supp_error(err, errlen, name, lineno, l, ln,
					  "expected 'kind:function-glob'");
		size_t kn = (size_t)(colon - l);
		const char *p = colon + 1;
		size_t pn = ln - kn - 1;
		while (kn && is_space(l[kn - 1])) kn--;
		while (pn && is_space(*p)) { p++; pn--; }
		if (!kn)
			return supp_error(err, errlen, name, lineno, l, ln, "empty kind");
		if (!pn)
			return supp_error(err, errlen, name, lineno, l, ln, "empty function pattern");
		int known = 0;
		for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
			if (strlen(kinds[k]) == kn && !memcmp(kinds[k], l, kn))
				known = 1;
		if (!known)
			return supp_error(err, errlen, name, lineno, l, ln,
					  "unknown kind (one of reclaim-deadlock, reclaim-wait-timeout, "
					  "fs-reentry, nested-transaction, reclaim-lock-inversion, "
					  "scope-leak, scope-imbalance, needless-nofs, vmalloc-gfp-mask)");
		if (pn >= SUPP_PAT_LEN)
			return supp_error(err, errlen, name, lineno, l, ln, "pattern too long");
		if (n >= SUPP_MAX)
			return supp_error(err, errlen, name, lineno, l, ln, "too many suppressions (512 at most)");
		memcpy(supp_new[n].kind, l, kn);
		supp_new[n].kind[kn] = 0;
		memcpy(supp_new[n].pat, p, pn);
		supp_new[n].pat[pn] = 0;
		n++;
	}
	memcpy(supp, supp_new, (size_t)n * sizeof supp[0]);
	__atomic_store_n(&nsupp, n, __ATOMIC_RELEASE);
	return 0;
}

int fsr_suppressions_parse(const char *text, size_t len, char *err, size_t errlen)
{
	fsr_mutex_lock(&report_lock);
	int r = parse_named(text, len, "<suppressions>", err, errlen);
	fsr_mutex_unlock(&report_lock);
	return r;
}

int fsr_suppressions_load(const char *path, char *err, size_t errlen)
{
	int e;
	if (!path || !path[0]) {
		if (err && errlen)
			fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: suppressions: empty path");
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		goto fail;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
		close(fd);
		if (err && errlen)
			fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: suppressions: '%s' is %s",
				path, S_ISREG(st.st_mode) ? "larger than 1 MiB" : "not a regular file");
		return -1;
	}
	size_t cap = (size_t)st.st_size + 1;
	char *buf = fsr_alloc(cap);
	if (!buf) {
		close(fd);
		e = ENOMEM;
		goto fail;
	}
	size_t len = 0;
	for (;;) {
		if (len + 1 >= cap) {
			/* grew since fstat: read what fits and stop */
			break;
		}
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			close(fd);
			fsr_free(buf);
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	fsr_mutex_lock(&report_lock);
	int r = parse_named(buf, len, path, err, errlen);
	fsr_mutex_unlock(&report_lock);
	fsr_free(buf);
	return r;
fail:
	if (err && errlen)
		fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: suppressions: cannot read '%s': %s",
			path, strerror(e));
	return -1;
}

/* ---- symbolized stacks, kept while a report is made (report_lock) ---- */

static struct sym_stack syms[FSR_MAX_REPORT_STACKS];
static struct fsr_sym lock_sym[FSR_MAX_REPORT_LOCKS];

static void symbolize_stack(const struct fsr_stack *s, struct sym_stack *out)
{
	struct fsr_sym tmp[16];
	out->n = 0;
	int n = s->n < FSR_MAX_FRAMES ? s->n : FSR_MAX_FRAMES;
	for (int i = 0; i < n && out->n < SYM_PER_STACK; i++) {
		int k = fsr_sym_pc(s->pc[i], tmp, 16);
		for (int j = 0; j < k && out->n < SYM_PER_STACK; j++) {
			if (fsr_sym_is_header_frame(&tmp[j]))
				continue;
			out->f[out->n++] = tmp[j];
		}
	}
}

/* the site of a lock: its first frame that is not fsreclaim.h's */
static void symbolize_site(void *pc, struct fsr_sym *out)
{
	struct fsr_sym tmp[16];
	int k = fsr_sym_pc(pc, tmp, 16);
	int j = 0;
	while (j < k - 1 && fsr_sym_is_header_frame(&tmp[j]))
		j++;
	*out = tmp[j];
}

/* one function name against the loaded rules of a kind (tests, fuzzing) */
int fsr_suppressed_name(const char *kind, const char *func)
{
	int n = __atomic_load_n(&nsupp, __ATOMIC_ACQUIRE);
	for (int r = 0; r < n; r++)
		if (!strcmp(supp[r].kind, kind) && glob_match(supp[r].pat, func))
			return 1;
	return 0;
}

static int suppressed(const struct fsr_hazard *h)
{
	int n = __atomic_load_n(&nsupp, __ATOMIC_ACQUIRE);
	for (int r = 0; r < n; r++) {
		if (strcmp(supp[r].kind, h->kind))
			continue;
		for (int i = 0; i < h->nstacks && i < FSR_MAX_REPORT_STACKS; i++)
			for (int j = 0; j < syms[i].n; j++)
				if (syms[i].f[j].func[0] && glob_match(supp[r].pat, syms[i].f[j].func))
					return 1;
		for (int i = 0; i < h->nlocks && i < FSR_MAX_REPORT_LOCKS; i++)
			if (lock_sym[i].func[0] && glob_match(supp[r].pat, lock_sym[i].func))
				return 1;
	}
	return 0;
}

/* ---- text and JSON ---- */

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* "FUNC FILE:LINE", "FUNC+0xOFF (MODULE+0xOFF)", "(MODULE+0xOFF)" */
static void put_where(struct fsr_buf *b, const struct fsr_sym *f, int short_file)
{
	if (f->func[0] && f->file[0] && f->line) {
		fsr_bput(b, "%s %s:%d", f->func, short_file ? base_name(f->file) : f->file, f->line);
		return;
	}
	if (f->func[0]) {
		if (f->has_off)
			fsr_bput(b, "%s+0x%lx", f->func, (unsigned long)f->func_off);
		else
			fsr_bput(b, "%s", f->func);
		if (f->module[0])
			fsr_bput(b, " (%s+0x%lx)", f->module, (unsigned long)f->mod_off);
		return;
	}
	if (f->module[0])
		fsr_bput(b, "(%s+0x%lx)", f->module, (unsigned long)f->mod_off);
	else
		fsr_bput(b, "(<unknown module>)");
}

static void put_frame(struct fsr_buf *b, int i, const struct fsr_sym *f)
{
	fsr_bput(b, "    #%d 0x%lx ", i, (unsigned long)f->pc);
	if (f->func[0])
		fsr_bput(b, "in ");
	put_where(b, f, 0);
	fsr_bput(b, "\n");
}

/* JSON string: escapes, and invalid UTF-8 bytes as U+FFFD */
static void put_json_str(struct fsr_buf *b, const char *s)
{
	if (!s) {
		fsr_bput(b, "null");
		return;
	}
	fsr_bmem(b, "\"", 1);
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			fsr_bmem(b, e, 2);
			p++;
		} else if (c == '\n') {
			fsr_bmem(b, "\\n", 2); p++;
		} else if (c == '\t') {
			fsr_bmem(b, "\\t", 2); p++;
		} else if (c < 0x20 || c == 0x7f) {
			fsr_bput(b, "\\u%04x", c); p++;
		} else if (c < 0x80) {
			fsr_bmem(b, (const char *)p, 1); p++;
		} else {
			int need = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? (c <= 0xef ? 2 : -1) : c >= 0xc2 ? 1 : -1;
			int ok = need > 0;
			for (int k = 1; ok && k <= need; k++)
				if ((p[k] & 0xc0) != 0x80)
					ok = 0;
			if (ok && need == 2) {
				/* no overlongs, no surrogates */
				if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0))
					ok = 0;
			} else if (ok && need == 3) {
				if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
					ok = 0;
			}
			if (ok) {
				fsr_bmem(b, (const char *)p, (size_t)need + 1);
				p += need + 1;
			} else {
				fsr_bput(b, "\\ufffd");
				p++;
			}
		}
	}
	fsr_bmem(b, "\"", 1);
}

/* s as a JSON string (or null) into dst; returns its length */
size_t fsr_json_str(char *dst, size_t cap, const char *s)
{
	struct fsr_buf b = { dst, cap, 0, 0 };
	if (cap)
		dst[0] = 0;
	put_json_str(&b, s);
	return b.len;
}

static void put_json_frame(struct fsr_buf *b, const struct fsr_sym *f)
{
	fsr_bput(b, "{\"pc\":\"0x%lx\",\"function\":", (unsigned long)f->pc);
	put_json_str(b, f->func[0] ? f->func : NULL);
	fsr_bput(b, ",\"file\":");
	put_json_str(b, f->file[0] ? f->file : NULL);
	if (f->line)
		fsr_bput(b, ",\"line\":%d", f->line);
	else
		fsr_bput(b, ",\"line\":null");
	fsr_bput(b, ",\"module\":");
	put_json_str(b, f->module[0] ? f->module : NULL);
	if (f->inlined)
		fsr_bput(b, ",\"inlined\":true");
	fsr_bput(b, "}");
}

/* worst case: 8 stacks of 64 frames (plus inlined) with long names; BSS
 * pages that no report touches cost nothing */
static char text_buf[512 * 1024];
static char json_buf[512 * 1024];

static unsigned int depth(void)
{
	unsigned int d = fsr_opt.stack_depth;
	return d ? d : 16;
}

/* frames that are not "the user's" for the SUMMARY line: libc, the C++
 * runtime, libfuse, the shim (by the module table's flags, not by name) */
static int system_frame(const struct fsr_sym *f)
{
	unsigned int fl = fsr_module_flags(f->pc ? f->pc - 1 : 0);
	/* the C++ runtime's inline code compiled into the program (<mutex>'s
	 * __gthread_mutex_lock at -O0) is the runtime's too */
	if (!strncmp(f->file, "/usr/include/", 13) || !strncmp(f->file, "/usr/lib/gcc/", 13))
		return 1;
	if (fl & FSR_MOD_MAIN)
		return 0;
	return (fl & (FSR_MOD_LIBC | FSR_MOD_CXXRT | FSR_MOD_LIBFUSE | FSR_MOD_SHIM)) != 0;
}

/* a frame the SUMMARY may name: a function, or an object and offset (a
 * stripped program) */
static int nameable(const struct fsr_sym *f)
{
	return f->func[0] || f->module[0];
}

/* the report's locks of the allocating thread (others == 0) or of the
 * other threads (others == 1), numbered within their list */
static void put_locks(struct fsr_buf *b, const struct fsr_hazard *h, int others)
{
	int k = 0;
	for (int i = 0; i < h->nlocks && i < FSR_MAX_REPORT_LOCKS; i++) {
		if (!h->locks[i].holder != !others)
			continue;
		fsr_bput(b, "    #%d %s (class %u)", k++, h->locks[i].name, h->locks[i].cls);
		if (others)
			fsr_bput(b, " held by thread %d,", h->locks[i].holder);
		fsr_bput(b, " taken at ");
		if (h->locks[i].site)
			put_where(b, &lock_sym[i], 1);
		else
			fsr_bput(b, "an unknown site");
		fsr_bput(b, "\n");
	}
}

static const struct fsr_sym *summary_frame;   /* the SUMMARY line's frame (SARIF's primary location) */

static size_t format_text(const struct fsr_hazard *h)
{
	struct fsr_buf b = { text_buf, sizeof text_buf - 1024, 0, 0 };   /* room for SUMMARY */
	const char *level = h->level == FSR_ERROR ? "ERROR" : "WARNING";
	pid_t pid = fsr_pid ? fsr_pid : getpid();
	text_buf[0] = 0;
	fsr_bput(&b, "==%d==fsreclaim: %s: %s", (int)pid, level, h->kind);
	fsr_bput(&b, " (thread %d)\n", (int)h->tid);
	if (h->message[0])
		fsr_bput(&b, "%s\n", h->message);
	if (h->op)
		fsr_bput(&b, "  in FUSE op: %s\n", h->op);
	/* the allocating thread's locks, then those of a deadlock chain's
	 * other threads, each under its own heading: a reader (and a script)
	 * takes the first list as what the allocation held */
	int nown = 0, nother = 0;
	for (int i = 0; i < h->nlocks && i < FSR_MAX_REPORT_LOCKS; i++)
		h->locks[i].holder ? nother++ : nown++;
	if (nown)
		fsr_bput(&b, "  locks held by the allocating thread:\n");
	else
		fsr_bput(&b, "  no locks held by the allocating thread\n");
	put_locks(&b, h, 0);
	if (nother) {
		fsr_bput(&b, "  locks held by the chain's other threads:\n");
		put_locks(&b, h, 1);
	}
	if (h->body[0]) {
		size_t n = strnlen(h->body, sizeof h->body);
		fsr_bmem(&b, h->body, n);
		if (h->body[n - 1] != '\n')
			fsr_bput(&b, "\n");
	}
	unsigned int d = depth();
	const struct fsr_sym *first = NULL, *first_user = NULL;
	for (int i = 0; i < h->nstacks && i < FSR_MAX_REPORT_STACKS; i++) {
		const char *title = h->stacks[i].title ? h->stacks[i].title : "stack";
		fsr_bput(&b, "\n  %s:\n", title);
		if (!syms[i].n)
			fsr_bput(&b, "    <no frames>\n");
		for (int j = 0; j < syms[i].n && (unsigned)j < d; j++) {
			const struct fsr_sym *f = &syms[i].f[j];
			put_frame(&b, j, f);
			if (!first && f->func[0] && !(fsr_module_flags(f->pc - 1) & FSR_MOD_LIBC))
				first = f;
			if (!first_user && nameable(f) && !system_frame(f))
				first_user = f;
		}
	}
	for (int i = 0; i < h->nlocks && i < FSR_MAX_REPORT_LOCKS; i++) {
		if (!first && lock_sym[i].func[0] && !(fsr_module_flags(lock_sym[i].pc - 1) & FSR_MOD_LIBC))
			first = &lock_sym[i];
		if (!first_user && nameable(&lock_sym[i]) && !system_frame(&lock_sym[i]))
			first_user = &lock_sym[i];
	}
	/* the program's own frame; else one outside libc (never its thread
	 * start) */
	if (first_user)
		first = first_user;
	summary_frame = first;
	fsr_bput(&b, "\n");
	/* SUMMARY always ends the report, even when the body was truncated */
	b.cap = sizeof text_buf;
	b.len += fsr_schedule_text(&h->sched, b.b + b.len, b.cap - b.len - 512);
	fsr_bput(&b, "SUMMARY: fsreclaim: %s", h->kind);
	if (first) {
		fsr_bput(&b, " ");
		put_where(&b, first, 1);
	}
	fsr_bput(&b, "\n");
	return b.len;
}

/* the fields every JSON line has, also a truncated one */
static void json_head(struct fsr_buf *b, const struct fsr_hazard *h, pid_t pid)
{
	fsr_bput(b, "{\"kind\":");
	put_json_str(b, h->kind);
	fsr_bput(b, ",\"level\":\"%s\",\"pid\":%d,\"tid\":%d,\"op\":",
	    h->level == FSR_ERROR ? "ERROR" : "WARNING", (int)pid, (int)h->tid);
	put_json_str(b, h->op);
	fsr_bput(b, ",\"message\":");
	put_json_str(b, h->message);
}

static size_t format_json(const struct fsr_hazard *h)
{
	struct fsr_buf b = { json_buf, sizeof json_buf - 16, 0, 0 };
	pid_t pid = fsr_pid ? fsr_pid : getpid();
	json_buf[0] = 0;
	json_head(&b, h, pid);
	fsr_bput(&b, ",\"locks\":[");
	for (int i = 0; i < h->nlocks && i < FSR_MAX_REPORT_LOCKS; i++) {
		fsr_bput(&b, "%s{\"name\":", i ? "," : "");
		put_json_str(&b, h->locks[i].name);
		fsr_bput(&b, ",\"class\":%u,", h->locks[i].cls);
		if (h->locks[i].holder)
			fsr_bput(&b, "\"holder\":%d,", h->locks[i].holder);
		fsr_bput(&b, "\"site\":");
		if (h->locks[i].site)
			put_json_frame(&b, &lock_sym[i]);
		else
			fsr_bput(&b, "null");
		fsr_bput(&b, "}");
	}
	fsr_bput(&b, "],\"stacks\":[");
	unsigned int d = depth();
	for (int i = 0; i < h->nstacks && i < FSR_MAX_REPORT_STACKS; i++) {
		fsr_bput(&b, "%s{\"title\":", i ? "," : "");
		put_json_str(&b, h->stacks[i].title ? h->stacks[i].title : "stack");
		fsr_bput(&b, ",\"frames\":[");
		for (int j = 0; j < syms[i].n && (unsigned)j < d; j++) {
			if (j)
				fsr_bput(&b, ",");
			put_json_frame(&b, &syms[i].f[j]);
		}
		fsr_bput(&b, "]}");
	}
	fsr_bput(&b, "]");
	if (h->body[0]) {
		char body[sizeof h->body + 1];
		memcpy(body, h->body, sizeof h->body);
		body[sizeof h->body] = 0;
		fsr_bput(&b, ",\"body\":");
		put_json_str(&b, body);
	}
	b.len += fsr_schedule_json(&h->sched, b.b + b.len, b.cap - b.len);
	/* a truncated line would not parse: fall back to the essentials */
	if (b.len + 1 >= b.cap) {
		b.len = 0;
		b.cap = sizeof json_buf - 16;
		json_head(&b, h, pid);
		fsr_bput(&b, ",\"locks\":[],\"stacks\":[],\"truncated\":true");
	}
	b.cap = sizeof json_buf;
	fsr_bput(&b, "}\n");
	return b.len;
}

/* debuginfod=1: the debug info of every module the report names, fetched
 * before any lock of the report's is taken */
void fsr_report_prefetch(const struct fsr_hazard *h)
{
	if (!fsr_opt.debuginfod)
		return;
	for (int i = 0; i < h->nstacks && i < FSR_MAX_REPORT_STACKS; i++)
		fsr_sym_prefetch(h->stacks[i].pc, h->stacks[i].n);
	void *site[FSR_MAX_REPORT_LOCKS];
	int n = 0;
	for (int i = 0; i < h->nlocks && i < FSR_MAX_REPORT_LOCKS; i++)
		site[n++] = h->locks[i].site;
	fsr_sym_prefetch(site, n);
}

static int report(struct fsr_hazard *h, int fetch);

int fsr_report(struct fsr_hazard *h) { return report(h, 1); }
int fsr_report_locked(struct fsr_hazard *h) { return report(h, 0); }

static int report(struct fsr_hazard *h, int fetch)
{
	int e = errno;
	int printed = 0, halt = 0;
	if (!h || !h->kind)
		return 0;
	if (h->nstacks > FSR_MAX_REPORT_STACKS)
		h->nstacks = FSR_MAX_REPORT_STACKS;
	if (h->nlocks > FSR_MAX_REPORT_LOCKS)
		h->nlocks = FSR_MAX_REPORT_LOCKS;
	h->message[sizeof h->message - 1] = 0;
	fsr_busy_enter(&fsr_self);
	if (fetch)
		fsr_report_prefetch(h);
	fsr_mutex_lock(&report_lock);
	if (dedup_seen(hazard_hash(h)))
		goto out;
	fsr_sym_new_report();
	for (int i = 0; i < h->nstacks; i++)
		symbolize_stack(&h->stacks[i], &syms[i]);
	for (int i = 0; i < h->nlocks; i++)
		symbolize_site(h->locks[i].site, &lock_sym[i]);
	if (suppressed(h))
		goto out;
	size_t n = format_text(h);
	fsr_out_write(text_buf, n);
	n = format_json(h);
	fsr_out_json(json_buf, n);
	fsr_sarif_add(h, summary_frame, syms, lock_sym);
	__atomic_add_fetch(&fsr_stat_hazards, 1, __ATOMIC_RELAXED);
	if (strcmp(h->kind, "needless-nofs"))
		__atomic_store_n(&fsr_exit_status_hit, 1, __ATOMIC_RELAXED);
	printed = 1;
	halt = fsr_opt.halt_on_error && h->level == FSR_ERROR;
out:
	fsr_mutex_unlock(&report_lock);
	fsr_self.busy--;
	errno = e;
	if (halt)
		fsr_exit_now();
	return printed;
}

void fsr_report_reset(void)
{
	fsr_mutex_lock(&report_lock);
	memset(dedup, 0, sizeof dedup);
	fsr_mutex_unlock(&report_lock);
}

static void report_atfork_child(void)
{
	report_lock.v = 0;
	fsr_sym_atfork_child();
}

__attribute__((constructor(103))) static void report_init(void)
{
	fsr_busy_enter(&fsr_self);
	pthread_atfork(NULL, NULL, report_atfork_child);
	fsr_self.busy--;
}
