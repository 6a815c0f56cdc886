/* codefacts.c - answers tests/man/pages.sh's questions about the shim's
 * option parser and kind table by asking the code itself, so that the check
 * does not depend on how options.c or report.c spell their tables.
 *
 *   codefacts options < WORDS    print the words that are option keys
 *   codefacts default KEY VALUE  exit 0 when KEY=VALUE leaves the defaults as
 *                                they are (VALUE is KEY's default), 1 if not
 *   codefacts kinds < WORDS      print the words that are report kinds
 */
#include "fsr.h"
#include <stdio.h>
#include <string.h>

static struct fsr_options a, b;

/* a key is known when parsing "KEY=" fails for any reason but "not known" */
static int is_option(const char *key)
{
	char s[256], err[512] = "";
	snprintf(s, sizeof s, "%s=", key);
	fsr_options_defaults(&a);
	return fsr_options_parse(&a, s, err, sizeof err) == 0 ||
	       !strstr(err, "is not a known option");
}

/* a kind is known when a suppression rule of that kind parses */
static int is_kind(const char *kind)
{
	char s[256], err[512] = "";
	int n = snprintf(s, sizeof s, "%s:codefacts_no_such_function\n", kind);
	return fsr_suppressions_parse(s, (size_t)n, err, sizeof err) == 0;
}

static int filter(int (*known)(const char *))
{
	char w[200];
	while (scanf("%199s", w) == 1)
		if (known(w))
			puts(w);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "options"))
		return filter(is_option);
	if (argc == 2 && !strcmp(argv[1], "kinds"))
		return filter(is_kind);
	if (argc == 4 && !strcmp(argv[1], "default")) {
		char s[4200], err[512] = "";
		snprintf(s, sizeof s, "%s=%s", argv[2], argv[3]);
		fsr_options_defaults(&a);
		fsr_options_defaults(&b);
		if (fsr_options_parse(&b, s, err, sizeof err)) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		return memcmp(&a, &b, sizeof a) != 0;
	}
	fprintf(stderr, "usage: codefacts options|kinds < WORDS, codefacts default KEY VALUE\n");
	return 2;
}
