/* report_test.c - unit tests of report.c, stack.c and symbols.c, linked
 * against the core library (no preload).
 *
 *   report_test            run the Check suite
 *   report_test emit DIR   write a few reports with hostile strings to
 *                          DIR/json.PID and DIR/log.PID (json.sh parses them)
 */
#include "symbols.h"
#include "modules.h"
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>


static char tmpdir[256];
static int cap_line, site_line, inl_line, outer_line;

#define BARRIER() __asm__ volatile("" ::: "memory")

static void out_setup_in(const char *dir)
{
	char err[512];
	fsr_options_defaults(&fsr_opt);
	fsr_pid = getpid();
	snprintf(fsr_opt.log_path, sizeof fsr_opt.log_path, "%s/log", dir);
	snprintf(fsr_opt.json_path, sizeof fsr_opt.json_path, "%s/json", dir);
	if (fsr_out_init(err, sizeof err)) {
		fprintf(stderr, "fsr_out_init: %s\n", err);
		abort();
	}
	fsr_stat_hazards = 0;
	fsr_exit_status_hit = 0;
}

static void setup(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/fsr-report-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	out_setup_in(tmpdir);
}

static void teardown(void)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd)) { /* best effort */ }
}

static char *slurp(const char *base)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s.%d", tmpdir, base, (int)getpid());
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("");
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return strdup(buf);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* ---- functions whose names and lines the reports must show ---- */

__attribute__((noinline)) static int hazard_site(const char *kind, int level)
{
	struct fsr_hazard h;
	fsr_hazard_init(&h, kind, level);
	fsr_fmt(h.message, sizeof h.message, "test hazard of kind %s", kind);
	cap_line = __LINE__; fsr_stack_capture(&h.stacks[h.nstacks++], "test stack");
	int r = fsr_report(&h);
	BARRIER();
	return r;
}

__attribute__((noinline)) static void *get_pc(void)
{
	return __builtin_return_address(0);
}

static pthread_mutex_t test_static_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { long pad; pthread_mutex_t m; } lock_pair = { 0, PTHREAD_MUTEX_INITIALIZER };

__attribute__((noinline)) static void *take_lock_here(void)
{
	void *pc;
	site_line = __LINE__; pc = get_pc();
	BARRIER();
	return pc;
}

__attribute__((noinline)) static int supp_target_fn(const char *kind)
{
	int r = hazard_site(kind, FSR_WARNING);
	BARRIER();
	return r;
}

static volatile int other_calls;

__attribute__((noinline)) static int other_fn(const char *kind)
{
	int r = hazard_site(kind, FSR_WARNING);
	other_calls++;          /* not the same code as supp_target_fn */
	return r;
}

__attribute__((noinline)) static int deep(int n)
{
	int r = n ? deep(n - 1) : hazard_site("scope-leak", FSR_WARNING);
	BARRIER();
	return r;
}

static inline __attribute__((always_inline)) void inl_capture(struct fsr_stack *s)
{
	inl_line = __LINE__; fsr_stack_capture(s, "inline");
}

__attribute__((noinline)) static void outer_fn(struct fsr_stack *s)
{
	outer_line = __LINE__; inl_capture(s);
	BARRIER();
}

/* ---- tests ---- */

