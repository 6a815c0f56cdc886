// std::mutex built at -O0 (the class key must not be the one call inside
// __gthread_mutex_lock that every std::mutex::lock goes through).
//   lk_cxx          a journal's mutex is held while allocating, reclaim takes an
//                   unrelated cache entry's mutex: no cycle
//   lk_cxx same     control: reclaim takes the journal's mutex: reported
#include <fsreclaim.h>
#include <cstdlib>
#include <cstring>
#include <mutex>

struct Journal { std::mutex lock; int nrec = 0; };
struct CacheEntry { std::mutex lock; long val = 0; };
static void *volatile keep;

static void journal_append(Journal *j)
{
	std::lock_guard<std::mutex> g(j->lock);
	keep = malloc(128);
	free(keep);
	j->nrec++;
}

static void cache_shrink(std::mutex *m)
{
	fsr_reclaim_acquire(FSR_GFP_FS | FSR_GFP_IO);
	{
		std::lock_guard<std::mutex> g(*m);
		keep = nullptr;
	}
	fsr_reclaim_release(FSR_GFP_FS | FSR_GFP_IO);
}

int main(int argc, char **argv)
{
	bool same = argc > 1 && !strcmp(argv[1], "same");
	Journal *j = new Journal;
	CacheEntry *e = new CacheEntry;
	for (int i = 0; i < 3; i++)
		journal_append(j);
	cache_shrink(same ? &j->lock : &e->lock);
	delete e;
	delete j;
	return 0;
}
