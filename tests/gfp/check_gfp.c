/* check_gfp.c - unit tests of the GFP masks (libfsrcore.la linked directly):
 * fsr_gfp_context() is Linux's current_gfp_context() (include/linux/sched/
 * mm.h) for every mask and scope, with the expected table written out; the
 * header's values are Linux's (include/linux/gfp_types.h); the effective
 * FS/IO bits a pass gets (fsr_gfp_of) under a GFP call's narrowing; and
 * vmalloc_model parses. */
#include "fsr.h"
#include <check.h>
#include <string.h>

#define KERNEL FSR_GFP_KERNEL
#define NOFS FSR_GFP_NOFS
#define NOIO FSR_GFP_NOIO
#define ATOMIC FSR_GFP_ATOMIC
#define NOWAIT FSR_GFP_NOWAIT

START_TEST(linux_values)
{
	ck_assert_uint_eq(FSR___GFP_HIGH, 0x20);
	ck_assert_uint_eq(FSR___GFP_IO, 0x40);
	ck_assert_uint_eq(FSR___GFP_FS, 0x80);
	ck_assert_uint_eq(FSR___GFP_ZERO, 0x100);
	ck_assert_uint_eq(FSR___GFP_DIRECT_RECLAIM, 0x400);
	ck_assert_uint_eq(FSR___GFP_KSWAPD_RECLAIM, 0x800);
	ck_assert_uint_eq(FSR___GFP_NOFAIL, 0x8000);
	ck_assert_uint_eq(FSR___GFP_NORETRY, 0x10000);
	ck_assert_uint_eq(FSR_GFP_KERNEL, 0xcc0);
	ck_assert_uint_eq(FSR_GFP_NOFS, 0xc40);
	ck_assert_uint_eq(FSR_GFP_NOIO, 0xc00);
	ck_assert_uint_eq(FSR_GFP_ATOMIC, 0x820);
	ck_assert_uint_eq(FSR_GFP_NOWAIT, 0x800);
	ck_assert_uint_eq(FSR_GFP_FS, FSR___GFP_FS);
	ck_assert_uint_eq(FSR_GFP_IO, FSR___GFP_IO);
}
END_TEST

/* Linux's table: NOIO clears __GFP_IO and __GFP_FS, else NOFS clears
 * __GFP_FS; NORECLAIM (PF_MEMALLOC) leaves the mask as it is;
 * PR_SET_IO_FLUSHER is NOIO. */
static const unsigned int scopes[] = {
	0, FSR_PF_NOFS, FSR_PF_NOIO, FSR_PF_NORECLAIM, FSR_PF_IOFLUSHER,
	FSR_PF_NOFS | FSR_PF_NOIO, FSR_PF_NOFS | FSR_PF_NORECLAIM, FSR_PF_NOIO | FSR_PF_NORECLAIM,
};
#define NSCOPES (sizeof scopes / sizeof scopes[0])
static const struct { unsigned int gfp, want[NSCOPES]; } table[] = {
	/*  mask      none    nofs    noio    noreclaim iofl  nofs+noio nofs+norecl noio+norecl */
	{ KERNEL, { 0xcc0, 0xc40, 0xc00, 0xcc0, 0xc00, 0xc00, 0xc40, 0xc00 } },
	{ NOFS,   { 0xc40, 0xc40, 0xc00, 0xc40, 0xc00, 0xc00, 0xc40, 0xc00 } },
	{ NOIO,   { 0xc00, 0xc00, 0xc00, 0xc00, 0xc00, 0xc00, 0xc00, 0xc00 } },
	{ ATOMIC, { 0x820, 0x820, 0x820, 0x820, 0x820, 0x820, 0x820, 0x820 } },
	{ NOWAIT, { 0x800, 0x800, 0x800, 0x800, 0x800, 0x800, 0x800, 0x800 } },
	{ 0,      { 0,     0,     0,     0,     0,     0,     0,     0     } },
	{ 0x8dc0, { 0x8dc0, 0x8d40, 0x8d00, 0x8dc0, 0x8d00, 0x8d00, 0x8d40, 0x8d00 } }, /* KERNEL|ZERO|NOFAIL */
	{ 0x100c0, { 0x100c0, 0x10040, 0x10000, 0x100c0, 0x10000, 0x10000, 0x10040, 0x10000 } }, /* IO|FS|NORETRY */
	{ 0x80,   { 0x80,  0,     0,     0x80,  0,     0,     0,     0     } },   /* __GFP_FS alone */
	{ 0x40,   { 0x40,  0x40,  0,     0x40,  0,     0,     0x40,  0     } },   /* __GFP_IO alone */
	{ 0xe0,   { 0xe0,  0x60,  0x20,  0xe0,  0x20,  0x20,  0x60,  0x20  } },   /* HIGH|IO|FS */
	{ 0xf0000cc0u, { 0xf0000cc0u, 0xf0000c40u, 0xf0000c00u, 0xf0000cc0u, 0xf0000c00u, 0xf0000c00u,
			 0xf0000c40u, 0xf0000c00u } },   /* unknown bits pass through untouched */
};

