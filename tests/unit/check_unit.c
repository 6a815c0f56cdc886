/* check_unit.c - the shim's core (libfsrcore.la) linked directly, without
 * the malloc interposer: options, policy decisions, the shrinker registry
 * with threads, scopes through fsr_api, inline and handoff passes.  Built
 * and run in plain, ASan and TSan builds. */
#include <dlfcn.h>
#include <link.h>
#include "fsr.h"
#include "modules.h"
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct fsr_options O;
static char err[1024];

static int parse(const char *s)
{
	fsr_options_defaults(&O);
	err[0] = 0;
	return fsr_options_parse(&O, s, err, sizeof err);
}

/* ------------------------------------------------------------------ */
/* options                                                             */

START_TEST(opt_defaults)
{
	ck_assert_int_eq(parse(NULL), 0);
	ck_assert_uint_eq(O.interval, 100);
	ck_assert_uint_eq(O.probability, 100);
	ck_assert_int_eq(O.times, -1);
	ck_assert_uint_eq(O.space, 0);
	ck_assert_uint_eq(O.limit, 0);
	ck_assert_uint_eq(O.seed, 0);
	ck_assert_int_eq(O.mode, FSR_MODE_HANDOFF);
	ck_assert_uint_eq(O.timeout_ms, 5000);
	ck_assert_uint_eq(O.callbacks, FSR_CB_SHRINKERS | FSR_CB_FORGET | FSR_CB_FSYNC | FSR_CB_FLUSH);
	ck_assert_int_eq(O.detect_needless_nofs, 0);
	ck_assert_int_eq(O.halt_on_error, 0);
	ck_assert_int_eq(O.exitcode, 66);
	ck_assert_str_eq(O.log_path, "");
	ck_assert_str_eq(O.json_path, "");
	ck_assert_str_eq(O.suppressions, "");
	ck_assert_uint_eq(O.stack_depth, 16);
	ck_assert_int_eq(O.stats, 0);
	ck_assert_int_eq(parse(""), 0);
	ck_assert_int_eq(parse(":::"), 0);
	ck_assert_uint_eq(O.interval, 100);
}
END_TEST

START_TEST(opt_values)
{
	ck_assert_int_eq(parse("interval=7:probability=33:times=12:space=4096:limit=1048576:seed=99:"
			       "mode=inline:timeout_ms=250:callbacks=shrinkers,fsync:detect_needless_nofs=1:"
			       "halt_on_error=1:exitcode=0:stack_depth=64:stats=1"), 0);
	ck_assert_uint_eq(O.interval, 7);
	ck_assert_uint_eq(O.probability, 33);
	ck_assert_int_eq(O.times, 12);
	ck_assert_uint_eq(O.space, 4096);
	ck_assert_uint_eq(O.limit, 1048576);
	ck_assert_uint_eq(O.seed, 99);
	ck_assert_int_eq(O.mode, FSR_MODE_INLINE);
	ck_assert_uint_eq(O.timeout_ms, 250);
	ck_assert_uint_eq(O.callbacks, FSR_CB_SHRINKERS | FSR_CB_FSYNC);
	ck_assert_int_eq(O.detect_needless_nofs, 1);
	ck_assert_int_eq(O.halt_on_error, 1);
	ck_assert_int_eq(O.exitcode, 0);
	ck_assert_uint_eq(O.stack_depth, 64);
	ck_assert_int_eq(O.stats, 1);
	ck_assert_int_eq(parse("interval=18446744073709551615:seed=18446744073709551615:times=9223372036854775807"), 0);
	ck_assert_uint_eq(O.interval, UINT64_MAX);
	ck_assert_uint_eq(O.seed, UINT64_MAX);
	ck_assert_int_eq(O.times, INT64_MAX);
	ck_assert_int_eq(parse("times=5:times=-1"), 0);
	ck_assert_int_eq(O.times, -1);
	ck_assert_int_eq(parse("callbacks=forget,flush,fsync,shrinkers,forget"), 0);
	ck_assert_uint_eq(O.callbacks, FSR_CB_SHRINKERS | FSR_CB_FORGET | FSR_CB_FSYNC | FSR_CB_FLUSH);
}
END_TEST

START_TEST(opt_later_wins)
{
	ck_assert_int_eq(parse("interval=1:interval=2:mode=inline:mode=handoff:stats=1:stats=0"), 0);
	ck_assert_uint_eq(O.interval, 2);
	ck_assert_int_eq(O.mode, FSR_MODE_HANDOFF);
	ck_assert_int_eq(O.stats, 0);
	ck_assert_int_eq(parse("log_path=/a:log_path=/b"), 0);
	ck_assert_str_eq(O.log_path, "/b");
	/* a later bad value is still an error */
	ck_assert_int_ne(parse("interval=1:interval=x"), 0);
}
END_TEST

START_TEST(opt_paths)
{
	char cwd[4096];
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	ck_assert_int_eq(parse("log_path=rel/log:json_path=/abs/j:suppressions=s.supp"), 0);
	char want[8192];
	snprintf(want, sizeof want, "%s/rel/log", strcmp(cwd, "/") ? cwd : "");
	ck_assert_str_eq(O.log_path, want);
	ck_assert_str_eq(O.json_path, "/abs/j");
	snprintf(want, sizeof want, "%s/s.supp", strcmp(cwd, "/") ? cwd : "");
	ck_assert_str_eq(O.suppressions, want);
	/* too long for PATH.PID */
	static char big[9000];
	strcpy(big, "log_path=/");
	memset(big + 10, 'a', 5000);
	big[5010] = 0;
	ck_assert_int_ne(parse(big), 0);
	ck_assert_ptr_nonnull(strstr(err, "log_path"));
}
END_TEST

