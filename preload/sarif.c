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

static void sstr(struct fsr_buf *b, const char *s)
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

static void put_location(struct fsr_buf *b, const struct fsr_sym *f, const char *msg, int id)
{
	char uri[1024], name[320];
	fsr_bput(b, "{");
	if (id >= 0)
		fsr_bput(b, "\"id\":%d,", id);
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
		fsr_bput(b, "\"physicalLocation\":{\"artifactLocation\":{\"uri\":");
		sstr(b, uri);
		if (under || f->file[0] != '/')
			fsr_bput(b, ",\"uriBaseId\":\"SRCROOT\"");
		fsr_bput(b, "},\"region\":{\"startLine\":%d}},", f->line);
	}
	if (f->func[0])
		fsr_fmt(name, sizeof name, "%s", f->func);
	else if (f->module[0])
		fsr_fmt(name, sizeof name, "%s+0x%lx", f->module, (unsigned long)f->mod_off);
	else
		fsr_fmt(name, sizeof name, "0x%lx", (unsigned long)f->pc);
	fsr_bput(b, "\"logicalLocations\":[{\"name\":");
	sstr(b, name);
	if (f->module[0]) {
		char fq[480];
		fsr_fmt(fq, sizeof fq, "%s!%s", f->module, name);
		fsr_bput(b, ",\"fullyQualifiedName\":");
		sstr(b, fq);
	}
	fsr_bput(b, ",\"kind\":\"function\"}]");
	if (msg) {
		fsr_bput(b, ",\"message\":{\"text\":");
		sstr(b, msg);
		fsr_bput(b, "}");
	}
	fsr_bput(b, "}");
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
	struct fsr_buf h = { head, sizeof head, 0, 0 };
	fsr_fmt(path, sizeof path, "%s.%d.sarif", fsr_opt.sarif_path, (int)getpid());
	fsr_fmt(tmp, sizeof tmp, "%s.tmp", path);
	fsr_bput(&h, "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{"
	     "\"tool\":{\"driver\":{\"name\":\"fsreclaim\",\"version\":\"%s\",\"rules\":[", PACKAGE_VERSION);
	for (unsigned int i = 0; i < nkinds; i++) {
		fsr_bput(&h, "%s{\"id\":", i ? "," : "");
		sstr(&h, kinds[i]);
		fsr_bput(&h, ",\"shortDescription\":{\"text\":");
		sstr(&h, kinds[i]);
		fsr_bput(&h, "}}");
	}
	memcpy(rooturi, "file://", 7);
	put_uri_path(rooturi + 7, sizeof rooturi - 7, root);
	fsr_bput(&h, "]}},\"originalUriBaseIds\":{\"SRCROOT\":{\"uri\":");
	sstr(&h, rooturi);
	fsr_bput(&h, "}},\"columnKind\":\"utf16CodeUnits\",\"results\":[");
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
	struct fsr_buf b = { one, sizeof one, 0, 0 };
	struct fsr_buf t = { text, sizeof text, 0, 0 };
	/* the message: what happened, the locks held, the chain */
	fsr_bput(&t, "%s", h->message);
	if (t.len && text[t.len - 1] != '.')
		fsr_bput(&t, ".");
	if (h->op)
		fsr_bput(&t, " In FUSE op %s.", h->op);
	for (int i = 0; i < h->nlocks; i++) {
		const struct fsr_sym *l = &locks[i];
		fsr_bput(&t, "%s%s (class %u", i ? "; " : " Locks held: ", h->locks[i].name, h->locks[i].cls);
		if (h->locks[i].holder)
			fsr_bput(&t, ", by thread %d", h->locks[i].holder);
		if (h->locks[i].site && l->func[0])
			fsr_bput(&t, ", taken in %s%s%s:%d", l->func, l->file[0] ? " " : "", l->file, l->line);
		fsr_bput(&t, ")");
	}
	if (h->body[0])
		fsr_bput(&t, "\n%.*s", (int)strnlen(h->body, sizeof h->body), h->body);
	fsr_bput(&b, "%s{\"ruleId\":", nresults ? "," : "");
	sstr(&b, h->kind);
	fsr_bput(&b, ",\"ruleIndex\":%u,\"level\":\"%s\",\"message\":{\"text\":", rule_index(h->kind),
	     h->level == FSR_ERROR ? "error" : "warning");
	sstr(&b, text);
	fsr_bput(&b, "},\"locations\":[");
	if (summary)
		put_location(&b, summary, NULL, -1);
	else
		fsr_bput(&b, "{\"message\":{\"text\":\"no symbolized frame\"}}");
	fsr_bput(&b, "]");
	int any = 0;
	for (int i = 0; i < h->nstacks; i++)
		if (stacks[i].n)
			any = 1;
	if (any) {
		fsr_bput(&b, ",\"relatedLocations\":[");
		int id = 0;
		for (int i = 0; i < h->nstacks; i++) {
			if (!stacks[i].n)
				continue;
			fsr_bput(&b, "%s", id ? "," : "");
			put_location(&b, &stacks[i].f[0], h->stacks[i].title ? h->stacks[i].title : "stack", id);
			id++;
		}
		fsr_bput(&b, "],\"codeFlows\":[{\"threadFlows\":[");
		int first = 1;
		for (int i = 0; i < h->nstacks; i++) {
			if (!stacks[i].n)
				continue;
			fsr_bput(&b, "%s{\"message\":{\"text\":", first ? "" : ",");
			sstr(&b, h->stacks[i].title ? h->stacks[i].title : "stack");
			fsr_bput(&b, "},\"locations\":[");
			unsigned int d = fsr_opt.stack_depth ? fsr_opt.stack_depth : 16;
			for (int j = 0; j < stacks[i].n && (unsigned)j < d; j++) {
				fsr_bput(&b, "%s{\"location\":", j ? "," : "");
				put_location(&b, &stacks[i].f[j], NULL, -1);
				fsr_bput(&b, ",\"nestingLevel\":%d}", j);
			}
			fsr_bput(&b, "]}");
			first = 0;
		}
		fsr_bput(&b, "]}]");
	}
	char key[160];
	fsr_bput(&b, ",\"properties\":{\"pid\":%d,\"tid\":%d", (int)getpid(), (int)h->tid);
	if (h->sched.valid) {
		fsr_schedule_key(&h->sched, key, sizeof key);
		fsr_bput(&b, ",\"replay\":");
		sstr(&b, key);
	}
	fsr_bput(&b, "}}");
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
