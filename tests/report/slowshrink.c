/* slowshrink.c - a shrinker that outlasts timeout_ms: reclaim-wait-timeout,
 * an ERROR; the reclaimer sleeps outside tracked locks, so its stack is
 * not shown (no signal takes it). */
#include <fsreclaim.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static unsigned long slow_count(struct fsr_shrinker *s, unsigned int gfp)
{
	(void)s; (void)gfp;
	return 1;
}

__attribute__((noinline)) static unsigned long slow_scan(struct fsr_shrinker *s, unsigned long n, unsigned int gfp)
{
	(void)s; (void)n; (void)gfp;
	usleep(500000);                    /* MARK: slow scan */
	return 0;
}

static struct fsr_shrinker shrinker = {
	.name = "slow", .count_objects = slow_count, .scan_objects = slow_scan, .flags = FSR_SHRINKER_FS,
};
static void *volatile keep;

int main(void)
{
	fsr_register_shrinker(&shrinker);
	keep = malloc(128);
	free(keep);
	printf("after\n");
	fflush(stdout);
	usleep(700000);                    /* let the callback finish */
	fsr_unregister_shrinker(&shrinker);
	return 0;
}
