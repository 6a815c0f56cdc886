/* sarif.c - the reports as SARIF 2.1.0 (sarif_path=PATH: PATH.PID.sarif),
 * for code-scanning UIs (GitHub reads SARIF uploads).
 *
 * One result per printed (deduplicated, unsuppressed) report: ruleId the
 * kind, the level, the message with the locks held and the lockdep chain,
 * the SUMMARY line's frame as the primary location, every stack as a
 * threadFlow of one codeFlow and its first frame as a related location.
 * Files under source_root become URIs relative to the base id SRCROOT;
 * other absolute files file:// URIs; a frame without a source line is a
 * logical location (function, or module+offset).
 *
 * The whole document is rewritten after each report (into PATH.PID.sarif.tmp,
 * then rename), so the file is valid whenever the process dies.  Called
 * under the report lock; no malloc, no stdio. */
#include "symbols.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>      /* rename: a system call, no stream touched */
#include <string.h>
#include <unistd.h>

#define SARIF_RESULTS_MAX (4u << 20)   /* bytes of results kept; later ones dropped */
#define SARIF_KINDS_MAX 32

static char results[SARIF_RESULTS_MAX];
static size_t results_len;
static unsigned int nresults;
static const char *kinds[SARIF_KINDS_MAX];
static unsigned int nkinds;
static char root[4096];               /* source root, with a trailing '/' */
static int enabled;

struct sbuf { char *b; size_t cap, len; int full; };

