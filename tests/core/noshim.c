/* noshim.c - a program compiled against fsreclaim.h only.  Without the
 * shim every call is a no-op with the contract's return values; with it,
 * the calls reach the shim.  Prints api=0|1 and exits 0 when the values fit. */
#include <fsreclaim.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long cnt(struct fsr_shrinker *s, unsigned int gfp) { (void)s; (void)gfp; return 1; }
static volatile unsigned long scans;   /* volatile: malloc is `leaf` in glibc's headers */
static unsigned long scan(struct fsr_shrinker *s, unsigned long nr, unsigned int gfp)
{ (void)s; (void)nr; (void)gfp; scans++; return 1; }
static struct fsr_shrinker sh = { "noshim", cnt, scan, FSR_SHRINKER_FS, NULL };
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

int main(void)
{
	int with = &fsr_api != NULL;
	int bad = 0;
	unsigned a = memalloc_nofs_save();
	unsigned b = memalloc_noio_save();
	unsigned c = memalloc_noreclaim_save();
	memalloc_noreclaim_restore(c);
	memalloc_noio_restore(b);
	memalloc_nofs_restore(a);
	if (!with && (a || b || c)) bad |= 1;
	if (with && !(a && b && c)) bad |= 2;
	int r = fsr_register_shrinker(&sh);
	if (r != 0) bad |= 4;
	void *tx = fsr_transaction_begin("noshim");
	if (!tx) bad |= 8;
	fsr_transaction_end(tx);
	fsr_reclaim_acquire(FSR_GFP_FS);
	fsr_reclaim_release(FSR_GFP_FS);
	fsr_lock_exclude(&m);
	for (int i = 0; i < 100; i++) {
		void *volatile p = malloc(10);
		free(p);
	}
	fsr_unregister_shrinker(&sh);
	if (!with && scans) bad |= 16;
	printf("api=%d\nsaves=%u,%u,%u\nregister=%d\ncookie=%d\nscans=%lu\nbad=%d\n", with, a, b, c, r,
	       tx != NULL, scans, bad);
	return bad ? 1 : 0;
}
