// cxxreport.cc - a C++ daemon's report: its frames demangled, its SUMMARY
// naming its own frame (not libstdc++'s, not libc's thread start).  Built
// twice: with debug info, and stripped (SUMMARY: module+offset).
#include <fsreclaim.h>
#include <mutex>
#include <thread>
#include <cstdio>

namespace fsrt {
struct Box {
	std::mutex m;
	__attribute__((noinline)) void bad_restore()
	{
		std::lock_guard<std::mutex> g(m);
		memalloc_nofs_restore(0x1);      // MARK: cxx restore
	}
};
}

int main()
{
	fsrt::Box b;
	std::thread t([&b] { b.bad_restore(); });
	t.join();
	std::puts("done");
	return 0;
}
