// cxxreport.cc - a C++ daemon's report: its frames demangled, its SUMMARY
// naming its own frame (not libstdc++'s, not libc's thread start).  Built
// twice: with debug info, and stripped (SUMMARY: module+offset; and with
// no debug info anywhere, what libdw would ask debuginfod for).
#include <fsreclaim.h>
#include <mutex>
#include <thread>
#include <cstdio>
#include <cstring>

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
	// was libdebuginfod loaded into the program to symbolize the report?
	std::FILE *m = std::fopen("/proc/self/maps", "r");
	char line[512];
	bool mapped = false;
	while (m && std::fgets(line, sizeof line, m))
		if (std::strstr(line, "libdebuginfod"))
			mapped = true;
	if (m)
		std::fclose(m);
	std::printf("libdebuginfod %s\n", mapped ? "mapped" : "not mapped");
	std::puts("done");
	return 0;
}