static void sput(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sput(struct sbuf *b, const char *fmt, ...)
{
	if (b->len + 1 >= b->cap) {
		b->full = 1;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = fsr_vfmt(b->b + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if ((size_t)n >= b->cap - b->len - 1)
		b->full = 1;
	b->len += (size_t)n;
}

static void sstr(struct sbuf *b, const char *s)
{
	if (b->len + 8 >= b->cap) {
		b->full = 1;
		return;
	}
	size_t n = fsr_json_str(b->b + b->len, b->cap - b->len, s);
	if (b->len + n + 2 >= b->cap)
		b->full = 1;
	b->len += n;
}

/* a path as a URI reference: unreserved bytes and '/' as they are */
static void put_uri_path(char *out, size_t len, const char *p)
{
	size_t o = 0;
	for (; *p && o + 4 < len; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || c == '/')
			out[o++] = (char)c;
		else
			o += (size_t)fsr_fmt(out + o, len - o, "%%%02X", c);
	}
	out[o] = 0;
}

static void put_location(struct sbuf *b, const struct fsr_sym *f, const char *msg, int id)
{
	char uri[1024], name[320];
	sput(b, "{");
	if (id >= 0)
		sput(b, "\"id\":%d,", id);
	if (f->file[0] && f->line > 0) {
		size_t rn = strlen(root);
		int under = f->file[0] == '/' && !strncmp(f->file, root, rn);
		if (under)
			put_uri_path(uri, sizeof uri, f->file + rn);
		else if (f->file[0] == '/') {
			memcpy(uri, "file://", 7);
			put_uri_path(uri + 7, sizeof uri - 7, f->file);
		} else
			put_uri_path(uri, sizeof uri, f->file);
		sput(b, "\"physicalLocation\":{\"artifactLocation\":{\"uri\":");
		sstr(b, uri);
		if (under || f->file[0] != '/')
			sput(b, ",\"uriBaseId\":\"SRCROOT\"");
		sput(b, "},\"region\":{\"startLine\":%d}},", f->line);
	}
	if (f->func[0])
		fsr_fmt(name, sizeof name, "%s", f->func);
	else if (f->module[0])
		fsr_fmt(name, sizeof name, "%s+0x%lx", f->module, (unsigned long)f->mod_off);
	else
		fsr_fmt(name, sizeof name, "0x%lx", (unsigned long)f->pc);
	sput(b, "\"logicalLocations\":[{\"name\":");
	sstr(b, name);
	if (f->module[0]) {
		char fq[480];
		fsr_fmt(fq, sizeof fq, "%s!%s", f->module, name);
		sput(b, ",\"fullyQualifiedName\":");
		sstr(b, fq);
	}
	sput(b, ",\"kind\":\"function\"}]");
	if (msg) {
		sput(b, ",\"message\":{\"text\":");
		sstr(b, msg);
		sput(b, "}");
	}
	sput(b, "}");
}

static unsigned int rule_index(const char *kind)
{
	for (unsigned int i = 0; i < nkinds; i++)
		if (!strcmp(kinds[i], kind))
			return i;
	if (nkinds < SARIF_KINDS_MAX)
		kinds[nkinds++] = kind;
	return nkinds - 1;
}

/* the document: head (tool, rules, base ids), the results, the tail */
static int rewrite(char *err, size_t errlen)
{
	char path[4200], tmp[4300], head[16384], rooturi[4200];
	struct sbuf h = { head, sizeof head, 0, 0 };
	fsr_fmt(path, sizeof path, "%s.%d.sarif", fsr_opt.sarif_path, (int)getpid());
	fsr_fmt(tmp, sizeof tmp, "%s.tmp", path);
	sput(&h, "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{"
	     "\"tool\":{\"driver\":{\"name\":\"fsreclaim\",\"version\":\"%s\",\"rules\":[", PACKAGE_VERSION);
	for (unsigned int i = 0; i < nkinds; i++) {
		sput(&h, "%s{\"id\":", i ? "," : "");
		sstr(&h, kinds[i]);
		sput(&h, ",\"shortDescription\":{\"text\":");
		sstr(&h, kinds[i]);
		sput(&h, "}}");
	}
	memcpy(rooturi, "file://", 7);
	put_uri_path(rooturi + 7, sizeof rooturi - 7, root);
	sput(&h, "]}},\"originalUriBaseIds\":{\"SRCROOT\":{\"uri\":");
	sstr(&h, rooturi);
	sput(&h, "}},\"columnKind\":\"utf16CodeUnits\",\"results\":[");
	static const char tail[] = "]}]}\n";
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		if (err)
			fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: sarif_path: cannot create '%s': %s",
				tmp, strerror(errno));
		return -1;
	}
	int bad = fsr_write_all(fd, head, h.len) || fsr_write_all(fd, results, results_len) ||
		  fsr_write_all(fd, tail, sizeof tail - 1);
	if (close(fd) || bad || rename(tmp, path)) {
		if (err)
			fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: sarif_path: cannot write '%s': %s",
				path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int fsr_sarif_init(char *err, size_t errlen)
{
	if (!fsr_opt.sarif_path[0])
		return 0;
	const char *r = fsr_opt.source_root;
	size_t n;
	if (r[0]) {
		n = strnlen(r, sizeof root - 2);
		memcpy(root, r, n);
	} else if (getcwd(root, sizeof root - 2))
		n = strlen(root);
	else
		n = 0;
	root[n] = 0;
	fsr_path_normalize(root);   /* "build/../.." compares with the sources' names */
	n = strlen(root);
	if (!n || root[n - 1] != '/')
		root[n++] = '/';
	root[n] = 0;
	enabled = 1;
	return rewrite(err, errlen);
}

void fsr_sarif_add(const struct fsr_hazard *h, const struct fsr_sym *summary,
		   const struct sym_stack *stacks, const struct fsr_sym *locks)
{
	static char one[256 * 1024];
	static char text[8192];
	if (!enabled)
		return;
	struct sbuf b = { one, sizeof one, 0, 0 };
	struct sbuf t = { text, sizeof text, 0, 0 };
	/* the message: what happened, the locks held, the chain */
	sput(&t, "%s", h->message);
	if (t.len && text[t.len - 1] != '.')
		sput(&t, ".");
	if (h->op)
		sput(&t, " In FUSE op %s.", h->op);
	for (int i = 0; i < h->nlocks; i++) {
		const struct fsr_sym *l = &locks[i];
		sput(&t, "%s%s (class %u", i ? "; " : " Locks held: ", h->locks[i].name, h->locks[i].cls);
		if (h->locks[i].holder)
			sput(&t, ", by thread %d", h->locks[i].holder);
		if (h->locks[i].site && l->func[0])
			sput(&t, ", taken in %s%s%s:%d", l->func, l->file[0] ? " " : "", l->file, l->line);
		sput(&t, ")");
	}
	if (h->body[0])
		sput(&t, "\n%.*s", (int)strnlen(h->body, sizeof h->body), h->body);
	sput(&b, "%s{\"ruleId\":", nresults ? "," : "");
	sstr(&b, h->kind);
	sput(&b, ",\"ruleIndex\":%u,\"level\":\"%s\",\"message\":{\"text\":", rule_index(h->kind),
	     h->level == FSR_ERROR ? "error" : "warning");
	sstr(&b, text);
	sput(&b, "},\"locations\":[");
	if (summary)
		put_location(&b, summary, NULL, -1);
	else
		sput(&b, "{\"message\":{\"text\":\"no symbolized frame\"}}");
	sput(&b, "]");
	int any = 0;
	for (int i = 0; i < h->nstacks; i++)
		if (stacks[i].n)
			any = 1;
	if (any) {
		sput(&b, ",\"relatedLocations\":[");
		int id = 0;
		for (int i = 0; i < h->nstacks; i++) {
			if (!stacks[i].n)
				continue;
			sput(&b, "%s", id ? "," : "");
			put_location(&b, &stacks[i].f[0], h->stacks[i].title ? h->stacks[i].title : "stack", id);
			id++;
		}
		sput(&b, "],\"codeFlows\":[{\"threadFlows\":[");
		int first = 1;
		for (int i = 0; i < h->nstacks; i++) {
			if (!stacks[i].n)
				continue;
			sput(&b, "%s{\"message\":{\"text\":", first ? "" : ",");
			sstr(&b, h->stacks[i].title ? h->stacks[i].title : "stack");
			sput(&b, "},\"locations\":[");
			unsigned int d = fsr_opt.stack_depth ? fsr_opt.stack_depth : 16;
			for (int j = 0; j < stacks[i].n && (unsigned)j < d; j++) {
				sput(&b, "%s{\"location\":", j ? "," : "");
				put_location(&b, &stacks[i].f[j], NULL, -1);
				sput(&b, ",\"nestingLevel\":%d}", j);
			}
			sput(&b, "]}");
			first = 0;
		}
		sput(&b, "]}]");
	}
	char key[160];
	sput(&b, ",\"properties\":{\"pid\":%d,\"tid\":%d", (int)getpid(), (int)h->tid);
	if (h->sched.valid) {
		fsr_schedule_key(&h->sched, key, sizeof key);
		sput(&b, ",\"replay\":");
		sstr(&b, key);
	}
	sput(&b, "}}");
	if (b.full || results_len + b.len >= sizeof results)
		return;
	memcpy(results + results_len, one, b.len);
	results_len += b.len;
	nresults++;
	if (rewrite(NULL, 0))
		fsr_say("fsreclaim: sarif_path: cannot rewrite %s.%d.sarif", fsr_opt.sarif_path, (int)getpid());
}

/* a forked child writes its own file, with its own reports only */
void fsr_sarif_atfork_child(void)
{
	results_len = 0;
	nresults = 0;
	nkinds = 0;
	if (enabled)
		rewrite(NULL, 0);
}
