/* check_ledger.c - the FUSE ledger (preload/fuse/ledger.c) on its own,
 * linked with libfsrcore.la: which handle a release finds, and how the
 * high levels' handle paths follow renames and unlinks.  Built and run in
 * plain, ASan and TSan builds. */
#include "fsr.h"
#include "fuse/ledger.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fsr_ledger L;

static void reset(void)
{
	fsr_ledger_clear(&L);
	memset(&L, 0, sizeof L);
}

/* one open of (ino, fh) with path */
static void open1(uint64_t ino, uint64_t fh, const char *path)
{
	char *p = NULL;
	if (path) {
		p = fsr_alloc(strlen(path) + 1);
		strcpy(p, path);
	}
	ck_assert_int_eq(fsr_ledger_hnd_open(&L, ino, fh, 0, 0, &p), 0);
	fsr_free(p);
}

static struct fsr_handle *hnd(uint64_t ino, uint64_t fh)
{
	return *fsr_ledger_hnd_slot(&L, ino, fh, 0);
}

static struct fsr_handle *release_finds(uint64_t ino, uint64_t fh)
{
	return *fsr_ledger_hnd_slot_fh(&L, ino, fh, 0);
}

START_TEST(release_exact)
{
	reset();
	open1(5, 0, "/a");
	open1(7, 0, "/b");
	ck_assert_ptr_eq(release_finds(5, 0), hnd(5, 0));
	ck_assert_ptr_eq(release_finds(7, 0), hnd(7, 0));
	/* two opens of one inode with one fh: one handle, released at the last */
	open1(5, 0, "/a");
	ck_assert_int_eq(hnd(5, 0)->refs, 2);
	fsr_ledger_hnd_release(&L, 5, 0, 0);
	ck_assert_ptr_nonnull(hnd(5, 0));
	ck_assert_str_eq(hnd(5, 0)->path, "/a");
	fsr_ledger_hnd_release(&L, 5, 0, 0);
	ck_assert_ptr_null(hnd(5, 0));
	ck_assert_uint_eq(L.nhnd, 1);
}
END_TEST

/* a release of a known inode whose open was never recorded (an
 * allocation failed) must not take another file's handle with its fh */
START_TEST(release_known_inode_not_another)
{
	reset();
	open1(5, 0, "/a");
	open1(7, 0, "/b");
	ck_assert_ptr_null(release_finds(9, 0));
	open1(0, 0, "/c");      /* recorded without its inode */
	ck_assert_ptr_eq(release_finds(9, 0), hnd(0, 0));
}
END_TEST

/* a release that knows only its fh finds a handle by it */
START_TEST(release_by_fh_alone)
{
	reset();
	open1(5, 3, "/a");
	open1(7, 4, "/b");
	ck_assert_ptr_eq(release_finds(0, 3), hnd(5, 3));
	ck_assert_ptr_eq(release_finds(0, 4), hnd(7, 4));
	ck_assert_ptr_null(release_finds(0, 6));
	fsr_ledger_hnd_release(&L, 5, 3, 0);
	ck_assert_ptr_null(release_finds(0, 3));
}
END_TEST

static int nwaits;
static void count_wait(void *arg)
{
	(void)arg;
	nwaits++;
}

START_TEST(paths_rename)
{
	reset();
	open1(1, 0, "/d/a");
	open1(2, 0, "/dd/a");
	open1(3, 0, "/d");
	fsr_ledger_move_paths(&L, "/d", "/e", 0, count_wait, NULL);
	ck_assert_str_eq(hnd(1, 0)->path, "/e/a");
	ck_assert_str_eq(hnd(2, 0)->path, "/dd/a");   /* not under /d */
	ck_assert_str_eq(hnd(3, 0)->path, "/e");
	fsr_ledger_move_paths(&L, "/e/a", NULL, 0, count_wait, NULL);   /* unlinked */
	ck_assert_ptr_null(hnd(1, 0)->path);
	ck_assert_int_eq(nwaits, 0);
}
END_TEST

/* a rename over an open file: the replaced file has no path (libfuse
 * unlinked its node), the renamed one takes it */
START_TEST(paths_rename_over_open)
{
	reset();
	open1(1, 0, "/x");
	open1(2, 0, "/y");
	open1(3, 0, "/x2");
	fsr_ledger_move_paths(&L, "/y", "/x", 0, count_wait, NULL);
	ck_assert_ptr_null(hnd(1, 0)->path);
	ck_assert_str_eq(hnd(2, 0)->path, "/x");
	ck_assert_str_eq(hnd(3, 0)->path, "/x2");
	/* a rename onto itself changes nothing */
	fsr_ledger_move_paths(&L, "/x", "/x", 0, count_wait, NULL);
	ck_assert_str_eq(hnd(2, 0)->path, "/x");
}
END_TEST

START_TEST(paths_exchange)
{
	reset();
	open1(1, 0, "/a/f");
	open1(2, 0, "/b");
	fsr_ledger_move_paths(&L, "/a", "/b", 1, count_wait, NULL);
	ck_assert_str_eq(hnd(1, 0)->path, "/b/f");
	ck_assert_str_eq(hnd(2, 0)->path, "/a");
}
END_TEST

/* a pinned handle (a callback uses its path) is waited for, boundedly,
 * and keeps its path; a release meanwhile frees it at the unpin */
START_TEST(paths_pinned)
{
	reset();
	open1(1, 0, "/a");
	open1(2, 0, "/y");
	hnd(1, 0)->pin++;
	nwaits = 0;
	fsr_ledger_move_paths(&L, "/y", "/a", 0, count_wait, NULL);   /* would take /a's path away */
	ck_assert_int_eq(nwaits, 101);
	ck_assert_str_eq(hnd(1, 0)->path, "/a");
	ck_assert_str_eq(hnd(2, 0)->path, "/a");
	fsr_ledger_hnd_release(&L, 1, 0, 0);
	ck_assert_ptr_nonnull(hnd(1, 0));
	fsr_ledger_hnd_unpin(&L, 1, 0, 0);
	ck_assert_ptr_null(hnd(1, 0));
	ck_assert_uint_eq(L.nhnd, 1);
}
END_TEST

int main(void)
{
	fsr_options_defaults(&fsr_opt);
	fsr_pid = getpid();
	Suite *s = suite_create("ledger");
	TCase *tc = tcase_create("release");
	tcase_add_test(tc, release_exact);
	tcase_add_test(tc, release_known_inode_not_another);
	tcase_add_test(tc, release_by_fh_alone);
	suite_add_tcase(s, tc);
	tc = tcase_create("paths");
	tcase_add_test(tc, paths_rename);
	tcase_add_test(tc, paths_rename_over_open);
	tcase_add_test(tc, paths_exchange);
	tcase_add_test(tc, paths_pinned);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	reset();
	return failed ? 1 : 0;
}
