/* imbalance.c - a scope-imbalance for the preloaded end-to-end test:
 * memalloc_nofs_restore() with a value that no save returned. */
#include <fsreclaim.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void bad_restore(void)
{
	unsigned int f = memalloc_nofs_save();
	memalloc_nofs_restore(f + 0x100);   /* MARK: bogus restore */
	memalloc_nofs_restore(f);
	__asm__ volatile("" ::: "memory");
}

int main(void)
{
	volatile int n = 3;   /* no unrolling: one call site */
	for (int i = 0; i < n; i++)
		bad_restore();              /* same stack each time: one report */
	printf("done\n");
	return 0;
}