START_TEST(context_table)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		for (size_t k = 0; k < NSCOPES; k++)
			ck_assert_msg(fsr_gfp_context(table[i].gfp, scopes[k]) == table[i].want[k],
				      "current_gfp_context(0x%x) with scope flags 0x%x: 0x%x, Linux 0x%x",
				      table[i].gfp, scopes[k], fsr_gfp_context(table[i].gfp, scopes[k]),
				      table[i].want[k]);
}
END_TEST

/* every combination of the mask bits fsreclaim.h names, under every scope:
 * only __GFP_FS and __GFP_IO ever change, as the rule says */
START_TEST(context_all_bits)
{
	static const unsigned int bits[] = { 0x20, 0x40, 0x80, 0x100, 0x400, 0x800, 0x8000, 0x10000 };
	for (unsigned int c = 0; c < 1u << 8; c++) {
		unsigned int gfp = 0;
		for (int b = 0; b < 8; b++)
			if (c & (1u << b))
				gfp |= bits[b];
		for (size_t k = 0; k < NSCOPES; k++) {
			unsigned int pf = scopes[k];
			unsigned int want = gfp;
			if (pf & (FSR_PF_NOIO | FSR_PF_IOFLUSHER))
				want &= ~0xc0u;
			else if (pf & FSR_PF_NOFS)
				want &= ~0x80u;
			ck_assert_uint_eq(fsr_gfp_context(gfp, pf), want);
		}
	}
}
END_TEST

/* what a pass may call during a GFP call (gfp.c narrows with
 * FSR_PF_GFPMASK + call_gfp, or NORECLAIM when the mask has no direct
 * reclaim): the FS/IO bits fsr_gfp_of() hands to the pass */
START_TEST(pass_bits_under_mask)
{
	static const struct { unsigned int call, pf, want; } cases[] = {
		{ 0xc0, 0, 0xc0 },                       /* GFP_KERNEL: FS and IO */
		{ 0x40, 0, 0x40 },                       /* GFP_NOFS: IO shrinkers only */
		{ 0x00, 0, 0x00 },                       /* GFP_NOIO: neither */
		{ 0x80, 0, 0x80 },                       /* __GFP_FS without __GFP_IO: FS only */
		{ 0xc0, FSR_PF_NOFS, 0x40 },             /* the scope still applies */
		{ 0x80, FSR_PF_NOFS, 0x00 },
		{ 0xc0, FSR_PF_NOIO, 0x00 },
		{ 0xc0, FSR_PF_NORECLAIM, 0x00 },        /* NOWAIT/ATOMIC are made NORECLAIM */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fsr_thread t;
		memset(&t, 0, sizeof t);
		t.flags = cases[i].pf | FSR_PF_GFPMASK;
		t.call_gfp = cases[i].call;
		ck_assert_msg(fsr_gfp_of(&t) == cases[i].want, "call 0x%x scope 0x%x: 0x%x, want 0x%x",
			      cases[i].call, cases[i].pf, fsr_gfp_of(&t), cases[i].want);
	}
}
END_TEST

START_TEST(vmalloc_model_option)
{
	struct fsr_options o;
	char err[256];
	fsr_options_defaults(&o);
	ck_assert_int_eq(o.vmalloc_legacy, 0);
	ck_assert_int_eq(fsr_options_parse(&o, "vmalloc_model=legacy", err, sizeof err), 0);
	ck_assert_int_eq(o.vmalloc_legacy, 1);
	ck_assert_int_eq(fsr_options_parse(&o, "vmalloc_model=current", err, sizeof err), 0);
	ck_assert_int_eq(o.vmalloc_legacy, 0);
	ck_assert_int_eq(fsr_options_parse(&o, "vmalloc_model=old", err, sizeof err), -1);
	ck_assert_msg(strstr(err, "vmalloc_model") != NULL, "error does not name the key: %s", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gfp");
	TCase *tc = tcase_create("gfp");
	tcase_add_test(tc, linux_values);
	tcase_add_test(tc, context_table);
	tcase_add_test(tc, context_all_bits);
	tcase_add_test(tc, pass_bits_under_mask);
	tcase_add_test(tc, vmalloc_model_option);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
