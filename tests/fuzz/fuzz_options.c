/* fuzz_options.c - libFuzzer target for the FSRECLAIM_OPTIONS parser
 * (options.c).  Also built without libFuzzer by replay.c, which runs it on
 * the corpus and on every regression input in `make check`.
 *
 * Invariants beyond "no crash": an error is one line that begins
 * "fsreclaim: error:"; a success leaves every option in its range. */
#include "fsr.h"
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static char s[1 << 16];
	char err[1024];
	struct fsr_options o;
	if (size >= sizeof s)
		size = sizeof s - 1;
	memcpy(s, data, size);
	s[size] = 0;   /* an environment string ends at its first NUL */
	fsr_options_defaults(&o);
	memset(err, 0, sizeof err);
	int r = fsr_options_parse(&o, s, err, sizeof err);
	check(r == 0 || r == -1);
	if (r) {
		check(!strncmp(err, "fsreclaim: error: ", 18));
		check(strlen(err) < sizeof err && !strchr(err, '\n'));
		return 0;
	}
	check(o.probability <= 100);
	check(o.stack_depth >= 1 && o.stack_depth <= FSR_MAX_FRAMES);
	check(o.exitcode >= 0 && o.exitcode <= 255);
	check(o.times >= -1);
	check(o.timeout_ms <= 86400000);
	check(o.mode == FSR_MODE_HANDOFF || o.mode == FSR_MODE_INLINE);
	check(o.detect_needless_nofs <= 1 && o.halt_on_error <= 1 && o.stats <= 1);
	check(!(o.callbacks & ~(FSR_CB_SHRINKERS | FSR_CB_FORGET | FSR_CB_FSYNC | FSR_CB_FLUSH)));
	check(memchr(o.log_path, 0, sizeof o.log_path) && memchr(o.json_path, 0, sizeof o.json_path) &&
	      memchr(o.suppressions, 0, sizeof o.suppressions));
	check(!o.log_path[0] || o.log_path[0] == '/');
	/* parsing the same string again gives the same result (no hidden state) */
	struct fsr_options o2;
	fsr_options_defaults(&o2);
	check(fsr_options_parse(&o2, s, err, sizeof err) == 0);
	check(!memcmp(&o, &o2, sizeof o));
	return 0;
}
