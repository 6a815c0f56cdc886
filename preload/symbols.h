/* symbols.h - symbolization for reports (symbols.c), private to
 * report.c/stack.c and their tests. */
#ifndef FSR_SYMBOLS_H
#define FSR_SYMBOLS_H
#include "fsr.h"

struct fsr_sym {
	uintptr_t pc;            /* as captured (a return address or a site) */
	char func[192];          /* "" when unknown */
	char file[256];          /* "" when unknown */
	int line;                /* 0 when unknown */
	char module[128];        /* basename of the object, "" when unknown */
	uintptr_t func_off;      /* pc - start of func (symbol table), valid when has_off */
	uintptr_t mod_off;       /* pc - start of module */
	int has_off;
	int inlined;             /* an inlined call expanded from the next frame */
};

/* a symbolized stack (report.c), inline frames expanded */
#define SYM_PER_STACK (FSR_MAX_FRAMES + 32)
struct sym_stack { int n; struct fsr_sym f[SYM_PER_STACK]; };

/* SARIF (sarif.c): add the report just printed and rewrite the file.
 * summary: the SUMMARY line's frame (or NULL); stacks[i] symbolizes
 * h->stacks[i], locks[i] h->locks[i].site.  Called under the report lock. */
void fsr_sarif_add(const struct fsr_hazard *h, const struct fsr_sym *summary,
		   const struct sym_stack *stacks, const struct fsr_sym *locks) FSR_HIDDEN;

/* Symbolize one pc, inline frames expanded, innermost first.  Fills at
 * most max entries and returns how many (at least 1 when max > 0).
 * Allocates (libdw): the caller marks its thread busy.  Thread-safe. */
int fsr_sym_pc(const void *pc, struct fsr_sym *out, int max) FSR_HIDDEN;
/* Name of a global or static data object containing addr ("name" or
 * "name+0xOFF"); 0 when found, -1 otherwise.  Same rules. */
int fsr_sym_data(const void *addr, char *buf, size_t len) FSR_HIDDEN;
/* a new report may look at the process's modules again once (dlopen) */
void fsr_sym_new_report(void) FSR_HIDDEN;
/* debuginfod=1: fetch the debug info of pc[0..n)'s modules, once each,
 * bounded; the caller holds no lock of the shim's (the fetch is network
 * I/O); nothing when another thread is fetching */
void fsr_sym_prefetch(void *const *pc, int n) FSR_HIDDEN;
/* forked child: the locks may be held by a thread that is gone */
void fsr_sym_atfork_child(void) FSR_HIDDEN;
/* the frame is one of fsreclaim.h's own tiny functions (dropped) */
int fsr_sym_is_header_frame(const struct fsr_sym *s) FSR_HIDDEN;
/* report.c: does a loaded suppression of kind match this function name? */
int fsr_suppressed_name(const char *kind, const char *func) FSR_HIDDEN;
/* report.c: forget what was reported (dedup), for tests */
void fsr_report_reset(void) FSR_HIDDEN;

#endif
