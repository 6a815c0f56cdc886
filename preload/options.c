/* options.c - FSRECLAIM_OPTIONS: key=value pairs joined by ':' (ASan style).
 *
 * The parser never allocates and never trusts its input: every value is
 * range-checked, a repeated key takes the later value, and any mistake is a
 * one-line message naming the key (the caller exits with status 2). */
#include "fsr.h"
#include <limits.h>
#include <string.h>
#include <unistd.h>

struct fsr_options fsr_opt;

void fsr_options_defaults(struct fsr_options *o)
{
	memset(o, 0, sizeof(*o));
	o->interval = 100;
	o->probability = 100;
	o->times = -1;
	o->mode = FSR_MODE_HANDOFF;
	o->timeout_ms = 5000;
	o->callbacks = FSR_CB_SHRINKERS | FSR_CB_FORGET | FSR_CB_FSYNC | FSR_CB_FLUSH;
	o->exitcode = 66;
	o->stack_depth = 16;
}

static int bad(char *err, size_t errlen, const char *k, size_t kn, const char *v, size_t vn,
	       const char *why)
{
	char qk[256], qv[256];
	fsr_quote(qk, sizeof qk, k, kn, 48);
	fsr_quote(qv, sizeof qv, v, vn, 48);
	fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: %s: '%s' %s", qk, qv, why);
	return -1;
}

