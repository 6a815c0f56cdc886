// robust_cxx.cc - robust.sh's condlock-inline in C++ (issue 11 item 22): a
// lock made of std::mutex and std::condition_variable, held by the
// allocating thread, which its inline shrinker waits for.  The callback is
// abandoned at timeout_ms by a forced unwind, as pthread_cancel would
// abandon it: its destructors run (the std::unique_lock releases the
// mutex), and the allocation goes on.  Prints "ok: ..." lines; returns 3
// when a check failed.
#include <fsreclaim.h>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>

static std::mutex m;
static std::condition_variable cv;
static bool owned;
static volatile int armed, done, dtors, fails;

#define CHECK(cond, what) do { bool c_ = (cond); std::printf("%s: %s\n", c_ ? "ok" : "FAIL", what); \
		if (!c_) fails++; \
		std::fflush(stdout); \
	} while (0)

struct Witness { ~Witness() { dtors++; } };

static void lock_it()
{
	std::unique_lock<std::mutex> l(m);
	Witness w;
	cv.wait(l, [] { return !owned; });
	owned = true;
}

static void unlock_it()
{
	std::lock_guard<std::mutex> l(m);
	owned = false;
	cv.notify_all();
}

static unsigned long count(struct fsr_shrinker *, unsigned int) { return 1; }
static unsigned long scan(struct fsr_shrinker *, unsigned long n, unsigned int)
{
	if (!__atomic_exchange_n(&armed, 0, __ATOMIC_SEQ_CST))
		return n;
	lock_it();               // its own thread holds it: waits
	unlock_it();
	done = 1;
	return n;
}

int main()
{
	static struct fsr_shrinker sh;
	sh.count_objects = count;
	sh.scan_objects = scan;
	lock_it();
	int before = dtors;
	fsr_register_shrinker(&sh);
	armed = 1;
	void *volatile p = std::malloc(100);
	std::free(p);
	fsr_unregister_shrinker(&sh);
	CHECK(!armed && !done, "the callback was abandoned at its wait, the allocation went on");
	CHECK(dtors == before + 1, "its destructor ran on the way out");
	bool free_now = m.try_lock();
	if (free_now)
		m.unlock();
	CHECK(free_now, "its std::unique_lock released the mutex");
	unlock_it();
	return fails ? 3 : 0;
}
