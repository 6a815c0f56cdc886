/* imbalance.c - a scope-imbalance for the preloaded end-to-end test:
 * memalloc_nofs_restore() with a value that no save returned. */
#include <fsreclaim.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline)) static void bad_restore(void)
{
	unsigned int f = memalloc_nofs_save();
	memalloc_nofs_restore(f + 0x100);   /* MARK: bogus restore */
	memalloc_nofs_restore(f);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void child_restore(void)
{
	memalloc_nofs_restore(0x200);       /* MARK: child restore */
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "fork")) {
		/* the report is made in a forked child (its own pid, the parent
		 * was already symbolizing) */
		bad_restore();
		pid_t p = fork();
		if (p == 0) {
			child_restore();
			exit(0);
		}
		int st = 0;
		waitpid(p, &st, 0);
		printf("child %d status %d\n", (int)p, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return 0;
	}
	volatile int n = 3;   /* no unrolling: one call site */
	for (int i = 0; i < n; i++)
		bad_restore();              /* same stack each time: one report */
	printf("done\n");
	return 0;
}