START_TEST(test_header_summary)
{
	ck_assert_int_eq(hazard_site("scope-leak", FSR_WARNING), 1);
	char *log = slurp("log");
	char want[256];
	snprintf(want, sizeof want, "==%d==fsreclaim: WARNING: scope-leak", (int)getpid());
	ck_assert_msg(!strncmp(log, want, strlen(want)), "header: %s", log);
	ck_assert_msg(strstr(log, "\ntest hazard of kind scope-leak\n"), "message: %s", log);
	snprintf(want, sizeof want, "report_test.c:%d\n", cap_line);
	ck_assert_msg(strstr(log, " in hazard_site ") && strstr(log, want), "frame: %s", log);
	snprintf(want, sizeof want, "\nSUMMARY: fsreclaim: scope-leak hazard_site report_test.c:%d\n", cap_line);
	ck_assert_msg(strstr(log, want), "summary '%s' in: %s", want, log);
	/* SUMMARY is the last line */
	char *s = strstr(log, "\nSUMMARY: ");
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_eq(strchr(s + 1, '\n') + 1, log + strlen(log));
	ck_assert_msg(strstr(log, " in test_header_summary_fn ") || strstr(log, " in test_header_summary "),
		      "caller frame: %s", log);
	ck_assert_msg(strstr(log, "  no locks held"), "%s", log);
	ck_assert_ptr_null(strstr(log, "in FUSE op"));
	ck_assert_int_eq(fsr_stat_hazards, 1);
	ck_assert_int_eq(fsr_exit_status_hit, 1);
	char *json = slurp("json");
	ck_assert_int_eq(count(json, "\n"), 1);
	ck_assert_msg(strstr(json, "\"kind\":\"scope-leak\",\"level\":\"WARNING\""), "%s", json);
	ck_assert_msg(strstr(json, "\"op\":null"), "%s", json);
	snprintf(want, sizeof want, "\"function\":\"hazard_site\",\"file\":\"");
	ck_assert_msg(strstr(json, want), "%s", json);
	snprintf(want, sizeof want, "report_test.c\",\"line\":%d", cap_line);
	ck_assert_msg(strstr(json, want), "%s", json);
	free(log);
	free(json);
}
END_TEST

START_TEST(test_error_level)
{
	ck_assert_int_eq(hazard_site("reclaim-deadlock", FSR_ERROR), 1);
	char *log = slurp("log");
	char want[128];
	snprintf(want, sizeof want, "==%d==fsreclaim: ERROR: reclaim-deadlock", (int)getpid());
	ck_assert_msg(!strncmp(log, want, strlen(want)), "%s", log);
	ck_assert_msg(strstr(log, "\nSUMMARY: fsreclaim: reclaim-deadlock hazard_site "), "%s", log);
	free(log);
}
END_TEST

START_TEST(test_needless_nofs_no_exitcode)
{
	ck_assert_int_eq(hazard_site("needless-nofs", FSR_WARNING), 1);
	ck_assert_int_eq(fsr_stat_hazards, 1);
	ck_assert_int_eq(fsr_exit_status_hit, 0);
}
END_TEST

START_TEST(test_halt_on_error)
{
	fsr_opt.halt_on_error = 1;
	fsr_opt.exitcode = 66;
	/* a WARNING does not halt */
	ck_assert_int_eq(hazard_site("scope-leak", FSR_WARNING), 1);
	hazard_site("reclaim-wait-timeout", FSR_ERROR);
	ck_abort_msg("halt_on_error=1 did not exit after an ERROR");
}
END_TEST