static void bad(const char *s, const char *key)
{
	ck_assert_msg(parse(s) != 0, "'%.60s' accepted", s);
	ck_assert_msg(strstr(err, key) != NULL, "'%.60s': '%s' does not name '%s'", s, err, key);
	ck_assert_msg(strchr(err, '\n') == NULL, "'%.60s': message has a newline", s);
	for (const char *p = err; *p; p++)
		ck_assert_msg((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f, "raw byte in '%s'", err);
}

START_TEST(opt_errors)
{
	bad("bogus=1", "bogus");
	bad("interval=abc", "interval");
	bad("interval=-1", "interval");
	bad("interval=", "interval");
	bad("interval=+5", "interval");
	bad("interval=18446744073709551616", "interval");
	bad("interval=99999999999999999999999", "interval");
	bad("probability=101", "probability");
	bad("times=-2", "times");
	bad("times=9223372036854775808", "times");
	bad("mode=both", "mode");
	bad("timeout_ms=86400001", "timeout_ms");
	bad("callbacks=shrinkers,,fsync", "callbacks");
	bad("callbacks=SHRINKERS", "callbacks");
	bad("exitcode=256", "exitcode");
	bad("stack_depth=0", "stack_depth");
	bad("stack_depth=65", "stack_depth");
	bad("stats=on", "stats");
	bad("halt_on_error=2", "halt_on_error");
	bad("detect_needless_nofs=-1", "detect_needless_nofs");
	bad("interval", "interval");
	bad("=1", "empty key");
	bad("a=1=2", "a");
	bad("\xff\xfe=1", "\\xff\\xfe");
	bad("mode=\xc3\x28", "mode");
	bad("\x1b[31m=1", "\\x1b");
	/* 100 KB hostile strings: a bounded message, no overflow */
	static char big[110000];
	memset(big, 'k', 100000);
	big[100000] = 0;
	strcat(big, "=1");
	bad(big, "kkkkkkkkkkkkkkkkkkkk");
	ck_assert_uint_lt(strlen(err), 400);
	strcpy(big, "interval=");
	memset(big + 9, '9', 100000);
	big[100009] = 0;
	bad(big, "interval");
	memset(big, 'x', 100000);
	big[100000] = 0;
	bad(big, "missing");
	/* a tiny error buffer is never overrun */
	char small[8];
	memset(small, 'Z', sizeof small);
	fsr_options_defaults(&O);
	ck_assert_int_ne(fsr_options_parse(&O, "bogus=1", small, 5), 0);
	ck_assert_int_eq(small[4], 0);
	ck_assert_int_eq(small[5], 'Z');
}
END_TEST

/* issue 13's options: replay= keys, record=/sarif_path=/graph_path=/source_root= paths */
START_TEST(opt_replay)
{
	const char *good[] = { "site/8d1c0e52/3", "site/8d1c0e52/*", "site/8d1c0e52/3/op=mkdir",
			       "op/mkdir/7", "exact/7/0.2/418", "exact/0/R/1", "exact/1/#00ab/2", "@/abs/rec",
			       "op/mkdir/7/target=e1b3e4860", "exact/1/0.1/40/target=h00a1,e782eab3e",
			       "site/8d1c0e52/3/op=mkdir/target=h1,e2,h3,e4" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char s[128];
		snprintf(s, sizeof s, "replay=%s", good[i]);
		ck_assert_msg(parse(s) == 0, "'%s': %s", s, err);
		ck_assert_str_eq(O.replay, good[i]);
	}
	char cwd[4096], want[8192];
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	const char *c = strcmp(cwd, "/") ? cwd : "";
	ck_assert_int_eq(parse("replay=@rel.rec:record=r:sarif_path=s:graph_path=/g:source_root=src"), 0);
	snprintf(want, sizeof want, "@%s/rel.rec", c);
	ck_assert_str_eq(O.replay, want);
	snprintf(want, sizeof want, "%s/r", c);
	ck_assert_str_eq(O.record, want);
	snprintf(want, sizeof want, "%s/s", c);
	ck_assert_str_eq(O.sarif_path, want);
	ck_assert_str_eq(O.graph_path, "/g");
	snprintf(want, sizeof want, "%s/src", c);
	ck_assert_str_eq(O.source_root, want);
	ck_assert_int_eq(parse("replay=op/a/1:replay=op/b/2"), 0);    /* the later wins */
	ck_assert_str_eq(O.replay, "op/b/2");
	const char *badv[] = { "replay=", "replay=@", "replay=bogus", "replay=site", "replay=site/xyz/1",
			       "replay=site/12/0", "replay=site/12/-1", "replay=site/12", "replay=site/12/1/op",
			       "replay=site/12/1/op=", "replay=site/12/1/op=a/b", "replay=op/mkdir",
			       "replay=op/mkdir/0", "replay=op//3", "replay=op/mkdir/3/4", "replay=exact/1/0.1",
			       "replay=exact/x/0.1/3", "replay=exact/1/0.1/0", "replay=exact/1//3",
			       "replay=site/ffffffffffffffffff/1", "replay=@/tmp/a:b", "record=", "sarif_path=",
			       "graph_path=", "replay=op/mkdir/3/target=", "replay=op/mkdir/3/target=x12",
			       "replay=op/mkdir/3/target=e", "replay=op/mkdir/3/target=e123456789",
			       "replay=op/mkdir/3/target=e1,", "replay=op/mkdir/3/target=e1,h2,e3,h4,e5",
			       "replay=site/12/1/op=a/target=e1/x", "replay=target=e1" };
	for (size_t i = 0; i < sizeof badv / sizeof badv[0]; i++) {
		char key[32];
		size_t k = strcspn(badv[i], "=");
		memcpy(key, badv[i], k);
		key[k] = 0;
		bad(badv[i], key);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* policy                                                              */

START_TEST(policy_order)
{
	fsr_options_defaults(&O);
	O.interval = 3;
	/* interval: n = 3, 6, 9 ... */
	for (uint64_t n = 1; n <= 30; n++)
		ck_assert_int_eq(fsr_policy_decide(&O, 0, n, 0, 0, 0), n % 3 == 0);
	/* times first: no pass once passes >= times */
	O.times = 2;
	ck_assert_int_eq(fsr_policy_decide(&O, 0, 3, 0, 1, 0), 1);
	ck_assert_int_eq(fsr_policy_decide(&O, 0, 3, 0, 2, 0), 0);
	ck_assert_int_eq(fsr_policy_decide(&O, 0, 3, 0, 2, 1), 0);   /* limit does not bypass times */
	O.times = 0;
	ck_assert_int_eq(fsr_policy_decide(&O, 0, 3, 0, 0, 1), 0);
	O.times = -1;
	/* space: nothing until space bytes were allocated */
	O.space = 1000;
	ck_assert_int_eq(fsr_policy_decide(&O, 0, 3, 999, 0, 0), 0);
	ck_assert_int_eq(fsr_policy_decide(&O, 0, 3, 999, 0, 1), 0);   /* nor for limit */
	ck_assert_int_eq(fsr_policy_decide(&O, 0, 3, 1000, 0, 0), 1);
	O.space = 0;
	/* limit bypasses interval and probability */
	O.probability = 0;
	ck_assert_int_eq(fsr_policy_decide(&O, 0, 1, 0, 0, 1), 1);
	ck_assert_int_eq(fsr_policy_decide(&O, 0, 3, 0, 0, 0), 0);
	O.probability = 100;
	O.interval = 0;
	ck_assert_int_eq(fsr_policy_decide(&O, 0, 1, 0, 0, 1), 1);
	for (uint64_t n = 0; n < 100; n++)
		ck_assert_int_eq(fsr_policy_decide(&O, 0, n, 0, 0, 0), 0);   /* interval=0: never */
}
END_TEST

START_TEST(policy_probability)
{
	fsr_options_defaults(&O);
	O.interval = 1;
	unsigned ps[] = { 1, 10, 50, 90, 99 };
	for (int k = 0; k < 5; k++) {
		O.probability = ps[k];
		long hit = 0;
		for (uint64_t n = 1; n <= 100000; n++)
			hit += fsr_policy_decide(&O, 0, n, 0, 0, 0);
		double f = hit / 1000.0;
		ck_assert_msg(f > ps[k] - 1.5 && f < ps[k] + 1.5, "probability=%u gave %.2f%%", ps[k], f);
	}
	/* same seed: same draws; other seed or thread index: other draws */
	O.probability = 50;
	struct fsr_options O2 = O;
	O2.seed = 1;
	int same_seed = 1, diff_seed = 0, diff_thread = 0;
	for (uint64_t n = 1; n <= 1000; n++) {
		int a = fsr_policy_decide(&O, 0, n, 0, 0, 0);
		same_seed &= a == fsr_policy_decide(&O, 0, n, 0, 0, 0);
		diff_seed += a != fsr_policy_decide(&O2, 0, n, 0, 0, 0);
		diff_thread += a != fsr_policy_decide(&O, 1, n, 0, 0, 0);
	}
	ck_assert(same_seed);
	ck_assert_int_gt(diff_seed, 300);
	ck_assert_int_gt(diff_thread, 300);
	/* probability applies after interval: only multiples of it */
	O.interval = 4;
	for (uint64_t n = 1; n <= 1000; n++)
		if (n % 4)
			ck_assert_int_eq(fsr_policy_decide(&O, 0, n, 0, 0, 0), 0);
}
END_TEST

/* the per-thread phase (issue 11 item 24): a thread of L allocations
 * gets L/interval passes on average whatever L is, reproducibly by seed */
START_TEST(policy_phase)
{
	fsr_options_defaults(&O);
	O.interval = 7;
	long threads_with_pass = 0, passes = 0;
	int hist[7] = { 0 };
	for (uint64_t k = 1; k <= 7000; k++) {
		uint64_t h = fsr_mix64(k);
		uint64_t ph = fsr_policy_phase(O.seed, h, O.interval);
		ck_assert_uint_lt(ph, 7);
		ck_assert_uint_eq(ph, fsr_policy_phase(O.seed, h, O.interval));
		hist[ph]++;
		int any = 0;
		for (uint64_t n = 1; n <= 4; n++)     /* a thread that lives for 4 allocations */
			if (fsr_policy_decide(&O, (unsigned int)h, n + ph, 0, 0, 0)) {
				any = 1;
				passes++;
			}
		threads_with_pass += any;
	}
	/* expected 4/7 of the threads, one pass each: 4000 */
	ck_assert_msg(passes > 3800 && passes < 4200, "passes %ld", passes);
	ck_assert_int_eq(threads_with_pass, passes);
	for (int i = 0; i < 7; i++)
		ck_assert_msg(hist[i] > 850 && hist[i] < 1150, "phase %d drawn %d times", i, hist[i]);
	/* another seed, other phases */
	int differ = 0;
	for (uint64_t k = 1; k <= 100; k++)
		differ += fsr_policy_phase(0, fsr_mix64(k), 7) != fsr_policy_phase(1, fsr_mix64(k), 7);
	ck_assert_int_gt(differ, 60);
	ck_assert_uint_eq(fsr_policy_phase(5, 123, 1), 0);
	ck_assert_uint_eq(fsr_policy_phase(5, 123, 0), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* shrinkers                                                           */

struct ctr {
	atomic_long counts, scans, violations;
	atomic_uint gfp_or;
	atomic_int dead;
	atomic_long tid;
	atomic_uint flags_seen;
	unsigned long have;
	atomic_ulong nr_last;
	atomic_int hold, inside;
};

static unsigned long c_count(struct fsr_shrinker *s, unsigned int gfp)
{
	struct ctr *c = s->private_data;
	c->counts++;
	if (c->dead)
		c->violations++;
	return c->have;
}

static unsigned long c_scan(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{
	struct ctr *c = s->private_data;
	c->scans++;
	c->nr_last = nr;
	if (c->dead)
		c->violations++;
	c->gfp_or |= gfp;
	c->tid = syscall(SYS_gettid);
	c->flags_seen = fsr_self.flags;
	if (c->hold) {
		/* until the test lets go (at most 20 s); a report may signal this
		 * thread for its stack, so never a single sleep */
		c->inside = 1;
		struct timespec ts = { 0, 1000000L };
		for (int i = 0; i < 20000 && c->hold; i++)
			nanosleep(&ts, NULL);
		c->inside = 0;
	}
	return nr;
}

static void ctr_init(struct ctr *c, struct fsr_shrinker *s, unsigned flags)
{
	memset(c, 0, sizeof *c);
	c->have = 1000;
	memset(s, 0, sizeof *s);
	s->name = "unit";
	s->count_objects = c_count;
	s->scan_objects = c_scan;
	s->flags = flags;
	s->private_data = c;
}

START_TEST(shrinker_categories)
{
	struct ctr cf, ci, cn, cz;
	struct fsr_shrinker sf, si, sn, sz;
	ctr_init(&cf, &sf, FSR_SHRINKER_FS);
	ctr_init(&ci, &si, FSR_SHRINKER_IO);
	ctr_init(&cn, &sn, 0);             /* unflagged: treated as FS */
	ctr_init(&cz, &sz, FSR_SHRINKER_FS);
	cz.have = 0;                       /* nothing to scan: count only */
	ck_assert_int_eq(fsr_shrinker_register(&sf), 0);
	ck_assert_int_eq(fsr_shrinker_register(&si), 0);
	ck_assert_int_eq(fsr_shrinker_register(&sn), 0);
	ck_assert_int_eq(fsr_shrinker_register(&sz), 0);
	ck_assert_int_eq(fsr_shrinkers_any(0), 0);
	ck_assert_int_eq(fsr_shrinkers_any(FSR_GFP_IO), 1);
	ck_assert_int_eq(fsr_shrinkers_any(FSR_GFP_FS | FSR_GFP_IO), 1);
	ck_assert_uint_eq(fsr_shrinkers_run(FSR_GFP_FS | FSR_GFP_IO), 3);
	ck_assert_int_eq(cf.scans, 1);
	ck_assert_int_eq(ci.scans, 1);
	ck_assert_int_eq(cn.scans, 1);
	ck_assert_int_eq(cz.counts, 1);
	ck_assert_int_eq(cz.scans, 0);
	ck_assert_uint_eq(cf.nr_last, 128);      /* one batch */
	ck_assert_uint_eq(fsr_shrinkers_run(FSR_GFP_IO), 1);
	ck_assert_int_eq(ci.scans, 2);
	ck_assert_int_eq(cf.scans, 1);
	ck_assert_uint_eq(ci.gfp_or, FSR_GFP_FS | FSR_GFP_IO);
	ck_assert_uint_eq(fsr_shrinkers_run(0), 0);
	cf.have = 5;
	fsr_shrinkers_run(FSR_GFP_FS | FSR_GFP_IO);
	ck_assert_uint_eq(cf.nr_last, 5);
	fsr_shrinker_unregister(&sf);
	fsr_shrinker_unregister(&si);
	fsr_shrinker_unregister(&sn);
	fsr_shrinker_unregister(&sz);
	ck_assert_uint_eq(fsr_shrinkers_run(FSR_GFP_FS | FSR_GFP_IO), 0);
	ck_assert_int_eq(fsr_shrinkers_any(FSR_GFP_FS | FSR_GFP_IO), 0);
}
END_TEST

START_TEST(shrinker_limits)
{
	static struct ctr c[300];
	static struct fsr_shrinker s[300];
	struct fsr_shrinker nocount = { "x", NULL, c_scan, FSR_SHRINKER_FS, NULL };
	ck_assert_int_eq(fsr_shrinker_register(NULL), -EINVAL);
	ck_assert_int_eq(fsr_shrinker_register(&nocount), -EINVAL);
	int ok = 0, full = 0;
	for (int i = 0; i < 300; i++) {
		ctr_init(&c[i], &s[i], FSR_SHRINKER_FS);
		int r = fsr_shrinker_register(&s[i]);
		if (r == 0) ok++;
		else if (r == -ENOMEM) full++;
	}
	ck_assert_int_ge(ok, 64);
	ck_assert_int_eq(ok + full, 300);
	ck_assert_uint_eq(fsr_shrinkers_run(FSR_GFP_FS), (unsigned long)ok);
	for (int i = 0; i < 300; i++)
		fsr_shrinker_unregister(&s[i]);
	/* freed slots are reused */
	ck_assert_int_eq(fsr_shrinker_register(&s[299]), 0);
	fsr_shrinker_unregister(&s[299]);
	fsr_shrinker_unregister(&s[299]);   /* twice: harmless */
}
END_TEST

static atomic_int stop;
static void *runner_thread(void *a)
{
	while (!stop)
		fsr_shrinkers_run(FSR_GFP_FS | FSR_GFP_IO);
	return NULL;
}

START_TEST(shrinker_threads)
{
	pthread_t th[4];
	stop = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, runner_thread, NULL);
	long violations = 0, scans = 0;
	for (int r = 0; r < 3000; r++) {
		struct ctr *c = calloc(1, sizeof *c);
		struct fsr_shrinker *s = calloc(1, sizeof *s);
		ctr_init(c, s, r & 1 ? FSR_SHRINKER_IO : FSR_SHRINKER_FS);
		ck_assert_int_eq(fsr_shrinker_register(s), 0);
		sched_yield();
		fsr_shrinker_unregister(s);
		c->dead = 1;
		sched_yield();
		violations += c->violations;
		scans += c->scans;
		/* after unregister returned nobody uses them: free them (ASan checks) */
		free(s);
		free(c);
	}
	stop = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(violations, 0);
	ck_assert_int_gt(scans, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* scopes through the API table                                        */

START_TEST(scope_api)
{
	struct fsr_thread *t = &fsr_self;
	ck_assert_uint_eq(fsr_api.size, sizeof(struct fsr_api));
	void *site = (void *)0x1234;
	ck_assert_uint_eq(t->flags, 0);
	unsigned a = fsr_api.nofs_save(site);
	ck_assert_uint_eq(a, FSR_PF_NOFS);
	ck_assert_uint_eq(fsr_gfp_of(t), FSR_GFP_IO);
	ck_assert_int_eq(t->nscopes, 1);
	ck_assert_ptr_eq(t->scopes[0].site, site);
	unsigned b = fsr_api.nofs_save((void *)0x5678);
	ck_assert_uint_eq(b, 0);
	unsigned c = fsr_api.noio_save(site);
	ck_assert_uint_eq(c, FSR_PF_NOIO);
	ck_assert_uint_eq(fsr_gfp_of(t), 0);
	unsigned d = fsr_api.noreclaim_save(site);
	ck_assert_uint_eq(d, FSR_PF_NORECLAIM);
	fsr_api.noreclaim_restore(d, site);
	fsr_api.noio_restore(c, site);
	ck_assert_uint_eq(fsr_gfp_of(t), FSR_GFP_IO);
	fsr_api.nofs_restore(b, site);
	ck_assert_uint_eq(t->flags, FSR_PF_NOFS);
	fsr_api.nofs_restore(a, site);
	ck_assert_uint_eq(t->flags, 0);
	ck_assert_int_eq(t->nscopes, 0);
	ck_assert_uint_eq(fsr_gfp_of(t), FSR_GFP_IO | FSR_GFP_FS);
	ck_assert_uint_eq(fsr_stat_hazards, 0);
	/* IO_FLUSHER: NOIO without a scope */
	t->flags |= FSR_PF_IOFLUSHER;
	ck_assert_uint_eq(fsr_gfp_of(t), 0);
	t->flags &= ~FSR_PF_IOFLUSHER;
}
END_TEST

START_TEST(scope_imbalance)
{
	struct fsr_thread *t = &fsr_self;
	uint64_t h0 = fsr_stat_hazards;
	/* a value no save returned: reported, clears only its own kind */
	unsigned a = fsr_api.noio_save(NULL);
	fsr_api.nofs_restore(12345, NULL);
	ck_assert_uint_eq(fsr_stat_hazards, h0 + 1);
	ck_assert(t->flags & FSR_PF_NOIO);
	ck_assert_int_eq(t->nscopes, 1);
	fsr_api.noio_restore(a, NULL);
	ck_assert_uint_eq(t->flags, 0);
	/* out of order: reported, both end up closed */
	a = fsr_api.nofs_save(NULL);
	unsigned b = fsr_api.noio_save(NULL);
	fsr_api.nofs_restore(a, NULL);
	ck_assert_uint_eq(fsr_stat_hazards, h0 + 2);
	fsr_api.noio_restore(b, NULL);
	ck_assert_uint_eq(t->flags, 0);
	ck_assert_int_eq(t->nscopes, 0);
	/* deeper than the recorded stack */
	unsigned v[100];
	for (int i = 0; i < 100; i++)
		v[i] = fsr_api.nofs_save(NULL);
	for (int i = 99; i >= 0; i--)
		fsr_api.nofs_restore(v[i], NULL);
	ck_assert_uint_eq(t->flags, 0);
	ck_assert_int_eq(t->nscopes, 0);
	ck_assert_uint_eq(fsr_stat_hazards, h0 + 2);
	/* a leak check */
	a = fsr_api.nofs_save(NULL);
	fsr_scope_check_leak(t, 0, "unit test");
	ck_assert_uint_eq(fsr_stat_hazards, h0 + 3);
	fsr_api.nofs_restore(a, NULL);
	fsr_scope_check_leak(t, 0, "unit test");
	ck_assert_uint_eq(fsr_stat_hazards, h0 + 3);
}
END_TEST

START_TEST(transactions)
{
	struct fsr_thread *t = &fsr_self;
	void *c1 = fsr_api.transaction_begin("outer", (void *)1);
	ck_assert_ptr_nonnull(c1);
	ck_assert_int_eq(t->txn_depth, 1);
	ck_assert_str_eq(t->txn_name, "outer");
	void *c2 = fsr_api.transaction_begin("inner", (void *)2);
	ck_assert_int_eq(t->txn_depth, 2);
	ck_assert_str_eq(t->txn_name, "outer");
	fsr_api.transaction_end(c2, NULL);
	fsr_api.transaction_end(c1, NULL);
	ck_assert_int_eq(t->txn_depth, 0);
	fsr_api.transaction_end(c1, NULL);     /* unbalanced end: no underflow */
	ck_assert_int_eq(t->txn_depth, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* passes                                                              */

static void opts(const char *s)
{
	fsr_options_defaults(&fsr_opt);
	ck_assert_int_eq(fsr_options_parse(&fsr_opt, s, err, sizeof err), 0);
	fsr_policy_init();
}

START_TEST(pass_inline)
{
	opts("mode=inline");
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS);
	fsr_shrinker_register(&s);
	uint64_t p0 = fsr_stat_passes, c0 = fsr_stat_callbacks;
	fsr_pass_run(&fsr_self, FSR_GFP_FS | FSR_GFP_IO);
	ck_assert_int_eq(c.scans, 1);
	ck_assert_int_eq(c.tid, syscall(SYS_gettid));
	ck_assert(c.flags_seen & FSR_PF_NORECLAIM);   /* callbacks under NORECLAIM */
	ck_assert_uint_eq(fsr_self.flags, 0);         /* and restored after */
	ck_assert_int_eq(fsr_self.in_reclaim, 0);
	ck_assert_uint_eq(fsr_stat_passes, p0 + 1);
	ck_assert_uint_eq(fsr_stat_callbacks, c0 + 1);
	/* callbacks=forget only: no shrinkers */
	opts("mode=inline:callbacks=forget");
	fsr_pass_run(&fsr_self, FSR_GFP_FS | FSR_GFP_IO);
	ck_assert_int_eq(c.scans, 1);
	fsr_shrinker_unregister(&s);
}
END_TEST

START_TEST(pass_handoff)
{
	opts("mode=handoff:timeout_ms=5000");
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS);
	fsr_shrinker_register(&s);
	fsr_thread_register(&fsr_self);
	uint64_t p0 = fsr_stat_passes;
	errno = 4321;
	for (int i = 0; i < 50; i++)
		fsr_pass_run(&fsr_self, FSR_GFP_FS | FSR_GFP_IO);
	ck_assert_int_eq(errno, 4321);
	ck_assert_int_eq(c.scans, 50);
	ck_assert_uint_eq(fsr_stat_passes, p0 + 50);
	ck_assert_int_ne(c.tid, syscall(SYS_gettid));    /* on the reclaimer */
	ck_assert(c.flags_seen & FSR_PF_NORECLAIM);
	ck_assert_ptr_null(fsr_self.waiting);
	/* a gfp without FS: the FS shrinker is not called, by the reclaimer either */
	fsr_pass_run(&fsr_self, FSR_GFP_IO);
	ck_assert_int_eq(c.scans, 50);
	fsr_shrinker_unregister(&s);
}
END_TEST

static void *pass_from_thread(void *a)
{
	fsr_thread_register(&fsr_self);
	for (int i = 0; i < 200; i++)
		fsr_pass_run(&fsr_self, FSR_GFP_FS | FSR_GFP_IO);
	return NULL;
}

START_TEST(pass_handoff_threads)
{
	opts("mode=handoff");
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS);
	fsr_shrinker_register(&s);
	uint64_t p0 = fsr_stat_passes, k0 = fsr_stat_skipped;
	pthread_t th[6];
	for (int i = 0; i < 6; i++)
		pthread_create(&th[i], NULL, pass_from_thread, NULL);
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	/* every attempt either ran or was skipped (one slot) */
	ck_assert_uint_eq((fsr_stat_passes - p0) + (fsr_stat_skipped - k0), 1200);
	ck_assert_int_eq(c.scans, (long)(fsr_stat_passes - p0));
	fsr_shrinker_unregister(&s);
}
END_TEST

START_TEST(pass_handoff_timeout)
{
	opts("mode=handoff:timeout_ms=50");
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS);
	c.hold = 1;
	fsr_shrinker_register(&s);
	uint64_t h0 = fsr_stat_hazards, k0 = fsr_stat_skipped;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fsr_pass_run(&fsr_self, FSR_GFP_FS | FSR_GFP_IO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	/* the allocator went on after timeout_ms (plus the report) while the
	 * callback still runs */
	ck_assert_msg(ms >= 45, "the allocator waited only %ld ms", ms);
	ck_assert_int_eq(c.inside, 1);
	ck_assert_uint_eq(fsr_stat_hazards, h0 + 1);        /* reclaim-wait-timeout */
	/* the callback still runs: no new pass starts */
	fsr_pass_run(&fsr_self, FSR_GFP_FS | FSR_GFP_IO);
	ck_assert_uint_eq(fsr_stat_skipped, k0 + 1);
	ck_assert_int_eq(c.scans, 1);
	/* once it returned, passes run again */
	c.hold = 0;
	struct timespec w = { 0, 1000000L };
	for (int i = 0; i < 10000 && c.scans < 2; i++) {
		nanosleep(&w, NULL);
		fsr_pass_run(&fsr_self, FSR_GFP_FS | FSR_GFP_IO);
	}
	ck_assert_int_ge(c.scans, 2);
	ck_assert_uint_eq(fsr_stat_hazards, h0 + 1);
	fsr_shrinker_unregister(&s);
}
END_TEST

/* the malloc hook's logic, run by hand (malloc.c is not in the core) */
static void fake_alloc(struct fsr_thread *t, size_t size)
{
	int how = fsr_alloc_hot(t) ? fsr_alloc_gate(t) : 0;
	if (how)
		fsr_alloc_slow(t, size, how == 2);
}

START_TEST(alloc_slow_interval)
{
	opts("mode=inline:interval=3");
	fsr_ready = 1;
	struct fsr_thread *t = &fsr_self;
	fsr_thread_register(t);
	fsr_policy_thread_init(t);
	uint64_t a0 = fsr_thread_allocs(t);
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS);
	fsr_shrinker_register(&s);
	for (int i = 0; i < 30; i++)
		fake_alloc(t, 10);
	ck_assert_int_eq(c.scans, 10);
	/* under NOFS the count goes on (slow path each time), the FS shrinker
	 * waits, and a pass with nothing to call is no pass (times=) */
	unsigned a = fsr_api.nofs_save(NULL);
	uint64_t p0 = fsr_stat_passes;
	for (int i = 0; i < 30; i++)
		fake_alloc(t, 10);
	ck_assert_int_eq(c.scans, 10);
	ck_assert_uint_eq(fsr_stat_passes, p0);
	fsr_api.nofs_restore(a, NULL);
	for (int i = 0; i < 30; i++)
		fake_alloc(t, 10);
	ck_assert_int_eq(c.scans, 20);
	/* NORECLAIM allocations are not counted */
	a = fsr_api.noreclaim_save(NULL);
	for (int i = 0; i < 30; i++)
		fake_alloc(t, 10);
	fsr_api.noreclaim_restore(a, NULL);
	ck_assert_int_eq(c.scans, 20);
	for (int i = 0; i < 30; i++)
		fake_alloc(t, 10);
	ck_assert_int_eq(c.scans, 30);
	/* n is brought up to date at each look; the fast path's part since
	 * the last one is what the countdown consumed */
	ck_assert_uint_eq(t->may_reclaim + (t->countdown_base - fsr_countdown(t)), 120);
	ck_assert_uint_eq(fsr_thread_allocs(t) - a0, 150);   /* and the 30 NORECLAIM ones */
	fsr_shrinker_unregister(&s);
	fsr_ready = 0;
}
END_TEST

/* interval=0 without stats=: the gate is idle (compared, never written),
 * the allocations of a look state are counted, and the look's end makes
 * the gate idle again with what its countdown counted kept */
START_TEST(alloc_idle_gate)
{
	opts("mode=inline:interval=0");
	fsr_ready = 1;
	struct fsr_thread *t = &fsr_self;
	fsr_thread_register(t);
	fsr_policy_thread_init(t);
	fake_alloc(t, 10);      /* the set-up's look (registration) finds nothing left */
	ck_assert_int_eq(t->gate, FSR_GATE_IDLE);
	uint64_t a0 = fsr_thread_allocs(t), n0 = t->may_reclaim;
	for (int i = 0; i < 10; i++)
		fake_alloc(t, 10);
	ck_assert_int_eq(t->gate, FSR_GATE_IDLE);
	ck_assert_uint_eq(fsr_thread_allocs(t), a0);   /* the idle path counts nothing */
	/* a scope: each allocation goes the slow way and is counted */
	unsigned a = fsr_api.nofs_save(NULL);
	ck_assert_int_lt(t->gate, 0);
	for (int i = 0; i < 7; i++)
		fake_alloc(t, 10);
	fsr_api.nofs_restore(a, NULL);
	ck_assert_uint_eq(fsr_thread_allocs(t) - a0, 7);
	fake_alloc(t, 10);      /* the look that finds nothing left */
	ck_assert_int_eq(t->gate, FSR_GATE_IDLE);
	ck_assert_uint_eq(fsr_thread_allocs(t) - a0, 7);
	/* an op: its allocations consume the countdown (the locked fast path's
	 * decrement), which leaves the idle value; the look's end folds them in */
	fsr_sched_op_begin(t);
	for (int i = 0; i < 5; i++)
		fake_alloc(t, 10);
	ck_assert_int_ne(t->gate & FSR_GATE_CD, FSR_GATE_IDLE);
	fsr_op_left(t);
	fake_alloc(t, 10);
	ck_assert_int_eq(t->gate, FSR_GATE_IDLE);
	ck_assert_uint_eq(fsr_thread_allocs(t) - a0, 12);
	ck_assert_uint_eq(t->may_reclaim - n0, 12);
	fsr_ready = 0;
}
END_TEST

/* stats= reads every allocation's count: the gate counts, never idle */
START_TEST(alloc_idle_stats)
{
	opts("mode=inline:interval=0:stats=1");
	fsr_ready = 1;
	struct fsr_thread *t = &fsr_self;
	fsr_thread_register(t);
	fsr_policy_thread_init(t);
	ck_assert_int_ne(t->gate, FSR_GATE_IDLE);
	uint64_t a0 = fsr_thread_allocs(t);
	for (int i = 0; i < 10; i++)
		fake_alloc(t, 10);
	ck_assert_uint_eq(fsr_thread_allocs(t) - a0, 10);
	fsr_ready = 0;
}
END_TEST

START_TEST(alloc_slow_limit)
{
	opts("mode=inline:interval=0:limit=1000");
	fsr_ready = 1;
	struct fsr_thread *t = &fsr_self;
	fsr_thread_register(t);
	fsr_policy_thread_init(t);
	struct ctr c; struct fsr_shrinker s;
	ctr_init(&c, &s, FSR_SHRINKER_FS);
	fsr_shrinker_register(&s);
	ck_assert_int_eq(fsr_slow_all, 1);
	for (int i = 0; i < 10; i++)
		fake_alloc(t, 10);
	ck_assert_int_eq(c.scans, 0);
	fsr_heap_add(5000);
	for (int i = 0; i < 10; i++)
		fake_alloc(t, 10);
	ck_assert_int_eq(c.scans, 10);
	fsr_heap_sub(5000);
	for (int i = 0; i < 10; i++)
		fake_alloc(t, 10);
	ck_assert_int_eq(c.scans, 10);
	fsr_shrinker_unregister(&s);
	fsr_ready = 0;
}
END_TEST

/* ------------------------------------------------------------------ */
/* helpers                                                             */

START_TEST(util_fmt)
{
	char b[128];
	ck_assert_int_eq(fsr_fmt(b, sizeof b, "%d %u %ld %llu %x %s|%5s|%-5s|%.2s %c %%", -42, 42u, -1L,
				 18446744073709551615ull, 0xbeefu, "str", "ab", "cd", "xyz", 'q'), (int)strlen(b));
	ck_assert_str_eq(b, "-42 42 -1 18446744073709551615 beef str|   ab|cd   |xy q %");
	const char *volatile nul = NULL;
	fsr_fmt(b, sizeof b, "%d %lld %zu %05d %s", INT_MIN, (long long)INT64_MIN, (size_t)7, 42, nul);
	ck_assert_str_eq(b, "-2147483648 -9223372036854775808 7 00042 (null)");
	fsr_fmt(b, sizeof b, "%p", (void *)0x1f);
	ck_assert_str_eq(b, "0x1f");
	char s[6];
	memset(s, 'Z', sizeof s);
	int n = fsr_fmt(s, 5, "abcdefgh");
	ck_assert_str_eq(s, "abcd");
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(s[5], 'Z');
}
END_TEST


/* the loaded-object table: this program, libc and the test's own code are
 * told apart by pc, with no dladdr */
START_TEST(util_modules)
{
	fsr_modules_refresh();
	const struct fsr_module *self = fsr_module_of((uintptr_t)&util_fmt);
	ck_assert_ptr_nonnull(self);
	ck_assert(self->flags & FSR_MOD_MAIN);
	ck_assert_int_gt(self->build_id_len, 0);
	/* not strlen: a sanitizer's interceptor would be its address */
	ck_assert(fsr_module_flags((uintptr_t)&getpid) & FSR_MOD_LIBC);
	ck_assert(fsr_module_flags((uintptr_t)&fsr_modules_refresh) & FSR_MOD_MAIN); /* linked in */
	ck_assert_ptr_null(fsr_module_of(0x10));
	const struct fsr_module *again = (fsr_modules_refresh(), fsr_module_of((uintptr_t)&util_fmt));
	ck_assert_ptr_eq(again, self);   /* nothing loaded: the same snapshot */
	/* what was there at the first table is not "loaded at run time" */
	ck_assert(!(self->flags & FSR_MOD_RTLOAD));
	ck_assert(!(fsr_module_flags((uintptr_t)&getpid) & FSR_MOD_RTLOAD));
	void *before = dlopen("libresolv.so.2", RTLD_NOW | RTLD_NOLOAD);
	void *h = dlopen("libresolv.so.2", RTLD_NOW);
	ck_assert_ptr_nonnull(h);
	fsr_modules_refresh();
	void *f = dlsym(h, "__res_state");
	if (!f)
		f = dlsym(h, "ns_name_ntop");
	ck_assert_ptr_nonnull(f);
	ck_assert(fsr_module_flags((uintptr_t)f) & FSR_MOD_LIBC);
	/* dlopen'ed here: loaded at run time (a libfuse so loaded goes to the
	 * wire); its dynamic section is in it (f may be libc's, glibc 2.34+) */
	struct link_map *lm = NULL;
	ck_assert_int_eq(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
	if (!before)
		ck_assert(fsr_module_flags((uintptr_t)lm->l_ld) & FSR_MOD_RTLOAD);
	ck_assert(!(fsr_module_flags((uintptr_t)&getpid) & FSR_MOD_RTLOAD));
}
END_TEST

/* the replay site: the program's own frames, not the call sites inside
 * libc (or libfuse) below them, which vary with a thread pool's state */
START_TEST(util_site_hash)
{
	fsr_modules_refresh();
	struct fsr_stack a = { "a", 4, { (void *)((uintptr_t)&util_fmt + 8), (void *)((uintptr_t)&util_modules + 8),
					 (void *)((uintptr_t)&getpid + 4), (void *)((uintptr_t)&getppid + 4) } };
	struct fsr_stack b = a, c = a, d = a;
	b.pc[2] = (void *)((uintptr_t)&getpid + 6);     /* another call site in libc */
	c.pc[1] = (void *)((uintptr_t)&util_modules + 16); /* another own frame */
	ck_assert(fsr_module_flags((uintptr_t)a.pc[2]) & FSR_MOD_LIBC);
	ck_assert_uint_eq(fsr_site_hash(&a, NULL), fsr_site_hash(&b, NULL));
	ck_assert_uint_ne(fsr_site_hash(&a, NULL), fsr_site_hash(&c, NULL));
	/* libc's own allocation (no frame of the program): its frames count */
	d.pc[0] = d.pc[2];
	d.pc[1] = d.pc[3];
	d.n = 2;
	struct fsr_stack e = d;
	e.pc[0] = b.pc[2];
	ck_assert_uint_ne(fsr_site_hash(&d, NULL), fsr_site_hash(&e, NULL));
}
END_TEST

/* DWARF's relative names joined with the compilation directory, canonical */
START_TEST(util_path_normalize)
{
	static const char *cases[][2] = {
		{ "/b/sub/../../fusefs/journal.c", "/fusefs/journal.c" },
		{ "/t/fsreclaim-0.2.0/_build/sub/../../", "/t/fsreclaim-0.2.0" },
		{ "/a/./b//c/", "/a/b/c" },
		{ "/..", "/" },
		{ "/", "/" },
		{ "/x/y/../../../z", "/z" },
		{ "rel/../x", "rel/../x" },      /* only absolute paths are touched */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char b[128];
		strcpy(b, cases[i][0]);
		fsr_path_normalize(b);
		ck_assert_str_eq(b, cases[i][1]);
	}
}
END_TEST

static struct fsr_mutex mu;
static long counter;
static void *mutex_thread(void *a)
{
	for (int i = 0; i < 20000; i++) {
		fsr_mutex_lock(&mu);
		counter++;
		fsr_mutex_unlock(&mu);
	}
	return NULL;
}

START_TEST(util_mutex)
{
	pthread_t th[8];
	counter = 0;
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, mutex_thread, NULL);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(counter, 160000);
	ck_assert_int_eq(fsr_futex_wait(&mu.v, 0, 1000000), -ETIMEDOUT);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("unit");
	TCase *tc = tcase_create("options");
	tcase_add_test(tc, opt_defaults);
	tcase_add_test(tc, opt_values);
	tcase_add_test(tc, opt_later_wins);
	tcase_add_test(tc, opt_paths);
	tcase_add_test(tc, opt_errors);
	tcase_add_test(tc, opt_replay);
	suite_add_tcase(s, tc);
	tc = tcase_create("policy");
	tcase_add_test(tc, policy_order);
	tcase_add_test(tc, policy_probability);
	tcase_add_test(tc, policy_phase);
	suite_add_tcase(s, tc);
	tc = tcase_create("shrinkers");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, shrinker_categories);
	tcase_add_test(tc, shrinker_limits);
	tcase_add_test(tc, shrinker_threads);
	suite_add_tcase(s, tc);
	tc = tcase_create("scopes");
	tcase_add_test(tc, scope_api);
	tcase_add_test(tc, scope_imbalance);
	tcase_add_test(tc, transactions);
	suite_add_tcase(s, tc);
	tc = tcase_create("passes");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pass_inline);
	tcase_add_test(tc, pass_handoff);
	tcase_add_test(tc, pass_handoff_threads);
	tcase_add_test(tc, pass_handoff_timeout);
	tcase_add_test(tc, alloc_slow_interval);
	tcase_add_test(tc, alloc_slow_limit);
	tcase_add_test(tc, alloc_idle_gate);
	tcase_add_test(tc, alloc_idle_stats);
	suite_add_tcase(s, tc);
	tc = tcase_create("util");
	tcase_add_test(tc, util_fmt);
	tcase_add_test(tc, util_mutex);
	tcase_add_test(tc, util_modules);
	tcase_add_test(tc, util_site_hash);
	tcase_add_test(tc, util_path_normalize);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	fsr_options_defaults(&fsr_opt);
	fsr_pid = getpid();
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
