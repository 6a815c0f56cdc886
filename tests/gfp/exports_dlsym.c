/* exports_dlsym.c - the shim's exported names, reached with dlsym only (no
 * fsreclaim.h), as a Rust or Go daemon would: every public call resolves,
 * behaves as the header's, and takes its caller as the site (a scope left
 * open by leak_scope_here() is reported as opened there).
 *   exports_dlsym: exit 0 when all checks pass */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct shrinker_abi {           /* struct fsr_shrinker, as another language declares it */
	const char *name;
	unsigned long (*count)(struct shrinker_abi *, unsigned int);
	unsigned long (*scan)(struct shrinker_abi *, unsigned long, unsigned int);
	unsigned int flags;
	void *private_data;
};

static const char *const names[] = {
	"memalloc_nofs_save", "memalloc_nofs_restore", "memalloc_noio_save", "memalloc_noio_restore",
	"memalloc_noreclaim_save", "memalloc_noreclaim_restore", "fsr_register_shrinker",
	"fsr_unregister_shrinker", "fsr_transaction_begin", "fsr_transaction_end",
	"fsr_reclaim_acquire", "fsr_reclaim_release", "fsr_lock_exclude", "fsr_kmalloc", "fsr_kzalloc",
	"fsr_kcalloc", "fsr_krealloc", "fsr_kfree", "fsr_kvmalloc", "fsr_kvfree", "fsr_vmalloc",
	"fsr___vmalloc", "fsr_vfree", "fsr_current_gfp_context", "fsr_might_alloc",
};

static int fails;
#define CHECK(c, ...) do { if (!(c)) { fails++; printf("FAIL: " __VA_ARGS__); printf("\n"); } } while (0)

static unsigned long scans;
static unsigned long cnt(struct shrinker_abi *s, unsigned int g) { (void)s; (void)g; return 5; }
static unsigned long scn(struct shrinker_abi *s, unsigned long n, unsigned int g) { (void)s; (void)g; scans++; return n; }

static void *sym(const char *n)
{
	void *p = dlsym(RTLD_DEFAULT, n);
	CHECK(p, "dlsym(%s): %s", n, dlerror());
	return p;
}

__attribute__((noinline)) static void *leak_scope_here(void *arg)
{
	unsigned int (*save)(void) = (unsigned int (*)(void))arg;
	save();              /* never restored: a scope-leak at thread exit, opened here */
	return NULL;
}

int main(void)
{
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		sym(names[i]);
	unsigned int (*nofs_save)(void) = sym("memalloc_nofs_save");
	void (*nofs_restore)(unsigned int) = sym("memalloc_nofs_restore");
	unsigned int (*noio_save)(void) = sym("memalloc_noio_save");
	void (*noio_restore)(unsigned int) = sym("memalloc_noio_restore");
	unsigned int (*ctx)(unsigned int) = sym("fsr_current_gfp_context");
	void *(*kmalloc)(size_t, unsigned int) = sym("fsr_kmalloc");
	void *(*kzalloc)(size_t, unsigned int) = sym("fsr_kzalloc");
	void *(*kcalloc)(size_t, size_t, unsigned int) = sym("fsr_kcalloc");
	void (*kfree)(const void *) = sym("fsr_kfree");
	int (*reg)(struct shrinker_abi *) = sym("fsr_register_shrinker");
	void (*unreg)(struct shrinker_abi *) = sym("fsr_unregister_shrinker");
	void *(*tbegin)(const char *) = sym("fsr_transaction_begin");
	void (*tend)(void *) = sym("fsr_transaction_end");
	if (fails)
		return 1;

	unsigned int a = nofs_save(), b = nofs_save();
	CHECK(a == 1 && b == 0, "nested nofs saves returned %u, %u (Linux: 1, 0)", a, b);
	CHECK(ctx(0xcc0) == 0xc40, "GFP_KERNEL in a NOFS scope: 0x%x, want GFP_NOFS 0xc40", ctx(0xcc0));
	unsigned int c = noio_save();
	CHECK(ctx(0xcc0) == 0xc00, "GFP_KERNEL in a NOIO scope: 0x%x, want GFP_NOIO 0xc00", ctx(0xcc0));
	noio_restore(c);
	nofs_restore(b);
	nofs_restore(a);
	CHECK(ctx(0xcc0) == 0xcc0, "GFP_KERNEL after the scopes: 0x%x", ctx(0xcc0));

	struct shrinker_abi s = { "dlsym-shrinker", cnt, scn, 1, NULL };
	CHECK(reg(&s) == 0, "fsr_register_shrinker");
	for (int i = 0; i < 4; i++)
		kfree(kmalloc(64, 0xcc0));           /* interval=1 inline: a pass each */
	CHECK(scans > 0, "the shrinker registered by name was never scanned");
	unsigned long before = scans;
	kfree(kmalloc(64, 0x800));               /* GFP_NOWAIT: never reclaims */
	CHECK(scans == before, "a GFP_NOWAIT allocation ran reclaim");
	unreg(&s);

	char *z = kzalloc(100, 0xcc0);
	int zero = 1;
	for (int i = 0; z && i < 100; i++)
		zero &= z[i] == 0;
	CHECK(z && zero, "fsr_kzalloc did not zero");
	kfree(z);
	/* krealloc keeps the data; with __GFP_ZERO the grown part is zero */
	void *(*krealloc)(void *, size_t, unsigned int) = sym("fsr_krealloc");
	char *r = kmalloc(16, 0xcc0);
	memset(r, 'a', 16);
	r = krealloc(r, 64, 0xcc0);
	CHECK(r && r[0] == 'a' && r[15] == 'a', "fsr_krealloc lost the data");
	r = krealloc(r, 8192, 0xcc0 | 0x100);
	int tail_zero = 1;
	for (int i = 4096; r && i < 8192; i++)
		tail_zero &= r[i] == 0;
	CHECK(r && r[0] == 'a' && r[15] == 'a' && tail_zero, "fsr_krealloc(__GFP_ZERO): data or zeroed tail wrong");
	kfree(r);
	r = krealloc(NULL, 256, 0xcc0 | 0x100);
	zero = 1;
	for (int i = 0; r && i < 256; i++)
		zero &= r[i] == 0;
	CHECK(r && zero, "fsr_krealloc(NULL, __GFP_ZERO) did not zero");
	kfree(r);
	volatile size_t big = SIZE_MAX;
	errno = 0;
	CHECK(!kmalloc(big, 0xcc0) && errno == ENOMEM, "fsr_kmalloc(SIZE_MAX): want NULL/ENOMEM");
	errno = 0;
	CHECK(!kcalloc(big, 2, 0xcc0) && errno == ENOMEM, "fsr_kcalloc overflow: want NULL/ENOMEM");
	kfree(NULL);
	/* bits Linux does not define are ignored (said once on stderr) */
	for (int i = 0; i < 2; i++) {
		void *u = kmalloc(64, 0x80000cc0u);
		CHECK(u != NULL, "fsr_kmalloc with an unknown mask bit failed");
		kfree(u);
	}
	void *ck = tbegin("dlsym");
	CHECK(ck != NULL, "fsr_transaction_begin returned NULL");
	tend(ck);

	pthread_t th;
	pthread_create(&th, NULL, leak_scope_here, (void *)nofs_save);
	pthread_join(th, NULL);
	printf("checks done: %d failed\n", fails);
	return fails != 0;
}