START_TEST(test_op_and_locks)
{
	struct fsr_thread t;
	memset(&t, 0, sizeof t);
	void *heap = malloc(64);
	t.nheld = 3;
	t.held[0].lock = &test_static_lock; t.held[0].cls = 3; t.held[0].site = take_lock_here();
	t.held[1].lock = heap; t.held[1].cls = 7; t.held[1].site = take_lock_here();
	t.held[2].lock = &lock_pair.m; t.held[2].cls = 9; t.held[2].site = NULL;
	struct fsr_hazard h;
	fsr_hazard_init(&h, "reclaim-lock-inversion", FSR_WARNING);
	h.op = "write";
	fsr_fmt(h.message, sizeof h.message, "locks");
	fsr_hazard_add_held_locks(&h, &t);
	ck_assert_int_eq(h.nlocks, 3);
	ck_assert_str_eq(h.locks[0].name, "test_static_lock");
	char want[256];
	snprintf(want, sizeof want, "lock@%p", heap);
	ck_assert_str_eq(h.locks[1].name, want);
	ck_assert_str_eq(h.locks[2].name, "lock_pair+0x8");
	fsr_stack_capture(&h.stacks[h.nstacks++], "s");
	ck_assert_int_eq(fsr_report(&h), 1);
	char *log = slurp("log");
	ck_assert_msg(strstr(log, "\n  in FUSE op: write\n"), "%s", log);
	ck_assert_msg(strstr(log, "\n  locks held by the allocating thread:\n"), "%s", log);
	snprintf(want, sizeof want, "    #0 test_static_lock (class 3) taken at take_lock_here report_test.c:%d\n", site_line);
	ck_assert_msg(strstr(log, want), "want '%s' in %s", want, log);
	snprintf(want, sizeof want, "    #1 lock@%p (class 7) taken at take_lock_here", heap);
	ck_assert_msg(strstr(log, want), "%s", log);
	ck_assert_msg(strstr(log, "    #2 lock_pair+0x8 (class 9) taken at an unknown site\n"), "%s", log);
	char *json = slurp("json");
	ck_assert_msg(strstr(json, "\"op\":\"write\""), "%s", json);
	ck_assert_msg(strstr(json, "{\"name\":\"test_static_lock\",\"class\":3,\"site\":{\"pc\":"), "%s", json);
	free(heap);
	free(log);
	free(json);
}
END_TEST

START_TEST(test_dedup)
{
	int r[3];
	volatile int three = 3, two = 2;   /* no unrolling: one call site */
	for (int i = 0; i < three; i++)
		r[i] = hazard_site("scope-leak", FSR_WARNING);   /* same pcs every time */
	ck_assert_int_eq(r[0], 1);
	ck_assert_int_eq(r[1], 0);
	ck_assert_int_eq(r[2], 0);
	/* same stacks, another kind: a different hazard */
	ck_assert_int_eq(hazard_site("scope-imbalance", FSR_WARNING), 1);
	/* another call path: a different hazard, once */
	for (int i = 0; i < two; i++)
		r[i] = other_fn("scope-leak");
	ck_assert_int_eq(r[0], 1);
	ck_assert_int_eq(r[1], 0);
	char *log = slurp("log");
	ck_assert_int_eq(count(log, "fsreclaim: WARNING:"), 3);
	ck_assert_int_eq(count(log, "\nSUMMARY: "), 3);
	ck_assert_int_eq(fsr_stat_hazards, 3);
	free(log);
	fsr_report_reset();
	ck_assert_int_eq(other_fn("scope-leak"), 1);
}
END_TEST

