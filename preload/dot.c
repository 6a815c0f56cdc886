/* dot.c - graph_path=PATH: the fs_reclaim dependency graph as Graphviz DOT
 * (PATH.PID.dot), written at exit; fsreclaim-report renders it.
 *
 * Nodes: the lock classes that have an edge (name, class number, where the
 * class was first seen) and the pseudo-locks fs_reclaim and io_reclaim.
 * Edges: where each was first seen.  Edges on a cycle are drawn bold;
 * edges of a reported reclaim-lock-inversion red, with class "reported"
 * (Graphviz copies it into the SVG), cycles with class "cycle".  Nothing
 * runs before exit except creating the file, so that an unwritable path is
 * an error at start-up; normal runs pay nothing. */
#include "lockdep.h"
#include "symbols.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>      /* rename: a system call, no stream touched */
#include <string.h>
#include <unistd.h>

#define DOT_EDGES_MAX 8192

static char path[4200];

static const char empty[] = "digraph fs_reclaim {\n}\n";

/* the empty graph now: the path is writable, and the file is valid DOT
 * even when the process never reaches exit */
int fsr_dot_init(char *err, size_t errlen)
{
	if (!fsr_opt.graph_path[0])
		return 0;
	fsr_fmt(path, sizeof path, "%s.%d.dot", fsr_opt.graph_path, (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || fsr_write_all(fd, empty, sizeof empty - 1)) {
		fsr_fmt(err, errlen, "fsreclaim: error: FSRECLAIM_OPTIONS: graph_path: cannot create '%s': %s",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* a DOT string's body: quotes and backslashes escaped */
static void dstr(struct fsr_buf *b, const char *s)
{
	for (; *s && b->len + 3 < b->cap; s++) {
		if (*s == '"' || *s == '\\')
			b->b[b->len++] = '\\';
		b->b[b->len++] = *s == '\n' ? ' ' : *s;
	}
	b->b[b->len] = 0;
}

static void where(char *out, size_t len, void *pc)
{
	struct fsr_sym f[4];
	if (!pc || fsr_sym_pc(pc, f, 4) < 1) {
		fsr_fmt(out, len, "an unknown site");
		return;
	}
	const char *file = strrchr(f[0].file, '/');
	file = file ? file + 1 : f[0].file;
	if (f[0].func[0] && file[0] && f[0].line)
		fsr_fmt(out, len, "%s %s:%d", f[0].func, file, f[0].line);
	else if (f[0].func[0])
		fsr_fmt(out, len, "%s", f[0].func);
	else
		fsr_fmt(out, len, "%s+0x%lx", f[0].module[0] ? f[0].module : "?", (unsigned long)f[0].mod_off);
}

void fsr_dot_write(void)
{
	static struct fsr_graph_edge_info e[DOT_EDGES_MAX];
	static unsigned char used[FSR_MAX_CLASSES];
	static char text[2 << 20];
	if (!path[0])
		return;
	fsr_busy_enter(&fsr_self);
	int n = fsr_graph_edges(e, DOT_EDGES_MAX);
	struct fsr_buf b = { text, sizeof text, 0, 0 };
	char nm[64], site[512];
	memset(used, 0, sizeof used);
	used[FSR_CLS_FS_RECLAIM] = used[FSR_CLS_IO_RECLAIM] = 1;
	for (int i = 0; i < n; i++)
		used[e[i].from] = used[e[i].to] = 1;
	fsr_bput(&b, "digraph fs_reclaim {\n\tlabel=\"fsreclaim: the fs_reclaim dependency graph of pid %d\";\n"
	     "\trankdir=LR;\n\tnode [shape=box, fontname=\"monospace\", fontsize=10];\n"
	     "\tedge [fontname=\"monospace\", fontsize=9];\n", (int)getpid());
	for (unsigned int c = 1; c < FSR_MAX_CLASSES; c++) {
		if (!used[c])
			continue;
		fsr_class_name(c, nm, sizeof nm);
		fsr_bput(&b, "\t\"cls%u\" [", c);
		if (c == FSR_CLS_FS_RECLAIM || c == FSR_CLS_IO_RECLAIM) {
			fsr_bput(&b, "label=\"%s\", shape=ellipse, style=filled, fillcolor=\"#e0e0e0\", class=\"pseudo\"", nm);
		} else {
			where(site, sizeof site, fsr_classes[c].site);
			fsr_bput(&b, "label=\"");
			dstr(&b, nm);
			fsr_bput(&b, "\\nclass %u\\n", c);
			dstr(&b, site);
			fsr_bput(&b, "\", tooltip=\"");
			dstr(&b, nm);
			fsr_bput(&b, "\", class=\"lock\"");
		}
		fsr_bput(&b, "];\n");
	}
	for (int i = 0; i < n; i++) {
		where(site, sizeof site, e[i].site);
		fsr_bput(&b, "\t\"cls%u\" -> \"cls%u\" [label=\"", e[i].from, e[i].to);
		dstr(&b, site);
		fsr_bput(&b, "\"");
		if (e[i].reported)
			fsr_bput(&b, ", color=red, fontcolor=red, penwidth=2.5, class=\"reported cycle\"");
		else if (e[i].on_cycle)
			fsr_bput(&b, ", penwidth=2, class=\"cycle\"");
		if (!(e[i].bits & (FSR_EDGE_SRCW | FSR_EDGE_DSTW)))
			fsr_bput(&b, ", style=dashed");     /* read-only at both ends */
		fsr_bput(&b, "];\n");
	}
	fsr_bput(&b, "}\n");
	char tmp[4300];
	fsr_fmt(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || fsr_write_all(fd, text, b.len) || close(fd) || rename(tmp, path)) {
		fsr_say("fsreclaim: graph_path: cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	fsr_self.busy--;
}

void fsr_dot_atfork_child(void)
{
	/* the child's graph goes to its own file */
	if (fsr_opt.graph_path[0]) {
		char err[256];
		if (fsr_dot_init(err, sizeof err))
			path[0] = 0;
	}
}
