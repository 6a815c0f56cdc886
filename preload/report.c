/* report.c - hazard reports: text, JSON, dedup, suppressions. (stub) */
#include "fsr.h"
#include <string.h>
#include <unistd.h>

uint64_t fsr_stat_hazards;
int fsr_exit_status_hit;

void fsr_hazard_init(struct fsr_hazard *h, const char *kind, int level)
{
	struct fsr_thread *t = fsr_thread_self();
	memset(h, 0, sizeof(*h));
	h->kind = kind; h->level = level; h->op = t->op; h->tid = fsr_gettid();
}

void fsr_hazard_add_held_locks(struct fsr_hazard *h, const struct fsr_thread *t) { (void)h; (void)t; }

int fsr_report(struct fsr_hazard *h)
{
	char buf[1024];
	int n = fsr_fmt(buf, sizeof buf, "==%d==fsreclaim: %s: %s\n%s\nSUMMARY: fsreclaim: %s\n",
			(int)fsr_pid, h->level == FSR_ERROR ? "ERROR" : "WARNING", h->kind,
			h->message, h->kind);
	fsr_out_write(buf, n);
	__atomic_add_fetch(&fsr_stat_hazards, 1, __ATOMIC_RELAXED);
	if (strcmp(h->kind, "needless-nofs"))
		fsr_exit_status_hit = 1;
	return 1;
}

int fsr_suppressions_parse(const char *text, size_t len, char *err, size_t errlen) { (void)text; (void)len; (void)err; (void)errlen; return 0; }
int fsr_suppressions_load(const char *path, char *err, size_t errlen) { (void)path; (void)err; (void)errlen; return 0; }
void fsr_lock_name(const void *lock, char *buf, size_t len) { fsr_fmt(buf, len, "lock@%p", lock); }