START_TEST(test_suppressions)
{
	char err[512] = "";
	const char *s = "# a comment\n\n   # indented comment\n"
			"scope-leak : supp_target*  \r\n"
			"reclaim-deadlock:*never_matches*\n";
	ck_assert_msg(fsr_suppressions_parse(s, strlen(s), err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(supp_target_fn("scope-leak"), 0);           /* suppressed */
	ck_assert_int_eq(supp_target_fn("scope-imbalance"), 1);      /* other kind */
	ck_assert_int_eq(other_fn("scope-leak"), 1);                 /* other function */
	ck_assert_int_eq(fsr_stat_hazards, 2);
	char *log = slurp("log");
	ck_assert_int_eq(count(log, "SUMMARY: fsreclaim: scope-leak"), 1);
	ck_assert_int_eq(count(log, "SUMMARY: fsreclaim: scope-imbalance"), 1);
	free(log);
	/* globs: whole-name match, '*' anywhere, '?' one character */
	const char *pats[] = { "*", "supp_*_fn", "?upp_target_fn", "supp_target_fn", "*target*", "s*p*t*n" };
	for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
		char line[128];
		fsr_report_reset();
		snprintf(line, sizeof line, "scope-leak:%s\n", pats[i]);
		ck_assert_int_eq(fsr_suppressions_parse(line, strlen(line), err, sizeof err), 0);
		ck_assert_msg(supp_target_fn("scope-leak") == 0, "pattern %s did not suppress", pats[i]);
	}
	const char *nomatch[] = { "supp_target", "upp_target_fn", "supp_target_fn?", "x*" };
	for (size_t i = 0; i < sizeof nomatch / sizeof nomatch[0]; i++) {
		char line[128];
		fsr_report_reset();
		snprintf(line, sizeof line, "scope-leak:%s\n", nomatch[i]);
		ck_assert_int_eq(fsr_suppressions_parse(line, strlen(line), err, sizeof err), 0);
		ck_assert_msg(other_fn("scope-leak") == 1, "pattern %s suppressed other_fn", nomatch[i]);
	}
	/* "*" would match; an empty set suppresses nothing */
	fsr_report_reset();
	ck_assert_int_eq(fsr_suppressions_parse("", 0, err, sizeof err), 0);
	ck_assert_int_eq(supp_target_fn("scope-leak"), 1);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_suppression_errors)
{
	char err[512];
	struct { const char *text; const char *want; } bad[] = {
		{ "scope-leak\n", "<suppressions>:1: expected 'kind:function-glob'" },
		{ "# ok\n\nbogus-kind:foo\n", "<suppressions>:3: unknown kind" },
		{ ":foo\n", ":1: empty kind" },
		{ "scope-leak:\n", ":1: empty function pattern" },
		{ "scope-leak:  \t\n", ":1: empty function pattern" },
		{ "scope-leak:a\x01" "b\n", ":1: control character" },
		{ "scope-leak:ok\nscope-leak:a\0b\n", ":2: control character" },
	};
	size_t lens[] = { 0, 0, 0, 0, 0, 0, sizeof "scope-leak:ok\nscope-leak:a\0b\n" - 1 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		size_t len = lens[i] ? lens[i] : strlen(bad[i].text);
		ck_assert_int_eq(fsr_suppressions_parse(bad[i].text, len, err, sizeof err), -1);
		ck_assert_msg(strstr(err, bad[i].want), "case %zu: '%s' lacks '%s'", i, err, bad[i].want);
		ck_assert_msg(!strncmp(err, "fsreclaim: error: suppressions: ", 32), "%s", err);
	}
	/* a failed parse keeps the rules that were loaded before */
	ck_assert_int_eq(fsr_suppressions_parse("scope-leak:supp_target_fn", 25, err, sizeof err), 0);
	ck_assert_int_eq(fsr_suppressions_parse("scope-leak", 10, err, sizeof err), -1);
	ck_assert_int_eq(supp_target_fn("scope-leak"), 0);

	char path[400];
	snprintf(path, sizeof path, "%s/missing.supp", tmpdir);
	ck_assert_int_eq(fsr_suppressions_load(path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "suppressions") && strstr(err, path) && strstr(err, "No such file"), "%s", err);
	ck_assert_int_eq(fsr_suppressions_load(tmpdir, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "not a regular file") && strstr(err, tmpdir), "%s", err);
	snprintf(path, sizeof path, "%s/bad.supp", tmpdir);
	write_file(path, "# header\nscope-leak:foo\nscope-leak foo\n");
	ck_assert_int_eq(fsr_suppressions_load(path, err, sizeof err), -1);
	char want[500];
	snprintf(want, sizeof want, "%s:3: expected 'kind:function-glob': 'scope-leak foo'", path);
	ck_assert_msg(strstr(err, want), "'%s' lacks '%s'", err, want);
	snprintf(path, sizeof path, "%s/good.supp", tmpdir);
	write_file(path, "# header\nscope-imbalance:supp_target_fn\n");
	ck_assert_msg(fsr_suppressions_load(path, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(supp_target_fn("scope-imbalance"), 0);
	ck_assert_int_eq(supp_target_fn("scope-leak"), 1);
}
END_TEST

static int stack_section_frames(const char *log, const char *title)
{
	char t[128];
	snprintf(t, sizeof t, "\n  %s:\n", title);
	const char *p = strstr(log, t);
	if (!p)
		return -1;
	p += strlen(t);
	int n = 0;
	while (!strncmp(p, "    #", 5)) {
		n++;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return n;
}

START_TEST(test_stack_depth)
{
	fsr_opt.stack_depth = 3;
	ck_assert_int_eq(deep(8), 1);
	char *log = slurp("log");
	ck_assert_int_eq(stack_section_frames(log, "test stack"), 3);
	ck_assert_msg(strstr(log, "    #0 0x") && strstr(log, "    #2 0x") && !strstr(log, "    #3 0x"), "%s", log);
	ck_assert_msg(strstr(log, "#1 0x") && strstr(log, " in deep "), "%s", log);
	char *json = slurp("json");
	ck_assert_int_eq(count(json, "\"pc\":"), 3);
	free(log);
	free(json);
	fsr_report_reset();
	fsr_opt.stack_depth = 64;
	ck_assert_int_eq(deep(8), 1);
	log = slurp("log");
	ck_assert_int_ge(count(log, " in deep "), 9);
	free(log);
}
END_TEST

START_TEST(test_inline_frames)
{
	struct fsr_sym syms[8];
	struct fsr_stack s;
	outer_fn(&s);
	ck_assert_int_ge(s.n, 2);
	int k = fsr_sym_pc(s.pc[0], syms, 8);
	ck_assert_int_ge(k, 2);
	ck_assert_str_eq(syms[0].func, "inl_capture");
	ck_assert_int_eq(syms[0].line, inl_line);
	ck_assert_int_eq(syms[0].inlined, 1);
	ck_assert_str_eq(syms[1].func, "outer_fn");
	ck_assert_int_eq(syms[1].line, outer_line);
	ck_assert_ptr_nonnull(strstr(syms[1].file, "report_test.c"));
	ck_assert_uint_eq(syms[0].pc, syms[1].pc);
	ck_assert_ptr_nonnull(strstr(syms[0].module, "report_test"));
}
END_TEST

START_TEST(test_symbols_misc)
{
	struct fsr_sym sym[4];
	/* a libc function (no assumption on its debug info) */
	int k = fsr_sym_pc((char *)(void *)&getpid + 1, sym, 4);
	ck_assert_int_ge(k, 1);
	ck_assert_msg(strstr(sym[k - 1].func, "getpid") != NULL, "%s", sym[k - 1].func);
	ck_assert_msg(strstr(sym[0].module, "libc"), "%s", sym[0].module);
	/* no module at all */
	k = fsr_sym_pc((void *)0x10, sym, 4);
	ck_assert_int_eq(k, 1);
	ck_assert_str_eq(sym[0].func, "");
	ck_assert_str_eq(sym[0].module, "");
	char name[64];
	ck_assert_int_eq(fsr_sym_data(&fsr_opt, name, sizeof name), 0);
	ck_assert_str_eq(name, "fsr_opt");
	int local;
	ck_assert_int_eq(fsr_sym_data(&local, name, sizeof name), -1);
	/* a library loaded after the first symbolization is found once the
	 * module table is built again (libcwrap.c's dlopen does that; the
	 * core linked here has no wrapper) */
	void *lib = dlopen("libfuse3.so.3", RTLD_NOW | RTLD_LOCAL);
	if (lib) {
		fsr_modules_refresh();
		void *fn = dlsym(lib, "fuse_session_new");
		ck_assert_ptr_nonnull(fn);
		fsr_sym_new_report();
		k = fsr_sym_pc((char *)fn + 1, sym, 4);
		ck_assert_msg(!strncmp(sym[k - 1].func, "fuse_session_new", 16), "func '%s' module '%s' k %d", sym[k - 1].func, sym[0].module, k);
		ck_assert_msg(!strncmp(sym[0].module, "libfuse3.so", 11), "%s", sym[0].module);
	}
	/* from_pc */
	struct fsr_stack s;
	fsr_stack_from_pc(&s, "t", NULL);
	ck_assert_int_eq(s.n, 0);
	fsr_stack_from_pc(&s, "t", get_pc());
	ck_assert_int_eq(s.n, 1);
}
END_TEST

/* a thread parked in a function of ours, for fsr_stack_capture_thread: it
 * records its stack as a lock wrapper's contended path does, then waits
 * (arg != NULL: it parks without saying it waits on a tracked lock) */
static int park_word;
static pid_t parked_tid;
static int park_lock_word;

__attribute__((noinline)) static void parked_thread_fn(int tracked)
{
	struct fsr_thread *t = fsr_thread_self();
	fsr_thread_register(t);
	if (tracked) {
		fsr_stack_note_wait(t);
		__atomic_store_n(&t->blocked_on, &park_lock_word, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&parked_tid, fsr_gettid(), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&park_word, __ATOMIC_ACQUIRE))
		fsr_futex_wait(&park_word, 0, 1000000000ull);
	__atomic_store_n(&t->blocked_on, NULL, __ATOMIC_RELEASE);
	fsr_thread_unregister(t);
	BARRIER();
}

static void *parked_main(void *arg)
{
	parked_thread_fn(arg == NULL);
	return NULL;
}

START_TEST(test_capture_thread)
{
	pthread_t th;
	park_word = 0;
	parked_tid = 0;
	ck_assert_int_eq(pthread_create(&th, NULL, parked_main, NULL), 0);
	while (!__atomic_load_n(&parked_tid, __ATOMIC_ACQUIRE))
		usleep(1000);
	struct fsr_hazard h;
	fsr_hazard_init(&h, "reclaim-wait-timeout", FSR_ERROR);
	ck_assert_int_eq(fsr_stack_capture_thread(parked_tid, &h.stacks[0], "parked thread"), 0);
	h.nstacks = 1;
	ck_assert_int_ge(h.stacks[0].n, 2);
	ck_assert_int_eq(fsr_report(&h), 1);
	char *log = slurp("log");
	ck_assert_msg(strstr(log, "\n  parked thread:\n") && strstr(log, " in parked_thread_fn ")
		      && strstr(log, " in parked_main "), "%s", log);
	free(log);
	/* twice in a row works */
	ck_assert_int_eq(fsr_stack_capture_thread(parked_tid, &h.stacks[0], "again"), 0);
	__atomic_store_n(&park_word, 1, __ATOMIC_RELEASE);
	fsr_futex_wake(&park_word, 1);
	pthread_join(th, NULL);
	/* a thread that does not exist */
	ck_assert_int_eq(fsr_stack_capture_thread(999999999, &h.stacks[0], "none"), -1);
	ck_assert_int_eq(h.stacks[0].n, 0);
	/* our own thread */
	ck_assert_int_eq(fsr_stack_capture_thread(fsr_gettid(), &h.stacks[0], "self"), 0);
	ck_assert_int_ge(h.stacks[0].n, 1);
}
END_TEST

/* a thread waiting outside tracked locks: no stack, at once, no signal */
START_TEST(test_capture_thread_untracked)
{
	pthread_t th;
	park_word = 0;
	parked_tid = 0;
	ck_assert_int_eq(pthread_create(&th, NULL, parked_main, (void *)1), 0);
	while (!__atomic_load_n(&parked_tid, __ATOMIC_ACQUIRE))
		usleep(1000);
	struct fsr_stack s;
	uint64_t t0 = fsr_now_ns();
	ck_assert_int_eq(fsr_stack_capture_thread(parked_tid, &s, "untracked"), -1);
	uint64_t dt = fsr_now_ns() - t0;
	ck_assert_int_eq(s.n, 0);
	ck_assert_msg(dt < 100000000ull, "waited %llu ns", (unsigned long long)dt);
	__atomic_store_n(&park_word, 1, __ATOMIC_RELEASE);
	fsr_futex_wake(&park_word, 1);
	pthread_join(th, NULL);
	/* no handler of ours on any signal */
	struct sigaction sa;
	ck_assert_int_eq(sigaction(SIGRTMAX - 1, NULL, &sa), 0);
	ck_assert(sa.sa_handler == SIG_DFL);
}
END_TEST

/* many threads report at once: every report whole, none lost */
static void *reporter(void *arg)
{
	long i = (long)arg;
	for (int k = 0; k < 20; k++) {
		struct fsr_hazard h;
		fsr_hazard_init(&h, "scope-leak", FSR_WARNING);
		fsr_fmt(h.message, sizeof h.message, "thread %ld report %d", i, k);
		fsr_stack_capture(&h.stacks[h.nstacks++], "s");
		h.stacks[0].pc[h.stacks[0].n++] = (void *)(uintptr_t)(i * 1000 + k + 1); /* unique */
		fsr_report(&h);
	}
	return NULL;
}

START_TEST(test_concurrent)
{
	pthread_t th[8];
	for (long i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, reporter, (void *)i);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(fsr_stat_hazards, 160);
	char *log = slurp("log");
	ck_assert_int_eq(count(log, "fsreclaim: WARNING: scope-leak"), 160);
	ck_assert_int_eq(count(log, "\nSUMMARY: fsreclaim: scope-leak"), 160);
	char *json = slurp("json");
	ck_assert_int_eq(count(json, "\n"), 160);
	free(log);
	free(json);
}
END_TEST

/* ---- emit mode, for json.sh ---- */

static int emit(const char *dir)
{
	out_setup_in(dir);
	fsr_opt.stack_depth = 4;
	struct fsr_thread t;
	memset(&t, 0, sizeof t);
	t.nheld = 2;
	t.held[0].lock = &test_static_lock; t.held[0].cls = 1; t.held[0].site = take_lock_here();
	t.held[1].lock = &t; t.held[1].cls = 2; t.held[1].site = NULL;
	struct fsr_hazard h;
	fsr_hazard_init(&h, "reclaim-deadlock", FSR_ERROR);
	h.op = "wr\"ite\\";
	fsr_fmt(h.message, sizeof h.message, "quote \" backslash \\ tab \t newline \n ctl \x01\x1f del \x7f "
		"utf8 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 bad \xff \xc3 \xed\xa0\x80 \xe0\x80\xaf end");
	fsr_hazard_add_held_locks(&h, &t);
	fsr_stack_capture(&h.stacks[h.nstacks++], "title \"quoted\"");
	fsr_stack_from_pc(&h.stacks[h.nstacks++], "one pc", get_pc());
	fsr_stack_from_pc(&h.stacks[h.nstacks++], "no pc", NULL);
	h.stacks[h.nstacks].title = NULL;
	h.stacks[h.nstacks].n = 2;
	h.stacks[h.nstacks].pc[0] = (void *)0x10;
	h.stacks[h.nstacks].pc[1] = (void *)&getpid;
	h.nstacks++;
	fsr_fmt(h.body, sizeof h.body, "Chain exists of:\n  a --> b\n");
	fsr_report(&h);
	hazard_site("scope-leak", FSR_WARNING);
	deep(10);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "emit"))
		return emit(argv[2]);
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_header_summary);
	tcase_add_test(tc, test_error_level);
	tcase_add_test(tc, test_needless_nofs_no_exitcode);
	tcase_add_exit_test(tc, test_halt_on_error, 66);
	tcase_add_test(tc, test_op_and_locks);
	tcase_add_test(tc, test_dedup);
	tcase_add_test(tc, test_suppressions);
	tcase_add_test(tc, test_suppression_errors);
	tcase_add_test(tc, test_stack_depth);
	tcase_add_test(tc, test_inline_frames);
	tcase_add_test(tc, test_symbols_misc);
	tcase_add_test(tc, test_capture_thread);
	tcase_add_test(tc, test_capture_thread_untracked);
	tcase_add_test(tc, test_concurrent);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