/* decimal unsigned, no sign, no spaces, no overflow */
static int parse_u64(const char *v, size_t n, uint64_t *out)
{
	if (n == 0 || n > 20)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		unsigned d = (unsigned)(v[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

static int eq(const char *k, size_t kn, const char *name)
{
	return strlen(name) == kn && !memcmp(k, name, kn);
}

static int set_path(char *dst, const char *v, size_t n)
{
	if (n == 0 || n >= 4096 - 64 || memchr(v, 0, n))
		return -1;
	size_t o = 0;
	if (v[0] != '/') {
		/* made absolute at start-up, so a daemon that chdir()s keeps it */
		if (!getcwd(dst, 4096 - 64 - n - 2))
			return -1;
		o = strlen(dst);
		if (o > 1)
			dst[o++] = '/';
	}
	memcpy(dst + o, v, n);
	dst[o + n] = 0;
	return 0;
}

static int parse_callbacks(const char *v, size_t n, unsigned int *out)
{
	unsigned int m = 0;
	size_t i = 0;
	if (n == 0)
		return -1;
	while (i <= n) {
		size_t j = i;
		while (j < n && v[j] != ',')
			j++;
		const char *w = v + i;
		size_t wn = j - i;
		if (eq(w, wn, "shrinkers")) m |= FSR_CB_SHRINKERS;
		else if (eq(w, wn, "forget")) m |= FSR_CB_FORGET;
		else if (eq(w, wn, "fsync")) m |= FSR_CB_FSYNC;
		else if (eq(w, wn, "flush")) m |= FSR_CB_FLUSH;
		else if (eq(w, wn, "none") && n == 4) m = 0;
		else return -1;
		i = j + 1;
	}
	*out = m;
	return 0;
}

static int parse_one(struct fsr_options *o, const char *k, size_t kn, const char *v, size_t vn,
		     char *err, size_t errlen)
{
	uint64_t x;
#define NUM(max) do { if (parse_u64(v, vn, &x) || x > (uint64_t)(max)) \
	return bad(err, errlen, k, kn, v, vn, "is not a number in range"); } while (0)
	if (eq(k, kn, "interval")) { NUM(UINT64_MAX); o->interval = x; }
	else if (eq(k, kn, "probability")) { NUM(100); o->probability = (unsigned)x; }
	else if (eq(k, kn, "times")) {
		if (vn == 2 && !memcmp(v, "-1", 2))
			o->times = -1;
		else { NUM(INT64_MAX); o->times = (int64_t)x; }
	}
	else if (eq(k, kn, "space")) { NUM(UINT64_MAX); o->space = x; }
	else if (eq(k, kn, "limit")) { NUM(UINT64_MAX); o->limit = x; }
	else if (eq(k, kn, "seed")) { NUM(UINT64_MAX); o->seed = x; }
	else if (eq(k, kn, "timeout_ms")) { NUM(86400000); o->timeout_ms = x; }
	else if (eq(k, kn, "exitcode")) { NUM(255); o->exitcode = (int)x; }
	else if (eq(k, kn, "stack_depth")) {
		NUM(FSR_MAX_FRAMES);
		if (!x) return bad(err, errlen, k, kn, v, vn, "must be at least 1");
		o->stack_depth = (unsigned)x;
	}
	else if (eq(k, kn, "detect_needless_nofs")) { NUM(1); o->detect_needless_nofs = (int)x; }
	else if (eq(k, kn, "halt_on_error")) { NUM(1); o->halt_on_error = (int)x; }
	else if (eq(k, kn, "stats")) { NUM(1); o->stats = (int)x; }
	else if (eq(k, kn, "debuginfod")) { NUM(1); o->debuginfod = (int)x; }
	else if (eq(k, kn, "mode")) {
		if (eq(v, vn, "handoff")) o->mode = FSR_MODE_HANDOFF;
		else if (eq(v, vn, "inline")) o->mode = FSR_MODE_INLINE;
		else return bad(err, errlen, k, kn, v, vn, "is not handoff or inline");
	}
	else if (eq(k, kn, "vmalloc_model")) {
		if (eq(v, vn, "current")) o->vmalloc_legacy = 0;
		else if (eq(v, vn, "legacy")) o->vmalloc_legacy = 1;
		else return bad(err, errlen, k, kn, v, vn, "is not current or legacy");
	}
	else if (eq(k, kn, "fuse_transport")) {
		if (eq(v, vn, "auto")) o->fuse_transport = FSR_TRANSPORT_AUTO;
		else if (eq(v, vn, "lib")) o->fuse_transport = FSR_TRANSPORT_LIB;
		else if (eq(v, vn, "wire")) o->fuse_transport = FSR_TRANSPORT_WIRE;
		else return bad(err, errlen, k, kn, v, vn, "is not auto, lib or wire");
	}
	else if (eq(k, kn, "callbacks")) {
		if (parse_callbacks(v, vn, &o->callbacks))
			return bad(err, errlen, k, kn, v, vn, "is not a comma list of shrinkers,forget,fsync,flush");
	}
	else if (eq(k, kn, "log_path") || eq(k, kn, "json_path") || eq(k, kn, "suppressions")) {
		char *dst = k[0] == 'l' ? o->log_path : k[0] == 'j' ? o->json_path : o->suppressions;
		if (set_path(dst, v, vn))
			return bad(err, errlen, k, kn, v, vn, "is not a usable path");
	}
	else if (eq(k, kn, "replay")) {
		const char *why = fsr_replay_check(v, vn, 0);
		if (why)
			return bad(err, errlen, k, kn, v, vn, why);
		if (v[0] == '@' ? set_path(o->replay + 1, v + 1, vn - 1) : vn >= sizeof o->replay)
			return bad(err, errlen, k, kn, v, vn, "is not a usable path");
		if (v[0] == '@')
			o->replay[0] = '@';
		else {
			memcpy(o->replay, v, vn);
			o->replay[vn] = 0;
		}
	}
	else if (eq(k, kn, "record") || eq(k, kn, "sarif_path") || eq(k, kn, "source_root") ||
		 eq(k, kn, "graph_path")) {
		char *dst = k[0] == 'r' ? o->record : k[0] == 'g' ? o->graph_path :
			    k[1] == 'a' ? o->sarif_path : o->source_root;
		if (set_path(dst, v, vn))
			return bad(err, errlen, k, kn, v, vn, "is not a usable path");
	}
	else
		return bad(err, errlen, k, kn, v, vn, "is not a known option (see fsreclaim-run --help)");
#undef NUM
	return 0;
}

int fsr_options_parse(struct fsr_options *o, const char *s, char *err, size_t errlen)
{
	if (!s)
		return 0;
	size_t len = strlen(s);
	size_t i = 0;
	int after_record = 0;     /* the previous pair was replay=@PATH */
	while (i < len) {
		size_t j = i;
		while (j < len && s[j] != ':')
			j++;
		if (j > i) {   /* empty pairs ("a=1::b=2", trailing ':') are skipped */
			const char *p = s + i;
			const char *e = memchr(p, '=', j - i);
			if (!e && after_record) {
				/* replay=@PATH cannot carry a ':' (the separator) */
				fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: replay: a record path "
					"cannot contain ':'");
				return -1;
			}
			after_record = e && e - p == 6 && !memcmp(p, "replay", 6) && e[1] == '@';
			if (!e) {
				char q[256];
				fsr_quote(q, sizeof q, p, j - i, 48);
				fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: '%s': missing '=value'", q);
				return -1;
			}
			if (e == p) {
				char q[256];
				fsr_quote(q, sizeof q, p, j - i, 48);
				fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: '%s': empty key", q);
				return -1;
			}
			if (parse_one(o, p, (size_t)(e - p), e + 1, (size_t)(p + (j - i) - e - 1), err, errlen))
				return -1;
		}
		i = j + 1;
	}
	return 0;
}
