/* fuzz_suppressions.c - libFuzzer target for the suppressions file parser
 * (report.c) and the glob matcher behind it.  Also built without libFuzzer
 * by replay.c for `make check`.
 *
 * Invariants: an error is one line naming "<suppressions>:LINE"; after a
 * success the loaded rules can be matched against any name (the input's
 * own lines, a few fixed names) without crashing or running away. */
#include "symbols.h"
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
	if (!ok)
		abort();
}

static const char *const kinds[] = {
	"reclaim-deadlock", "reclaim-wait-timeout", "fs-reentry", "nested-transaction",
	"reclaim-lock-inversion", "scope-leak", "scope-imbalance", "needless-nofs",
};

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char err[1024];
	memset(err, 0, sizeof err);
	int r = fsr_suppressions_parse((const char *)data, size, err, sizeof err);
	check(r == 0 || r == -1);
	if (r) {
		static const char pre[] = "fsreclaim: error: suppressions: <suppressions>:";
		check(!strncmp(err, pre, sizeof pre - 1));
		check(strlen(err) < sizeof err && !strchr(err, '\n'));
		return 0;
	}
	/* names to match: fixed ones, and each line of the input as a name */
	static char name[4096];
	static const char *const fixed[] = { "", "a", "main", "fill_cache_locked", "*", "?",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab" };
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		for (size_t f = 0; f < sizeof fixed / sizeof fixed[0]; f++)
			(void)fsr_suppressed_name(kinds[k], fixed[f]);
	size_t i = 0;
	while (i < size) {
		size_t j = i;
		while (j < size && data[j] != '\n' && data[j] != 0)
			j++;
		size_t n = j - i < sizeof name - 1 ? j - i : sizeof name - 1;
		memcpy(name, data + i, n);
		name[n] = 0;
		for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
			(void)fsr_suppressed_name(kinds[k], name);
		i = j + 1;
	}
	/* "*" always matches what a rule of that kind exists for */
	if (fsr_suppressions_parse("scope-leak:*\n", 13, err, sizeof err) != 0)
		abort();
	check(fsr_suppressed_name("scope-leak", name));
	check(!fsr_suppressed_name("scope-imbalance", name));
	return 0;
}
